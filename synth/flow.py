"""Synthesis and place-and-route of one unit on one target.

Area is measured on the bare unit (top module = the unit, no I/O buffers):

* ``ice40`` / ``ice40-dsp``: ``synth_ice40 -device u`` (ABC9 with the UltraPlus delay model, as
  we place on an UP5K), plus ``-dsp`` for ``ice40-dsp`` only.
* ``ecp5`` / ``ecp5-dsp``: ``synth_ecp5``, with ``-nodsp`` for ``ecp5`` only.
* ``generic``: ``synth -flatten -booth``, every flip-flop legalised to a plain ``$_DFF_P_``
  (synchronous reset and enable become gates in front of D), then ``abc -g cmos`` and
  ``stat -tech cmos``.

Generic gate set: ``cmos`` is every static-CMOS gate Yosys has a transistor count for (NOT,
NAND, NOR, AOI3, OAI3, AOI4, OAI4, MUX, NMUX, XOR, XNOR), i.e. what a standard-cell library
offers, and ABC minimises the same transistor costs that ``stat -tech cmos`` sums. The
NAND/NOR-based sets build each XOR from several gates and so inflate adders and multipliers, the
bulk of our units: on a registered 8x8 MAC ``cmos3`` counts 13 % and ``cmos2`` 20 % more
transistors. ``-booth`` gives multipliers radix-4 Booth recoding, as an ASIC flow would; without
it the same MAC is 20 % larger, which would flatter any unit compared against a multiplier
baseline.

Transistors and gate equivalents: ``stat -tech cmos`` counts ``$_DFF_P_`` as 16 transistors
but has no count for flip-flops with reset or enable (it reports a lower bound then), hence the
legalisation: a flip-flop with synchronous reset then costs 16 transistors plus a NOR2 and an
inverter for the reset, 22 in all (5.5 gate equivalents, in line with library flip-flops with
reset). Gate equivalents are NAND2 equivalents over the whole design: transistors / 4.

Fmax comes from place-and-route of the unit inside ``lowbit.synth.wrapper.Harness`` (synthesised
with the same options as the area run) with nextpnr on an UP5K (SG48) or an LFE5U-25F/85F
(CABGA381), pins unconstrained, a fixed seed and a ``NEXTPNR_FREQ_MHZ`` target; the achieved
frequency of the clock is read from nextpnr's JSON report. It moves by a few per cent with the
seed (41.2-43.9 MHz on ice40 and 119.6-123.8 MHz on ecp5 for a registered 8x8 MAC over seeds
1-5), so smaller Fmax differences between units mean nothing.

Every file of a run goes to ``run_dir(...)``; tools run with that folder as working directory and
relative paths, so no script or log names the machine's folders.
"""

import hashlib
import json
import re
import time

from lowbit.core.errors import LowbitError
from lowbit.core.locks import exclusive_lock
from lowbit.core.params import params_tag
from lowbit.verilog import to_verilog

from .result import SynthResult
from .tools import run_tool, tool_versions
from .wrapper import Harness

__all__ = ["TARGETS", "DEVICES", "NEXTPNR_FREQ_MHZ", "FLOW_OPTIONS", "OPTIONS", "SCRIPT_REVISION",
           "run_dir", "synthesize"]

TARGETS = ("ice40", "ice40-dsp", "ecp5", "ecp5-dsp", "generic", "asic")
DEVICES = {"ice40": ("up5k",), "ice40-dsp": ("up5k",), "ecp5": ("25k", "85k"),
           "ecp5-dsp": ("25k", "85k"), "generic": (None,), "asic": (None,)}

# The target only steers timing-driven placement; we read the achieved frequency, which on our
# test MAC was the same for targets from 50 to 400 MHz.
NEXTPNR_FREQ_MHZ = 200

# Flow options, each a Yosys step that any design may use (docs/synthesis.md, "Flow options"):
# ``booth`` runs Yosys' radix-4 Booth pass on every `$mul` before the target's synthesis
# script; ``nowidelut`` maps ECP5 logic to LUT4s only (no PFU-mux LUT5-LUT7).
OPTIONS = ("booth", "nowidelut")

# The option sets each target tries, on every unit and every baseline alike: the flow keeps
# the smallest (``lowbit.flow``), and the record names the set that won. An empty set is the
# target's plain script. ``generic`` has Booth recoding built in (``synth -booth``); the DSP
# targets keep `$mul` for the DSP blocks, so Booth (which turns it into adders) is not tried
# there.
FLOW_OPTIONS = {
    "ice40": ((), ("booth",)),
    "ice40-dsp": ((),),
    "ecp5": (("nowidelut",), ("booth", "nowidelut")),
    "ecp5-dsp": (("nowidelut",),),
    "generic": ((),),
    "asic": ((),),  # the standard-cell flow (synth/asic.py): ABC maps to the library's cells
}

# Bumped whenever a synthesis script changes, so that cached results (``lowbit.cache``) of an
# older script are not reused.
SCRIPT_REVISION = 2

_PACKAGE = {"ice40": "sg48", "ecp5": "CABGA381"}
_ALLOW_UNCONSTRAINED = {"ice40": "--pcf-allow-unconstrained", "ecp5": "--lpf-allow-unconstrained"}
_TRANSISTORS_PER_GE = 4  # a NAND2


def _family(target):
    return target.split("-")[0]


def _check_target(target, device):
    """The device to use (the target's first one if ``device`` is None); raises LowbitError."""
    if target not in TARGETS:
        raise LowbitError(f"unknown synthesis target {target!r}; allowed: {', '.join(TARGETS)}")
    allowed = DEVICES[target]
    if device is None:
        return allowed[0]
    if device not in allowed:
        names = ", ".join(str(name) for name in allowed) if allowed != (None,) else "none"
        raise LowbitError(f"unknown device {device!r} for target {target}; allowed: {names}")
    return device


def run_dir(build_dir, unit, params, target, device, options=None):
    """The folder of one run: ``build_dir/<unit>-<params hash>/<target>[-<device>][+<option>...]``
    (``options`` None: the target's first set in ``FLOW_OPTIONS``)."""
    options = FLOW_OPTIONS[target][0] if options is None else options
    leaf = target if device is None else f"{target}-{device}"
    return build_dir / f"{unit}-{params_tag(params)}" / "+".join((leaf, *options))


def _module_name(unit):
    """The unit name as a plain Verilog identifier, so Yosys' ``-top`` needs no escaping."""
    return re.sub(r"\W", "_", unit)


def _check_options(target, options):
    options = tuple(options)
    unknown = [name for name in options if name not in OPTIONS]
    if unknown:
        raise LowbitError(f"unknown flow option(s) {', '.join(unknown)}; allowed: "
                          f"{', '.join(OPTIONS)}")
    if "nowidelut" in options and _family(target) != "ecp5":
        raise LowbitError(f"flow option nowidelut is for ecp5 targets only, not {target}")
    return options


def _synth_commands(target, top, options=()):
    """Yosys commands that map the design ``top`` for ``target`` with flow ``options``."""
    dsp = target.endswith("-dsp")
    # Booth before the target script: the coarse `$mul` cells (widths reduced first, as the
    # scripts do) become Booth partial products that the script then maps like any adder.
    pre = ([f"hierarchy -top {top}", "proc", "flatten", "opt_expr", "opt_clean", "wreduce",
            "booth"] if "booth" in options else [])
    if target == "generic":
        commands = [f"synth -flatten -booth -top {top}",
                    "dfflegalize -cell $_DFF_P_ 01",
                    "abc -g cmos",
                    "opt_clean"]
    elif _family(target) == "ice40":
        commands = [f"synth_ice40 -device u -top {top}" + (" -dsp" if dsp else "")]
    else:
        commands = [f"synth_ecp5 -top {top}" + ("" if dsp else " -nodsp")
                    + (" -nowidelut" if "nowidelut" in options else "")]
    # Flattening leaves $scopeinfo cells that only name the former submodules; `stat -tech cmos`
    # would count them as gates of unknown size.
    return [*pre, *commands, "delete t:$scopeinfo"]


def _yosys(run, name, verilog, commands, stat="stat -json"):
    """Run a Yosys script ``<name>.ys`` on ``verilog``; returns the design's ``stat`` JSON."""
    script = [f"read_verilog {verilog}", *commands, f"tee -q -o {name}_stat.json {stat}"]
    text = "\n".join(script) + "\n"
    key = (str(run.resolve()), name, text,
           hashlib.sha256((run / verilog).read_bytes()).hexdigest())
    if name == "area" and key in _SYNTHESIZED and (run / f"{name}_stat.json").is_file():
        # This process synthesized this very design here already: the flow's winner of
        # several candidates is synthesized for area in the candidate loop, then timed.
        return _SYNTHESIZED[key]
    (run / f"{name}.ys").write_text(text)
    # Yosys' console output stops after the first ABC call in the YoWASP build (ABC takes over
    # the stdout handle), so the complete log is Yosys' own `-l` file.
    run_tool("yosys", ["-q", "-l", f"{name}.log", "-s", f"{name}.ys"], cwd=run,
             log=f"{name}.stdout", error_log=f"{name}.log")
    design = json.loads((run / f"{name}_stat.json").read_text())["design"]
    _SYNTHESIZED[key] = design
    return design


# Area runs this process has done: (run folder, name, script, Verilog digest) -> stat design.
_SYNTHESIZED = {}


def _cells(stat):
    return dict(sorted(stat["num_cells_by_type"].items()))


def _fpga_counts(cells, family):
    """``(luts, ffs, carry, dsps)`` from the cells of a mapped ice40 or ecp5 design."""
    if family == "ice40":
        carry = cells.get("SB_CARRY", 0)
        luts = cells.get("SB_LUT4", 0)
        ffs = sum(count for cell, count in cells.items() if cell.startswith("SB_DFF"))
        dsps = cells.get("SB_MAC16", 0)
    else:
        carry = cells.get("CCU2C", 0)
        luts = cells.get("LUT4", 0) + 2 * carry
        ffs = cells.get("TRELLIS_FF", 0)
        dsps = sum(cells.get(cell, 0) for cell in ("MULT18X18D", "ALU54B", "ALU24B"))
    return luts, ffs, carry, dsps


def _transistors(stat, log):
    estimate = stat["estimated_num_transistors"]
    if str(estimate).endswith("+"):
        raise LowbitError(f"yosys has no transistor count for some generic cells; see {log}")
    return int(estimate)


def _logic_depth(run):
    """Gates on the longest path, from the ``ltp -noff`` report of the generic area run."""
    match = re.search(r"Longest topological path in \S+ \(length=(\d+)\)",
                      (run / "area_depth.txt").read_text())
    if match is None:
        raise LowbitError(f"yosys ltp printed no longest path; see {run / 'area.log'}")
    return int(match.group(1))


def _area(run, top, target, options):
    """Synthesise the bare unit in ``run/unit.v``; returns ``(cells, SynthResult counts)``."""
    if target == "generic":
        commands = [*_synth_commands(target, top, options), "tee -q -o area_depth.txt ltp -noff"]
        stat = _yosys(run, "area", "unit.v", commands, stat="stat -json -tech cmos")
        transistors = _transistors(stat, run / "area.log")
        cells = _cells(stat)
        return cells, dict(luts=None, ffs=cells.get("$_DFF_P_", 0), carry=None, dsps=None,
                           gate_equivalents=transistors / _TRANSISTORS_PER_GE,
                           transistors=transistors, logic_depth=_logic_depth(run))
    cells = _cells(_yosys(run, "area", "unit.v", _synth_commands(target, top, options)))
    luts, ffs, carry, dsps = _fpga_counts(cells, _family(target))
    brams = sum(cells.get(cell, 0) for cell in ("SB_RAM40_4K", "DP16KD", "PDPW16KD"))
    return cells, dict(luts=luts, ffs=ffs, carry=carry, dsps=dsps, gate_equivalents=None,
                       transistors=None, logic_depth=None, brams=brams)


def _nextpnr_args(family, device, seed):
    device_flag = "--up5k" if family == "ice40" else f"--{device}"
    return [device_flag, "--package", _PACKAGE[family], _ALLOW_UNCONSTRAINED[family],
            "--json", "harness.json", "--report", "nextpnr_report.json",
            "--seed", str(seed), "--freq", str(NEXTPNR_FREQ_MHZ), "--timing-allow-fail"]


def _fmax(run, top, target, device, seed, options):
    """Place and route the harness in ``run/harness.v``; the achieved Fmax in MHz or None.

    The harness has one clock; should nextpnr report several clock nets, the slowest counts.
    None means nextpnr found no register-to-register path to time.
    """
    family = _family(target)
    _yosys(run, "harness", "harness.v",
           [*_synth_commands(target, top, options), "write_json harness.json"])
    run_tool(f"nextpnr-{family}", _nextpnr_args(family, device, seed), cwd=run,
             log="nextpnr.log")
    clocks = json.loads((run / "nextpnr_report.json").read_text()).get("fmax", {})
    achieved = [clock["achieved"] for clock in clocks.values()]
    return round(min(achieved), 2) if achieved else None


def _locked(run):
    """Hold the run folder ``run`` for this process: another run of the same unit, parameters,
    target and options (another `lowbit` command on the same build folder) waits."""
    return exclusive_lock(run.parent / f"{run.name}.lock")


def synthesize(component_factory, *, unit, params, target, device=None, build_dir, seed=1,
               pnr=True, options=None, liberty=None):
    """Synthesise a unit for ``target``; returns a ``SynthResult``.

    ``component_factory()`` returns a fresh ``wiring.Component`` (called once for the area run
    and once more for the timing harness). ``unit`` and ``params`` name the run and its folder
    (``run_dir``) under ``build_dir``; ``params`` must be JSON-serialisable for ``as_dict`` to
    be. ``device`` defaults to the target's first entry of ``DEVICES``. ``pnr=False`` skips
    place-and-route (``fmax_mhz`` is None; always so for ``generic``). ``seed`` is nextpnr's.
    ``options`` is a set of flow options (``OPTIONS``) for both runs; None means the target's
    first set in ``FLOW_OPTIONS``. Runs with other options go to their own folder. ``asic``
    maps to the standard-cell library ``liberty`` (None: found as ``lowbit.synth.liberty``
    says) and times with OpenSTA (``lowbit.synth.asic``); its result has ``area_um2``.
    Raises ``LowbitError`` for an unknown target, device or option and for a failing tool.
    """
    device = _check_target(target, device)
    options = _check_options(target, FLOW_OPTIONS[target][0] if options is None else options)
    if target == "asic":
        from .asic import asic_synthesize
        return asic_synthesize(component_factory, unit=unit, params=params, build_dir=build_dir,
                               liberty=liberty, timing=pnr)
    timed = pnr and target != "generic"
    tools = ["yosys", *([f"nextpnr-{_family(target)}"] if timed else [])]
    versions = tool_versions(tools)  # queried once per process, so kept out of `seconds`
    start = time.monotonic()
    run = run_dir(build_dir, unit, params, target, device, options)
    top = _module_name(unit)
    with _locked(run):
        run.mkdir(parents=True, exist_ok=True)
        (run / "unit.v").write_text(to_verilog(component_factory(), top))
        cells, counts = _area(run, top, target, options)
        fmax = None
        if timed:
            (run / "harness.v").write_text(to_verilog(Harness(component_factory()),
                                                      f"{top}_harness"))
            fmax = _fmax(run, f"{top}_harness", target, device, seed, options)

    return SynthResult(unit=unit, params=params, target=target, device=device, **counts,
                       fmax_mhz=fmax, cells=cells, tool_versions=versions,
                       seconds=round(time.monotonic() - start, 2), options=list(options))
