"""Workloads of the MACs (``weight, act, valid, clear -> acc``: ``lowbit.hdl.mac.MacUnit``) and
of their accumulators alone (``lowbit power --breakdown``).

``minilm``: a MAC computes whole dot products: one row of the MiniLM layer's weights in the
unit's format (dINT4 for ``dint_mac``, PoT for ``pot_mac``, symmetric per-channel INT for
``int_mac``) against one token's INT8 activations over the layer's input width, ``clear`` on
the first beat of each, rows and tokens picked by the seed. ``random``: weights uniform over
every code of the format, activations uniform over the signed range, ``clear`` every 64 beats.
"""

import numpy as np

from lowbit.core.errors import LowbitError
from lowbit.core.widths import signed_range

from . import (RANDOM_DOT_LENGTH, Workload, act_codes_per_token, minilm_layer, to_signed,
               weight_codes)

__all__ = ["mac_workload", "accumulator_workload"]


def _weight_domain(model, params):
    """Every weight the port takes: the codes of a codebook format, else the signed range."""
    fmt = getattr(model, "format", None)
    if fmt is None:
        lo, hi = signed_range(params["weight_bits"])
        return np.arange(lo, hi + 1)
    return np.arange(len(fmt.scaled_values))


def mac_workload(unit, params, *, data, seed, cycles):
    """Beats for a ``weight, act, valid, clear -> acc`` MAC (``lowbit.hdl.mac.MacUnit``)."""
    rng = np.random.default_rng(seed)
    model = unit.golden_model(params)
    latency = params["pipeline"] + 1
    n = cycles - latency
    if n < 1:
        raise LowbitError(f"cycles={cycles} is too short for a MAC of latency {latency}")
    a_lo, a_hi = signed_range(params["act_bits"])
    if data == "random":
        weights = rng.choice(_weight_domain(model, params), n)
        acts = rng.integers(a_lo, a_hi + 1, n)
        length = RANDOM_DOT_LENGTH
    else:
        w, x = minilm_layer()
        codes, _ = weight_codes(model, params, w)
        xq = np.clip(act_codes_per_token(x, params["act_bits"]), a_lo, a_hi)
        length = w.shape[1]
        pairs = -(-n // length)
        rows = rng.integers(0, codes.shape[0], pairs)
        tokens = rng.integers(0, xq.shape[0], pairs)
        weights = np.concatenate([codes[r] for r in rows])[:n]
        acts = np.concatenate([xq[t] for t in tokens])[:n]
    valid = np.ones(n, dtype=np.int64)
    clear = (np.arange(n) % length == 0).astype(np.int64)
    expected = model.run(weights, acts, valid, clear)
    idle = np.zeros(latency, dtype=np.int64)
    vectors = {"weight": np.concatenate([weights, idle]), "act": np.concatenate([acts, idle]),
               "valid": np.concatenate([valid, idle]), "clear": np.concatenate([clear, idle])}

    def check(outputs):
        got = to_signed(outputs["acc"][latency:latency + n], params["acc_bits"])
        bad = np.flatnonzero(got != expected)
        if len(bad):
            i = bad[0]
            return (f"acc after beat {i}: got {got[i]}, expected {expected[i]} "
                    f"({len(bad)} of {n} differ)")
        return None

    return Workload(vectors=vectors, ops=n, op="MAC", check=check, checked=n)


def accumulator_workload(unit, params, mac_work):
    """The beats of ``mac_work`` as the MAC's accumulator sees them: ``product`` (the magnitude
    of ``value(code) x 2^f x a`` for a codebook weight, the signed product for ``int_mac``)
    and ``negate`` (the weight's sign), with the same ``valid``, ``clear`` and check."""
    model = unit.golden_model(params)
    w, a = mac_work.vectors["weight"], mac_work.vectors["act"]
    fmt = getattr(model, "format", None)
    if fmt is None:
        product, negate = w * a, np.zeros_like(w)
    else:
        value = fmt.decode_scaled(w)
        product, negate = np.abs(value) * a, (value < 0).astype(np.int64)
    vectors = {"product": product, "negate": negate, "valid": mac_work.vectors["valid"],
               "clear": mac_work.vectors["clear"]}
    return Workload(vectors=vectors, ops=mac_work.ops, op=mac_work.op, check=mac_work.check,
                    checked=mac_work.checked)
