"""The table's measurements: weight SQNR, held-out layer output error, embedding agreement."""

import math

import numpy as np

from .ptq import output_error

__all__ = ["sqnr_db", "layer_metrics"]


def sqnr_db(signal, noise):
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)


def layer_metrics(ctx, weights, act_quant):
    """Per layer: weight SQNR (dB) and held-out relative output error; the pooled SQNR."""
    layers, signal, noise = [], 0.0, 0.0
    for name in ctx.model.linear_names:
        w = ctx.originals[name]
        w_q = w if weights is None else weights[name]
        x, ref = ctx.held[name], ctx.ref_norms[name]
        if weights is None and act_quant is None:
            err = 0.0
        elif act_quant is None:
            err = output_error(x, w, w_q)
        else:
            err = float(np.linalg.norm(np.asarray(act_quant(name, x), dtype=np.float64) @ w_q.T - x @ w.T))
        s, n = float(np.sum(w * w)), float(np.sum((w - w_q) ** 2))
        signal, noise = signal + s, noise + n
        layers.append({"layer": name, "weight_sqnr_db": None if weights is None else sqnr_db(s, n),
                       "rel_error": err / ref})
    return layers, (None if weights is None else sqnr_db(signal, noise))
