"""The synthesis job that `lowbit flow` and `lowbit sweep` share: a unit at one parameter set on
one target, built as the smallest of its honest implementations, cached.

Candidates (:func:`candidates`) are every implementation of the unit (each value of the
parameters its registry entry names in ``implementations``: choices of circuit that compute
the same arithmetic, such as a fused carry-save multiply-accumulate against the ``*``
operator) times every set of flow options the target tries (``synth.flow.FLOW_OPTIONS``: the
plain script, Yosys' Booth pass, ECP5 without wide LUTs). Units and baselines get the same
candidates, so no option is applied to one side only. Each candidate is mapped for area; the
smallest (LUT4s on the FPGAs, then fewer DSPs; NAND2 equivalents on ``generic``) is then placed
and routed for Fmax. The record (:func:`best_synth`'s row) names the winner: ``options`` and
``implementation``, and lists every candidate's area under ``candidates``.

Rows are cached under a folder by a hash of every candidate's Verilog, the target, the
place-and-route switch, the synthesis script revision and the tool versions, so a rerun (or a
run after an interruption) only synthesizes what is new or changed.

On ``asic`` a job can also measure the winner's energy per operation (``energy=True``, MiniLM
operands, or ``energy="random"``): a zero-delay gate-level simulation of its mapped netlist,
checked against the golden model, with OpenSTA's loads (``lowbit.synth.power``); the row's
``energy`` record.
"""

import functools
import hashlib
import json
import os
import re
from pathlib import Path

from .core.errors import LowbitError
from .metrics import area_of
from .units import UNITS
from .verilog import to_verilog

__all__ = ["candidates", "verilog_of", "job_key", "cached_row", "best_synth", "write_atomic",
           "has_multiplier"]

SEED = 1  # nextpnr's placement seed, the same for every job

# The energy figures of the standard-cell target: the power flow's MiniLM workload (quantized
# MiniLM weights with captured activations) at the power flow's default clock.
ENERGY_DATA = "minilm"
ENERGY_CLOCK_MHZ = 100.0
# The energy record's revision, in the asic jobs' cache key: a row cached with an older record
# is measured again (2: the record names the precision mode it was measured at).
ENERGY_RECORD = 2


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename, so a reader (or a
    concurrent run) sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


@functools.lru_cache(maxsize=256)
def _verilog(unit_name, params_json):
    unit = UNITS[unit_name]
    return to_verilog(unit.build(json.loads(params_json)), unit_name)


def verilog_of(unit_name, params):
    """The Verilog of ``unit_name`` at ``params`` (built once per process and parameter set:
    the big units take seconds)."""
    return _verilog(unit_name, json.dumps(params, sort_keys=True))


# What in Verilog is not an operator: attributes (* ... *), comments, `@*` / `@(*)`.
_NOT_AN_OPERATOR = re.compile(r"\(\*.*?\*\)|/\*.*?\*/|//[^\n]*|@\s*\(\s*\*\s*\)|@\*", re.S)


def has_multiplier(verilog):
    """Whether ``verilog`` may hold a multiplication (a ``*`` or ``**`` operator, the only
    source of the ``$mul`` cells that Yosys' ``booth`` pass and DSP inference act on).
    Conservative: any ``*`` left outside attributes and comments counts."""
    return "*" in _NOT_AN_OPERATOR.sub(" ", verilog)


def candidates(unit_name, params, target, fixed=()):
    """``[(params, options)]``: each implementation of the unit at ``params`` (``params`` first;
    parameters named in ``fixed`` keep their given value) x each option set of ``target``."""
    from .synth.flow import FLOW_OPTIONS
    unit = UNITS[unit_name]
    variants = [dict(params)]
    for name in getattr(unit, "implementations", ()):
        if name in fixed or name not in params:
            continue
        choices = unit.param(name).choices or ()
        others = [value for value in choices if value != params[name]]
        variants = [dict(v, **{name: value}) for v in variants for value in (v[name], *others)]
    return [(v, tuple(options)) for v in variants for options in FLOW_OPTIONS[target]]


def job_key(unit_name, params, target, versions, pnr=True, fixed=(), energy=False):
    """The cache key of :func:`best_synth` with these arguments (builds each candidate's
    Verilog, which also checks every parameter)."""
    from .synth.flow import SCRIPT_REVISION
    verilog = {}
    for variant, _ in candidates(unit_name, params, target, fixed):
        verilog[json.dumps(variant, sort_keys=True)] = verilog_of(unit_name, variant)
    if target == "asic":  # the library, the timer and the mapping script are inputs too
        from .synth.asic import SCRIPT_REVISION as ASIC_REVISION
        from .synth.liberty import find_liberty, library_id
        from .synth.sta import sta_version
        library = find_liberty()
        versions = dict(versions, liberty=library_id(library) if library else None,
                        opensta=sta_version() if pnr else None, asic_script=ASIC_REVISION)
    text = json.dumps([sorted(verilog.items()), target, versions, bool(pnr), SEED,
                       SCRIPT_REVISION, [list(o) for _, o in candidates(unit_name, params,
                                                                         target, fixed)]]
                      + ([energy_data(energy), ENERGY_CLOCK_MHZ, ENERGY_RECORD] if
                         _measures_energy(target, energy) else []),
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _measures_energy(target, energy):
    return bool(energy) and target == "asic"


def energy_data(energy):
    """The operands an ``energy`` switch asks for: ``True`` the default (``ENERGY_DATA``), or a
    name of ``lowbit.synth.workloads.DATA`` itself."""
    return ENERGY_DATA if energy is True else energy


def measure_energy(unit_name, row, *, build_dir, synth_dir, data=ENERGY_DATA):
    """The energy record of the winning implementation in ``row`` (an ``asic`` row of
    :func:`best_synth`, whose area run under ``synth_dir`` is simulated, not mapped again):
    ``lowbit.synth.power`` on ``data`` operands (``minilm`` or ``random``) at
    ``ENERGY_CLOCK_MHZ``; None where the power flow has no workload for the unit."""
    from .synth.asic import run_dir
    from .synth.power import measure_power
    params = dict(row["params"], **(row.get("implementation") or {}))
    try:
        result = measure_power(UNITS[unit_name], params, data=data,
                               clock_mhz=ENERGY_CLOCK_MHZ, build_dir=build_dir,
                               mapped=run_dir(synth_dir, unit_name, params))
    except LowbitError as error:
        if "no workload" in str(error):
            return None
        raise
    return {"pj_per_op": result.energy_pj["total"], "op": result.op, "mode": result.mode,
            "data": data,
            "clock_mhz": ENERGY_CLOCK_MHZ, "ops": result.ops, "cycles": result.cycles,
            "leakage_pj_per_op": result.energy_pj["leakage"],
            "vectors_checked": result.vectors_checked, "note": result.note}


def cached_row(cache_dir, key):
    """The cached row of ``key`` under ``cache_dir``, or None."""
    path = Path(cache_dir) / f"{key}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:  # a file from a run killed mid-write by an older lowbit
        return None


def _rank(row):
    return (area_of(row), row.get("dsps") or 0)


def best_synth(unit_name, params, target, *, build_dir, cache_dir=None, key=None, pnr=True,
               fixed=(), energy=False, power_dir=None):
    """Synthesize every candidate of ``unit_name`` at ``params`` on ``target`` for area, place
    and route the smallest; returns its row (a ``SynthResult`` as a dict, with ``params`` the
    ones asked for, ``implementation`` the implementation parameters that won, ``candidates``
    and ``error`` None). Raises ``LowbitError`` when every candidate fails. With ``cache_dir``
    and ``key`` (:func:`job_key`, given the same ``energy``) the row is stored there. With
    ``energy`` on ``asic`` the row also has ``energy`` (:func:`measure_energy` on the operands
    :func:`energy_data` names, its runs under ``power_dir``, default ``build_dir``'s sibling
    ``power``)."""
    from .synth import synthesize
    unit = UNITS[unit_name]
    tried = candidates(unit_name, params, target, fixed)
    implementation_names = [n for n in getattr(unit, "implementations", ()) if n in params]
    rows, errors = [], []
    if len(tried) == 1:
        variant, options = tried[0]
        result = synthesize(lambda: unit.build(variant), unit=unit_name, params=variant,
                            target=target, build_dir=build_dir, pnr=pnr, options=options,
                            seed=SEED)
        best, winner = result.as_dict(), tried[0]
        summary = [{"implementation": {n: variant[n] for n in implementation_names},
                    "options": list(options), "area": area_of(best)}]
    else:
        summary, mapped = [], {}
        for variant, options in tried:
            entry = {"implementation": {n: variant[n] for n in implementation_names},
                     "options": list(options)}
            # `booth` rewrites `$mul` cells only: on a circuit without one it is a no-op, so
            # the candidate's netlist is its twin's without `booth`, already mapped.
            twin = tuple(o for o in options if o != "booth")
            same = mapped.get((json.dumps(variant, sort_keys=True), twin))
            if "booth" in options and same is not None and \
                    not has_multiplier(verilog_of(unit_name, variant)):
                summary.append(dict(entry, area=area_of(same),
                                    same_as=twin and list(twin) or ["plain"],
                                    note="no multiplier: booth changes nothing"))
                continue
            try:
                result = synthesize(lambda v=variant: unit.build(v), unit=unit_name,
                                    params=variant, target=target, build_dir=build_dir,
                                    pnr=False, options=options, seed=SEED)
            except LowbitError as error:
                errors.append(str(error))
                summary.append(dict(entry, area=None, error=str(error)))
                continue
            rows.append(((variant, options), result.as_dict()))
            mapped[(json.dumps(variant, sort_keys=True), tuple(options))] = result.as_dict()
            summary.append(dict(entry, area=area_of(result.as_dict())))
        if not rows:
            raise LowbitError(errors[0])
        winner, best = min(rows, key=lambda item: _rank(item[1]))
        if pnr and target != "generic":
            variant, options = winner
            best = synthesize(lambda: unit.build(variant), unit=unit_name, params=variant,
                              target=target, build_dir=build_dir, pnr=True, options=options,
                              seed=SEED).as_dict()
    variant, options = winner
    row = dict(best, params=dict(params), options=list(options),
               implementation={n: variant[n] for n in implementation_names},
               candidates=summary, error=None)
    if _measures_energy(target, energy):
        row["energy"] = measure_energy(unit_name, row, build_dir=Path(
            power_dir or Path(build_dir).parent / "power"), synth_dir=build_dir,
            data=energy_data(energy))
    if cache_dir is not None and key is not None:
        write_atomic(Path(cache_dir) / f"{key}.json", json.dumps(row) + "\n")
    return row
