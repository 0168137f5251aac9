"""Golden model of ``dint_dot``: an N-lane dINT4 weight x signed activation dot product per beat.

Each lane's term is the exact ``value(code) x 2**f x a`` from the dINT4 codebook
(:class:`~lowbit.golden_models.dint.DintFormat`, f its ``frac_bits``); a beat's result is the
sum of its ``lanes`` terms, so it has f fractional bits. The per-channel scale is applied
outside, as in the dINT MAC. Its baseline is ``int_dot`` with INT8 x INT8 lanes.
"""

import numpy as np

from lowbit.core.modes import DintCodebook

from .dint import DintFormat
from .int_dot import LaneDot

__all__ = ["DintDot", "lane_beats"]


class DintDot(LaneDot):
    """Model of the dINT4 x INT dot product.

    Parameters: ``lanes`` in 1..1024; ``special`` and ``frac_bits`` select the
    :class:`~lowbit.golden_models.dint.DintFormat`; ``act_bits`` in 2..16.
    Attributes: ``format``, ``frac_bits``, ``product_bits``, ``sum_bits`` (see
    :class:`~lowbit.golden_models.int_dot.LaneDot`).
    """

    def __init__(self, *, lanes=8, special=DintCodebook.HALF, frac_bits=1, act_bits=8):
        self.format = DintFormat(special, frac_bits)
        self.frac_bits = self.format.frac_bits
        values = self.format.scaled_values
        super().__init__(lanes, act_bits, int(values.min()), int(values.max()))

    def dot(self, codes, acts):
        """Inputs: ``codes`` integers (beats, lanes) in 0..15; ``acts`` integers (beats, lanes)
        in the signed ``act_bits`` range. Output: int64 (beats,), the exact dot product of each
        beat with ``frac_bits`` fractional bits."""
        return self.lane_sums("codes", self.format.decode_scaled(codes), acts)


def lane_beats(weight_codes, act_codes, lanes):
    """The beats that compute ``weight_codes`` x ``act_codes``^T on an N-lane dot product.

    Inputs: ``weight_codes`` (out, in) integers (the weight codes of a layer), ``act_codes``
    (tokens, in) integers; ``lanes`` >= 1. Each (token, output channel) pair's inputs are cut
    into ``ceil(in / lanes)`` beats, the last padded with weight code 0 and activation 0 (value
    0 in every format here). Output: ``(weights, acts)``, both int64 (beats, lanes), beats
    ordered token, channel, chunk; the beat sums reshaped to (tokens, out, chunks) and summed
    over the last axis are the layer's integer dot products.
    """
    weight_codes, act_codes = np.asarray(weight_codes), np.asarray(act_codes)
    n_out, n_in = weight_codes.shape
    n_tokens = act_codes.shape[0]
    chunks = -(-n_in // lanes)
    pad = chunks * lanes - n_in
    w = np.pad(weight_codes.astype(np.int64), ((0, 0), (0, pad))).reshape(n_out, chunks, lanes)
    a = np.pad(act_codes.astype(np.int64), ((0, 0), (0, pad))).reshape(n_tokens, chunks, lanes)
    weights = np.broadcast_to(w[None], (n_tokens, n_out, chunks, lanes)).reshape(-1, lanes)
    acts = np.broadcast_to(a[:, None], (n_tokens, n_out, chunks, lanes)).reshape(-1, lanes)
    return weights, acts
