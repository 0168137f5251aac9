"""``lowbit prove``: run the SymbiYosys proofs that the units' registry entries name
(sim_tests/formal/, docs/formal.md), with progress lines, and print the result table."""

import sys
from pathlib import Path

from .core.errors import LowbitError
from .core.logs import explain
from .units import UNITS

__all__ = ["add_arguments", "select", "run_command"]


def add_arguments(parser):
    """The options of ``lowbit prove``."""
    parser.add_argument("--unit", action="append", metavar="UNIT",
                        help="only the proofs covering this unit (repeatable; default: every unit)")
    parser.add_argument("--proof", action="append", metavar="NAME",
                        help="only this proof (repeatable; see --list)")
    parser.add_argument("--slow", action="store_true",
                        help="also the slow proofs (wider units, long stream proofs: up to an hour)")
    parser.add_argument("--solver", choices=("yices", "z3"),
                        help="SMT solver (default: yices where installed, else z3)")
    parser.add_argument("--list", action="store_true",
                        help="list the chosen proofs (name, kind, units, what it proves) and exit")


def _covering():
    """``{proof name: (proof, [units naming it])}``, in registry order."""
    found = {}
    for unit in UNITS:
        for p in unit.proof_objects():
            found.setdefault(p.name, (p, []))[1].append(unit.name)
    return found


def select(units=None, names=None, slow=False):
    """``[(proof, [units it covers])]`` chosen by unit and proof name; the slow ones only with
    ``slow`` or when named. An unknown unit or proof, or a unit without proofs, is a
    :class:`LowbitError`."""
    covering = _covering()
    chosen = list(covering.values())
    if units:
        for name in units:
            UNITS[name]                  # an unknown unit: one error line naming the units
            if not UNITS[name].proofs:
                with_proofs = sorted({u for _, us in covering.values() for u in us})
                raise LowbitError(f"unit {name} has no formal proofs (units with proofs: "
                                  f"{', '.join(with_proofs)})")
        chosen = [(p, us) for p, us in chosen if set(us) & set(units)]
    if names:
        unknown = [n for n in names if n not in covering]
        if unknown:
            raise LowbitError(f"unknown proof {unknown[0]!r}: the proofs are "
                              f"{', '.join(covering)}")
        chosen = [(p, us) for p, us in chosen if p.name in names]
    else:
        chosen = [(p, us) for p, us in chosen if slow or not p.slow]
    return chosen


def run_command(args, say=print):
    """``lowbit prove``: returns the exit status (1 if a proof did not pass)."""
    import os

    from lowbit.sim_tests.formal import format_table, require_tools, run_proof

    chosen = select(args.unit, args.proof, args.slow)
    if args.list:
        for p, units in chosen:
            say(f"{p.name:22} {p.kind:12} {'slow ' if p.slow else ''}[{', '.join(units)}] "
                f"{p.summary}")
        return 0
    if not chosen:
        raise LowbitError("no proof chosen: the ones asked for are slow (add --slow)")
    require_tools()
    if args.solver:
        os.environ["LOWBIT_FORMAL_SOLVER"] = args.solver
    root = Path(args.build) / "formal"
    results = []
    for k, (p, _) in enumerate(chosen, 1):
        print(f"[{k}/{len(chosen)}] {p.name} ({p.kind}, timeout {p.timeout} s) ...",
              file=sys.stderr, flush=True)
        result = run_proof(p, root)
        results.append(result)
        print(f"[{k}/{len(chosen)}] {p.name}: {result.status} in {result.seconds:.1f} s",
              file=sys.stderr, flush=True)
        for line in result.detail:
            print(f"    {line}", file=sys.stderr)
        if not result.passed:
            print("    " + explain(f"{p.name} {result.status}", result.workdir.parent / "sby.log"),
                  file=sys.stderr)
            print(f"    traces and logs in {result.workdir.parent}", file=sys.stderr)
    say(format_table(results))
    return 0 if all(r.passed for r in results) else 1
