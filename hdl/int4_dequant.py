"""The baseline dequantizer: INT4 code -> FP16, times an FP16 scale (docs/spec.md, "PoT")."""

from amaranth.hdl import C, Cat, Mux, Signal

from .component import named
from .dequant import Dequantizer
from .fp16 import DEFAULT_NAN, EXP_MAX, INF, MANT_BITS, Fp16Fields, shift_right_rne

__all__ = ["Int4Dequant"]

_PRODUCT_BITS = MANT_BITS + 1 + 4      # 11-bit significand x 4-bit magnitude (at most 8)


class Int4Dequant(Dequantizer):
    """``float16(code) x scale`` rounded to nearest even, bit-exact to NumPy's float16 product.

    The conventional path the PoT dequantizer is measured against: the code (two's complement
    -8..7) is a float with a 4-bit significand, so the product is the scale's 11-bit
    significand times the code's magnitude (15 bits), normalised by a leading-one search,
    rounded to nearest even to 11 bits, with overflow to infinity, subnormal scales and
    results, signed zeros and NumPy's special values (fp16.py).

    Interface, latency and throughput: :class:`~lowbit.hdl.dequant.Dequantizer` with
    ``code_bits = 4``.
    """

    def __init__(self):
        super().__init__(4)

    def weight(self, m, code, scale):
        s = Fp16Fields(m, scale)
        negative = code[3]
        magnitude = Signal(4)
        negated = named(m, "negated", -code.as_signed())
        m.d.comb += magnitude.eq(named(m, "magnitude_wide", Mux(negative, negated, code)))
        sign = named(m, "sign", s.sign ^ negative)

        product = Signal(_PRODUCT_BITS)
        m.d.comb += product.eq(s.significand * magnitude)
        leading = Signal(range(_PRODUCT_BITS))        # position of the leading one
        for k in range(_PRODUCT_BITS):
            with m.If(product[k]):
                m.d.comb += leading.eq(k)
        # value = product x 2^(exponent - 25); an 11-bit significand needs `shift` fewer bits.
        # Products below 2^10 only come from subnormal scales (exponent 1), which stay
        # subnormal: shift 0 and exponent field 0, so one formula covers both.
        shift = Signal(3)
        too_long = named(m, "too_long", leading > MANT_BITS)
        excess = named(m, "excess", leading - MANT_BITS)
        m.d.comb += shift.eq(named(m, "shift_wide", Mux(too_long, excess, 0)))
        rounded = shift_right_rne(m, product, shift, MANT_BITS + 2)
        magnitude_bits = Signal(17)           # the hidden bit adds 1 to (exponent - 1 + shift)
        exponent_less_one = named(m, "exponent_less_one", s.exponent - 1)
        result_exponent = named(m, "result_exponent", exponent_less_one + shift)
        exponent_bits = named(m, "exponent_bits", result_exponent << MANT_BITS)
        m.d.comb += magnitude_bits.eq(named(m, "magnitude_sum", exponent_bits + rounded))

        overflows = named(m, "overflows", magnitude_bits >= INF)
        is_zero = named(m, "product_is_zero", product == 0)
        in_range = named(m, "in_range", Mux(overflows, Cat(C(INF, 15), sign),
                                             Cat(magnitude_bits[:15], sign)))
        finite = named(m, "finite", Mux(is_zero, Cat(C(0, 15), sign), in_range))
        code_is_zero = named(m, "code_is_zero", magnitude == 0)
        infinity = named(m, "infinity", Cat(C(0, MANT_BITS), C(EXP_MAX, 5), sign))
        infinite = named(m, "infinite", Mux(code_is_zero, DEFAULT_NAN, infinity))
        not_nan = named(m, "not_nan", Mux(s.is_special, infinite, finite))
        return Mux(s.is_nan, named(m, "quiet_nan", s.quieted()), not_nan)
