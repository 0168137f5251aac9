"""The main job: every registered unit at its defaults, beside its baseline (a composition with
a command of its own, the attention block, only when named: ``Unit.in_flow``).

For each unit and the baseline it names (each distinct resolved parameter set once): generate
Verilog, run the cocotb testbench against the golden model, synthesize on each target as the
smallest of its honest implementations (``lowbit.jobs``: the same candidates for units and
baselines), then write ``build/report.json`` and ``build/report.md`` (``lowbit.report``) with
each unit's area, Fmax and area x delay, raw and per unit of work, against its baseline.

Simulations and syntheses are independent jobs: they run ``jobs`` at a time, each printing a
line when it starts and when it ends. Every finished job is cached under ``build/cache/`` (a
synthesis by its candidates' Verilog, target, script revision and tool versions; a simulation
by its Verilog, simulator, seed and the testbench and golden-model sources), so a rerun, or a
run after Ctrl-C, does only what is new or was not finished.
"""

import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from xml.etree import ElementTree

from .core.errors import LowbitError
from .core.logs import explain, failure_cause
from .jobs import (ENERGY_DATA, best_synth, cached_row, job_key, measure_energy,
                   verilog_of, write_atomic)
from .metrics import area_of, compare, work_figures, work_per_cycle
from .units import UNITS

__all__ = ["DEFAULT_TARGETS", "DSP_BASELINES", "data_tests", "source_digest", "run_flow", "compare", "area_of", "flow_jobs",
           "sim_counts"]

# The main job's targets without a standard-cell library: the two FPGA families and the
# abstract-gate count. With a Liberty file found, the standard-cell target ("asic") takes the
# abstract count's place: it is that count's purpose to stand in for one (docs/synthesis.md).
DEFAULT_TARGETS = ("ice40", "ecp5", "generic")

# A testbench test that needs a file of real operands (MiniLM attention rows, weight and
# activation tiles) is declared ``@cocotb.test(skip="LOWBIT_<DATA>" not in os.environ)``: the
# pytest suite feeds it (sim_tests/test_softmax_sim.py, test_matrix_sim.py, ...); the main job
# has no such files, so it leaves these tests out of its counts and names them in its report.
_DATA_TEST = re.compile(r'@cocotb\.test\(skip="(LOWBIT_\w+)" not in os\.environ\)\s*\n'
                        r'async def (\w+)\(')
_SIM_SEED = 1


# The integer baselines that a multiplier dominates: the flow also maps them onto the DSP
# blocks (the FPGA user's real alternative), beside their LUT-only mapping, on each FPGA family
# it runs (``ice40`` adds ``ice40-dsp``, ``ecp5`` adds ``ecp5-dsp``).
DSP_BASELINES = ("int_mac", "int_dot", "int_array")


def _targets_of(name, targets):
    """The targets of unit ``name`` in a flow on ``targets``: the DSP targets added for the
    integer baselines."""
    extra = [f"{t}-dsp" for t in targets if name in DSP_BASELINES and t in ("ice40", "ecp5")
             and f"{t}-dsp" not in targets]
    return (*targets, *extra)


def flow_jobs(units=None, targets=DEFAULT_TARGETS):
    """``[(unit, resolved params, targets)]``: every unit of the main job (``Unit.in_flow``;
    or those named in ``units``) and the baseline it names, each built on each of ``targets``
    (the DSP targets added for the integer baselines) at
    :meth:`~lowbit.registry.Unit.params_for` that target (its defaults, unless its registry
    entry declares overrides for the target's family: btc_array on ``ice40``), the baseline
    at the parameters its unit asks for there. Each distinct resolved parameter
    set is one job (so a baseline asked for with its defaults spelled out or not is one job),
    with the targets it is built on, in order. Without ``units``, a baseline is built where a
    unit asks for it, not a second time at its own defaults where those differ (int_array's
    accumulator against btc_array's): it is there to stand beside its unit."""
    jobs, index = [], {}
    if units:
        chosen = [UNITS[name] for name in units]
    else:
        flow_units = [u for u in UNITS if u.in_flow]
        baselines = {u.baseline for u in flow_units if u.baseline}
        chosen = [u for u in flow_units if u.name not in baselines]
    for unit in chosen:
        # the targets where the unit is built at its defaults first
        for target in sorted(targets, key=lambda t: t.split("-")[0] in unit.target_params):
            params = unit.params_for(target)
            wanted = [(unit.name, params)]
            baseline = unit.baseline_for(params)
            if baseline:
                wanted.append((baseline[0], UNITS[baseline[0]].params_for(target, baseline[1])))
            for name, p in wanted:
                key = (name, json.dumps(p, sort_keys=True))
                if key not in index:
                    index[key] = len(jobs)
                    jobs.append((name, p, []))
                built = jobs[index[key]][2]
                built += [t for t in _targets_of(name, (target,)) if t not in built]
    return [(name, p, tuple(built)) for name, p, built in jobs]


def _skipped_in(results_xml):
    """The names of the skipped tests in a cocotb results file."""
    try:
        root = ElementTree.parse(results_xml).getroot()
    except (OSError, ElementTree.ParseError):
        return []
    return [case.get("name") for case in root.iter("testcase")
            if case.find("skipped") is not None]


def data_tests(unit_name):
    """``{test: environment variable}``: the tests of the unit's testbench that need a file of
    real operands, named by that variable (read from the testbench source, not imported)."""
    module = UNITS[unit_name].testbench.rsplit(".", 1)[-1]
    path = Path(__file__).resolve().parent.parent / "sim_tests" / f"{module}.py"
    try:
        return {test: var for var, test in _DATA_TEST.findall(path.read_text())}
    except OSError:
        return {}


def sim_counts(result, left_out=()):
    """``{"passed", "skipped", "failed", "left_out"}`` of a ``SimResult``: cocotb counts a
    skipped test as a test that did not fail; skipped tests named in ``left_out`` (tests that
    need real data) are listed under ``left_out`` and not counted as skipped."""
    skipped = list(getattr(result, "skipped_tests", None) or
                   _skipped_in(Path(result.log).parent / "results.xml"))
    out = [name for name in skipped if name in left_out]
    return {"passed": result.tests - result.failed - len(skipped),
            "skipped": len(skipped) - len(out), "failed": result.failed, "left_out": out}


def source_digest():
    """A hash of what a simulation result depends on besides the Verilog: the testbenches and
    their support modules and runner (``sim_tests/`` but its pytest files), the golden models
    (``golden_models/`` but the accuracy study) and ``lowbit.core``. A change to any of them
    invalidates the cached simulation results."""
    root = Path(__file__).resolve().parent.parent
    paths = [p for p in (root / "sim_tests").glob("*.py") if not p.name.startswith("test_")]
    paths += [p for p in (root / "golden_models").rglob("*.py") if "accuracy" not in p.parts]
    paths += list((root / "lowbit" / "core").rglob("*.py"))
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


class _Progress:
    """One line per job start and end: ``[done/total] what``, thread-safe, to stderr."""

    def __init__(self, total, enabled=True):
        self.total, self.done, self.enabled = total, 0, enabled
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def say(self, text, finished=False):
        if not self.enabled:
            return
        with self.lock:
            self.done += finished
            elapsed = time.monotonic() - self.started
            print(f"[{self.done:>3}/{self.total}] {elapsed:5.0f} s  {text}", file=sys.stderr,
                  flush=True)


def _synth_text(row):
    from .metrics import area_unit
    fmax = f", {row['fmax_mhz']:.1f} MHz" if row.get("fmax_mhz") else ""
    dsps = f", {row['dsps']} DSPs" if row.get("dsps") else ""
    options = "+".join(row.get("options") or []) or "plain"
    implementation = ",".join(f"{k}={v}" for k, v in (row.get("implementation") or {}).items())
    won = options + (f", {implementation}" if implementation else "")
    return f"{area_of(row):g} {area_unit(row['target'], row)}{dsps}{fmax} ({won})"


def run_flow(*, targets=None, simulator="icarus", build=Path("build"), jobs=2, progress=True,
             units=None):
    """Run the main job (every unit, or those named in ``units``, with their baselines) and
    write the reports; returns the process exit status (0, 1 if a simulation failed, 130 if
    interrupted).

    One flow at a time works on a build folder: a second ``lowbit flow`` on the same folder
    waits for the first (saying so), then finds the first one's results in the cache."""
    import fcntl
    build = Path(build)
    build.mkdir(parents=True, exist_ok=True)
    try:
        with open(build / ".flow.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for the other lowbit flow working in {build}", file=sys.stderr,
                      flush=True)
                fcntl.flock(lock, fcntl.LOCK_EX)
            return _run_flow(targets=targets, simulator=simulator, build=build, jobs=jobs,
                             progress=progress, units=units)
    except KeyboardInterrupt:
        _stop_children()
        print(f"\ninterrupted; finished jobs are cached in {build / 'cache'}: run the same "
              "command again to resume", file=sys.stderr)
        return 130


def _run_flow(*, targets, simulator, build, jobs, progress, units):
    from lowbit.sim_tests.runner import require_simulator, simulate
    from lowbit.synth.flow import TARGETS
    from lowbit.synth.tools import tool_versions

    if not targets:
        from lowbit.synth.liberty import LIBERTY_HINT, find_liberty
        targets = DEFAULT_TARGETS
        if find_liberty() is not None:   # the standard-cell target whenever a library is found
            targets = tuple("asic" if t == "generic" else t for t in targets)
        elif progress:
            print(f"asic target skipped: {LIBERTY_HINT}", file=sys.stderr)
    targets = tuple(targets)
    for target in targets:
        if target not in TARGETS:
            raise LowbitError(f"unknown target {target!r}; allowed: {', '.join(TARGETS)}")
    if jobs < 1:
        raise LowbitError(f"--jobs {jobs} is out of range: at least 1")
    require_simulator(simulator)
    build = Path(build)
    started = time.monotonic()
    versions = tool_versions(["yosys", "nextpnr-ice40", "nextpnr-ecp5"])
    sim_cache, synth_cache = build / "cache" / "sim", build / "cache" / "synth"
    sources = source_digest()

    entries, sizes = [], []
    planned = flow_jobs(units, targets)
    for n, (name, params, built_on) in enumerate(planned):
        unit = UNITS[name]
        if progress:
            print(f"[{n + 1:>3}/{len(planned)}] Verilog of {name} {_short(name, params)} and its "
                  "synthesis candidates", file=sys.stderr, flush=True)
        text = verilog_of(name, params)
        sizes.append(len(text))
        verilog = build / "verilog" / f"{name}-{_tag(params)}.v"
        write_atomic(verilog, text)
        sim_key = hashlib.sha256(json.dumps([text, simulator, _SIM_SEED,
                                             sources]).encode()).hexdigest()[:20]
        entries.append({"unit": name, "params": params, "baseline": unit.baseline,
                        "work": work_per_cycle(unit, params), "verilog": str(verilog),
                        "sim_key": sim_key,
                        "synth_keys": {t: job_key(name, params, t, versions, energy=True)
                                       for t in built_on},
                        "synth": {}, "synth_errors": {}})

    # Every job not in the cache, simulations first (they are what a failing flow is about).
    todo = []
    for n, entry in enumerate(entries):
        cached = cached_row(sim_cache, entry["sim_key"])
        if cached is not None:
            entry["sim"] = dict(cached, cached=True)
        else:
            todo.append(("sim", n, None))
    # The syntheses largest first (by the size of their Verilog, which tracks their time
    # closely enough), so that no long one starts last while the other workers sit idle.
    for n in sorted(range(len(entries)), key=lambda n: -sizes[n]):
        entry = entries[n]
        for target in entry["synth_keys"]:
            cached = cached_row(synth_cache, entry["synth_keys"][target])
            if cached is not None:
                entry["synth"][target] = dict(cached, cached=True)
            else:
                todo.append(("synth", n, target))
    total = sum(1 + len(entry["synth_keys"]) for entry in entries)
    bar = _Progress(total, progress)
    bar.done = total - len(todo)
    bar.say(f"{len(entries)} units: {len(todo)} jobs to run ({bar.done} cached in "
            f"{build / 'cache'}) on {jobs} worker{'s' if jobs > 1 else ''}")

    def run_job(kind, n, target):
        entry = entries[n]
        what = f"{kind} {entry['unit']} {_short(entry['unit'], entry['params'])}" + \
               (f" on {target}" if target else f" on {simulator}")
        bar.say(f"start {what}")
        if kind == "sim":
            needs = data_tests(entry["unit"])
            try:
                result = simulate(UNITS[entry["unit"]], entry["params"], simulator,
                                  build_root=build / "sim", seed=_SIM_SEED)
            except LowbitError as error:   # the simulator could not build or run it
                entry["sim"] = {"simulator": simulator, "tests": 0, "passed": 0, "skipped": 0,
                                "failed": 1, "left_out": {}, "vectors": 0, "error": str(error),
                                "cached": False}
                bar.say(f"FAIL {what}: {error}", finished=True)
                return
            sim = {"simulator": simulator, "tests": result.tests,
                   **sim_counts(result, left_out=needs), "vectors": result.vectors,
                   "seconds": round(result.seconds, 1), "log": str(result.log)}
            sim["left_out"] = {test: needs[test] for test in sim["left_out"]}
            passed = sim["failed"] == 0 and sim["passed"] > 0
            if passed:
                write_atomic(sim_cache / f"{entry['sim_key']}.json", json.dumps(sim) + "\n")
            line = f"{'PASS' if passed else 'FAIL'} {what}: {_counts_text(sim)}, " \
                   f"{sim['vectors']} vectors"
            if not passed:   # the failing check and its message, so the log is not a must-read
                sim["cause"] = failure_cause(result.log)[0]
                line = explain(line, result.log)
            entry["sim"] = dict(sim, cached=False)
            bar.say(line, finished=True)
            return
        try:
            row = best_synth(entry["unit"], entry["params"], target, build_dir=build / "synth",
                             cache_dir=synth_cache, key=None)
            if target == "asic":
                bar.say(f"energy {what}: gate-level simulation on {ENERGY_DATA} operands")
                row["energy"] = measure_energy(entry["unit"], row, build_dir=build / "power",
                                               synth_dir=build / "synth")
            write_atomic(synth_cache / f"{entry['synth_keys'][target]}.json",
                         json.dumps(row) + "\n")
        except Exception as error:  # e.g. the unit does not fit the device: report it
            text = str(error) if isinstance(error, LowbitError) else \
                f"{type(error).__name__}: {error}"
            entry["synth_errors"][target] = text
            bar.say(f"FAILED {what}: {text}", finished=True)
            return
        entry["synth"][target] = dict(row, cached=False)
        bar.say(f"done {what}: {_synth_text(row)}", finished=True)

    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        pending = {pool.submit(run_job, *job) for job in todo}
        while pending:
            finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()
    except KeyboardInterrupt:
        bar.enabled = False   # the jobs being stopped print nothing more
        pool.shutdown(wait=False, cancel_futures=True)
        _stop_children()
        print(f"\ninterrupted: {bar.done} of {total} jobs done, their results cached in "
              f"{build / 'cache'}; run the same command again to resume", file=sys.stderr,
              flush=True)
        # A job thread would go on to its next candidate: end the process here (every result
        # file is written atomically, so nothing is left half-written), its children first.
        _stop_children()
        sys.stdout.flush()
        os._exit(130)
    pool.shutdown()

    for entry in entries:
        entry.pop("sim_key"), entry.pop("synth_keys")
        for row in entry["synth"].values():
            if entry["work"]:
                row["work"], row["per_work"] = entry["work"], work_figures(row, entry["work"])
    comparisons = _comparisons(entries, targets)
    seconds = time.monotonic() - started
    report = {"simulator": simulator, "targets": list(targets), "seconds": round(seconds, 1),
              "units": entries,
              "comparisons": comparisons}
    write_atomic(build / "report.json", json.dumps(report, indent=2) + "\n")
    from .report import write_report  # the tables above, figures, and any sweeps of build
    write_report(build)
    print(_summary_table(entries, simulator))
    print(_comparison_table(comparisons))
    print(f"wrote {build / 'report.md'} and {build / 'report.json'} ({seconds:.0f} s)")
    failed = any(e["sim"]["failed"] or not e["sim"]["passed"] for e in entries)
    return 1 if failed else 0


def _stop_children():
    """Terminate every process this one started (simulators, Yosys, nextpnr; read from
    /proc), so that the interrupted jobs end now and their threads return."""
    children, ppids = set(), {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppids[int(stat.parent.name)] = int(fields[1])
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in ppids.items() if ppid in frontier} - children
        children |= frontier
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def _tag(params):
    from .core.params import params_tag
    return params_tag(params)


def _short(unit_name, params):
    """The parameters that differ from the unit's defaults, or ``defaults``."""
    defaults = UNITS[unit_name].defaults()
    changed = [f"{k}={v}" for k, v in params.items() if defaults.get(k, object()) != v]
    return f"({', '.join(changed) or 'defaults'})"


def _counts_text(sim):
    text = f"{sim['passed']} passed, {sim['skipped']} skipped, {sim['failed']} failed"
    if sim.get("left_out"):
        text += f" (left out, needing real data: {', '.join(sim['left_out'])})"
    return text


def _summary_table(entries, simulator):
    lines = [f"simulation on {simulator}:"]
    for e in entries:
        s = e["sim"]
        verdict = "PASS" if s["failed"] == 0 and s["passed"] > 0 else "FAIL"
        lines.append(f"  {verdict} {e['unit']} {_short(e['unit'], e['params'])}: "
                     f"{_counts_text(s)}, {s['vectors']} vectors" +
                     (f"; {s['cause']}" if s.get("cause") else ""))
    return "\n".join(lines)


def _comparison_table(comparisons):
    lines = ["each unit against its baseline (baseline / unit; above 1 the unit is better):"]
    for c in comparisons:
        for mode, r in (c.get("per_work") or {"raw": {"area_ratio": c.get("area_ratio")}}).items():
            ratio = r.get("area_ratio")
            delay = r.get("area_delay_ratio")
            lines.append(f"  {c['unit']:<13} vs {c['baseline']:<13} {c['target']:<9} {mode:<7} "
                         f"area per unit of work {ratio:6.2f}x" if ratio else
                         f"  {c['unit']} vs {c['baseline']} {c['target']} {mode}: -")
            if ratio and delay:
                lines[-1] += f", area x delay {delay:6.2f}x"
    return "\n".join(lines)


def _comparisons(entries, targets):
    by_point = {(e["unit"], json.dumps(e["params"], sort_keys=True)): e for e in entries}
    comparisons = []
    for entry in entries:
        baseline = UNITS[entry["unit"]].baseline_for(entry["params"])
        if not baseline:
            continue
        name, params = baseline[0], UNITS[baseline[0]].resolve(baseline[1])
        base_entry = by_point[(name, json.dumps(params, sort_keys=True))]
        for target in entry["synth"]:
            if target in base_entry["synth"]:
                comparisons.append({"unit": entry["unit"], "baseline": name,
                                    "target": target,
                                    **compare(entry["synth"][target], base_entry["synth"][target],
                                              entry["work"], base_entry["work"])})
    return comparisons
