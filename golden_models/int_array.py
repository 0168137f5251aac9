"""Golden model of ``int_array``: an R x C array of INT8 x INT8 MACs, the baseline of ``btc_array``.

Cell (r, c) multiplies weight row r by activation column c, one k per cycle, so a job
``O = W @ A`` with depth K takes K cycles and the array does ``rows * cols`` MACs per cycle.
:func:`matmul_operands` is the shape and range check both array models share.
"""

from fractions import Fraction

from lowbit.core.unit_params import ARRAY_ACC_BITS, MODEL_COLS, MODEL_ROWS
from lowbit.core.widths import signed_range

from ._checks import ParameterError, check_int, int_array
from ._mac import product_bits
from .accumulator import wrap_signed

__all__ = ["CODE_BITS", "matmul_operands", "IntArray"]

CODE_BITS = 8


def matmul_operands(W, A, rows, cols, w_range, a_range):
    """Check a job's operands and return them as int64 arrays.

    Inputs: ``W`` integers (rows, K) in ``w_range`` = (lo, hi); ``A`` integers (K, cols) in
    ``a_range``; K >= 1. Output: (int64 ``W``, int64 ``A``, K).
    """
    W = int_array("W", W, *w_range)
    A = int_array("A", A, *a_range)
    if W.ndim != 2 or W.shape[0] != rows or W.shape[1] == 0:
        raise ParameterError(f"W must have shape ({rows}, K) with K >= 1, got shape {W.shape}")
    if A.ndim != 2 or A.shape[1] != cols:
        raise ParameterError(f"A must have shape (K, {cols}), got shape {A.shape}")
    if A.shape[0] != W.shape[1]:
        raise ParameterError(f"W and A must share K: W has {W.shape[1]} columns, A has {A.shape[0]} rows")
    return W, A, W.shape[1]


class IntArray:
    """Model of the R x C array of two's complement INT8 x INT8 multiply-accumulate cells.

    Parameters: ``rows``, ``cols`` in 1..256 (the model's range, ``MODEL_ROWS``/``MODEL_COLS``
    of :mod:`lowbit.core.unit_params`, wider than the hardware's); ``acc_bits`` in 16..64 (16 bits hold one
    product, -16256..16384). The accumulator wraps (two's complement) at ``acc_bits``.
    """

    def __init__(self, *, rows=4, cols=4, acc_bits=32):
        self.rows = MODEL_ROWS.check(rows)
        self.cols = MODEL_COLS.check(cols)
        self.product_bits = product_bits(*signed_range(CODE_BITS), CODE_BITS)
        self.acc_bits = ARRAY_ACC_BITS.check(acc_bits, lo=self.product_bits, why="one INT8 x INT8 product")

    def matmul(self, W, A):
        """The array's result for one job.

        Inputs: ``W`` integers (rows, K) in -128..127 (one row per output channel); ``A``
        integers (K, cols) in -128..127 (one column per token); K >= 1.
        Output: int64 (rows, cols), ``W @ A`` wrapped to ``acc_bits`` two's complement.
        """
        W, A, _ = matmul_operands(W, A, self.rows, self.cols, signed_range(CODE_BITS), signed_range(CODE_BITS))
        return wrap_signed(W @ A, self.acc_bits)  # int64: |sum| <= K * 2**14, exact for K < 2**48

    def passes(self, K):
        """Cycles of the array for a job of depth ``K`` >= 1: one k per cycle, so K."""
        return check_int("K", K, 1, 1 << 48)

    def macs_per_cycle(self):
        """MACs per cycle: every cell does one INT8 x INT8 MAC per cycle (a Fraction, like
        :meth:`BtcArray.macs_per_cycle`)."""
        return Fraction(self.rows * self.cols)
