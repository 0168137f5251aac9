"""IEEE 754 binary16 pieces shared by the dequantizers: fields, rounding, special values.

Special values follow NumPy's float16 multiplication (the golden reference): a NaN operand
comes out with its sign and payload kept and the quiet bit set; 0 x inf is NumPy's default
NaN 0xFE00; infinities keep their infinity with the product's sign.
"""

from amaranth.hdl import C, Cat, Mux, Signal, unsigned

from .component import named

__all__ = ["EXP_BITS", "MANT_BITS", "EXP_MAX", "INF", "DEFAULT_NAN", "QUIET_BIT", "Fp16Fields",
           "shift_right_rne"]

EXP_BITS, MANT_BITS = 5, 10
EXP_MAX = (1 << EXP_BITS) - 1
INF = EXP_MAX << MANT_BITS                 # 0x7C00, without sign
DEFAULT_NAN = 0xFE00                       # what 0 x inf gives on x86 through NumPy
QUIET_BIT = 1 << (MANT_BITS - 1)           # 0x0200


class Fp16Fields:
    """The fields of a binary16 bit pattern ``bits`` and the facts the datapaths need.

    ``significand`` is the 11-bit integer with the hidden bit (0 for zero and subnormals) and
    ``exponent`` the biased exponent with subnormals read as 1, so that every finite value is
    ``significand x 2^(exponent - 25)``.
    """

    def __init__(self, m, bits):
        self.bits = bits
        self.sign = bits[15]
        self.exp_field = bits[MANT_BITS:15]
        self.mant = bits[:MANT_BITS]
        self.is_special = Signal()     # infinity or NaN
        self.is_nan = Signal()
        self.hidden = Signal()
        self.significand = Signal(MANT_BITS + 1)
        self.exponent = Signal(EXP_BITS)
        m.d.comb += [
            self.is_special.eq(self.exp_field == EXP_MAX),
            self.is_nan.eq(self.is_special & named(m, "has_payload", self.mant != 0)),
            self.hidden.eq(self.exp_field != 0),
            self.significand.eq(Cat(self.mant, self.hidden)),
            self.exponent.eq(Mux(self.hidden, self.exp_field, C(1, EXP_BITS))),
        ]

    def quieted(self):
        """This NaN as NumPy returns it from a multiplication: quiet bit set, rest kept."""
        return self.bits | QUIET_BIT


def shift_right_rne(m, value, amount, width):
    """``value >> amount`` rounded to nearest, ties to even, as a ``width``-bit result.

    ``width`` must hold the rounded result (rounding may carry one bit past the shifted
    value's top, e.g. into a binary16 exponent field, which is what callers want).
    """
    with_guard = Cat(C(0, 1), value)             # value << 1: the guard bit falls to bit 0
    shifted = Signal(len(with_guard), name="rne_shifted")
    m.d.comb += shifted.eq(with_guard >> amount)
    guard, kept = shifted[0], shifted[1:]
    lost_bit = named(m, "rne_lost_bit", C(1, len(with_guard) + 1) << amount)
    lost_mask = named(m, "rne_lost_mask", lost_bit - 1)
    below_guard = named(m, "rne_below_guard", with_guard & lost_mask)
    sticky = named(m, "rne_sticky", below_guard != 0)   # with_guard[0] is 0: bits under it
    tie_or_above = named(m, "rne_tie_breaker", sticky | kept[0])
    round_up = named(m, "rne_round_up", guard & tie_or_above)
    rounded = named(m, "rne_rounded", kept + round_up)
    result = Signal(unsigned(width), name="rne_result")
    m.d.comb += result.eq(rounded)
    return result
