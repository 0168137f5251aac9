"""The layer contract: every import of every module of the project goes down the layers, and no
modules import each other round in a cycle.

The layers, lowest first (GUIDE.md, issue 11):

0. ``lowbit.core``: errors, parameter declarations and checks, width arithmetic, modes. It
   imports nothing else of lowbit.
1. ``lowbit.hdl`` (gateware) and ``lowbit.golden_models``: each imports only itself and
   ``lowbit.core`` (not each other).
2. The simulation runner, testbenches and their helpers (``lowbit.sim_tests``), the synthesis
   flow (``lowbit.synth``) and Verilog emission (``lowbit.verilog``): they may import the layers
   below and each other, never the application.
3. The application: the CLI, registry, units, flow, sweep, report and the other modules of
   ``lowbit``, and the programs in sim_tests/ that run over the registry (:data:`PROGRAMS`).

The pytest files themselves (``test_*.py``, ``conftest.py``) are clients of every layer and
are not checked. An import is any ``import``/``from ... import`` statement, at module level or
inside a function, any ``import_module("...")`` or ``__import__("...")`` call with a constant
name, and any string constant that names a module of the project (``"lowbit.hdl.dint_mac"``)
or a ``"module:attribute"`` reference into one (the registry's references). Run as a script
(``python sim_tests/test_layers.py [REPO]``) it prints the report for any checkout.
"""

import ast
import sys
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The programs in sim_tests/ that read the unit registry (the application layer, though they
# live beside the testbenches): module -> why.
PROGRAMS = {
    "lowbit.sim_tests.mutation": "`lowbit mutate`: runs every registered unit's mutants",
    "lowbit.sim_tests.extremes": "the registry's corners: every registered unit's extreme "
                                 "parameter sets, for the lint, portability and hash tests",
}

LAYER_NAMES = {0: "core", 1: "gateware/models", 2: "simulation/synthesis", 3: "application"}

# Wrong-way imports being removed this session by their modules' owners, (source, target) ->
# who and how. The test fails on any other, and warns of an entry here that no longer occurs
# (so the list only shrinks); it must be empty when issue 11 closes.
PENDING = {}
PENDING_CYCLES = {}


def _packages(root):
    """``{package name: its folder}`` from pyproject.toml's package-dir (and lowbit.core)."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    package_dir = config["tool"]["setuptools"].get("package-dir", {"lowbit": "lowbit"})
    return {name: root / folder for name, folder in package_dir.items()}


def modules(root=ROOT):
    """``{module name: source file}`` of every module of the project."""
    found = {}
    for package, folder in _packages(root).items():
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__pycache__"]
            if len(parts) != len(relative.parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([package, *parts])
            # A nested folder that is its own package in package-dir (none today) wins.
            found.setdefault(name, path)
    return found


def is_client(name):
    """The pytest files: clients of every layer, not checked."""
    last = name.rsplit(".", 1)[-1]
    return name.startswith("lowbit.sim_tests.") and (last.startswith("test_") or
                                                     last == "conftest")


def layer(name):
    """``(rank, group)`` of a module: it may import modules of a lower rank, or of its own
    group."""
    if name in ("lowbit", "lowbit.core") or name.startswith("lowbit.core."):
        return 0, "core"   # the root package holds nothing: importing it costs nothing
    for group in ("lowbit.hdl", "lowbit.golden_models"):
        if name == group or name.startswith(group + "."):
            return 1, group
    if name in PROGRAMS:
        return 3, "application"
    for group in ("lowbit.sim_tests", "lowbit.synth", "lowbit.verilog"):
        if name == group or name.startswith(group + "."):
            return 2, "simulation/synthesis"
    return 3, "application"


@dataclass(frozen=True)
class Import:
    """One reference from module ``source`` (at ``line``) to module ``target``."""
    source: str
    target: str
    line: int
    how: str     # import, from, import_module, reference

    def __str__(self):
        return f"{self.source}:{self.line} -> {self.target} ({self.how})"


def _resolve(name, known):
    """The project module ``name`` refers to: itself, or the longest known prefix (the
    package of an attribute imported with ``from package import attribute``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _relative_base(source, is_package, level):
    parts = source.split(".")
    if not is_package:
        parts = parts[:-1]
    return ".".join(parts[:len(parts) - (level - 1)] if level > 1 else parts)


def imports_of(source, path, known):
    """Every :class:`Import` from ``source`` (file ``path``) to a module of the project."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []

    def add(name, line, how):
        if name and (name == "lowbit" or name.startswith("lowbit.")):
            target = _resolve(name, known)
            if target and target != source:
                found.append(Import(source, target, line, how))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno, "import")
        elif isinstance(node, ast.ImportFrom):
            base = (_relative_base(source, is_package, node.level) if node.level else "")
            module = ".".join(filter(None, [base, node.module or ""]))
            for alias in node.names:
                full = f"{module}.{alias.name}"
                add(full if full in known else module, node.lineno, "from")
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (called in ("import_module", "__import__") and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                add(node.args[0].value, node.lineno, called)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            module, colon, attr = text.partition(":")
            if ("." in module and module in known
                    and (not colon or attr.replace(".", "_").isidentifier())):
                add(module, node.lineno, "reference")
    # An import_module("x") call's string is also a constant: count it once.
    unique = {}
    for imp in found:
        key = (imp.target, imp.line)
        if key not in unique or unique[key].how == "reference":
            unique[key] = imp
    return list(unique.values())


def wrong_way(imp):
    """Whether ``imp`` goes up the layers (or sideways between gateware and golden models)."""
    (rank, group), (target_rank, target_group) = layer(imp.source), layer(imp.target)
    return target_rank > rank or (target_rank == rank and target_group != group
                                  and rank < 2)


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph = {}
    for imp in edges:
        graph.setdefault(imp.source, set()).add(imp.target)
    index, low, stack, on_stack, components = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def check(root=ROOT):
    """``(imports checked, wrong-way imports, cycles)`` of the checkout at ``root``."""
    known = modules(root)
    edges = [imp for name, path in known.items() if not is_client(name)
             for imp in imports_of(name, path, known)]
    edges = [imp for imp in edges if not is_client(imp.target)]
    return edges, [imp for imp in edges if wrong_way(imp)], cycles(edges)


def report(root=ROOT):
    edges, wrong, loops = check(root)
    lines = [f"{len(edges)} imports between {len({e.source for e in edges})} modules checked: "
             f"{len(wrong)} wrong-way, {len(loops)} cycles"]
    for imp in wrong:
        lines.append(f"  wrong way: {imp}  [{LAYER_NAMES[layer(imp.source)[0]]} -> "
                     f"{LAYER_NAMES[layer(imp.target)[0]]}]")
    for loop in loops:
        lines.append(f"  cycle: {' <-> '.join(loop)}")
    return "\n".join(lines)


def test_no_import_goes_up_the_layers():
    _, wrong, _ = check()
    new = [imp for imp in wrong if (imp.source, imp.target) not in PENDING]
    assert not new, "imports that go up the layers:\n" + "\n".join(map(str, new))
    gone = set(PENDING) - {(imp.source, imp.target) for imp in wrong}
    if gone:
        warnings.warn(f"fixed, so remove from PENDING: {sorted(gone)}")


def _pending(loop):
    """Whether a cycle is only there through a PENDING import (the registry's references to
    the testbenches close a cycle while a testbench still imports the registry) or is listed
    in PENDING_CYCLES."""
    members = set(loop)
    return (any(set(pair) <= members for pair in PENDING_CYCLES)
            or any(src in members and dst in members for src, dst in PENDING))


def test_no_import_cycles():
    _, _, loops = check()
    new = [loop for loop in loops if not _pending(loop)]
    assert not new, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in new)


def test_the_checker_sees_every_kind_of_import(tmp_path):
    """A fixture tree with one import of each kind up the layers, and a cycle."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackage-dir = { "lowbit" = "lowbit", "lowbit.hdl" = "hdl" }\n')
    core, hdl = tmp_path / "lowbit" / "core", tmp_path / "hdl"
    core.mkdir(parents=True)
    hdl.mkdir()
    for init in (tmp_path / "lowbit" / "__init__.py", core / "__init__.py", hdl / "__init__.py"):
        init.write_text("")
    (tmp_path / "lowbit" / "units.py").write_text(
        'from lowbit.core import errors\nREF = "lowbit.hdl.a:A"\n')
    (core / "errors.py").write_text("def f():\n    from lowbit import units\n")
    (hdl / "a.py").write_text('from importlib import import_module\n'
                              'def g():\n    import_module("lowbit.units")\n'
                              'from . import b\n')
    (hdl / "b.py").write_text("from .a import g\n")
    edges, wrong, loops = check(tmp_path)
    assert {(e.source, e.target, e.how) for e in wrong} == {
        ("lowbit.core.errors", "lowbit.units", "from"),
        ("lowbit.hdl.a", "lowbit.units", "import_module")}
    assert ("lowbit.units", "lowbit.hdl.a", "reference") in {(e.source, e.target, e.how)
                                                            for e in edges}
    # units -> hdl.a (a reference), hdl.a <-> hdl.b, hdl.a -> units, core -> units -> core
    assert loops == [["lowbit.core.errors", "lowbit.hdl.a", "lowbit.hdl.b", "lowbit.units"]]


def test_the_runner_takes_a_registry_entry_not_a_name():
    """The runner sits below the registry: handed a unit's name instead of its entry it says
    what to pass, rather than importing lowbit.units to look the name up."""
    import pytest

    from lowbit.sim_tests.runner import simulate
    with pytest.raises(TypeError, match=r"UNITS\['dint_mac'\]"):
        simulate("dint_mac")


if __name__ == "__main__":
    print(report(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT))
