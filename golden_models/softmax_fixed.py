"""Golden model of the baseline fixed-point softmax: a 256-entry exponential ROM indexed by the
truncated distance from the row max, a full sum, and the same normalisation as EXAQ.

A row of L logits ``x`` (signed ``in_bits`` integers, ``in_frac`` fractional bits); G =
``exp_index_frac`` (0..in_frac) fractional bits of the ROM index:

1. ``m = max(x)``, ``nd_i = m - x_i``.
2. ``index_i = min(255, nd_i >> (in_frac - G))``: the distance truncated to G fractional bits,
   saturated to 8 bits. With G = 4 (the default for in_frac = 4) the ROM spans distances
   below 16, and its last entry, round(2**F exp(-255/16)), is 0 for every F <= 16.
3. ``e_i = EXP[index_i]``, ``EXP[j] = floor(2**F exp(-j / 2**G) + 1/2)`` (float64, j = 0..255).
4. ``S = sum_i e_i`` (an adder per element instead of a counter per code).
5. The shared normalisation (:mod:`lowbit.golden_models.softmax_common`).
"""

from collections import namedtuple

import numpy as np

from lowbit.core.unit_params import EXP_INDEX_FRAC, LUT_FRAC

from .softmax_common import RowSoftmax, row_distances

__all__ = ["ROM_SIZE", "DEFAULT_INDEX_FRAC", "exp_rom", "SoftmaxRow", "SoftmaxFixed"]

ROM_SIZE = 256  # an 8-bit index
DEFAULT_INDEX_FRAC = 5

SoftmaxRow = namedtuple("SoftmaxRow", "max index e S R y")
SoftmaxRow.__doc__ = """One row's intermediates: ``max`` m, ROM ``index`` (L,), exponentials ``e``
(L,), ``S``, ``R`` and the outputs ``y`` (L,), all int64 (a leading rows axis for a batch)."""


def exp_rom(lut_frac, exp_index_frac):
    """The ROM: ``EXP[j] = floor(2**F exp(-j / 2**G) + 1/2)``, j = 0..255.

    Inputs: ``lut_frac`` F in 4..16, ``exp_index_frac`` G in 0..15. Output: int64 (256,),
    ``EXP[0] = 2**F``. ``j / 2**G`` is exact, so ``exp`` is the only rounding before the floor.
    """
    lut_frac = LUT_FRAC.check(lut_frac)
    exp_index_frac = EXP_INDEX_FRAC.check(exp_index_frac)
    j = np.arange(ROM_SIZE, dtype=np.float64)
    return np.floor(np.ldexp(np.exp(-np.ldexp(j, -exp_index_frac)), lut_frac) + 0.5).astype(np.int64)


class SoftmaxFixed(RowSoftmax):
    """Model of the baseline softmax unit.

    Parameters: ``in_bits``, ``in_frac``, ``lut_frac``, ``out_frac``, ``max_len`` as in
    :class:`~lowbit.golden_models.softmax_common.RowSoftmax`; ``exp_index_frac`` G in
    0..in_frac, default ``min(in_frac, 5)``.
    Attributes: ``rom`` (int64 (256,), read-only); the widths of :class:`RowSoftmax`.
    Rows: ``x`` is one row (L,) or a batch (rows, L), as for
    :class:`~lowbit.golden_models.exaq_softmax.ExaqSoftmax`.
    """

    def __init__(self, *, in_bits=8, in_frac=4, lut_frac=10, out_frac=10, max_len=1024, exp_index_frac=None):
        super().__init__(in_bits=in_bits, in_frac=in_frac, lut_frac=lut_frac, out_frac=out_frac, max_len=max_len)
        if exp_index_frac is None:
            exp_index_frac = min(self.in_frac, DEFAULT_INDEX_FRAC)
        self.exp_index_frac = EXP_INDEX_FRAC.check(exp_index_frac, hi=self.in_frac, why=f"in_frac={self.in_frac}")
        self.rom = exp_rom(self.lut_frac, self.exp_index_frac)
        self.rom.setflags(write=False)  # shared by every call: a stray write would corrupt them all

    def __repr__(self):
        return (
            f"SoftmaxFixed(in_bits={self.in_bits}, in_frac={self.in_frac}, lut_frac={self.lut_frac}, "
            f"out_frac={self.out_frac}, max_len={self.max_len}, exp_index_frac={self.exp_index_frac})"
        )

    def row(self, x):
        """Every intermediate of the unit: a :class:`SoftmaxRow` (int64 fields)."""
        x, one_row = self._rows(x)
        m, nd = row_distances(x)
        index = np.minimum(ROM_SIZE - 1, nd >> (self.in_frac - self.exp_index_frac))
        e = self.rom[index]
        s = e.sum(axis=1)
        r, y = self._normalise(e, s)
        result = SoftmaxRow(m, index, e, s, r, y)
        return SoftmaxRow(*(a[0] for a in result)) if one_row else result

    def softmax(self, x):
        """The outputs ``y`` (int64, shape of ``x``; ``y / 2**out_frac`` approximates softmax)."""
        return self.row(x).y
