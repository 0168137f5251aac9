"""Design-space sweeps: a grid of units x parameters x targets, synthesized in parallel.

A sweep file (TOML) names the targets and, per unit, lists of parameter values whose
Cartesian product is swept::

    targets = ["ice40", "ecp5", "generic"]
    baselines = true            # also synthesize each point's baseline and give ratios
    energy = false              # true (MiniLM operands) or "random": asic points also
                                # measure energy per operation

    [[grid]]
    unit = "pot_dot"
    params = { bits = [3, 4], lanes = [8, 32] }
    pnr = true                  # false: area only, no place-and-route (large points)

Each point is built as the smallest of its honest implementations (``lowbit.jobs``: the same
flow options and implementations for units and baselines as ``lowbit flow``) and cached under
``<out>/cache/`` by a hash of its candidates' Verilog, target, seed, script revision and tool
versions, so a rerun only synthesizes new or changed points. A point that fails is recorded
with its error and the sweep goes on. Results go to ``<out>/results.csv`` and
``<out>/results.json``: one row per (unit, parameters, target), with the work the unit does
per cycle and the figures per unit of work (``lowbit.metrics``), plus the ratios to the
baseline where there is one. With ``energy = true`` every ``asic`` point also measures the
energy per operation of its winning implementation on MiniLM operands, as ``lowbit flow`` does
(``lowbit.jobs.measure_energy``; ``energy = "random"``: on random operands), and the ratios
include the energy per unit of work.

Points run in a local process pool, or, given a scheduler address, on a Dask distributed
cluster: the same point function, cache and tables, only the executor differs.
"""

import csv
import itertools
import json
import sys
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .core.errors import LowbitError
from .jobs import (best_synth, cached_row, has_multiplier, job_key, verilog_of,
                   write_atomic)
from .metrics import compare, work_figures, work_per_cycle
from .units import UNITS

__all__ = ["load_sweep", "expand", "run_sweep", "dask_client", "SCHEDULER_TIMEOUT_S"]

# How long `--scheduler` waits for the Dask scheduler before giving up with one error line.
SCHEDULER_TIMEOUT_S = 5

_RESULT_FIELDS = ("luts", "ffs", "carry", "dsps", "brams", "gate_equivalents", "transistors",
                  "area_um2", "logic_depth", "fmax_mhz")
_WORK_FIELDS = ("area_per_work", "work_per_area", "work_per_second_per_area",
                "area_delay_per_work", "energy_per_work_pj")


def load_sweep(path):
    """Read and check a sweep file; returns ``(targets, baselines, grids, energy)``.

    Every key and the type of every value is checked here, so that a bad file is one error
    line before anything runs; the parameter values are checked by :func:`expand`.
    """
    from .synth import TARGETS
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))   # TOML is UTF-8
    except FileNotFoundError:
        raise LowbitError(f"sweep file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LowbitError(f"sweep file {path} cannot be read as text: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise LowbitError(f"sweep file {path} is not valid TOML: {error}") from None
    unknown = set(config) - {"targets", "baselines", "energy", "grid"}
    if unknown:
        raise LowbitError(f"sweep file {path}: unknown key(s) {', '.join(sorted(unknown))}; "
                          "allowed: targets, baselines, energy, grid")
    targets = config.get("targets", ["generic"])
    if not isinstance(targets, list) or not targets or not all(t in TARGETS for t in targets):
        raise LowbitError(f"sweep file {path}: targets must be a non-empty list of "
                          f"{', '.join(TARGETS)}")
    baselines = config.get("baselines", True)
    if not isinstance(baselines, bool):
        raise LowbitError(f"sweep file {path}: baselines must be true or false, not "
                          f"{baselines!r}")
    from .synth.workloads import DATA
    energy = config.get("energy", False)
    if not (isinstance(energy, bool) or energy in DATA):
        raise LowbitError(f"sweep file {path}: energy must be true, false or one of "
                          f"{', '.join(map(repr, DATA))} (the operands), not {energy!r}")
    if energy and "asic" not in targets:
        raise LowbitError(f"sweep file {path}: energy = true needs the asic target in targets "
                          "(energy is measured on the standard-cell netlist)")
    grids = config.get("grid")
    if not isinstance(grids, list) or not grids:
        raise LowbitError(f"sweep file {path}: needs at least one [[grid]] table with a unit")
    for grid in grids:
        if not isinstance(grid, dict) or not isinstance(grid.get("unit"), str):
            raise LowbitError(f"sweep file {path}: every [[grid]] needs unit = \"NAME\"")
        where = f"sweep file {path}: [[grid]] {grid['unit']}"
        extra = set(grid) - {"unit", "params", "pnr"}
        if extra:
            raise LowbitError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; allowed: "
                              "unit, params, pnr")
        if not isinstance(grid.get("pnr", True), bool):
            raise LowbitError(f"{where}: pnr must be true or false, not {grid['pnr']!r}")
        params = grid.get("params", {})
        if not isinstance(params, dict):
            raise LowbitError(f"{where}: params must be a table (params = {{ NAME = VALUE "
                              f"or [VALUES] }}), not {params!r}")
        empty = [name for name, values in params.items() if values == []]
        if empty:
            raise LowbitError(f"{where}: no values for {', '.join(empty)}")
    return targets, baselines, grids, energy


def expand(grids, baselines, path=None):
    """Every ``(unit, params, pnr)`` point of the grids, validated, baselines added, no
    repeats (a point asked for with and without place-and-route gets it). A bad unit or
    parameter value is one error line naming the sweep file ``path`` and the key."""
    points, index = [], {}

    def add(name, params, pnr):
        key = (name, json.dumps(params, sort_keys=True))
        if key in index:
            n = index[key]
            points[n] = (name, params, points[n][2] or pnr)
        else:
            index[key] = len(points)
            points.append((name, params, pnr))

    source = f"sweep file {path}: " if path else ""
    for k, grid in enumerate(grids, 1):
        try:
            unit = UNITS[grid["unit"]]
        except LowbitError as error:
            raise LowbitError(f"{source}[[grid]] {k}, unit: {error}") from None
        axes = {name: values if isinstance(values, list) else [values]
                for name, values in grid.get("params", {}).items()}
        for combo in itertools.product(*axes.values()):
            try:   # the component checks the rest when run_sweep builds it
                params = unit.resolve(dict(zip(axes, combo)))
            except LowbitError as error:
                name = getattr(error, "name", None)
                key = f"params.{name}" if name in axes else "params"
                raise LowbitError(f"{source}[[grid]] {k} ({unit.name}), {key}: {error}") from None
            pnr = bool(grid.get("pnr", True))               # when run_sweep builds it
            add(unit.name, params, pnr)
            baseline = unit.baseline_for(params) if baselines else None
            if baseline:
                add(baseline[0], UNITS[baseline[0]].resolve(baseline[1]), pnr)
    return points


def _run_point(unit_name, params, target, build_dir, pnr=True, cache_dir=None, key=None,
               fixed=(), energy=False):
    """One synthesis job (runs in a worker process), and on ``asic`` with ``energy`` its
    energy measurement. Returns a result row."""
    try:
        return best_synth(unit_name, params, target, build_dir=build_dir, cache_dir=cache_dir,
                          key=key, pnr=pnr, fixed=fixed, energy=energy,
                          power_dir=Path(build_dir).parent / "power")
    except Exception as error:  # a failed point is recorded, not fatal
        return {"unit": unit_name, "params": params, "target": target,
                "error": f"{type(error).__name__}: {error}"}


def dask_client(address, timeout=SCHEDULER_TIMEOUT_S):
    """A Dask distributed ``Client`` connected to the scheduler at ``address``
    (``tcp://HOST:PORT``, or ``HOST:PORT``); raises ``LowbitError`` with one line when the
    address is malformed or nothing answers within ``timeout`` seconds."""
    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port
    try:  # checked first: a Client given a malformed address hangs in its destructor
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            raise ValueError(f"unsupported scheme {scheme!r}")
        parse_host_port(location)
    except ValueError as error:
        raise LowbitError(f"--scheduler {address!r} is not a Dask scheduler address "
                          f"(tcp://HOST:PORT): {error}") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except OSError as error:
        raise LowbitError(f"cannot reach the Dask scheduler at {address} within {timeout} s "
                          f"(is `dask scheduler` running there?): {error}") from None


def run_sweep(path, *, out=None, jobs=2, executor=None, scheduler=None, progress=True):
    """Run the sweep file ``path``; write the tables; return the rows.

    Points run on ``executor`` (a ``concurrent.futures.Executor``) if given, else on the Dask
    scheduler at address ``scheduler`` if given, else in a local pool of ``jobs`` processes.
    """
    targets, baselines, grids, energy = load_sweep(path)
    points = expand(grids, baselines, path)
    out = Path(out or Path("build") / "sweep" / Path(path).stem)
    if executor is None and scheduler is not None:  # fail fast, before any Verilog is built
        client = dask_client(scheduler)
        try:  # pure=False: a point reruns when asked again, never a result the cluster kept
            return _sweep(points, targets, baselines, out, client.get_executor(pure=False),
                          jobs, progress, _fixed(grids), energy)
        finally:
            client.close()
    return _sweep(points, targets, baselines, out, executor, jobs, progress, _fixed(grids),
                  energy)


def _fixed(grids):
    """``{unit: names}``: the implementation parameters a grid sets for its unit. A point keeps
    those as given (the sweep compares them); the others are tried and the smallest kept."""
    fixed = {}
    for grid in grids:
        unit = UNITS[grid["unit"]]
        named = set(grid.get("params", {})) & set(unit.implementations)
        fixed.setdefault(unit.name, set()).update(named)
    return {name: tuple(sorted(names)) for name, names in fixed.items()}


def _sweep(points, targets, baselines, out, executor, jobs, progress, fixed=None, energy=False):
    """Run ``points`` x ``targets`` that are not cached under ``out`` on ``executor`` (or a
    local pool of ``jobs`` processes), measuring energy on ``asic`` if ``energy``; write the
    tables; return the rows."""
    from .synth.tools import tool_versions
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    versions = tool_versions(["yosys", "nextpnr-ice40", "nextpnr-ecp5"])

    rows, todo, same = [], [], []
    for name, params, pnr in points:  # every point is built (so fully checked) before any job
        keys = {target: job_key(name, params, target, versions, pnr, (fixed or {}).get(name, ()),
                                energy) for target in targets}
        for target in targets:
            key = keys[target]
            cached = cached_row(cache, key)
            lut_target = target.removesuffix("-dsp")
            if cached is not None:
                rows.append(dict(cached, cached=True))
            elif lut_target != target and lut_target in targets and \
                    not has_multiplier(verilog_of(name, params)):
                # DSP inference maps multipliers only: without one, the DSP target's netlist
                # is the LUT target's (the same script but -nodsp), so it is not built twice.
                same.append((key, keys[lut_target], name, params, target))
            else:
                todo.append((key, name, params, target, pnr))
    started = time.monotonic()
    total = len(rows) + len(todo) + len(same)
    _progress(progress, len(rows), total, f"{len(rows)} cached")
    own_pool = executor is None
    executor = executor or ProcessPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {executor.submit(_run_point, name, params, target, out / "synth", pnr,
                                   cache, key, (fixed or {}).get(name, ()), energy):
                   (key, name, params, target) for key, name, params, target, pnr in todo}
        for future in as_completed(futures):
            key, name, params, target = futures[future]
            try:
                row = future.result()
            except Exception as error:  # the worker itself died (killed, out of memory, ...)
                row = {"unit": name, "params": params, "target": target,
                       "error": f"{type(error).__name__}: {error}"}
            rows.append(dict(row, cached=False))
            _progress(progress, len(rows), total, f"{row['unit']} {row['target']}"
                      + (" FAILED" if row["error"] else ""))
    finally:
        if own_pool:
            executor.shutdown()
    for key, lut_key, name, params, target in same:
        lut = next((r for r in rows if r["unit"] == name and r["params"] == params and
                    r["target"] == target.removesuffix("-dsp")), None)
        row = dict(lut, target=target, same_as=lut["target"],
                   note=f"no multiplier: the {lut['target']} netlist") if lut else \
            {"unit": name, "params": params, "target": target, "error": "not built"}
        if lut and not lut["error"]:
            write_atomic(cache / f"{key}.json", json.dumps(dict(row, cached=False)) + "\n")
        rows.append(row)
    rows = _with_throughput(_with_ratios(_ordered(rows, points, targets), baselines))
    _write_tables(rows, out)
    if progress:
        print(f"\n{len(rows)} points ({len(todo)} run, {total - len(todo)} cached) in "
              f"{time.monotonic() - started:.0f} s; wrote {out / 'results.csv'} and "
              f"{out / 'results.json'}", file=sys.stderr)
    return rows


def _progress(enabled, done, total, what):
    if enabled:
        width = 30
        filled = width * done // max(total, 1)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {what:<40}",
              end="", file=sys.stderr, flush=True)


def _ordered(rows, points, targets):
    order = {(name, json.dumps(p, sort_keys=True), t): k for k, ((name, p, _), t) in
             enumerate(itertools.product(points, targets))}
    return sorted(rows, key=lambda r: order[(r["unit"], json.dumps(r["params"], sort_keys=True),
                                             r["target"])])


def _with_ratios(rows, baselines):
    """Add the ratios to each row's baseline row (same target), where both succeeded: raw
    (``area_ratio``, ``fmax_ratio``, ...) and per unit of work (``per_work_ratio``)."""
    index = {(r["unit"], json.dumps(r["params"], sort_keys=True), r["target"]): r for r in rows}
    for row in rows:
        baseline = UNITS[row["unit"]].baseline_for(row["params"]) if baselines else None
        if not baseline or row["error"]:
            continue
        name, params = baseline[0], UNITS[baseline[0]].resolve(baseline[1])
        base = index.get((name, json.dumps(params, sort_keys=True), row["target"]))
        if base and not base["error"]:
            row["baseline"] = name
            ratios = compare(row, base, work_per_cycle(UNITS[row["unit"]], row["params"]),
                             work_per_cycle(UNITS[name], params))
            row["per_work_ratio"] = ratios.pop("per_work", {})
            row.update(ratios)
    return rows


def _with_throughput(rows):
    """Add ``work`` ({mode: units of work per cycle}, from the registry entry) and
    ``per_work`` ({mode: area per unit of work, work per area, ...}) to every row whose unit
    declares its work."""
    for row in rows:
        work = work_per_cycle(UNITS[row["unit"]], row["params"])
        if not work or row["error"]:
            continue
        row["work"] = work
        row["per_work"] = work_figures(row, work)
    return rows


def _write_tables(rows, out):
    (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    param_names = sorted({k for r in rows for k in r["params"]})
    modes = []
    for r in rows:
        modes += [m for m in r.get("work", {}) if m not in modes]
    per_mode = [f"{field}_{m}" for m in modes for field in ("work", *_WORK_FIELDS,
                                                             "area_ratio_per_work",
                                                             "energy_ratio_per_work")]
    columns = (["unit", *param_names, "target", "device", "options", "implementation",
                *_RESULT_FIELDS, "baseline", "area_ratio", "fmax_ratio", "depth_ratio",
                "area_delay_ratio", *per_mode, "seconds", "cached", "error"])
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            flat = {}
            for mode, figures in row.get("per_work", {}).items():
                flat[f"work_{mode}"] = figures["work"]
                flat.update({f"{field}_{mode}": figures.get(field) for field in _WORK_FIELDS})
            for mode, ratios in row.get("per_work_ratio", {}).items():
                flat[f"area_ratio_per_work_{mode}"] = ratios.get("area_ratio")
                flat[f"energy_ratio_per_work_{mode}"] = ratios.get("energy_ratio")
            writer.writerow({**row, **row["params"], **flat,
                             "options": "+".join(row.get("options") or []),
                             "implementation": ",".join(
                                 f"{k}={v}" for k, v in (row.get("implementation") or {}).items())})
