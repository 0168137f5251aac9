"""Workloads of the N-lane dot products (``lowbit.hdl.dot_product.LaneDotProduct``:
``pot_dot``, ``dint_dot`` and their baseline ``int_dot``): one beat of ``lanes`` weights and
activations per cycle, the output stream always ready, one dot product of ``lanes`` MACs out
per beat.

``minilm``: a MiniLM weight row in the unit's format (dINT4 for ``dint_dot``, PoT for
``pot_dot``, symmetric per-channel INT of ``weight_bits`` for ``int_dot``) against one token's
INT8 activations, cut into beats of ``lanes`` consecutive inputs, rows and tokens picked by
the seed; ``random``: every code of the format (or the signed weight range) and every
activation uniform.
"""

import numpy as np

from lowbit.core.errors import LowbitError
from lowbit.core.widths import signed_range

from . import act_codes_per_token, built, minilm_layer, stream_workload, weight_codes

__all__ = ["dot_workload"]


def dot_workload(unit, params, *, data, seed, cycles):
    """Beats for an N-lane dot product; ``ops`` = beats x lanes MACs."""
    rng = np.random.default_rng(seed)
    model = unit.golden_model(params)
    component = built(unit, params)
    latency, lanes = component.latency, params["lanes"]
    n = cycles - latency
    if n < 1:
        raise LowbitError(f"cycles={cycles} is too short for a pipeline of latency {latency}")
    a_lo, a_hi = signed_range(params["act_bits"])
    fmt = getattr(model, "format", None)
    if data == "random":
        if fmt is None:
            w_lo, w_hi = signed_range(params["weight_bits"])
            weights = rng.integers(w_lo, w_hi + 1, (n, lanes))
        else:
            weights = rng.integers(0, len(fmt.scaled_values), (n, lanes))
        acts = rng.integers(a_lo, a_hi + 1, (n, lanes))
    else:
        w, x = minilm_layer()
        codes, _ = weight_codes(model, params, w)
        xq = np.clip(act_codes_per_token(x, params["act_bits"]), a_lo, a_hi)
        per_row = w.shape[1] // lanes
        rows = rng.integers(0, codes.shape[0], -(-n // per_row))
        tokens = rng.integers(0, xq.shape[0], len(rows))
        weights = np.concatenate([codes[r, :per_row * lanes].reshape(per_row, lanes)
                                  for r in rows])[:n]
        acts = np.concatenate([xq[t, :per_row * lanes].reshape(per_row, lanes)
                               for t in tokens])[:n]
    return stream_workload(component, {"weights": weights, "acts": acts},
                           model.dot(weights, acts), ops=n * lanes, op="MAC",
                           signed_output=True)
