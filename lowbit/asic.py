"""``lowbit asic``: every unit beside its baseline on the standard-cell target, at the defaults.

Prints the table of docs/synthesis.md (area in um^2, Fmax from OpenSTA, the ratios) and writes
``<build>/synth/asic.json``; the measurement is ``lowbit.synth.asic.asic_synthesize``. ``lowbit
synth UNIT --target asic`` maps one unit; ``lowbit flow --target asic`` measures the same pairs
as part of the main job, each the smallest of its implementation candidates, with simulation
and energy, so this is the quick table of the plain defaults.
"""

import json
import sys
from pathlib import Path

from .core.options import bounded
from .synth.asic import DELAY_TARGET_PS, asic_synthesize
from .units import UNITS

__all__ = ["add_arguments", "run_command"]


def add_arguments(parser):
    """The options of ``lowbit asic``."""
    parser.add_argument("units", nargs="*", metavar="unit",
                        help="units to map, each with its baseline (default: every unit that "
                             "has a baseline)")
    parser.add_argument("--liberty", type=Path, metavar="FILE",
                        help="Liberty library, .lib or .lib.gz (default: see docs/synthesis.md)")
    parser.add_argument("--delay-ps", type=bounded(int, 1), default=DELAY_TARGET_PS,
                        help="ABC's delay target in ps, the same for both sides")


def run_command(args):
    """``lowbit asic [UNIT ...]``: every named unit at its defaults (default: every unit with a
    baseline) and its baseline mapped to the standard cells; prints area, Fmax and the ratios,
    writes ``<build>/synth/asic.json``. An unknown unit or a missing tool is a ``LowbitError``
    (one error line, exit 2)."""
    build = args.build / "synth"
    names = args.units or [u.name for u in UNITS if u.baseline]
    for name in names:
        UNITS[name]   # an unknown unit is an error line now, not after minutes of mapping
    rows, seen = [], {}

    def run(name, params):
        key = (name, json.dumps(params, sort_keys=True))
        if key not in seen:
            unit = UNITS[name]
            params = unit.resolve(params)
            print(f"mapping {name} ...", file=sys.stderr, flush=True)
            result = asic_synthesize(lambda: unit.build(params), unit=name, params=params,
                                     build_dir=build, liberty=args.liberty,
                                     delay_ps=args.delay_ps)
            seen[key] = result
            print(f"{name}: {result.area_um2:.0f} um^2 ({result.sequential_area_um2:.0f} in "
                  f"flip-flops), {result.fmax_mhz} MHz ({result.seconds:.0f} s)", flush=True)
        return seen[key]

    for name in names:
        unit = UNITS[name]
        mine = run(name, unit.resolve({}))
        base = unit.baseline_for(unit.resolve({}))
        theirs = run(*base) if base else None
        rows.append({"unit": name, "baseline": base[0] if base else None,
                     "unit_result": mine.as_dict(),
                     "baseline_result": theirs.as_dict() if theirs else None,
                     "area_ratio": theirs.area_um2 / mine.area_um2 if theirs else None,
                     "fmax_ratio": (mine.fmax_mhz / theirs.fmax_mhz
                                    if theirs and mine.fmax_mhz and theirs.fmax_mhz else None)})
    print(f"\n{'unit':<14} {'um^2':>9} {'MHz':>7}   {'baseline':<14} {'um^2':>9} {'MHz':>7}  "
          f"{'area x':>6} {'Fmax x':>6}")
    for r in rows:
        u, b = r["unit_result"], r["baseline_result"] or {}
        print(f"{r['unit']:<14} {u['area_um2']:>9.0f} {u['fmax_mhz'] or 0:>7.1f}   "
              f"{r['baseline'] or '-':<14} {b.get('area_um2', 0):>9.0f} "
              f"{b.get('fmax_mhz') or 0:>7.1f}  {r['area_ratio'] or 0:>6.2f} "
              f"{r['fmax_ratio'] or 0:>6.2f}")
    build.mkdir(parents=True, exist_ok=True)
    (build / "asic.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {build / 'asic.json'} (area ratio = baseline / unit)")
    return 0
