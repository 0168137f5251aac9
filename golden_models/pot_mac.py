"""Golden model of ``pot_mac``: a PoT weight x signed INT activation multiply-accumulate.

The product is exact in fixed point: ``a x 2**(f-e)``, negated when s = 1 and 0 for the zero
code, i.e. ``value(code) x 2**f x a`` with f = 2**(b-1) - 1 the format's ``frac_bits`` (for
PoT4 x INT8, ``a << (7-e)``), so the accumulator holds the dot product with f fractional
bits. The per-channel scale is applied outside the MAC. The accumulator is the one every MAC
shares (:mod:`lowbit.golden_models.accumulator`).
"""

from lowbit.widths import signed_range

from ._checks import check_int, int_array
from ._mac import MAX_OPERAND_BITS, MIN_OPERAND_BITS, MacModel, check_acc, product_bits
from .pot import PotFormat

__all__ = ["PotMac"]


class PotMac(MacModel):
    """Model of the PoT x INT MAC.

    Parameters: ``bits`` and ``zero_code`` select the :class:`~lowbit.golden_models.pot.PotFormat`;
    ``act_bits`` in 2..16 (two's complement activations); ``acc_bits`` in ``product_bits``..64;
    ``overflow`` ``"wrap"`` or ``"saturate"``.
    Attributes: ``format``, ``frac_bits``, ``product_bits`` (fewest signed bits of a product).
    """

    def __init__(self, *, bits=4, zero_code=True, act_bits=8, acc_bits=32, overflow="wrap"):
        self.format = PotFormat(bits, zero_code)
        self.frac_bits = self.format.frac_bits
        self.act_bits = check_int("act_bits", act_bits, MIN_OPERAND_BITS, MAX_OPERAND_BITS)
        values = self.format.scaled_values
        self.product_bits = product_bits(int(values.min()), int(values.max()), self.act_bits)
        self.acc_bits, self.overflow = check_acc(acc_bits, overflow, self.product_bits)

    def product(self, codes, acts):
        """Exact products ``value(code) x 2**f x a``.

        Inputs: ``codes`` integers in 0 .. 2**bits - 1, ``acts`` integers in the signed
        ``act_bits`` range (broadcast against each other). Output: int64, in
        ``signed_range(product_bits)``.
        """
        return self.format.decode_scaled(codes) * int_array("acts", acts, *signed_range(self.act_bits))

