"""Reading result rows for the report: which succeeded, the targets in order, labels.

A row is one synthesis result as ``lowbit sweep`` writes it (``results.json``) or as
:func:`flow_rows` makes it from the main job's ``report.json``: ``unit``, ``params``,
``target``, the counts of ``lowbit.synth.SynthResult``, ``error``, and where the unit declares
its work per cycle, ``work`` and ``per_work`` (``lowbit.metrics``).
"""

import json

from ..metrics import area_of
from ..units import UNITS

__all__ = ["FPGA_ORDER", "code_bits", "bits_param", "area_label", "key", "ok", "targets",
           "unit_order", "varying", "label", "baseline_point", "flow_rows"]

FPGA_ORDER = ("ecp5", "ice40", "ecp5-dsp", "ice40-dsp")


def code_bits(unit, params):
    """The weight (or code) width a unit is plotted against (its registry entry's
    ``code_bits``), or None if it has none."""
    return UNITS[unit].code_bits_for(params)


def bits_param(unit, params):
    """The name of the parameter that holds the unit's code width, or None (a width fixed by
    the format, such as dINT4's)."""
    bits = UNITS[unit].code_bits
    return bits if isinstance(bits, str) and bits in params else None


def area_label(target):
    return ("area (NAND2 gate equivalents)" if target == "generic"
            else f"area (LUT4s, {target})")


def key(unit, params):
    return unit, json.dumps(params, sort_keys=True)


def ok(rows):
    return [row for row in rows if not row.get("error")]


def targets(rows):
    seen = []
    for row in rows:
        if row["target"] not in seen:
            seen.append(row["target"])
    return seen


def unit_order(name):
    names = UNITS.names()
    return names.index(name) if name in names else len(names)


def varying(rows, exclude=()):
    """Parameter names whose values differ among ``rows`` (of one unit), in the unit's order."""
    names = [k for k in rows[0]["params"] if k not in exclude] if rows else []
    return [k for k in names if len({json.dumps(row["params"].get(k)) for row in rows}) > 1]


def label(unit, params, varying):
    shown = ", ".join(f"{k}={params[k]}" for k in varying if k in params)
    return f"{unit} ({shown})" if shown else unit


def baseline_point(row):
    """``(unit, params)`` of the row's baseline, or None."""
    baseline = UNITS[row["unit"]].baseline_for(row["params"])
    if not baseline:
        return None
    return baseline[0], UNITS[baseline[0]].resolve(baseline[1])


def flow_rows(report):
    """The main job's synthesis results (``report.json``) as sweep-style rows."""
    return [dict(synth, unit=entry["unit"], params=entry["params"], error=None)
            for entry in report["units"] for synth in entry["synth"].values()]


def area_target(rows):
    """The target the accuracy figure measures area on: the first FPGA target present."""
    present = {r["target"] for r in rows if area_of(r)}
    for target in (*FPGA_ORDER, "generic"):
        if target in present:
            return target
    return None
