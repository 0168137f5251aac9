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


def run_command(args, say=print):
    """``lowbit waves``: returns the exit status."""
    with_scenario = [unit.name for unit in UNITS if unit.scenario]
    if args.list:
        for name in with_scenario:
            say(name)
        return 0
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
