"""The power-of-two weight code shared by every PoT unit (docs/spec.md "PoT", docs/pot.md)."""

from amaranth.hdl import Signal

from lowbit.core.unit_params import POT_BITS, ZERO_CODE

__all__ = ["PotCode"]


class PotCode:
    """A ``bits``-bit PoT code: MSB the sign s, the low ``bits - 1`` bits the exponent index e.

    The value is (-1)^s x 2^-e; with ``zero_code`` the largest index E = 2^(bits-1) - 1 means
    0 whatever the sign. Products keep ``frac_bits = E`` fractional bits, so ``a x 2^(E-e)``
    is an integer, and the shift amount E - e is simply the bitwise complement of e.
    """

    def __init__(self, *, bits=4, zero_code=True):
        self.bits = POT_BITS.check(bits)
        self.zero_code = ZERO_CODE.check(zero_code)
        self.exponent_bits = bits - 1
        self.largest_exponent = (1 << self.exponent_bits) - 1
        self.frac_bits = self.largest_exponent

    def decode(self, m, code):
        """Add the decoder to module ``m``; returns ``(negative, shift, is_zero)`` for ``code``.

        ``shift`` is E - e, the left shift that turns ``a`` into ``a x 2^(E-e)``.
        """
        exponent = code[:self.exponent_bits]
        negative = Signal(name="negative")
        shift = Signal(self.exponent_bits, name="shift")
        is_zero = Signal(name="is_zero")
        m.d.comb += [
            negative.eq(code[-1]),
            shift.eq(~exponent),
            is_zero.eq(exponent == self.largest_exponent if self.zero_code else 0),
        ]
        return negative, shift, is_zero
