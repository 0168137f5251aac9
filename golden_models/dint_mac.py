"""Golden model of ``dint_mac``: a dINT4 weight x signed INT activation multiply-accumulate.

The product is exact in fixed point: ``value(code) x 2**f x a`` is an integer (``f`` the
format's ``frac_bits``), so the accumulator holds the dot product with ``f`` fractional bits.
The per-channel scale is applied outside the MAC.
"""

from lowbit.core.modes import DintCodebook, Overflow

from ._mac import CodebookMacModel
from .dint import DintFormat

__all__ = ["DintMac"]


class DintMac(CodebookMacModel):
    """Model of the dINT x INT MAC.

    Parameters: ``special`` and ``frac_bits`` select the :class:`DintFormat`; ``act_bits`` in
    2..16 (two's complement activations); ``acc_bits`` in ``product_bits``..64; ``overflow``
    ``"wrap"`` or ``"saturate"`` (see :mod:`lowbit.golden_models.accumulator`).
    Attributes: ``format`` (the :class:`DintFormat`), ``frac_bits``, ``product_bits``.
    """

    def __init__(self, *, special=DintCodebook.HALF, frac_bits=1, act_bits=8, acc_bits=32,
                 overflow=Overflow.WRAP):
        super().__init__(DintFormat(special, frac_bits), act_bits=act_bits, acc_bits=acc_bits,
                         overflow=overflow)
