"""``lowbit power``: the energy per operation of a unit beside its baseline's.

The measurement itself is ``lowbit.synth.power`` (gate-level simulation of the standard-cell
netlist, power from the Liberty tables); this module picks the baseline from the registry,
measures each side at the lowest energy of its implementations (the candidates the flow builds
for area, the same for unit and baseline; an implementation parameter given with ``-p`` is kept),
prints the table and writes the JSON record. See docs/power.md.
"""

import json
from pathlib import Path

from .core.errors import LowbitError
from .synth.power import (DEFAULT_CLOCK_MHZ, DEFAULT_CYCLES, GLITCH_NOTE, format_power_table,
                          mac_breakdown, measure_power)
from .units import UNITS

__all__ = ["compare_power", "strongest_power", "power_command"]


def strongest_power(unit_name, params, *, fixed=(), **kwargs):
    """The lowest energy per operation of ``unit_name`` at ``params`` over its implementations
    (``Unit.implementations``, e.g. ``fused``, ``booth``; parameters named in ``fixed`` keep
    their value), the candidates the flow builds for area (``lowbit.jobs.candidates``), each
    distinct circuit measured once. Returns ``(PowerResult of the lowest, [{"implementation",
    "pj_per_op"}] of every candidate)``."""
    from .core.params import ParameterError
    from .jobs import candidates, verilog_of
    unit = UNITS[unit_name]
    names = [n for n in unit.implementations if n in params]
    measured, seen, best = [], {}, None
    for variant, _ in candidates(unit_name, params, "asic", fixed):
        choice = {n: variant[n] for n in names}
        try:
            verilog = verilog_of(unit_name, variant)
        except ParameterError as error:   # a combination the unit refuses: not a candidate
            measured.append({"implementation": choice, "pj_per_op": None, "error": str(error)})
            continue
        if verilog in seen:   # the same circuit under another name (booth, when fused)
            measured.append({"implementation": choice, "pj_per_op": seen[verilog],
                             "same_circuit_as": True})
            continue
        result = measure_power(unit, variant, **kwargs)
        seen[verilog] = result.energy_pj["total"]
        measured.append({"implementation": choice, "pj_per_op": result.energy_pj["total"]})
        if best is None or result.energy_pj["total"] < best.energy_pj["total"]:
            best = result
    return best, measured


def compare_power(unit_name, params=None, *, fixed=(), **kwargs):
    """The unit and its baseline (at matching parameters) on the same workload kind, clock and
    seed, each at its lowest-energy implementation (:func:`strongest_power`; the unit's
    parameters named in ``fixed``, those the user gave, are kept as given): returns
    ``{"unit": PowerResult, "baseline": PowerResult | None, "ratio": float | None,
    "candidates": {"unit": [...], "baseline": [...]}}`` (``ratio`` = baseline energy per
    operation / the unit's: above 1 the unit is better). The same candidates for both sides,
    so no implementation is tried on one side only."""
    unit = UNITS[unit_name]
    params = unit.resolve(params or {})
    mine, mine_tried = strongest_power(unit_name, params, fixed=fixed, **kwargs)
    baseline = unit.baseline_for(params)
    if baseline is None:
        return {"unit": mine, "baseline": None, "ratio": None,
                "candidates": {"unit": mine_tried, "baseline": []}}
    base_unit = UNITS[baseline[0]]
    theirs, theirs_tried = strongest_power(baseline[0], base_unit.resolve(baseline[1]),
                                           **kwargs)
    ratio = theirs.energy_pj["total"] / mine.energy_pj["total"] if mine.energy_pj["total"] else None
    return {"unit": mine, "baseline": theirs, "ratio": ratio,
            "candidates": {"unit": mine_tried, "baseline": theirs_tried}}


def _breakdowns(unit_name, params, **kwargs):
    """:func:`mac_breakdown` of the unit and its baseline, printed and as JSON-ready dicts."""
    if UNITS[unit_name].testbench != "lowbit.sim_tests.tb_mac":
        raise LowbitError(f"--breakdown is for the MAC units (weight, act -> acc); "
                          f"{unit_name} is not one")
    sides = [(unit_name, params)]
    baseline = UNITS[unit_name].baseline_for(params)
    if baseline:
        sides.append((baseline[0], UNITS[baseline[0]].resolve(baseline[1])))
    print(f"\n{'unit':<10} {'part':<12} {'area/um^2':>10} {'(flip-flops)':>12} {'pJ/MAC':>8} "
          f"{'(seq)':>7}")
    found = {}
    for name, p in sides:
        parts = mac_breakdown(UNITS[name], p, **kwargs)
        for part in ("mac", "accumulator"):
            r = parts[part]
            ff_area = r.sequential_area_um2
            print(f"{name:<10} {part:<12} {r.area_um2:>10.0f} {ff_area:>12.0f} "
                  f"{r.energy_pj['total']:>8.3f} {r.energy_by_group_pj['sequential']:>7.3f}")
        m = parts["multiplier"]
        print(f"{name:<10} {'multiplier':<12} {m['area_um2']:>10.0f} {'':>12} "
              f"{m['energy_pj']:>8.3f}   (the MAC minus its accumulator)")
        found[name] = {"mac": parts["mac"].as_dict(), "accumulator": parts["accumulator"].as_dict(),
                       "multiplier": m}
    return found


def _print_windows(result):
    """The stages of a windowed run (the attention block's sequencer stages) and its memory
    macros: where the energy goes."""
    if result.windows:
        print(f"{result.unit}: per stage (pJ over the run; pJ per cycle):")
        for w in result.windows:
            groups = ", ".join(f"{g} {v:.1f}" for g, v in w["by_group_pj"].items())
            print(f"  {w['name']:<8} {w['cycles']:>7} cycles  {w['energy_pj']:>12.1f} pJ  "
                  f"{w['energy_pj'] / max(1, w['cycles']):>8.2f} pJ/cycle  ({groups})")
    if result.memory.get("macros"):
        print(f"{result.unit}: {len(result.memory['macros'])} memory macros, "
              f"{result.memory['bits']} bits, {result.memory['area_um2']:.0f} um^2 "
              f"({result.memory['model']}); pJ per {result.op}: " + ", ".join(
                  f"{m['instance'].lstrip(chr(92))} {sum(m['pj_per_op'].values()):.2f}"
                  for m in result.memory["macros"]))


def _choice(implementation):
    return ",".join(f"{k}={v}" for k, v in implementation.items())


def _pj(candidate):
    if candidate.get("error"):
        return "(refused)"
    return f"{candidate['pj_per_op']:.4f} pJ" + (" (same circuit)"
                                                if candidate.get("same_circuit_as") else "")


def power_command(unit_name, overrides, *, data="minilm", clock_mhz=DEFAULT_CLOCK_MHZ,
                  liberty=None, seed=1, cycles=DEFAULT_CYCLES, build=Path("build"), out=None,
                  breakdown=False):
    """``lowbit power``: the unit and its baseline; prints the table, writes the JSON record.

    The record (``build/power/<unit>-<data>.json`` unless ``out``): ``{"command", "unit",
    "baseline", "ratio", "note"}`` with the two :class:`PowerResult` dicts; ``ratio`` is the
    baseline's energy per operation over the unit's.
    """
    if int(cycles) < 16 or int(cycles) > 1_000_000:
        raise LowbitError(f"--cycles {cycles}: allowed 16..1000000")
    params = UNITS[unit_name].resolve(overrides)
    found = compare_power(unit_name, params, fixed=tuple(overrides or {}), data=data,
                          clock_mhz=clock_mhz, liberty=liberty, seed=seed, cycles=int(cycles),
                          build_dir=Path(build) / "power")
    rows = [found["unit"]] + ([found["baseline"]] if found["baseline"] else [])
    print(format_power_table(rows))
    for result in rows:
        _print_windows(result)
    for side, result in (("unit", found["unit"]), ("baseline", found["baseline"])):
        tried = [c for c in found["candidates"][side] if c["implementation"]]
        if result is not None and len(tried) > 1:
            print(f"{result.unit}: lowest of its implementations: " + ", ".join(
                f"{_choice(c['implementation'])} {_pj(c)}" for c in tried))
    if found["ratio"] is not None:
        print(f"{found['baseline'].unit} / {unit_name} energy per {found['unit'].op}: "
              f"{found['ratio']:.3f}x")
    command = " ".join(["lowbit", "power", unit_name,
                        *[f"-p {k}={v}" for k, v in sorted((overrides or {}).items())],
                        f"--data {data}", f"--clock {clock_mhz:g}", f"--seed {seed}",
                        f"--cycles {cycles}"] + ([f"--liberty {liberty}"] if liberty else []))
    record = {"command": command, "unit": found["unit"].as_dict(),
              "baseline": found["baseline"].as_dict() if found["baseline"] else None,
              "ratio": found["ratio"], "candidates": found["candidates"], "note": GLITCH_NOTE}
    if breakdown:
        record["command"] += " --breakdown"
        record["breakdown"] = _breakdowns(unit_name, params, data=data, clock_mhz=clock_mhz,
                                          liberty=liberty, seed=seed, cycles=int(cycles),
                                          build_dir=Path(build) / "power")
    from .core.params import params_tag
    tag = f"-{params_tag(params)}" if overrides else ""
    path = Path(out) if out else Path(build) / "power" / f"{unit_name}{tag}-{data}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return 0
