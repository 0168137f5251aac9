"""Workloads of the weight dequantizers (``lowbit.hdl.dequant.Dequantizer``: ``pot_dequant``
and its baseline ``int4_dequant``): one (code, FP16 scale) element per cycle, the FP16 weight
out, the output stream always ready.

``minilm``: the MiniLM layer's weights in the unit's format with their real per-channel scales
rounded to FP16 (PoT by max-scale round to nearest for ``pot_dequant``; symmetric INT4,
MSE-searched, for ``int4_dequant``), streamed a whole output channel at a time (the scale
held, the codes of its row in order), channels picked by the seed. ``random``: codes uniform
over every code, scales uniform over every finite FP16 pattern (both signs, subnormals
included), a new scale every 64 elements.
"""

import numpy as np

from . import RANDOM_DOT_LENGTH, minilm_layer, pipelined, stream_workload, weight_codes

__all__ = ["dequant_workload"]


def _finite_fp16(rng, n):
    """``n`` FP16 patterns uniform over the finite ones (exponent field below 31)."""
    patterns = rng.integers(0, 1 << 16, n)
    while True:
        bad = (patterns >> 10) & 0x1F == 0x1F
        if not bad.any():
            return patterns
        patterns[bad] = rng.integers(0, 1 << 16, int(bad.sum()))


def dequant_workload(unit, params, *, data, seed, cycles):
    """Elements for a (code, FP16 scale) -> FP16 dequantizer; ``ops`` = elements."""
    from amaranth.hdl import Shape
    from amaranth.lib import data as layouts
    rng = np.random.default_rng(seed)
    component, model, n = pipelined(unit, params, cycles)
    code_bits = Shape.cast(layouts.Layout.cast(component.i.payload.shape())["code"].shape).width
    mask = (1 << code_bits) - 1
    if data == "random":
        codes = rng.integers(0, 1 << code_bits, n)
        scales = np.repeat(_finite_fp16(rng, -(-n // RANDOM_DOT_LENGTH)), RANDOM_DOT_LENGTH)[:n]
    else:
        w, _ = minilm_layer()
        codes_w, scales_w = weight_codes(model, params, w, weight_bits=code_bits)
        fp16 = scales_w.astype(np.float16).view(np.uint16).astype(np.int64)
        rows = rng.integers(0, codes_w.shape[0], -(-n // w.shape[1]))
        codes = np.concatenate([codes_w[r] for r in rows])[:n] & mask
        scales = np.concatenate([np.full(w.shape[1], fp16[r]) for r in rows])[:n]
    expected = model.dequant(codes, scales).astype(np.int64)
    return stream_workload(component, {"code": codes, "scale": scales}, expected, ops=n,
                           op="element", signed_output=False)
