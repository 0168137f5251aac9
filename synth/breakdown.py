"""Area per submodule: where a unit's LUTs (or gates) go.

``breakdown`` synthesises a unit with the same Yosys script as the flow's area run
(``lowbit.synth.flow``, same target and flow options) but with the hierarchy kept
(``-noflatten``), and reads ``stat`` per module. Amaranth emits one Verilog module per
submodule instance (``top.popcount_0_0``, ``top.popcount_0_1``, ...), so the instances are
grouped by their path with every run of digits replaced by ``*`` (``popcount_*_*``), and each
group shows its instance count, its own cells and its cells including its submodules. The
top row is the unit's own logic (control, memories, registers outside any submodule).

Kept boundaries stop Yosys and ABC from optimising across them, so the sum of the rows (the
``total, hierarchy kept`` line) is larger than the flattened area of the flow (shown beside it,
from one flattened area run); the rows are a breakdown of the design, not of the flattened
netlist. Used by ``lowbit synth UNIT --breakdown``.
"""

import json
import re
from dataclasses import dataclass, field

from lowbit.core.errors import LowbitError
from lowbit.verilog import to_verilog

from .flow import FLOW_OPTIONS, _check_options, _check_target, _family, _fpga_counts, \
    _module_name, _synth_commands, _TRANSISTORS_PER_GE, run_dir
from .tools import run_tool

__all__ = ["BreakdownRow", "Breakdown", "breakdown", "format_breakdown", "BREAKDOWN_TARGETS"]

BREAKDOWN_TARGETS = ("ice40", "ice40-dsp", "ecp5", "ecp5-dsp", "generic")


@dataclass(frozen=True)
class BreakdownRow:
    """One group of submodule instances: ``path`` (digits as ``*``; the top module's own logic
    is the unit's name), ``instances``, and the counts of all its instances together:
    ``own`` (cells of the group's modules themselves) and ``inclusive`` (with their
    submodules), each a dict ``luts``/``ffs``/``carry``/``dsps``/``brams`` (FPGA targets) or
    ``gate_equivalents``/``transistors`` (``generic``)."""
    path: str
    instances: int
    own: dict
    inclusive: dict


@dataclass(frozen=True)
class Breakdown:
    unit: str
    params: dict
    target: str
    options: list
    rows: list = field(default_factory=list)
    total: dict = field(default_factory=dict)       # the hierarchy kept: the top's inclusive

    def as_dict(self):
        return {"unit": self.unit, "params": self.params, "target": self.target,
                "options": self.options, "total_hierarchy_kept": self.total,
                "rows": [row.__dict__ for row in self.rows]}


def _hierarchical(commands, target):
    """The flow's commands with the hierarchy kept."""
    out = []
    for command in commands:
        if command == "flatten":
            continue
        if command.startswith("synth -flatten"):
            command = command.replace("synth -flatten", "synth", 1)
        elif command.startswith(("synth_ecp5", "synth_ice40")):
            command += " -noflatten"
        out.append(command)
    return out


def _counts(cells, module_stat, target):
    if target == "generic":
        transistors = int(str(module_stat.get("estimated_num_transistors", 0)).rstrip("+"))
        return {"transistors": transistors,
                "gate_equivalents": round(transistors / _TRANSISTORS_PER_GE, 1)}
    luts, ffs, carry, dsps = _fpga_counts(cells, _family(target))
    brams = sum(cells.get(cell, 0) for cell in ("SB_RAM40_4K", "DP16KD", "PDPW16KD"))
    return {"luts": luts, "ffs": ffs, "carry": carry, "dsps": dsps, "brams": brams}


def _add(a, b):
    return {key: round(a.get(key, 0) + b.get(key, 0), 1) for key in {*a, *b}}


def _group(path):
    return re.sub(r"\d+", "*", path)


def breakdown(component_factory, *, unit, params, target, device=None, build_dir, options=None):
    """Synthesise ``component_factory()`` for ``target`` with its hierarchy kept; returns a
    ``Breakdown`` (rows in the order of the hierarchy, parents first). ``options`` as for
    ``lowbit.synth.synthesize`` (None: the target's first set). Raises ``LowbitError`` for a
    target without a per-module count (``asic``) and for a failing tool."""
    if target not in BREAKDOWN_TARGETS:
        raise LowbitError(f"--breakdown is not available for target {target}; allowed: "
                          f"{', '.join(BREAKDOWN_TARGETS)}")
    device = _check_target(target, device)
    options = _check_options(target, FLOW_OPTIONS[target][0] if options is None else options)
    run = run_dir(build_dir, unit, params, target, device, options)
    run = run.with_name(run.name + "-breakdown")
    run.mkdir(parents=True, exist_ok=True)
    top = _module_name(unit)
    (run / "unit.v").write_text(to_verilog(component_factory(), top))
    stat = "stat -tech cmos -json" if target == "generic" else "stat -json"
    script = ["read_verilog unit.v", *_hierarchical(_synth_commands(target, top, options), target),
              f"tee -q -o breakdown_stat.json {stat}"]
    (run / "breakdown.ys").write_text("\n".join(script) + "\n")
    run_tool("yosys", ["-q", "-l", "breakdown.log", "-s", "breakdown.ys"], cwd=run,
             log="breakdown.stdout", error_log="breakdown.log")
    modules = json.loads((run / "breakdown_stat.json").read_text())["modules"]
    modules = {name.lstrip("\\"): value for name, value in modules.items()}
    if top not in modules:
        raise LowbitError(f"yosys kept no module {top}; see {run / 'breakdown.log'}")

    own, inclusive, children = {}, {}, {}

    def visit(name):
        if name in inclusive:
            return inclusive[name]
        cells = dict(modules[name]["num_cells_by_type"])
        subs = {cell: n for cell, n in cells.items() if cell.lstrip("\\") in modules}
        prims = {cell: n for cell, n in cells.items() if cell not in subs}
        children[name] = []
        below = {}
        for cell, n in subs.items():
            child = cell.lstrip("\\")
            children[name].append(child)
            for _ in range(n):
                below = _add(below, visit(child))
        if target == "generic":
            # Yosys' transistor estimate of a module includes its submodules
            total = _counts(prims, modules[name], target)
            own[name] = {key: round(total[key] - below.get(key, 0), 1) for key in total}
        else:
            own[name] = _counts(prims, modules[name], target)
            total = _add(own[name], below)
        inclusive[name] = total
        return total

    visit(top)
    # Group by path: every module is one instance (Amaranth names modules by their path).
    groups, order = {}, []

    def walk(name, path):
        key = _group(path)
        if key not in groups:
            groups[key] = [0, {}, {}]
            order.append(key)
        g = groups[key]
        g[0] += 1
        g[1] = _add(g[1], own[name])
        g[2] = _add(g[2], inclusive[name])
        for child in children[name]:
            walk(child, path + "." + child.rsplit(".", 1)[-1])

    walk(top, unit)
    rows = [BreakdownRow(path=key if key != _group(unit) else unit, instances=groups[key][0],
                         own=groups[key][1], inclusive=groups[key][2]) for key in order]
    result = Breakdown(unit=unit, params=dict(params), target=target, options=list(options),
                       rows=rows, total=inclusive[top])
    (run / "breakdown.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return result


def format_breakdown(result, flat=None):
    """A plain-text table of a ``Breakdown``; ``flat``, a ``SynthResult`` of the same unit and
    target, adds the flattened area for comparison."""
    generic = result.target == "generic"
    keys = ("gate_equivalents", "transistors") if generic else ("luts", "ffs", "carry", "dsps",
                                                                 "brams")
    names = ("GE", "transistors") if generic else ("LUTs", "FFs", "carry", "DSPs", "BRAMs")
    main = keys[0]
    header = ("module (path)", "instances", *(f"own {n}" for n in names),
              f"with submodules {names[0]}", f"per instance {names[0]}", "share")
    total = result.total.get(main, 0) or 1

    def fmt(value):
        return f"{value:g}" if isinstance(value, (int, float)) else str(value)

    rows = []
    for row in result.rows:
        inc = row.inclusive.get(main, 0)
        rows.append((row.path, str(row.instances), *(fmt(row.own.get(k, 0)) for k in keys),
                     fmt(inc), f"{inc / row.instances:.1f}", f"{100 * row.own.get(main, 0) / total:.1f} %"))
    rows.append(("total, hierarchy kept", "", *(fmt(result.total.get(k, 0)) for k in keys),
                 fmt(result.total.get(main, 0)), "", "100.0 %"))
    if flat is not None:
        value = flat.gate_equivalents if generic else flat.luts
        rows.append(("total, flattened (the flow's area)", "", fmt(round(value, 1)), *[""] * (len(header) - 3)))
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = [f"{result.unit} {result.params} on {result.target} "
             f"({'+'.join(result.options) or 'plain script'}), hierarchy kept; share = own "
             f"{names[0]} / total"]
    for n, r in enumerate((header, *rows)):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
