"""The WpAq quantizer of ABQ-LLM: asymmetric integer codes with zero points, and their matmul.

Weights (out, in) get p-bit unsigned codes with one float scale and one integer zero point per
output channel, or per group of ``group_size`` consecutive input columns of a channel;
activations (tokens, in) get q-bit unsigned codes with one scale and zero point per token.
A code c with zero point z and scale s stands for ``(c - z) * s``. The integer product of the
codes is what ``btc_array`` computes (unsigned planes); :func:`quantized_linear` adds the
zero-point correction and the scales to give the float approximation of ``x @ w.T``.

Bit balance (ABQ-LLM, ``balanced=True``): the top code is ``2**p`` instead of ``2**p - 1``, so
the grid has ``2**p + 1`` levels and, on a range centred on 0, is symmetric: {-2, ..., 2} x
scale for p = 2, {-1, 0, 1} x scale for p = 1. Such codes need p + 1 bit planes.
Everything here is floating point except the code products, which are exact integers.
"""

from typing import NamedTuple

import numpy as np

from ._checks import ParameterError, check_choice, check_int, int_array
from .btc_array import zero_point_correction
from .dint import best_scales, finite_floats

__all__ = [
    "MAX_BITS",
    "QuantizedTensor",
    "QuantizedProduct",
    "top_code",
    "quantize_weights",
    "quantize_activations",
    "dequantize",
    "quantized_linear",
]

MAX_BITS = 8
# float64 holds every integer below 2**53; a code product is below 2**(9+8), so sums of up to
# 2**36 of them are exact whatever order BLAS adds them in.
MAX_EXACT_DEPTH = 1 << 36


class QuantizedTensor(NamedTuple):
    """Codes of a matrix with per-row (or per-row-group) scales and zero points.

    ``codes`` int64 (rows, cols) in 0..top; ``scales`` float64 (rows, n_groups) > 0;
    ``zeros`` int64 (rows, n_groups) in 0..top; each group is ``cols / n_groups`` consecutive
    columns. ``code_bits``: the unsigned bit planes the codes need (p, or p + 1 when balanced).
    """

    codes: np.ndarray
    scales: np.ndarray
    zeros: np.ndarray
    code_bits: int


class QuantizedProduct(NamedTuple):
    """:func:`quantized_linear`'s result for weights (out, in) in G groups and ``tokens`` tokens.

    ``raw`` int64 (G, out, tokens): per group g, weight codes @ activation codes (transposed),
    the array's job; ``centred`` int64 (G, out, tokens): the same after the zero-point
    correction, ``(Wc - zw) @ (Ac - za)``; ``y`` float64 (tokens, out): the approximation of
    ``x @ w.T``, ``y[t, o] = sa[t] * sum_g sw[o, g] * centred[g, o, t]``.
    """

    raw: np.ndarray
    centred: np.ndarray
    y: np.ndarray


def top_code(bits, balanced):
    """The largest code: ``2**bits - 1``, or ``2**bits`` with bit balance."""
    return (1 << bits) - (0 if balanced else 1)


def _matrix(name, values):
    """A finite, non-empty 2-D float64 matrix."""
    a = finite_floats(name, values)
    if a.ndim != 2 or a.size == 0:
        raise ParameterError(f"{name} must be a non-empty 2-D matrix, got shape {a.shape}")
    return a


def _encode(rows, scales, zeros, top):
    """Codes ``clip(rint(x / s) + z, 0, top)`` (ties to even), broadcasting scales and zeros."""
    return np.clip(np.rint(rows / scales) + zeros, 0, top)


class _AffineRounder:
    """The nearest code of x / s at one zero point z, as its value c - z in units of the scale:
    the ``values`` and ``levels`` that :func:`lowbit.golden_models.dint.best_scales` reads.
    ``values`` is :func:`_encode`'s arithmetic, so the search's errors are this module's own."""

    def __init__(self, zero, top):
        self.zero, self.top = zero, top
        self.levels = np.arange(-zero, top - zero + 1, dtype=np.float64)

    def values(self, x):
        return np.clip(np.rint(x) + self.zero, 0, self.top) - self.zero


def _affine_search(rows, top, n_grid):
    """Per row: the asymmetric grid minimising the squared reconstruction error.

    Inputs: ``rows`` float64 (n, g); ``top`` the largest code; ``n_grid`` >= 1.
    The range [lo, hi] = [min(row, 0), max(row, 0)] (it holds 0, so 0 is exactly a level) is
    shrunk by the ratios r = 1, (n_grid-1)/n_grid, ..., 1/n_grid: scale ``r (hi - lo) / top``.
    The zero point ``rint(-lo * top / (hi - lo))`` does not depend on r. A tie keeps the larger
    ratio, so ``n_grid = 1`` is min/max RTN and the search never does worse. An all-zero row
    gets scale 1 and zero point 0. The rows of one zero point share their levels (c - z, c in
    0..top), so each such set goes through dINT's screened search (:func:`best_scales`: the
    same scales as trying every ratio on every element).
    Output: (int64 codes (n, g), float64 scales (n,), int64 zeros (n,)).
    """
    lo = np.minimum(rows.min(axis=1), 0.0)
    hi = np.maximum(rows.max(axis=1), 0.0)
    span = np.where(hi > lo, hi - lo, float(top))
    zeros = np.rint(-lo * top / span)
    ratios = np.arange(n_grid, 0, -1) / n_grid
    scales = np.empty(rows.shape[0])
    for zero in np.unique(zeros):
        these = np.flatnonzero(zeros == zero)
        scales[these] = best_scales(rows[these], span[these], ratios, _AffineRounder(zero, top), top)
    codes = _encode(rows, scales[:, None], zeros[:, None], top)
    return codes.astype(np.int64), scales, zeros.astype(np.int64)


def quantize_weights(w, bits, *, group_size=None, balanced=False, n_grid=100):
    """Asymmetric per-output-channel (or per-group) weight quantization with an MSE-searched range.

    Inputs: ``w`` finite float (out, in), one row per output channel; ``bits`` p in 1..8;
    ``group_size`` None (one group per channel) or a divisor of ``in``; ``balanced`` a bool
    (bit balance: top code 2**p); ``n_grid`` in 1..10000 clipping ratios (1: min/max).
    Output: :class:`QuantizedTensor` with ``scales``/``zeros`` of shape (out, in / group_size).
    """
    w = _matrix("w", w)
    bits = check_int("bits", bits, 1, MAX_BITS)
    balanced = bool(check_choice("balanced", balanced, (False, True)))
    n_out, n_in = w.shape
    if group_size is None:
        group_size = n_in
    group_size = check_int("group_size", group_size, 1, n_in)
    if n_in % group_size:
        raise ParameterError(f"group_size={group_size} is not allowed: group_size must divide in={n_in}")
    n_grid = check_int("n_grid", n_grid, 1, 10_000)
    groups = n_in // group_size
    codes, scales, zeros = _affine_search(w.reshape(n_out * groups, group_size), top_code(bits, balanced), n_grid)
    return QuantizedTensor(
        codes.reshape(n_out, n_in), scales.reshape(n_out, groups), zeros.reshape(n_out, groups), bits + balanced
    )


def quantize_activations(x, bits):
    """Asymmetric per-token activation quantization, min/max range (dynamic, as at run time).

    Inputs: ``x`` finite float (tokens, in); ``bits`` q in 1..8.
    Output: :class:`QuantizedTensor` with ``scales``/``zeros`` of shape (tokens, 1).
    """
    x = _matrix("x", x)
    bits = check_int("bits", bits, 1, MAX_BITS)
    codes, scales, zeros = _affine_search(x, top_code(bits, False), 1)
    return QuantizedTensor(codes, scales[:, None], zeros[:, None], bits)


def _groups(name, codes, scales, zeros):
    """Check codes (rows, cols) against scales/zeros (rows, n_groups); return int64 codes, G."""
    top = top_code(MAX_BITS, True)
    codes = int_array("codes", codes, 0, top)
    scales = finite_floats("scales", scales)
    zeros = int_array("zeros", zeros, 0, top)
    if codes.ndim != 2 or scales.ndim != 2 or scales.shape != zeros.shape:
        raise ParameterError(f"{name}: codes must be 2-D and scales, zeros 2-D of one shape")
    rows, cols = codes.shape
    if scales.shape[0] != rows or scales.shape[1] == 0 or cols % scales.shape[1]:
        raise ParameterError(
            f"{name}: scales and zeros must have shape (rows, n_groups) with n_groups dividing cols,"
            f" got {scales.shape} for codes {codes.shape}"
        )
    return codes, scales, zeros


def dequantize(codes, scales, zeros):
    """Reconstruction ``(code - zero) * scale`` per row group.

    Inputs: ``codes`` integers (rows, cols); ``scales`` float (rows, G); ``zeros`` integers
    (rows, G); group g is columns g*cols/G .. (g+1)*cols/G - 1. Output: float64 (rows, cols).
    """
    codes, scales, zeros = _groups("dequantize", codes, scales, zeros)
    rows, cols = codes.shape
    g = scales.shape[1]
    grouped = (codes.reshape(rows, g, cols // g) - zeros[:, :, None]) * scales[:, :, None]
    return grouped.reshape(rows, cols)


def quantized_linear(xq, wq):
    """The integer WpAq product of a linear layer and its float result.

    Inputs: ``xq`` a :class:`QuantizedTensor` of activations (tokens, in) with one group per
    token; ``wq`` one of weights (out, in) in G groups. Per group g, ``raw[g]`` is the exact
    integer product of the weight codes (out, group) by the activation codes (group, tokens),
    a ``btc_array`` job with p = ``wq.code_bits``, q = ``xq.code_bits``, unsigned operands.
    Output: :class:`QuantizedProduct`; ``y`` equals ``dequantize(xq) @ dequantize(wq).T`` up
    to float rounding.
    """
    x_codes, x_scales, x_zeros = _groups("xq", xq.codes, xq.scales, xq.zeros)
    w_codes, w_scales, w_zeros = _groups("wq", wq.codes, wq.scales, wq.zeros)
    if x_scales.shape[1] != 1:
        raise ParameterError(f"xq must have one scale per token, got scales of shape {x_scales.shape}")
    if x_codes.shape[1] != w_codes.shape[1]:
        raise ParameterError(f"xq and wq must share in: got codes {x_codes.shape} and {w_codes.shape}")
    n_out, n_in = w_codes.shape
    g = w_scales.shape[1]
    check_int("K", n_in // g, 1, MAX_EXACT_DEPTH, "float64 sums of code products stay exact")
    w_groups = w_codes.reshape(n_out, g, n_in // g).transpose(1, 0, 2)  # (G, out, group)
    x_groups = x_codes.reshape(-1, g, n_in // g).transpose(1, 2, 0)  # (G, group, tokens)
    raw = np.matmul(w_groups.astype(np.float64), x_groups.astype(np.float64)).astype(np.int64)
    centred = np.stack(
        [zero_point_correction(raw[k], w_groups[k], x_groups[k], w_zeros[:, k], x_zeros[:, 0]) for k in range(g)]
    )
    y = np.einsum("got,og->to", centred.astype(np.float64), w_scales) * x_scales
    return QuantizedProduct(raw, centred, y)
