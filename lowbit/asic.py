"""Every unit beside its baseline on the standard-cell target: ``python -m lowbit.asic``.

Until ``lowbit flow`` runs the ``asic`` target itself, this prints the table of the note in
docs/synthesis.md (area in um^2, Fmax from OpenSTA, the ratios) and writes
``<build>/asic.json``; the measurement is ``lowbit.synth.asic.asic_synthesize``.
"""

import argparse
import json
from pathlib import Path

from .synth.asic import DELAY_TARGET_PS, asic_synthesize
from .units import UNITS

__all__ = ["main"]


def main(argv=None):
    """``python -m lowbit.asic [UNIT ...] [--liberty FILE] [--build DIR]``: every named
    unit at its defaults (default: every unit) and its baseline on the standard-cell target;
    prints area, Fmax and the ratios, writes ``<build>/asic.json``. (``lowbit synth --target
    asic`` runs one unit.)"""
    parser = argparse.ArgumentParser(prog="python -m lowbit.asic")
    parser.add_argument("units", nargs="*")
    parser.add_argument("--liberty", type=Path)
    parser.add_argument("--build", type=Path, default=Path("build/synth"))
    parser.add_argument("--delay-ps", type=int, default=DELAY_TARGET_PS)
    args = parser.parse_args(argv)
    names = args.units or [u.name for u in UNITS if u.baseline]
    rows, seen = [], {}

    def run(name, params):
        key = (name, json.dumps(params, sort_keys=True))
        if key not in seen:
            unit = UNITS[name]
            params = unit.resolve(params)
            result = asic_synthesize(lambda: unit.build(params), unit=name, params=params,
                                     build_dir=args.build, liberty=args.liberty,
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
    args.build.mkdir(parents=True, exist_ok=True)
    (args.build / "asic.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.build / 'asic.json'} (area ratio = baseline / unit)")


if __name__ == "__main__":
    main()
