"""Width and argument rules common to the MAC golden models (dINT x INT8, INT x INT8)."""

import numpy as np

from lowbit.core.unit_params import ACC_BITS, ACT_BITS, OVERFLOW
from lowbit.core.widths import signed_bits_for, signed_range

from ._checks import int_array, same_length
from .accumulator import accumulate

__all__ = ["product_bits", "check_acc", "MacModel", "CodebookMacModel"]


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
    return (ACC_BITS.check(acc_bits, lo=min_bits),
            OVERFLOW.check(overflow))


class MacModel:
    """What every MAC model shares: the accumulation of its ``product`` over cycles.

    A subclass sets ``acc_bits`` and ``overflow`` and defines ``product(weights, acts)``.
    """

    def run(self, weights, acts, valid, clear):
        """The accumulator after each cycle (one entry per cycle in every 1-D input).

        Inputs: ``weights`` and ``acts`` as the subclass's :meth:`product` takes them; ``valid``,
        ``clear`` bools or 0/1. Output: int64 array, the sum so far (with the format's
        fractional bits).
        """
        weights, acts = np.asarray(weights), np.asarray(acts)
        same_length(weights=weights, acts=acts)
        return accumulate(self.product(weights, acts), valid, clear, acc_bits=self.acc_bits,
                          overflow=self.overflow)


class CodebookMacModel(MacModel):
    """A MAC whose weight is a code of a format with an exact integer table (dINT, PoT).

    ``fmt`` provides ``frac_bits``, ``scaled_values`` (value x 2^frac_bits per code) and
    ``decode_scaled(codes)``; the product ``value(code) x 2^f x a`` is then exact.
    """

    def __init__(self, fmt, *, act_bits, acc_bits, overflow):
        self.format = fmt
        self.frac_bits = fmt.frac_bits
        self.act_bits = ACT_BITS.check(act_bits)
        values = fmt.scaled_values
        self.product_bits = product_bits(int(values.min()), int(values.max()), self.act_bits)
        self.acc_bits, self.overflow = check_acc(acc_bits, overflow, self.product_bits)

    def product(self, codes, acts):
        """Exact products ``value(code) x 2**f x a`` (int64, broadcast), codes checked by the
        format, ``acts`` within the signed ``act_bits`` range."""
        return self.format.decode_scaled(codes) * int_array("acts", acts,
                                                             *signed_range(self.act_bits))
