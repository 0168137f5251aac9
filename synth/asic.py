"""The standard-cell target ``asic``: Yosys maps a unit to a Liberty library, OpenSTA times it.

Mapping (:func:`map_commands`), the same for every unit and baseline:

* ``read_liberty -lib`` (the cells as black boxes), ``synth -flatten -booth`` (radix-4 Booth
  multipliers, as for the ``generic`` target: without it any multiplier baseline is larger);
* ``dfflibmap -liberty`` (flip-flops, synchronous reset and enable become gates in front of D
  where the library has no such flip-flop), ``abc -liberty -D <delay target> -constr`` (delay-
  targeted mapping with area recovery; with the constraints, inputs driven by an ``inv_2`` and
  outputs loading one flip-flop input, ABC also buffers and sizes gates, so a net with a fanout
  of hundreds, a memory's address decoder, is not left driven by one minimum-size gate),
  ``opt_clean``;
* a netlist the timing and power tools read: undriven bits tied to 0, constants from the
  library's tie cell (``hilomap``), multi-bit wires split and wire-to-wire connections buffered
  (``insbuf``);
* nets with more loads than ABC's own fanout limit (loads ABC cannot see: flip-flop enables,
  macro pins) split into buffer trees (``lowbit.synth.fanout``), as a placed flow's repair
  step would, the buffers counted in the area;
* ``stat -liberty``: area in um^2 and the cell list of the bare unit.

Cells that are not logic for a synchronous design are never used (:data:`DONT_USE`): the
``lpflow`` isolation and retention cells (they need a switched power domain), probe and delay
cells (for hold fixing and test, not logic). ABC otherwise picks, for example,
``lpflow_isobufsrc`` as a cheap AND gate.

Timing (:func:`asic_synthesize`): the unit inside ``lowbit.synth.wrapper.Harness`` (every port
registered, as for place-and-route on the FPGAs), mapped with the same commands, then OpenSTA's
worst register-to-register path with an ideal clock at the library's corner; the minimum period
is the path's arrival plus the capturing flip-flop's setup time, Fmax its inverse. No
placement, so the wire capacitance is the library's wire-load model (sky130: ``Small``).
``SCRIPT_REVISION`` changes whenever these commands do (for caches keyed on it).
"""

import dataclasses
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from lowbit.core.errors import LowbitError
from lowbit.core.params import params_tag
from lowbit.verilog import to_verilog

from .liberty import LIBERTY_HINT, find_liberty, library_id, materialize
from .memory import MODEL as MEMORY_MODEL, GENERIC_CELL, extract_macros, macro_liberty, macro_verilog, memory_cost
from .result import SynthResult
from .sta import require_sta, sta_version, worst_path
from .tools import run_tool, tool_versions
from .wrapper import Harness

__all__ = ["TARGET", "DELAY_TARGET_PS", "DONT_USE", "SCRIPT_REVISION", "AsicResult", "map_commands", "map_design", "reusable_netlist",
           "asic_synthesize", "resolve_liberty", "macro_files"]

TARGET = "asic"
# ABC's delay target. A 5 ns target (200 MHz) leaves our units' adder chains room for area
# recovery; both sides of every comparison get the same target.
DELAY_TARGET_PS = 5000
SCRIPT_REVISION = 5   # 4: memories are macros (lowbit.synth.memory); 5: fanout repair
DONT_USE = ("*__lpflow_*", "*__probe_*", "*__dlygate*", "*__dlymetal*", "*__clkdlybuf*",
            "*__dlclkp*", "*__sdlclkp*")


@dataclass(frozen=True)
class AsicResult(SynthResult):
    """A :class:`~lowbit.synth.result.SynthResult` of the ``asic`` target (its fields keep
    their meaning; ``area_um2`` is the cell area of the bare unit from ``stat -liberty``,
    ``liberty`` the library's file name and hash, ``gate_equivalents`` ``area_um2`` over the
    area of the library's smallest NAND2, ``fmax_mhz`` OpenSTA's), plus:

    * ``sequential_area_um2``: the flip-flops' share of ``area_um2``;
    * ``critical_path_ns``: OpenSTA's worst register-to-register path of the unit in the
      timing harness (the minimum period), ``critical_path`` its cell types in order;
    * ``delay_target_ps``: ABC's ``-D``;
    * ``logic_area_um2``: the standard cells alone; ``memory_area_um2``: the memory macros
      (``area_um2`` is their sum), ``memory_bits`` their bits, ``memories`` one record per
      macro (instance, cell, bits, area, leakage in nW, the model's energy per event in pJ:
      ``lowbit.synth.memory``), ``memory_model`` the model's name.
    """

    sequential_area_um2: float = 0.0
    critical_path_ns: float | None = None
    critical_path: list = field(default_factory=list)
    delay_target_ps: int = DELAY_TARGET_PS
    logic_area_um2: float | None = None
    memory_area_um2: float = 0.0
    memory_bits: int = 0
    memories: list = field(default_factory=list)
    memory_model: str = MEMORY_MODEL


def resolve_liberty(liberty, build_dir):
    """``(plain copy of the library under build_dir, its source path)``; raises LowbitError
    with :data:`LIBERTY_HINT` if no library is found."""
    source = find_liberty(liberty)
    if source is None:
        raise LowbitError(LIBERTY_HINT)
    return materialize(source, build_dir), source


def _dont_use():
    return " ".join(f"-dont_use {pattern}" for pattern in DONT_USE)


def map_commands(top, liberty, delay_ps=DELAY_TARGET_PS, *, plain_names=False, macros=True):
    """Yosys commands that map ``top`` to ``liberty`` (a path as Yosys sees it); ``{tie}``,
    ``{buf}`` and ``{constr}`` are filled in by :func:`map_design`.

    ``plain_names=True`` renames every internal wire to ``n<k>`` and splits it into bits, so
    that simulators, VCD files and OpenSTA all name each net the same way. ``macros=False``
    maps memories to flip-flops and multiplexers as plain ``synth`` does (for comparing the
    memory model with that mapping; the target always uses macros).
    """
    commands = [f"read_liberty -lib {liberty}",
                f"synth -flatten -booth -top {top} -run :fine",
                # Memories: constant tables stay logic; every writable one becomes a macro
                # (lowbit.synth.memory), kept out of the flip-flop and ABC mapping.
                "memory_map t:$mem_v2 r:WR_PORTS=0 %i",
                f"chtype -set {GENERIC_CELL} t:$mem_v2",
                f"synth -flatten -booth -top {top} -run fine:check",
                f"dfflibmap -liberty {liberty} {_dont_use()}",
                f"abc -liberty {liberty} -D {int(delay_ps)} -constr {{constr}} {_dont_use()}",
                "opt_clean",
                "setundef -zero",
                f"hilomap -singleton -hicell {{tie}} HI -locell {{tie}} LO",
                "splitnets",
                "opt_clean -purge",
                "insbuf -buf {buf} A X",
                "delete t:$scopeinfo"]
    if not macros:
        commands[1:5] = [f"synth -flatten -booth -top {top}"]
    if plain_names:
        commands += ["rename -hide w:* i:* %d o:* %d", "splitnets", "opt_clean -purge",
                     "rename -enumerate -pattern n% w:*"]
    return commands


def _library_cells(liberty):
    """The cells the flow names: ``(tie (HI/LO), buffer (A -> X), inverter driving the
    inputs in ABC's constraints, area of the smallest NAND2, D-pin capacitance in fF of the
    plain flip-flop)``."""
    text = liberty.read_text(errors="replace")
    names = re.findall(r'^\s*cell\s*\(\s*"?([\w$]+)"?\s*\)', text, re.M)
    wanted = {suffix: next((n for n in names if n.endswith(f"__{suffix}")), None)
              for suffix in ("conb_1", "buf_1", "inv_2", "nand2_1", "dfxtp_1")}
    if None in wanted.values():
        raise LowbitError(f"{liberty.name}: the asic flow needs sky130-style cells "
                          f"{', '.join(wanted)}; this library lacks "
                          f"{', '.join(k for k, v in wanted.items() if v is None)}")
    from .liberty import read_cells
    lib = read_cells(liberty, [wanted["nand2_1"], wanted["dfxtp_1"]])
    area = lib.cells[wanted["nand2_1"]].number("area")
    d_pin = next(p for p in lib.cells[wanted["dfxtp_1"]].sub("pin") if p.args == ["D"])
    d_cap_ff = d_pin.number("capacitance") * lib.cap_unit / 1e-15
    return wanted["conb_1"], wanted["buf_1"], wanted["inv_2"], area, d_cap_ff


_CELL_INFO = {}


def _cells_of(liberty):
    if liberty not in _CELL_INFO:
        _CELL_INFO[liberty] = _library_cells(liberty)
    return _CELL_INFO[liberty]


def map_design(run, name, verilog, top, liberty, delay_ps=DELAY_TARGET_PS, *, plain_names=False,
               macros=True):
    """Map ``run/verilog`` (top module ``top``) to ``liberty``; writes ``run/<name>_netlist.v``.

    Returns Yosys' ``stat -liberty`` JSON of the design.
    """
    import os
    tie, buf, inverter, _, d_cap_ff = _cells_of(liberty)
    rel = os.path.relpath(liberty, run)
    # ABC's constraints: inputs driven by an inv_2, outputs loaded by one flip-flop's D pin
    # (fF), so that ABC buffers and sizes high-fanout nets instead of leaving them unbuffered.
    (run / f"{name}_abc.constr").write_text(f"set_driving_cell {inverter}\n"
                                            f"set_load {d_cap_ff:.4f}\n")
    commands = [c.format(tie=tie, buf=buf, constr=f"{name}_abc.constr")
                for c in map_commands(top, rel, delay_ps, plain_names=plain_names,
                                      macros=macros)]
    script = [f"read_verilog {verilog}", *commands,
              f"tee -q -o {name}_stat.json stat -json -liberty {rel}",
              f"tee -q -o {name}_stat.txt stat -liberty {rel}",
              f"write_verilog -noattr -noexpr -nohex -nodec {name}_netlist.v"]
    text = "\n".join(script) + "\n"
    outputs = (f"{name}_stat.json", f"{name}_netlist.v")
    key = _mapping_key(run, name, text, verilog)
    if key in _MAPPED and all((run / f).is_file() for f in outputs):
        return _MAPPED[key]   # this process mapped this very design here already
    (run / f"{name}.ys").write_text(text)
    run_tool("yosys", ["-q", "-l", f"{name}.log", "-s", f"{name}.ys"], cwd=run,
             log=f"{name}.stdout", error_log=f"{name}.log")
    stat = json.loads((run / f"{name}_stat.json").read_text())["design"]
    stat["macros"] = _macro_views(run, name, liberty)
    _repair_fanout(run, name, liberty, buf, stat)
    _MAPPED[key] = stat
    return stat


def _repair_fanout(run, name, liberty, buf, stat):
    """Buffer the netlist's high-fanout nets (``lowbit.synth.fanout``) and count the buffers
    in ``stat`` (area, cells) and in ``run/<name>_stat.json``, which the power flow reads."""
    from .fanout import BUFFER, buffer_fanout
    from .liberty import read_cells
    prefix = buf.removesuffix("buf_1")
    macros_lib, _ = macro_files(run, name)
    added = buffer_fanout(run / f"{name}_netlist.v", [liberty] + ([macros_lib] if macros_lib else []),
                          prefix=prefix)
    stat["fanout_buffers"] = added["buffers"]
    if added["buffers"]:
        cell = prefix + BUFFER
        area = read_cells(liberty, [cell]).cells[cell].number("area")
        stat["area"] = float(stat["area"]) + added["buffers"] * area
        stat["num_cells"] = int(stat["num_cells"]) + added["buffers"]
        by_type = stat.setdefault("num_cells_by_type", {})
        by_type[cell] = by_type.get(cell, 0) + added["buffers"]
    path = run / f"{name}_stat.json"
    record = json.loads(path.read_text())
    record["design"] = {k: v for k, v in stat.items() if k != "macros"}
    path.write_text(json.dumps(record, indent=1) + "\n")


def _macro_views(run, name, liberty):
    """Turn the netlist's generic memory cells into macro instances (lowbit.synth.memory):
    rewrites ``run/<name>_netlist.v``, writes the macros' Liberty view ``<name>_macros.lib``,
    their simulation models ``<name>_macros.v`` and ``<name>_macros.json``: one record per
    macro (``instance``, ``cell``, ``shape`` fields, the model's ``cost``)."""
    netlist = run / f"{name}_netlist.v"
    text, found = extract_macros(netlist.read_text())
    records = []
    for instance, shape, _ in found:
        cost = memory_cost(liberty, shape)
        records.append({"instance": instance, "cell": shape.name, "bits": shape.bits,
                        "shape": dataclasses.asdict(shape), "area_um2": cost.area_um2,
                        "leakage_nw": cost.leakage_w / 1e-9, "energy_pj": cost.energy_pj,
                        "cells": cost.cells})
    if found:
        netlist.write_text(text)
        shapes = {shape.name: shape for _, shape, _ in found}
        (run / f"{name}_macros.lib").write_text(macro_liberty(liberty, shapes.values()))
        (run / f"{name}_macros.v").write_text("".join(macro_verilog(s) for s in shapes.values()))
    for suffix in ("lib", "v"):
        if not found:
            (run / f"{name}_macros.{suffix}").unlink(missing_ok=True)
    (run / f"{name}_macros.json").write_text(json.dumps(records, indent=1) + "\n")
    return records


def macro_files(run, name):
    """``(Liberty view, simulation models)`` of the macros of ``run/<name>_netlist.v``, or
    ``(None, None)`` if it has none."""
    lib, models = Path(run) / f"{name}_macros.lib", Path(run) / f"{name}_macros.v"
    return (lib, models) if lib.is_file() else (None, None)


# Designs this process has mapped: (run folder, name, script, Verilog digest) -> stat. The
# flow maps a multi-candidate job's winner for area in its candidate loop and again in its
# timed run (lowbit.jobs.best_synth); the second finds it here. Within one process only, so
# the tools are the same; the files are checked to be there still.
_MAPPED = {}


def _mapping_key(run, name, script, verilog):
    """The key of :data:`_MAPPED`: the folder, the script and a digest of its input."""
    import hashlib
    digest = hashlib.sha256((Path(run) / verilog).read_bytes()).hexdigest()
    return (str(Path(run).resolve()), name, script, digest)


def _module_name(unit):
    return re.sub(r"\W", "_", unit)


def run_dir(build_dir, unit, params):
    return build_dir / f"{unit}-{params_tag(params)}" / TARGET


def reusable_netlist(run, verilog, liberty, delay_ps=DELAY_TARGET_PS):
    """``(netlist path, stat)`` of the area run in folder ``run`` if it mapped exactly
    ``verilog`` (the unit's Verilog text) to the library ``liberty`` (a materialized copy:
    its folder names the library's hash) with the commands :func:`map_design` uses today and
    plain net names, else None. The power flow then simulates that netlist instead of mapping
    the same design again."""
    run = Path(run)
    try:
        if (run / "unit.v").read_text() != verilog:
            return None
        script = (run / "area.ys").read_text()
        stat = json.loads((run / "area_stat.json").read_text())["design"]
        stat["macros"] = json.loads((run / "area_macros.json").read_text())
    except (OSError, ValueError, KeyError):
        return None
    if "fanout_buffers" not in stat:   # mapped before the fanout repair (lowbit.synth.fanout)
        return None
    top = re.search(r"synth -flatten -booth -top (\S+)", script)
    if top is None:
        return None
    tie, buf, _, _, _ = _cells_of(liberty)
    rel = script.split("read_liberty -lib ", 1)[-1].split("\n", 1)[0]
    if Path(rel).parent.name != Path(liberty).parent.name:   # another library
        return None
    expected = [c.format(tie=tie, buf=buf, constr="area_abc.constr")
                for c in map_commands(top.group(1), rel, delay_ps, plain_names=True)]
    if script.splitlines()[1:1 + len(expected)] != expected:
        return None
    netlist = run / "area_netlist.v"
    return (netlist, stat) if netlist.is_file() else None


def asic_synthesize(component_factory, *, unit, params, build_dir, liberty=None,
                    delay_ps=DELAY_TARGET_PS, timing=True):
    """Map a unit to the standard-cell library and time it; returns an :class:`AsicResult`.

    ``liberty``: a Liberty file (plain or gzip) or None to search (``lowbit.synth.liberty``).
    ``timing=False`` skips the harness and OpenSTA (``fmax_mhz`` None). Raises ``LowbitError``
    without a library, without ``sta`` (when timing) or for a failing tool.
    """
    lib, source = resolve_liberty(liberty, build_dir)
    if timing:
        require_sta()
    versions = tool_versions(["yosys"])
    if timing:
        versions = {**versions, "opensta": sta_version()}
    start = time.monotonic()
    run = run_dir(build_dir, unit, params)
    run.mkdir(parents=True, exist_ok=True)
    top = _module_name(unit)
    (run / "unit.v").write_text(to_verilog(component_factory(), top))
    # Plain net names, as the power flow maps it: the same cells, and a netlist that
    # ``lowbit.synth.power`` can simulate as it is (:func:`reusable_netlist`).
    stat = map_design(run, "area", "unit.v", top, lib, delay_ps, plain_names=True)
    cells = dict(stat["num_cells_by_type"])
    cells.pop(GENERIC_CELL, None)
    for macro in stat.get("macros", []):   # each macro under its own cell name
        cells[macro["cell"]] = cells.get(macro["cell"], 0) + 1
    cells = dict(sorted(cells.items()))
    _, _, _, nand2_area, _ = _cells_of(lib)
    ffs = sum(n for cell, n in cells.items() if re.search(r"__(s?df|dl|edf)", cell))
    path = {"min_period_ns": None, "fmax_mhz": None, "path": []}
    if timing:
        (run / "harness.v").write_text(to_verilog(Harness(component_factory()),
                                                  f"{top}_harness"))
        map_design(run, "harness", "harness.v", f"{top}_harness", lib, delay_ps)
        import os
        macros_lib, _ = macro_files(run, "harness")
        libraries = [os.path.relpath(lib, run)] + ([macros_lib.name] if macros_lib else [])
        path = worst_path(run, "harness_netlist.v", f"{top}_harness", libraries)
    logic = float(stat["area"])
    memories = stat.get("macros", [])
    memory_area = sum(m["area_um2"] for m in memories)
    area = logic + memory_area
    return AsicResult(
        unit=unit, params=params, target=TARGET, device=None, luts=None, ffs=ffs, carry=None,
        dsps=None, gate_equivalents=round(area / nand2_area, 1), transistors=None,
        fmax_mhz=path["fmax_mhz"], logic_depth=None, cells=cells, tool_versions=versions,
        seconds=round(time.monotonic() - start, 2), area_um2=round(area, 3),
        sequential_area_um2=round(float(stat.get("sequential_area", 0.0)), 3),
        critical_path_ns=path["min_period_ns"], critical_path=path["path"],
        liberty=library_id(source), delay_target_ps=int(delay_ps),
        logic_area_um2=round(logic, 3), memory_area_um2=round(memory_area, 3),
        memory_bits=sum(m["bits"] for m in memories),
        memories=[{k: m[k] for k in ("instance", "cell", "bits", "area_um2", "leakage_nw",
                                     "energy_pj")} for m in memories])

