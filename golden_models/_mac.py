"""Width and argument rules common to the MAC golden models (dINT x INT8, INT x INT8)."""

from lowbit.widths import signed_bits_for, signed_range

from ._checks import check_choice, check_int
from .accumulator import MAX_ACC_BITS, OVERFLOW_MODES

__all__ = ["MIN_OPERAND_BITS", "MAX_OPERAND_BITS", "product_bits", "check_acc"]

MIN_OPERAND_BITS, MAX_OPERAND_BITS = 2, 16


def product_bits(w_lo, w_hi, act_bits):
    """Fewest signed bits that hold ``w * a`` for every ``w`` in ``w_lo..w_hi`` and signed ``act_bits`` ``a``.

    A product of two intervals reaches its extremes at their end points, so four products
    bound it exactly.
    """
    a_lo, a_hi = signed_range(act_bits)
    corners = [w * a for w in (w_lo, w_hi) for a in (a_lo, a_hi)]
    return signed_bits_for(min(corners), max(corners))


def check_acc(acc_bits, overflow, min_bits):
    """Validate the accumulator parameters of a MAC whose products need ``min_bits`` bits."""
    return check_int("acc_bits", acc_bits, min_bits, MAX_ACC_BITS), check_choice("overflow", overflow, OVERFLOW_MODES)
