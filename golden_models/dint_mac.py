"""Golden model of ``dint_mac``: a dINT4 weight x signed INT activation multiply-accumulate.

The product is exact in fixed point: ``value(code) x 2**f x a`` is an integer (``f`` the
format's ``frac_bits``), so the accumulator holds the dot product with ``f`` fractional bits.
The per-channel scale is applied outside the MAC.
"""

from lowbit.widths import signed_range

from ._checks import check_int, int_array
from ._mac import MAX_OPERAND_BITS, MIN_OPERAND_BITS, MacModel, check_acc, product_bits
from .dint import N_CODES, DintFormat

__all__ = ["DintMac"]


class DintMac(MacModel):
    """Model of the dINT x INT MAC.

    Parameters: ``special`` and ``frac_bits`` select the :class:`DintFormat`; ``act_bits`` in
    2..16 (two's complement activations); ``acc_bits`` in ``product_bits``..64; ``overflow``
    ``"wrap"`` or ``"saturate"`` (see :mod:`lowbit.golden_models.accumulator`).
    Attributes: ``format`` (the :class:`DintFormat`), ``frac_bits``, ``product_bits``.
    """

    def __init__(self, *, special="half", frac_bits=1, act_bits=8, acc_bits=32, overflow="wrap"):
        self.format = DintFormat(special, frac_bits)
        self.frac_bits = self.format.frac_bits
        self.act_bits = check_int("act_bits", act_bits, MIN_OPERAND_BITS, MAX_OPERAND_BITS)
        values = self.format.scaled_values
        self.product_bits = product_bits(int(values.min()), int(values.max()), self.act_bits)
        self.acc_bits, self.overflow = check_acc(acc_bits, overflow, self.product_bits)

    def product(self, codes, acts):
        """Exact products ``value(code) x 2**f x a``.

        Inputs: ``codes`` integers in 0..15, ``acts`` integers in the signed ``act_bits`` range
        (broadcast against each other). Output: int64, in ``signed_range(product_bits)``.
        """
        w = self.format.scaled_values[int_array("codes", codes, 0, N_CODES - 1)]
        return w * int_array("acts", acts, *signed_range(self.act_bits))

