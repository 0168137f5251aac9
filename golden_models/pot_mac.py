"""Golden model of ``pot_mac``: a PoT weight x signed INT activation multiply-accumulate.

The product is exact in fixed point: ``a x 2**(f-e)``, negated when s = 1 and 0 for the zero
code, i.e. ``value(code) x 2**f x a`` with f = 2**(b-1) - 1 the format's ``frac_bits`` (for
PoT4 x INT8, ``a << (7-e)``), so the accumulator holds the dot product with f fractional
bits. The per-channel scale is applied outside the MAC. The accumulator is the one every MAC
shares (:mod:`lowbit.golden_models.accumulator`).
"""

from lowbit.core.modes import Overflow

from ._mac import CodebookMacModel
from .pot import PotFormat

__all__ = ["PotMac"]


class PotMac(CodebookMacModel):
    """Model of the PoT x INT MAC.

    Parameters: ``bits`` and ``zero_code`` select the :class:`~lowbit.golden_models.pot.PotFormat`;
    ``act_bits`` in 2..16 (two's complement activations); ``acc_bits`` in ``product_bits``..64;
    ``overflow`` ``"wrap"`` or ``"saturate"``.
    Attributes: ``format``, ``frac_bits``, ``product_bits`` (fewest signed bits of a product).
    """

    def __init__(self, *, bits=4, zero_code=True, act_bits=8, acc_bits=32, overflow=Overflow.WRAP):
        super().__init__(PotFormat(bits, zero_code), act_bits=act_bits, acc_bits=acc_bits,
                         overflow=overflow)
