"""Mutation check: does the test suite notice a single fault in the hardware?

Each mutant is one textual edit of one hardware source file (a unit's own module or a shared
piece it uses): an operator flipped, a carry-in dropped, a shift or a width off by one, the
arms of a multiplexer swapped, a valid/ready condition inverted. Each unit's registry entry
names its mutants and the checks that must kill them (``Unit.mutants``, a ``MutantSet`` of
sim_tests/mutants.py). For every mutant the packages are copied to
``build/mutation/work/<id>/``, the edit is applied to the copy only, and the unit's checks
(its default Icarus simulation, plus a case for a mode the default does not reach, and cheap
non-simulation tests) run in a pytest subprocess with the copy first on ``PYTHONPATH``; the source tree is never modified, so other runs can use it
meanwhile. A mutant is *killed* when a check fails. Before its mutants, each unit's checks
run once on an unmutated copy (the baseline), which must pass.

Run: ``lowbit mutate [--unit U ...] [--mutant ID ...]``; ``--list`` shows the mutants. Writes ``build/mutation/report.md``
and ``report.json`` (docs/verification.md).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from xml.etree import ElementTree

from lowbit.core.errors import LowbitError
from lowbit.units import UNITS

__all__ = ["mutant_sets", "apply", "make_copy", "run_checks", "run", "report", "add_arguments",
           "run_command", "main"]

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "build" / "mutation"
# The packages of the project as installed (name -> its folder in the source tree).
PACKAGES = ("lowbit", "lowbit.hdl", "lowbit.golden_models", "lowbit.sim_tests", "lowbit.synth")
TIMEOUT = 900   # seconds per unit's checks; a hung simulation counts as a kill


def mutant_sets():
    """``{unit name: MutantSet}`` of every registered unit, in registry order: each unit's
    entry names its set (``Unit.mutants``, sim_tests/mutants.py)."""
    return {unit.name: unit.mutant_set() for unit in UNITS if unit.mutants}


def source_dirs():
    """Each package's folder in the source tree (they are not nested there)."""
    return {name: Path(import_module(name).__file__).parent for name in PACKAGES}


def module_path(root, module):
    """The file of ``module`` inside a package copy rooted at ``root``."""
    return Path(root).joinpath(*module.split(".")).with_suffix(".py")


def source_path(module):
    """The file of ``module`` in the source tree (as installed)."""
    return Path(find_spec(module).origin)


def apply(mutant, text):
    """``text`` (the module's source) with the mutant's edit; the edit must match once."""
    count = text.count(mutant.find)
    if count != 1:
        raise ValueError(f"mutant {mutant.id}: {mutant.find!r} occurs {count} times in "
                         f"{mutant.module}, not once (did the source change?)")
    return text.replace(mutant.find, mutant.replace)


def make_copy(dest, mutant=None):
    """Copy the packages to ``dest`` (``dest/lowbit/...``), with ``mutant`` applied."""
    dest = Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name, folder in source_dirs().items():
        target = dest.joinpath(*name.split("."))
        shutil.copytree(folder, target, ignore=ignore, dirs_exist_ok=True)
    (dest / "pytest.ini").write_text("[pytest]\naddopts = --import-mode=importlib "
                                     "-p no:cacheprovider\nmarkers =\n    slow: long runs\n")
    if mutant is not None:
        path = module_path(dest, mutant.module)
        path.write_text(apply(mutant, path.read_text()))
    return dest


def run_checks(copy, checks, log, timeout=TIMEOUT):
    """Run ``checks`` (node ids under sim_tests/) against the package copy, stopping at the
    first failure. Returns ``(status, first failing check or None, seconds)``; status is
    ``passed``, ``failed``, ``timeout`` or ``error`` (pytest could not run the checks)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COCOTB_", "LOWBIT_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [env.get("PYTHONPATH")])])
    tests = copy / "lowbit" / "sim_tests"
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-c", str(copy / "pytest.ini"),
               "--rootdir", str(copy), *(f"{tests}/{check}" for check in checks)]
    started = time.monotonic()
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=copy, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)   # the simulator it started, too
            process.wait()
            return "timeout", None, time.monotonic() - started
    seconds = time.monotonic() - started
    if code == 0:
        return "passed", None, seconds
    failing = [line.split(" ", 2)[1] for line in Path(log).read_text().splitlines()
               if line.startswith("FAILED ")]
    if code == 1 and failing:
        failed = failing[0].split("::", 1)[-1].split(" ")[0]
        inside = cocotb_failures(copy)
        return "failed", failed + (f" ({', '.join(inside)})" if inside else ""), seconds
    return "error", None, seconds


def cocotb_failures(copy):
    """The cocotb tests that failed in the simulations run in ``copy`` (their results.xml)."""
    failed = set()
    for results in copy.rglob("results.xml"):
        try:
            cases = ElementTree.parse(results).getroot().iter("testcase")
        except ElementTree.ParseError:
            continue
        failed |= {case.get("name") for case in cases if case.find("failure") is not None}
    return sorted(failed)


def _check_precedence(copy):
    """The copy, not the installed source tree, must be what a check subprocess imports
    (run from the copy, as the checks are: from the repository root, its ``lowbit`` folder
    would come first)."""
    env = dict(os.environ, PYTHONPATH=str(copy))
    found = subprocess.run([sys.executable, "-c", "import lowbit.hdl; print(lowbit.hdl.__file__)"],
                           cwd=copy, env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(f"mutation: a subprocess imports lowbit.hdl from {found}, not from the "
                         f"copy {copy}: the copies would not be tested")


def run(units, mutant_ids=None, *, baseline=True, keep=False, out=OUT, say=print):
    """Run the mutants of ``units`` (all their mutants, or those in ``mutant_ids``); returns
    the result records (one per mutant, plus the baselines)."""
    sets = mutant_sets()
    unknown = [unit for unit in units if unit not in sets]
    if unknown:
        raise LowbitError(f"unit {unknown[0]!r} has no mutants: the units with mutants are "
                          f"{', '.join(sets)}")
    chosen = {unit: [m for m in sets[unit].mutants if not mutant_ids or m.id in mutant_ids]
              for unit in units}
    if mutant_ids:
        known = {m.id for unit in units for m in sets[unit].mutants}
        missing = sorted(set(mutant_ids) - known)
        if missing:
            raise LowbitError(f"unknown mutant {missing[0]!r} (of the units chosen): see "
                              "`lowbit mutate --list`")
    for mutants in chosen.values():   # every edit must still apply before anything runs
        for mutant in mutants:
            apply(mutant, source_path(mutant.module).read_text())
    work, logs = out / "work", out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _check_precedence(make_copy(work / "precedence"))
    shutil.rmtree(work / "precedence")
    records = []
    for unit in units:
        mutants, checks = chosen[unit], list(sets[unit].checks)
        if not mutants:
            continue
        if baseline:
            copy = make_copy(work / f"baseline-{unit}")
            status, failing, seconds = run_checks(copy, checks, logs / f"baseline-{unit}.log")
            records.append(dict(id=f"baseline-{unit}", unit=unit, status=status,
                                failing=failing, seconds=round(seconds, 1)))
            say(f"{unit}: baseline {status} ({seconds:.0f} s)")
            if not keep:
                shutil.rmtree(copy)
            if status != "passed":
                say(f"{unit}: the unmutated checks do not pass; its mutants are skipped "
                    f"(see {logs / f'baseline-{unit}.log'})")
                continue
        for mutant in mutants:
            copy = make_copy(work / mutant.id, mutant)
            status, failing, seconds = run_checks(copy, checks, logs / f"{mutant.id}.log")
            outcome = {"failed": "killed", "timeout": "killed", "passed": "survived"}.get(
                status, "error")
            records.append(dict(asdict(mutant), unit=unit, status=outcome, checks=status,
                                failing=failing, seconds=round(seconds, 1)))
            say(f"{unit}: {mutant.id} {outcome} ({seconds:.0f} s{', by ' + failing if failing else ''})")
            if not keep:
                shutil.rmtree(copy)
    return records


def report(records, out=OUT):
    """Write ``report.json`` and ``report.md``; returns the markdown."""
    mutants = [r for r in records if "module" in r]
    killed = sum(r["status"] == "killed" for r in mutants)
    equivalent = sum(r["status"] == "survived" and bool(r.get("equivalent")) for r in mutants)
    lines = [f"Mutants killed: **{killed} / {len(mutants)}** "
             f"({100 * killed / max(1, len(mutants)):.0f} %)"
             + (f"; {equivalent} surviving mutants are equivalent, so {killed} / "
                f"{len(mutants) - equivalent} of the non-equivalent ones are killed"
                if equivalent else ""), "",
             "| unit | mutant | file | kind | fault | result | killed by | s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in mutants:
        result = r["status"] + (" (equivalent)" if r.get("equivalent") else "")
        module = r["module"].split(".")[-1]
        lines.append(f"| {r['unit']} | {r['id']} | hdl/{module}.py | {r['kind']} | {r['what']} "
                     f"| {result} | {r['failing'] or ''} | {r['seconds']:.0f} |")
    baselines = [r for r in records if r["id"].startswith("baseline-")]
    if baselines:
        lines += ["", "Baselines (unmutated checks): " + ", ".join(
            f"{r['unit']} {r['status']} ({r['seconds']:.0f} s)" for r in baselines)]
    survivors = [r for r in mutants if r["status"] == "survived"]
    for r in survivors:
        note = r.get("equivalent") or "not known to be equivalent: a test gap"
        lines.append(f"- survived `{r['id']}`: {note}")
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / "report.md").write_text(text)
    return text


def add_arguments(parser):
    """The options of the mutation run (``lowbit mutate``)."""
    parser.add_argument("--unit", action="append", metavar="UNIT",
                        help="only this unit's mutants (repeatable; default: every unit)")
    parser.add_argument("--mutant", action="append", help="only this mutant (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run of each unit's checks")
    parser.add_argument("--keep", action="store_true", help="keep the package copies")
    parser.add_argument("--out", type=Path, default=OUT,
                        help=f"folder of the report, logs and copies (default {OUT})")


def run_command(args, say=print):
    """Run (or with ``--list`` list) the mutants chosen by ``args``; returns the exit
    status. Raises :class:`LowbitError` for an unknown unit or mutant."""
    sets = mutant_sets()
    units = args.unit or list(sets)
    for unit in units:
        if unit not in sets:
            raise LowbitError(f"unit {unit!r} has no mutants: the units with mutants are "
                              f"{', '.join(sets)}")
    if args.list:
        for unit in units:
            for m in sets[unit].mutants:
                say(f"{m.id:24} {unit:14} {m.module:30} {m.kind:10} {m.what}")
        return 0
    started = time.monotonic()
    records = run(units, set(args.mutant or ()), baseline=not args.no_baseline, keep=args.keep,
                  out=args.out, say=say)
    say(report(records, args.out))
    say(f"{time.monotonic() - started:.0f} s; report in {args.out}")
    return 0

