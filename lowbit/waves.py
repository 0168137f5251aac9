"""``lowbit waves``: one transaction of a unit in Amaranth's simulator, checked against the
golden model and drawn as an SVG waveform (sim_tests/waveform/; the figures of the docs are
``lowbit waves --all --out docs/waves``)."""

import sys
from pathlib import Path

from .core.errors import LowbitError
from .units import UNITS

__all__ = ["add_arguments", "run_command"]


def add_arguments(parser):
    """The options of ``lowbit waves``."""
    parser.add_argument("unit", nargs="*", help="units to draw (see --list)")
    parser.add_argument("--all", action="store_true", help="every unit that has a scenario")
    parser.add_argument("--out", type=Path,
                        help="output folder (default BUILD/waves); files are UNIT.svg")
    parser.add_argument("-o", "--output", type=Path,
                        help="output file, for one unit (another suffix than .svg: a preview "
                             "image in that format)")
    parser.add_argument("--list", action="store_true",
                        help="list the units that have a waveform scenario and exit")
    parser.add_argument("--names", action="store_true",
                        help="instead of drawing: how many signals of each unit's Icarus dump at "
                             "its defaults are machine-named ($1, $signal$10); default every unit")
    parser.add_argument("--sources", action="store_true",
                        help="with --names: the source lines (file:line) whose expressions make "
                             "those nets")


def run_command(args, say=print):
    """``lowbit waves``: returns the exit status."""
    with_scenario = [unit.name for unit in UNITS if unit.scenario]
    if args.list:
        for name in with_scenario:
            say(name)
        return 0
    if args.names or args.sources:
        return _names(args.unit or [unit.name for unit in UNITS], args.sources, say)
    if args.all and args.unit:
        raise LowbitError("name units or give --all, not both")
    names = with_scenario if args.all else args.unit
    if not names:
        raise LowbitError("name a unit (one of " + ", ".join(with_scenario) + ") or give --all")
    for name in names:
        if not UNITS[name].scenario:    # (an unknown name fails in the lookup: one line)
            raise LowbitError(f"unit {name} has no waveform scenario (units with one: "
                              f"{', '.join(with_scenario)})")
    if args.output and len(names) != 1:
        raise LowbitError("-o/--output names one file: give one unit (or --out FOLDER)")

    from lowbit.sim_tests.waveform import write

    folder = args.out or Path(args.build) / "waves"
    failed = False
    for k, name in enumerate(names, 1):
        print(f"[{k}/{len(names)}] {name}: simulating and checking against the golden model",
              file=sys.stderr, flush=True)
        out = args.output or folder / f"{name}.svg"
        try:
            path, trace = write(UNITS[name], out)
        except OSError as error:
            raise LowbitError(f"cannot write {out}: {error.strerror or error}") from None
        except RuntimeError as error:   # the transaction differs from the golden model
            print(f"FAIL {error}", file=sys.stderr)
            failed = True
            continue
        say(f"wrote {path} ({path.stat().st_size} bytes, {trace.cycles} cycles)")
    return 1 if failed else 0


def _names(names, sources, say):
    """``lowbit waves --names``: the share of machine-named signals per unit."""
    from lowbit.sim_tests.waveform.names import auto_sources, readability
    for name in names:
        auto, total, _ = readability(UNITS[name])
        say(f"{name:<14} {auto:>5} of {total:>5} signals auto-named ({auto / total:.0%})")
        if sources:
            for where, count in auto_sources(UNITS[name]).items():
                say(f"    {count:>5}  {where}")
    return 0
