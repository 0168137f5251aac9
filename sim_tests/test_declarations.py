"""One declaration per fact (issue 11): a unit's parameter ranges and its modes are written once.

A registered unit's parameters are declared in the registry entry (``lowbit/units.py``), from
the shared declarations of :mod:`lowbit.core.unit_params`. Its component and its golden model
check their arguments *with those declarations* (``self.act_bits = ACT_BITS.check(act_bits)``;
a bound that depends on other parameters as ``IN_FRAC.check(in_frac, hi=in_bits - 1,
why=...)``), never with bounds or choices of their own (``check_int("act_bits", act_bits, 2,
16)``), which is the same fact declared a second time and free to drift from what ``lowbit
units`` advertises. And a mode that :mod:`lowbit.core.modes` declares (overflow, dINT
codebook, EXAQ top code) is named by its member (``Overflow.WRAP``), never by its string
written out again (``"wrap"``).

Both are read from the source with :mod:`ast`:

- *Parameter checks*: in the modules that define a registered unit's component and golden
  model classes and their base classes, every ``check_int``/``check_choice`` call whose name is
  one of the unit's parameters, and every ``PARAM.check(...)`` with a number as its ``lo`` or
  ``hi``.
- *Mode strings*: in every module of ``hdl/`` and ``golden_models/``, in the formal proofs
  (``sim_tests/formal/``, which build units in given modes) and in the registry
  (``lowbit/units.py``, whose formats name the modes they need), every string constant equal
  to a mode's value, except docstrings and the text of f-strings.

Run as a script (``python sim_tests/test_declarations.py``) it lists the offenders.
"""

import ast
import inspect
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("hdl", "golden_models")
# Where a mode is named: the gateware and the models, and the code above them that builds units
# in a given mode (folders or single files, relative to the repository).
MODE_SOURCES = SOURCES + ("sim_tests/formal", "lowbit/units.py")

# Offences being removed this session by their modules' owners: file -> (owner, the parameter
# names or mode strings still written there). The tests fail on any other and warn of an entry
# that no longer occurs, so the lists only shrink; they must be empty when issue 11 closes.
PENDING_PARAMS = {
}
PENDING_MODES = {
}
# Strings that equal a mode's value but name something else: file -> {string: what it names}.
# (The block's softmax "fixed" is also the word for EXAQ's fixed-point arithmetic and the
# fixed-point softmax's testbench variant; "int8", "exaq2" and "exaq3" are also names of rows
# of the accuracy table.)
OTHER_MEANINGS = {
    "golden_models/accuracy/exaq_attention.py": {"fixed": "the EXAQ attention's arithmetic (float or fixed)"},
    "golden_models/accuracy/rows.py": {"int8": "a row name", "exaq2": "a row name", "exaq3": "a row name",
                                       "fixed": "the EXAQ attention's arithmetic (float or fixed)"},
    "lowbit/units.py": {"int8": "an accuracy-table format", "exaq2": "an accuracy-table format",
                        "exaq3": "an accuracy-table format",
                        "fixed": "softmax_fixed's testbench variant"},
}


@dataclass(frozen=True, order=True)
class Offence:
    file: str       # relative to the repository
    line: int
    what: str       # the parameter name or the mode string
    code: str       # the offending expression

    @property
    def key(self):
        return self.file, self.what

    def __str__(self):
        return f"{self.file}:{self.line}: {self.code}"


def _declared():
    """``{Param object name: Param}`` of lowbit.core.unit_params, and ``{mode string: member}``."""
    from lowbit.core import modes, unit_params
    from lowbit.core.params import Param

    params = {name: p for name, p in vars(unit_params).items() if isinstance(p, Param)}
    mode_values = {m.value: m for cls in vars(modes).values()
                   if isinstance(cls, type) and issubclass(cls, modes.Mode) and cls is not modes.Mode
                   for m in cls}
    return params, mode_values


def unit_modules():
    """``{file: set of parameter names}``: the source files of every registered unit's component
    and golden model classes and of their base classes (within hdl/ and golden_models/), each
    with the names of the parameters of the units they serve."""
    from lowbit.registry import resolve_ref
    from lowbit.units import UNITS

    files = {}
    for unit in UNITS:
        names = {p.name for p in unit.params}
        for ref in (unit.component, unit.golden):
            obj = resolve_ref(ref)
            for cls in (obj.__mro__ if inspect.isclass(obj) else (obj,)):
                module = sys.modules.get(getattr(cls, "__module__", ""))
                path = getattr(module, "__file__", None)
                path = Path(path).resolve() if path else None
                if path and path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] in SOURCES:
                    files.setdefault(path.relative_to(ROOT).as_posix(), set()).update(names)
    return files


def _call_name(node):
    if isinstance(node.func, ast.Name):
        return node.func.id, None
    if isinstance(node.func, ast.Attribute):
        owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
        return node.func.attr, owner
    return None, None


def _is_number(node):
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
        and not isinstance(node.value, bool)


def param_offences(root=ROOT, files=None):
    """Checks of a registered unit's parameter with bounds or choices of the module's own."""
    params, _ = _declared()
    files = unit_modules() if files is None else files
    found = []
    for file, names in sorted(files.items()):
        tree = ast.parse((root / file).read_text(), file)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func, owner = _call_name(node)
            if func in ("check_int", "check_choice") and node.args \
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value in names:
                found.append(Offence(file, node.lineno, node.args[0].value, ast.unparse(node)))
            elif func == "check" and owner in params and any(
                    kw.arg in ("lo", "hi") and _is_number(kw.value) for kw in node.keywords):
                found.append(Offence(file, node.lineno, params[owner].name, ast.unparse(node)))
    return sorted(set(found))


def _docstrings(tree):
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def _mode_files(root):
    """The Python files of MODE_SOURCES under ``root`` (a fixture tree may lack some)."""
    for source in MODE_SOURCES:
        path = root / source
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        elif path.is_file():
            yield path


def mode_offences(root=ROOT):
    """String constants in MODE_SOURCES that spell a declared mode."""
    _, mode_values = _declared()
    found = []
    for path in _mode_files(root):
        tree = ast.parse(path.read_text(), str(path))
        skip = _docstrings(tree) | {id(part) for node in ast.walk(tree)
                                    if isinstance(node, ast.JoinedStr) for part in node.values}
        file = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value in mode_values and id(node) not in skip \
                    and node.value not in OTHER_MEANINGS.get(file, {}):
                member = mode_values[node.value]
                found.append(Offence(file, node.lineno, node.value,
                                     f"{node.value!r} (use {type(member).__name__}.{member.name})"))
    return sorted(found)


def _check(offences, pending, what):
    listed = {(file, name) for file, (_, names) in pending.items() for name in names}
    new = [o for o in offences if o.key not in listed]
    assert not new, f"{what}:\n" + "\n".join(map(str, new))
    gone = listed - {o.key for o in offences}
    if gone:
        warnings.warn(f"fixed, so remove from the PENDING list: {sorted(gone)}")


def test_units_check_parameters_with_their_declarations():
    _check(param_offences(), PENDING_PARAMS,
           "a registered unit's parameter checked with bounds of the module's own (declare it in "
           "lowbit.core.unit_params and call PARAM.check(value[, lo=..., hi=..., why=...]))")


def registry_offences(root=ROOT):
    """``Param(...)`` constructions in lowbit/units.py: a parameter the registry declares itself
    instead of taking it from lowbit.core.unit_params (as ``(line, parameter name)``)."""
    tree = ast.parse((root / "lowbit" / "units.py").read_text())
    return [(node.lineno, node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else "?")
            for node in ast.walk(tree) if isinstance(node, ast.Call) and _call_name(node)[0] == "Param"]


def test_the_registry_declares_no_parameter_of_its_own():
    """Every registered unit's parameters come from lowbit.core.unit_params (a unit may give one
    its own default or description, ``ACT_BITS.with_default(4)``), the one place the component,
    the golden model and the registry read a range from."""
    offences = registry_offences()
    assert not offences, "parameters declared in lowbit/units.py, not in lowbit.core.unit_params: " + str(offences)


def test_no_mode_is_spelt_as_a_string():
    _check(mode_offences(), PENDING_MODES,
           "a mode of lowbit.core.modes written out as a string (use its member)")


def test_the_checker_sees_each_kind_of_offence(tmp_path):
    """A fixture module with one offence of each kind, and the forms that are allowed."""
    (tmp_path / "hdl").mkdir()
    (tmp_path / "golden_models").mkdir()
    (tmp_path / "hdl" / "unit.py").write_text('''"""A docstring may say "wrap"."""
from lowbit.core.unit_params import ACT_BITS, IN_FRAC
def build(act_bits, in_frac, overflow="wrap", name="x"):
    """Or "saturate"."""
    check_int("act_bits", act_bits, 2, 16)
    ACT_BITS.check(act_bits, lo=4)
    IN_FRAC.check(in_frac, hi=act_bits - 1, why="fine: a dependent bound")
    check_int("depth", 3, 1, 8)
    label = f"half{name}"
    return overflow == "saturate"
''')
    files = {"hdl/unit.py": {"act_bits", "in_frac", "overflow"}}
    assert [(o.line, o.what) for o in param_offences(tmp_path, files)] == [(5, "act_bits"), (6, "act_bits")]
    assert [(o.line, o.what) for o in mode_offences(tmp_path)] == [(3, "wrap"), (10, "saturate")]
    (tmp_path / "lowbit").mkdir()
    (tmp_path / "lowbit" / "units.py").write_text(
        'from .core.unit_params import ACT_BITS\nPARAMS = (ACT_BITS.with_default(4), Param("k", 1, "k", lo=1, hi=2))\n'
        'FORMATS = (Format("int8", {}), Format("dint4-", {"special": "half"}))\n')
    assert registry_offences(tmp_path) == [(2, "k")]
    (tmp_path / "sim_tests" / "formal").mkdir(parents=True)
    (tmp_path / "sim_tests" / "formal" / "proof.py").write_text('UNIT = DintMac(special="pm_half")\n')
    assert [(o.file, o.line, o.what) for o in mode_offences(tmp_path)] == [
        ("hdl/unit.py", 3, "wrap"), ("hdl/unit.py", 10, "saturate"), ("lowbit/units.py", 3, "half"),
        ("sim_tests/formal/proof.py", 1, "pm_half")]


def report():
    lines = []
    for title, offences in (("parameter checks with their own bounds", param_offences()),
                            ("mode strings", mode_offences())):
        lines.append(f"{len(offences)} {title}:")
        lines += [f"  {o}" for o in offences]
    offences = registry_offences()
    lines.append(f"{len(offences)} parameters declared in lowbit/units.py:")
    lines += [f"  lowbit/units.py:{line}: {name}" for line, name in offences]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
