"""Row arithmetic shared by the fixed-point softmax models, and the float reference softmax.

Both :class:`~lowbit.golden_models.exaq_softmax.ExaqSoftmax` and its baseline
:class:`~lowbit.golden_models.softmax_fixed.SoftmaxFixed` take a row of ``in_bits`` signed
logits with ``in_frac`` fractional bits, subtract the row maximum, map each element to an
unsigned exponential ``e_i <= 2**F`` (F = ``lut_frac``), sum them to ``S`` and normalise with
one reciprocal per row:

    Q = O + F + ceil(log2(max_len)) + 2
    R = floor(2**Q / S)
    y_i = (e_i R + 2**(Q-O-1)) >> (Q - O)            (O = out_frac; round half up)

Only the way ``e_i`` and ``S`` are formed differs between the models; this module holds the
rest, so that the two are compared on the same normalisation. Error bound (docs/exaq_softmax.md):
with ``e_i <= 2**F`` and ``2**F <= S <= max_len 2**F``, ``|y_i - 2**O e_i / S| < 3/4`` and the
truncation of R costs the whole row less than 1/4 of an output unit.
"""

import numpy as np

from lowbit.core.unit_params import IN_BITS, IN_FRAC, LUT_FRAC, MAX_LEN as MAX_LEN_PARAM, OUT_FRAC
from lowbit.core.widths import signed_range

from ._checks import ParameterError, check_int, flag_array, int_array

__all__ = [
    "MAX_LEN",
    "ceil_log2",
    "norm_shift",
    "reciprocal",
    "normalise",
    "row_distances",
    "RowSoftmax",
    "float_rows",
    "softmax_float",
]

# The ranges are lowbit.core.unit_params' declarations (the hardware checks the same ones).
MIN_IN_BITS, MAX_IN_BITS = IN_BITS.lo, IN_BITS.hi
MIN_FRAC, MAX_FRAC = LUT_FRAC.lo, LUT_FRAC.hi  # lut_frac (and out_frac: the same range)
assert (OUT_FRAC.lo, OUT_FRAC.hi) == (MIN_FRAC, MAX_FRAC)
MAX_LEN = MAX_LEN_PARAM.hi


def ceil_log2(n):
    """ceil(log2(n)) of a Python int n >= 1 (0 for n = 1), exactly."""
    return (n - 1).bit_length()


def norm_shift(lut_frac, out_frac, max_len):
    """Q, the fractional bits of the reciprocal ``R = floor(2**Q / S)``.

    ``O + F`` bits make ``e R / 2**(Q-O)`` an O-fractional-bit quotient; 2 more keep the
    truncation of R below 1/4 of an output unit per element; ``ceil(log2(max_len))`` more keep
    it below 1/4 for the whole row (S can be ``max_len`` times larger than any ``e``).
    """
    return out_frac + lut_frac + ceil_log2(max_len) + 2


def reciprocal(s, q):
    """``floor(2**q / s)``. Inputs: int64 sums ``s >= 1`` (any shape), ``q`` <= 62. Output: int64."""
    return (np.int64(1) << q) // s


def normalise(e, r, q, out_frac):
    """``(e r + 2**(q-out_frac-1)) >> (q - out_frac)``: the outputs, rounded half up.

    Inputs: int64 ``e`` and ``r`` broadcast against each other (``e <= 2**F``, ``r <= 2**(q-F)``,
    so the product stays below 2**46). Output: int64, same shape.
    """
    shift = q - out_frac
    return (e * r + (np.int64(1) << (shift - 1))) >> shift


def row_distances(x):
    """Row maximum and distances from it. Input: int64 (rows, L). Output: (m (rows,), m - x (rows, L))."""
    m = x.max(axis=1)
    return m, m[:, None] - x


class RowSoftmax:
    """Parameters, checks and normalisation shared by the fixed-point softmax models.

    Parameters: ``in_bits`` in 4..16 and ``in_frac`` in 0..in_bits-1 (the logits' format);
    ``lut_frac`` F in 4..16 (fractional bits of the exponentials); ``out_frac`` O in 4..16;
    ``max_len`` in 1..4096 (the longest row).
    Attributes: ``q`` (Q above); ``sum_bits``, ``recip_bits``, ``out_bits``: the unsigned widths
    of S (<= max_len 2**F), R (<= 2**(Q-F)) and y (<= 2**O).
    """

    def __init__(self, *, in_bits, in_frac, lut_frac, out_frac, max_len):
        self.in_bits = IN_BITS.check(in_bits)
        self.in_frac = IN_FRAC.check(in_frac, hi=self.in_bits - 1, why=f"in_bits={self.in_bits}")
        self.lut_frac = LUT_FRAC.check(lut_frac)
        self.out_frac = OUT_FRAC.check(out_frac)
        self.max_len = MAX_LEN_PARAM.check(max_len)
        self.q = norm_shift(self.lut_frac, self.out_frac, self.max_len)
        self.sum_bits = (self.max_len << self.lut_frac).bit_length()
        self.recip_bits = self.q - self.lut_frac + 1
        self.out_bits = self.out_frac + 1

    def _rows(self, x):
        """Logits as int64 (rows, L), and whether the caller gave one row (a 1-D array).

        Refuses anything but a non-empty 1-D or 2-D integer array in the ``in_bits`` range with
        rows of 1..max_len elements.
        """
        x = int_array("x", x, *signed_range(self.in_bits))
        if x.ndim not in (1, 2):
            raise ParameterError(f"x must be one row (L,) or a batch of rows (rows, L), got shape {x.shape}")
        one_row = x.ndim == 1
        x = x[None, :] if one_row else x
        if not 1 <= x.shape[1] <= self.max_len or x.shape[0] == 0:
            raise ParameterError(
                f"x rows must have 1..{self.max_len} elements (max_len={self.max_len}), got shape {x.shape}"
            )
        return x, one_row

    def _normalise(self, e, s):
        """One reciprocal per row, then the outputs. Inputs: int64 ``e`` (rows, L), ``s`` (rows,).
        Output: (``R`` int64 (rows,), ``y`` int64 (rows, L))."""
        r = reciprocal(s, self.q)
        return r, normalise(e, r[:, None], self.q, self.out_frac)


def float_rows(z, valid=None):
    """Real logits and their mask, checked: the float inputs of the reference computations.

    Inputs: ``z`` real logits (..., L), L >= 1, finite where ``valid``; ``valid`` None (every
    position) or a bool/0-1 array of the same shape leaving at least one position per row.
    Output: (float64 ``z`` with masked positions set to 0, so that they are finite; bool ``valid``).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ParameterError(f"z must hold rows of at least one logit on its last axis, got shape {z.shape}")
    valid = np.ones(z.shape, dtype=np.bool_) if valid is None else flag_array("valid", valid)
    if valid.shape != z.shape:
        raise ParameterError(f"valid must have the shape of the logits {z.shape}, got {valid.shape}")
    if not np.all(valid.any(axis=-1)):
        raise ParameterError("valid must leave at least one position in every row")
    if not np.all(np.isfinite(z[valid])):
        raise ParameterError("z must be finite at valid positions (no NaN or inf)")
    return np.where(valid, z, 0.0), valid


def softmax_float(z, valid=None):
    """The float64 softmax over the last axis, masked positions excluded.

    Inputs: ``z``, ``valid`` as in :func:`float_rows`. Output: float64 (..., L), 0 at masked positions.
    """
    z, valid = float_rows(z, valid)
    z = np.where(valid, z, -np.inf)
    e = np.exp(z - z.max(axis=-1, keepdims=True))  # exp(-inf) = 0 at masked positions
    return e / e.sum(axis=-1, keepdims=True)
