"""Golden model of the INT x INT multiply-accumulate, the baseline of ``dint_mac``."""

from lowbit.core.modes import Overflow
from lowbit.core.unit_params import ACT_BITS, WEIGHT_BITS
from lowbit.core.widths import signed_range

from ._checks import int_array
from ._mac import MacModel, check_acc, product_bits

__all__ = ["IntMac"]


class IntMac(MacModel):
    """Model of the two's complement weight x activation MAC.

    Parameters: ``weight_bits``, ``act_bits`` in 2..16; ``acc_bits`` in ``product_bits``..64;
    ``overflow`` ``"wrap"`` or ``"saturate"``. Operands are given as signed values.
    Attribute: ``product_bits``, the fewest signed bits holding every product.
    """

    def __init__(self, *, weight_bits=8, act_bits=8, acc_bits=32, overflow=Overflow.WRAP):
        self.weight_bits = WEIGHT_BITS.check(weight_bits)
        self.act_bits = ACT_BITS.check(act_bits)
        self.product_bits = product_bits(*signed_range(self.weight_bits), self.act_bits)
        self.acc_bits, self.overflow = check_acc(acc_bits, overflow, self.product_bits)

    def product(self, weights, acts):
        """Exact products ``w x a``: integers in the signed ``weight_bits`` / ``act_bits`` ranges
        (broadcast against each other). Output: int64, in ``signed_range(product_bits)``."""
        w = int_array("weights", weights, *signed_range(self.weight_bits))
        return w * int_array("acts", acts, *signed_range(self.act_bits))

