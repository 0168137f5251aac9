"""The accuracy formats on the hardware that computes them: each row of the ``lowbit eval``
table placed on its unit (the unit's registry entry lists the formats it computes), with the
unit's area per multiply-accumulate per cycle, and the Pareto front of area against accuracy.
"""

import json

from ..metrics import area_of
from ..units import UNITS
from .rows import area_target, ok

__all__ = ["format_hardware", "cost_per_mac", "accuracy_points", "pareto_front"]


def format_hardware(key):
    """``(unit, params it must have, (p, q) or None)`` for an accuracy row key, or None (the
    FP32 reference, or a row no unit computes)."""
    return UNITS.format_hardware(key)


def cost_per_mac(row, job):
    """Area per multiply-accumulate per cycle: a MAC does one per cycle; the bit-plane array
    ``W1A1 / (p q)`` (a WpAq job takes p x q passes); a softmax its area."""
    if job is None:
        return area_of(row)
    p, q = job
    return area_of(row) / (row["work"]["W1A1"] / (p * q))


def accuracy_points(rows, accuracy):
    """``[(kind, label, unit, area, cosine)]``, one point per (format, unit): the best
    parameter set of the unit in ``rows`` on the area target, and the best quantizer of the
    format. A MAC unit computes integer activations, so only rows with quantized activations
    are placed on one (a weight-only row with float activations is no format of it)."""
    rows = ok(rows)
    target = area_target(rows)
    points = {}
    for acc in accuracy["rows"]:
        hardware = format_hardware(acc["key"])
        if hardware is None or acc.get("cos_mean") is None:
            continue
        unit, needed, job = hardware
        kind = "softmax" if unit.endswith("softmax") else "matmul"
        if kind == "matmul" and acc.get("activations") is None:
            continue    # float activations: the unit multiplies integer ones, not this format
        candidates = [r for r in rows if r["unit"] == unit and r["target"] == target
                      and all(r["params"].get(k) == v for k, v in needed.items())
                      and area_of(r)]
        if not candidates:
            continue
        costs = [cost_per_mac(r, job) for r in candidates]
        point = (unit, json.dumps(needed, sort_keys=True), job)  # the format on its unit
        entry = (kind, acc["label"], unit, min(costs), acc["cos_mean"],
                 acc.get("activations") is not None)
        old = points.get(point)
        # Prefer rows with quantized activations (what the unit computes), then accuracy.
        if old is None or (entry[5], entry[4]) > (old[5], old[4]):
            points[point] = entry
    return target, [p[:5] for p in points.values()]


def pareto_front(points):
    """The points no other point beats in both area (lower) and accuracy (higher), by area."""
    front, best = [], None
    for point in sorted(points, key=lambda p: (p[0], -p[1])):
        if best is None or point[1] > best:
            front.append(point)
            best = point[1]
    return front
