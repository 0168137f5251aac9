"""Golden model of the EXAQ softmax: b-bit codes of the distance from the row max, a table
of 2**b exponentials, a sum by counting codes, and one reciprocal per row.

A row of L logits ``x`` (signed ``in_bits`` integers with ``in_frac`` fractional bits) and a
runtime clip ``C`` (unsigned, same fixed point: the real clipping value is ``C / 2**in_frac``),
with N = 2**b - 1:

1. ``m = max(x)``, ``nd_i = m - x_i >= 0``.
2. ``code_i = min(N, floor((2 N nd_i + C) / (2 C)))``: ``nd_i / step`` rounded half up, with
   ``step = C / N``; equivalently the number of thresholds ``(2k + 1) C``, k = 0..N-1, that
   ``2 N nd_i`` reaches, which is what the hardware compares.
3. ``LUT[k] = floor(2**F exp(-k C / (N 2**in_frac)) + 1/2)`` (float64), ``LUT[0] = 2**F``;
   ``LUT[N]`` is the same formula (``top="exp"``) or 0 (``top="zero"``). The hardware receives
   the table with C for each row, so it needs no exponential unit.
4. ``n_k`` = how many codes are k; ``S = sum_k n_k LUT[k] >= 2**F`` (the max has code 0).
5. The shared normalisation (:mod:`lowbit.golden_models.softmax_common`):
   ``y_i = (LUT[code_i] R + 2**(Q-O-1)) >> (Q-O)``, ``R = floor(2**Q / S)``.

Everything after the table is exact integer arithmetic; the table is the only float step.
"""

from collections import namedtuple

import numpy as np

from ._checks import ParameterError, int_array
from .dint import finite_floats
from lowbit.core.modes import ExaqTop
from lowbit.core.unit_params import EXAQ_BITS, EXAQ_TOP, IN_FRAC, LUT_FRAC

from .softmax_common import MAX_IN_BITS, RowSoftmax, row_distances

__all__ = ["BITS", "TOPS", "exaq_lut", "exaq_codes", "code_counts", "ExaqRow", "ExaqSoftmax"]

BITS = tuple(range(EXAQ_BITS.lo, EXAQ_BITS.hi + 1))    # lowbit.core.unit_params: 2, 3, 4
TOPS = tuple(ExaqTop)                                   # lowbit.core.modes: exp, zero

ExaqRow = namedtuple("ExaqRow", "max codes e counts S R y")
ExaqRow.__doc__ = """One row's intermediates: ``max`` m, ``codes`` (L,), their table entries
``e`` = LUT[codes] (L,), ``counts`` n_k (2**b,), ``S``, ``R`` and the outputs ``y`` (L,), all
int64 (a leading rows axis for a batch)."""


def exaq_lut(clip, bits, in_frac, lut_frac, top=ExaqTop.EXP):
    """The 2**b-entry exponential table of a clip value.

    Inputs: ``clip`` C, a positive integer or an integer array of them (the logits' fixed
    point, at most 2**17 - 1); ``bits`` in 2..4; ``in_frac`` in 0..15; ``lut_frac`` F in
    4..16; ``top`` "exp" or "zero". Output: int64 of shape ``clip.shape + (2**bits,)``,
    entries in 0..2**F.
    Computed as ``floor(ldexp(exp(-(k C) / (N 2**in_frac)), F) + 0.5)`` in float64: ``k C``
    and ``N 2**in_frac`` are exact, so the only roundings are the division and ``exp``.
    """
    bits = EXAQ_BITS.check(bits)
    in_frac = IN_FRAC.check(in_frac)
    lut_frac = LUT_FRAC.check(lut_frac)
    top = EXAQ_TOP.check(top)
    clip = int_array("clip", clip, 1, (1 << (MAX_IN_BITS + 1)) - 1)
    n = (1 << bits) - 1
    k = np.arange(n + 1, dtype=np.int64)
    exponent = -(clip[..., None] * k) / float(n << in_frac)
    lut = np.floor(np.ldexp(np.exp(exponent), lut_frac) + 0.5).astype(np.int64)
    if top == ExaqTop.ZERO:
        lut[..., n] = 0
    return lut


def exaq_codes(nd, clip, bits):
    """Codes ``min(N, floor((2 N nd + C) / (2 C)))``, N = 2**bits - 1.

    Inputs: int64 distances ``nd >= 0`` and clips ``C >= 1`` broadcast against each other
    (2 N nd + C must fit in int64: it does for in_bits <= 16). Output: int64 codes 0..N.
    """
    n = (1 << bits) - 1
    return np.minimum(n, (2 * n * nd + clip) // (2 * clip))


def code_counts(codes, n_codes):
    """How many elements of each row have each code. Input: int64 (rows, L) codes in
    0..n_codes-1. Output: int64 (rows, n_codes)."""
    rows = codes.shape[0]
    offset = codes + n_codes * np.arange(rows, dtype=np.int64)[:, None]  # one bin range per row
    return np.bincount(offset.ravel(), minlength=rows * n_codes).reshape(rows, n_codes).astype(np.int64)


class ExaqSoftmax(RowSoftmax):
    """Model of the EXAQ softmax unit.

    Parameters: ``in_bits``, ``in_frac``, ``lut_frac``, ``out_frac``, ``max_len`` as in
    :class:`~lowbit.golden_models.softmax_common.RowSoftmax`; ``bits`` b in 2..4 (code width);
    ``top`` "exp" (code 2**b - 1 means exp(-C)) or "zero" (it means 0).
    Attributes: ``n_codes`` = 2**b; ``max_clip`` = 2**(in_bits+1) - 1, the largest clip; the
    widths of :class:`RowSoftmax`, plus ``count_bits`` (a count n_k <= max_len) and
    ``lut_bits`` = F + 1 (a table entry <= 2**F).
    Rows: ``x`` is one row (L,) or a batch (rows, L) of integers in the signed ``in_bits``
    range, 1 <= L <= max_len; ``clip`` is one integer in 1..max_clip or one per row (rows,).
    """

    def __init__(self, *, in_bits=8, in_frac=4, bits=3, lut_frac=10, out_frac=10, max_len=1024, top=ExaqTop.EXP):
        super().__init__(in_bits=in_bits, in_frac=in_frac, lut_frac=lut_frac, out_frac=out_frac, max_len=max_len)
        self.bits = EXAQ_BITS.check(bits)
        self.top = EXAQ_TOP.check(top)
        self.n_codes = 1 << self.bits
        self.max_clip = (1 << (self.in_bits + 1)) - 1
        self.count_bits = self.max_len.bit_length()
        self.lut_bits = self.lut_frac + 1

    def __repr__(self):
        return (
            f"ExaqSoftmax(in_bits={self.in_bits}, in_frac={self.in_frac}, bits={self.bits}, "
            f"lut_frac={self.lut_frac}, out_frac={self.out_frac}, max_len={self.max_len}, top={str(self.top)!r})"
        )

    def _clips(self, clip, rows):
        """Clip values as int64 (rows,), from one value or one per row."""
        clip = int_array("clip", clip, 1, self.max_clip)
        if clip.ndim == 0:
            return np.full(rows, clip, dtype=np.int64)
        if clip.shape != (rows,):
            raise ParameterError(f"clip must be one integer or one per row, shape ({rows},), got shape {clip.shape}")
        return clip

    def lut(self, clip):
        """The table of ``clip`` (one integer, or an array: one table per entry); int64 (..., 2**b)."""
        int_array("clip", clip, 1, self.max_clip)  # this unit's range, narrower than exaq_lut's
        return exaq_lut(clip, self.bits, self.in_frac, self.lut_frac, self.top)

    def codes(self, x, clip):
        """The b-bit codes of ``x``: int64, shape of ``x``."""
        x, one_row = self._rows(x)
        _, nd = row_distances(x)
        codes = exaq_codes(nd, self._clips(clip, x.shape[0])[:, None], self.bits)
        return codes[0] if one_row else codes

    def fixed_clip(self, clip):
        """The integer clip of a real clipping value: ``clip 2**in_frac`` rounded to nearest
        (ties to even), limited to 1..max_clip. Input: a finite float >= 0. Output: int."""
        clip = float(finite_floats("clip", clip))
        if clip < 0:
            raise ParameterError(f"clip={clip!r} is out of range: a clipping value must be >= 0")
        return int(min(max(round(clip * (1 << self.in_frac)), 1), self.max_clip))

    def reference_clip(self, x, clip):
        """Per-row clip of the reference's mode ``lo = max(min(d), -C)``: ``max(1, min(C, m - min(x)))``.

        With it, a row whose range is below C is quantized over its own range, as the EXAQ
        reference does (it needs the row minimum as well as the maximum). An all-equal row gets
        1: every element has code 0 whatever the clip. Output: int64 (rows,), or a scalar for one row.
        """
        x, one_row = self._rows(x)
        span = x.max(axis=1) - x.min(axis=1)
        clips = np.maximum(1, np.minimum(self._clips(clip, x.shape[0]), span))
        return clips[0] if one_row else clips

    def row(self, x, clip):
        """Every intermediate of the unit: an :class:`ExaqRow` (int64 fields)."""
        x, one_row = self._rows(x)
        clips = self._clips(clip, x.shape[0])
        m, nd = row_distances(x)
        codes = exaq_codes(nd, clips[:, None], self.bits)
        lut = exaq_lut(clips, self.bits, self.in_frac, self.lut_frac, self.top)
        counts = code_counts(codes, self.n_codes)
        s = (counts * lut).sum(axis=1)  # the unit's accumulation: counts times table entries
        e = np.take_along_axis(lut, codes, axis=1)
        r, y = self._normalise(e, s)
        result = ExaqRow(m, codes, e, counts, s, r, y)
        return ExaqRow(*(a[0] for a in result)) if one_row else result

    def softmax(self, x, clip):
        """The outputs ``y`` (int64, shape of ``x``; ``y / 2**out_frac`` approximates softmax)."""
        return self.row(x, clip).y
