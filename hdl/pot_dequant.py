"""PoT code + FP16 scale -> FP16 weight by exponent-field arithmetic (SPEC.md "PoT")."""

from amaranth.hdl import C, Cat, Mux, Signal, signed

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
        sign = s.sign ^ negative

        # Normal result: exponent - e >= 1 with the hidden bit set.
        reduced = Signal(signed(7))
        m.d.comb += reduced.eq(s.exponent - e)
        stays_normal = s.hidden & (reduced >= 1)
        # Otherwise the significand moves right by the exponent the result lacks.
        shift = Signal(6)
        m.d.comb += shift.eq(e - (s.exponent - 1))
        subnormal = shift_right_rne(m, s.significand, shift, MANT_BITS + 1)

        finite = Mux(stays_normal, Cat(s.mant, reduced[:5], sign),
                     Cat(subnormal, C(0, 4), sign))     # a rounding carry becomes exponent 1
        infinite = Mux(is_zero, DEFAULT_NAN, Cat(C(0, MANT_BITS), C(EXP_MAX, 5), sign))
        zero = Cat(C(0, 15), s.sign)
        return Mux(s.is_nan, s.quieted(),
                   Mux(s.is_special, infinite,
                       Mux(is_zero, zero, finite)))
