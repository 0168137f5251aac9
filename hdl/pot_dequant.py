"""PoT code + FP16 scale -> FP16 weight by exponent-field arithmetic (docs/spec.md, "PoT")."""

from amaranth.hdl import C, Cat, Mux, Signal, signed

from .component import named
from .dequant import Dequantizer
from .fp16 import DEFAULT_NAN, EXP_MAX, MANT_BITS, Fp16Fields, shift_right_rne
from .pot_code import PotCode

__all__ = ["PotDequant"]


class PotDequant(Dequantizer):
    """``(-1)^s x 2^-e x scale`` in binary16, bit-exact to NumPy's float16 product.

    No multiplier: while the result stays normal, the weight is the scale with ``e``
    subtracted from its exponent field and ``s`` xored into its sign. Only a result that falls
    below the normal range (or a subnormal scale) takes the other path: the significand
    shifted right by the missing exponent, rounded to nearest even, written with exponent
    field 0, where a carry out of the rounding lands in the exponent field as IEEE encoding
    wants. Zero code: ``0 x scale`` (a zero with the scale's sign, NaN for an infinite scale);
    NaN scales come out quieted (fp16.py).

    Interface, latency and throughput: :class:`~lowbit.hdl.dequant.Dequantizer` with
    ``code_bits = bits``.
    """

    def __init__(self, *, bits=4, zero_code=True):
        self.code = PotCode(bits=bits, zero_code=zero_code)
        super().__init__(bits)

    def weight(self, m, code, scale):
        negative, _, is_zero = self.code.decode(m, code)
        e = code[:self.code.exponent_bits]
        s = Fp16Fields(m, scale)
        sign = named(m, "sign", s.sign ^ negative)

        # Normal result: exponent - e >= 1 with the hidden bit set.
        reduced = named(m, "reduced", s.exponent - e)
        stays_normal = named(m, "stays_normal", s.hidden & named(m, "above_one", reduced >= 1))
        # Otherwise the significand moves right by the exponent the result lacks.
        missing = named(m, "exponent_less_one", s.exponent - 1)
        shift = Signal(6)
        m.d.comb += shift.eq(named(m, "shift_wide", e - missing))
        subnormal = shift_right_rne(m, s.significand, shift, MANT_BITS + 1)

        normal_bits = named(m, "normal_bits", Cat(s.mant, reduced[:5], sign))
        subnormal_bits = named(m, "subnormal_bits", Cat(subnormal, C(0, 4), sign))
        # a rounding carry of the subnormal becomes exponent 1
        finite = named(m, "finite", Mux(stays_normal, normal_bits, subnormal_bits))
        infinity = named(m, "infinity", Cat(C(0, MANT_BITS), C(EXP_MAX, 5), sign))
        infinite = named(m, "infinite", Mux(is_zero, DEFAULT_NAN, infinity))
        zero = Cat(C(0, 15), s.sign)
        nonzero_or_zero = named(m, "finite_or_zero", Mux(is_zero, zero, finite))
        not_nan = named(m, "not_nan", Mux(s.is_special, infinite, nonzero_or_zero))
        return Mux(s.is_nan, named(m, "quiet_nan", s.quieted()), not_nan)
