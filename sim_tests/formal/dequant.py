# amaranth: UnusedElaboratable=no
# (the combinational harnesses call a unit's datapath hook without elaborating the unit)
"""Proofs of the weight dequantizers (pot_dequant and the INT4 baseline): the combinational
datapath equals the exact product of the code's value and the FP16 scale, rounded by the IEEE
754 definition (with NumPy's special values), for every code and every one of the 65,536
scale patterns (complete); and each unit's stream keeps the stream rules and loses,
duplicates or reorders no weight (bounded, NaN-tagged items)."""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, C, Cat, Mux, Signal, signed

from lowbit.hdl.int4_dequant import Int4Dequant
from lowbit.hdl.pot_dequant import PotDequant

from .harness import Harness, PipelineStream, group
from .sby import Proof

__all__ = ["fp16_round", "pot_dequant_spec", "int4_dequant_spec", "DequantHarness",
           "DequantStream", "POT_DEQUANT", "INT4_DEQUANT", "POT_DEQUANT_STREAM",
           "INT4_DEQUANT_STREAM"]


FP16_INF = 0x7C00
FP16_QUIET = 0x0200
FP16_DEFAULT_NAN = 0xFE00      # 0 x inf, the x86 default NaN NumPy returns (docs/pot.md)


def fp16_round(m, sign, p, exponent):
    """The binary16 pattern of ``(-1)^sign x p x 2^exponent``, rounded to nearest, ties to even.

    ``p`` is an unsigned integer value, ``exponent`` a signed one. By the IEEE 754 definition:
    a value in the binade [2^k, 2^(k+1)) with k >= -14 is a multiple of the quantum 2^(k-10),
    below 2^-14 of 2^-24 (subnormals); the value divided by its quantum is rounded to the
    nearest integer, a tie to the even one, and the result packed: a normal's field is k + 15
    and its mantissa the rounded count minus 2^10 (a count of 2^11 is the next binade); a field
    of 31 or more is infinity; a subnormal's pattern is the count itself (a count of 2^10 is
    the smallest normal, 0x0400, by the same packing). Zero is the subnormal count 0.
    """
    width = len(p)
    # bit length of p: how many of the powers 2^0 .. 2^(width-1) it reaches
    length = Signal(range(width + 1), name="spec_length")
    m.d.comb += length.eq(sum((p >= (1 << k)).as_unsigned() for k in range(width)))
    binade = Signal(signed(max(len(exponent), len(length)) + 2), name="spec_binade")  # k
    m.d.comb += binade.eq(length - 1 + exponent)
    normal = Signal(name="spec_normal")
    m.d.comb += normal.eq((p != 0) & (binade >= -14))
    # p x 2^exponent / quantum = p x 2^-shift, the quantum being 2^(k-10) or 2^-24
    shift = Signal(signed(len(binade) + 1), name="spec_shift")
    m.d.comb += shift.eq(Mux(normal, binade - 10, -24) - exponent)
    right = Signal(range(width + 2), name="spec_right")      # shifts past p's width give 0
    m.d.comb += right.eq(Mux(shift <= 0, 0, Mux(shift > width + 1, width + 1, shift)))
    count = Signal(width, name="spec_count")
    rest = Signal(width, name="spec_rest")
    m.d.comb += [count.eq(p >> right), rest.eq(p - (count << right))]
    twice_rest, one = Signal(width + 1), Signal(width + 2)
    m.d.comb += [twice_rest.eq(rest << 1), one.eq(C(1, width + 2) << right)]
    rounded = Signal(12, name="spec_rounded")                   # at most 2^11
    exact = Signal(12, name="spec_exact_count")                 # a left shift: no rounding
    m.d.comb += [
        rounded.eq(count + ((twice_rest > one) | ((twice_rest == one) & count[0]))),
        exact.eq(p << (-shift)[:4]),
    ]
    quanta = Mux(shift <= 0, exact, rounded)
    carry = quanta == (1 << 11)
    field_ = Signal(signed(len(binade) + 1), name="spec_field")
    m.d.comb += field_.eq(binade + 15 + carry)
    mantissa = Mux(carry, 0, quanta - (1 << 10))[:10]
    magnitude = Mux(normal, Mux(field_ >= 31, FP16_INF, Cat(mantissa, field_[:5])), quanta)
    result = Signal(16, name="spec_fp16")
    m.d.comb += result.eq(Cat(magnitude[:15], sign))
    return result


def _fp16_scale(m, scale):
    """A binary16 scale's sign, its integer significand M and exponent F_eff - 25, with
    |scale| = M x 2^(F_eff - 25) for a finite scale (F_eff = the field, 1 for subnormals)."""
    field_, mant = scale[10:15], scale[:10]
    significand = Cat(mant, field_ != 0)
    exponent = Signal(signed(7), name="spec_scale_exponent")
    m.d.comb += exponent.eq(Mux(field_ == 0, 1, field_) - 25)
    return scale[15], significand, exponent


def _fp16_specials(scale, sign, weight_is_zero, finite):
    """NumPy float16 product rules (docs/pot.md): a NaN scale comes out quiet with its sign and
    payload; an infinite one gives infinity with the product's sign, or the default NaN for a
    zero weight; a finite one gives ``finite``."""
    field_, mant = scale[10:15], scale[:10]
    special = field_ == 31
    infinite = Mux(weight_is_zero, FP16_DEFAULT_NAN, Cat(C(FP16_INF, 15), sign))
    return Mux(special, Mux(mant != 0, scale | FP16_QUIET, infinite), finite)


def pot_dequant_spec(m, code, scale, *, bits, zero_code):
    """``(-1)^s 2^-e x scale`` in binary16 (SPEC.md "PoT", docs/pot.md): the exact product
    M x 2^(F_eff - 25 - e), rounded by :func:`fp16_round`; the zero code gives a zero with the
    scale's sign."""
    e_max = (1 << (bits - 1)) - 1
    s, e = code[bits - 1], code[:bits - 1]
    weight_is_zero = (e == e_max) if zero_code else C(0)
    scale_sign, significand, scale_exponent = _fp16_scale(m, scale)
    sign = s ^ scale_sign
    finite = Mux(weight_is_zero, Cat(C(0, 15), scale_sign),
                 fp16_round(m, sign, significand, scale_exponent - e))
    return _fp16_specials(scale, sign, weight_is_zero, finite)


def int4_dequant_spec(m, code, scale):
    """``float16(c) x scale`` for the 4-bit two's complement c (docs/pot.md, baseline): the
    exact product |c| x M x 2^(F_eff - 25), rounded by :func:`fp16_round`. (A case per code,
    each a product by a constant: SAT solvers prove that far faster than a general product.)"""
    scale_sign, significand, scale_exponent = _fp16_scale(m, scale)
    product = Signal(4 + 11, name="spec_product")
    with m.Switch(code):
        for pattern in range(16):
            value = pattern - 16 if pattern & 8 else pattern
            with m.Case(pattern):
                m.d.comb += product.eq(significand * abs(value))
    sign = code[3] ^ scale_sign
    return _fp16_specials(scale, sign, code == 0, fp16_round(m, sign, product, scale_exponent))


class DequantHarness(Harness):
    """A dequantizer's combinational datapath (its ``weight`` hook, the logic between the
    input stream and the output register) against a specification, for every code and every
    one of the 65,536 scale patterns."""

    def __init__(self, unit, spec):
        self.unit, self.spec = unit, spec

    def build(self, m):
        code = Signal(len(self.unit.i.payload.code), name="code")
        scale = Signal(16, name="scale")
        m.d.comb += [code.eq(AnySeq(len(code))), scale.eq(AnySeq(16))]
        circuit = Signal(16, name="circuit")
        m.d.comb += circuit.eq(self.unit.weight(m, code, scale))
        m.d.comb += Assert(circuit == self.spec(m, code, scale), "weight equals the specification")


class DequantStream(PipelineStream):
    """A dequantizer's stream, tagged by NaN scales: a NaN scale comes out quiet with its sign
    and payload (docs/pot.md), so every output names the input it came from in all 16 bits."""

    def assume_input(self, m):
        scale = self.unit.i.payload.scale
        m.d.comb += Assume(~self.unit.i.valid | ((scale[10:15] == 31) & (scale[:10] != 0)),
                           "NaN scales only")

    def tag(self, m, payload):
        return payload.scale | FP16_QUIET


def pot_dequant_harness(bits, zero_code):
    return DequantHarness(PotDequant(bits=bits, zero_code=zero_code),
                          lambda m, c, s: pot_dequant_spec(m, c, s, bits=bits,
                                                           zero_code=zero_code))


POT_DEQUANT = Proof(
    "pot_dequant", "PoT dequantizer cores, PoT3 and PoT4 with zero code, PoT5 without: "
    "every code x every FP16 scale = exact product rounded to nearest even (IEEE 754), "
    "NumPy's special values",
    lambda: group(pot_dequant_harness(3, True), pot_dequant_harness(4, True),
                  pot_dequant_harness(5, False)))
INT4_DEQUANT = Proof(
    "int4_dequant", "INT4 dequantizer core (the baseline): every code x every FP16 scale "
    "= exact product rounded to nearest even, overflow to inf, NumPy's special values",
    lambda: DequantHarness(Int4Dequant(), int4_dequant_spec))
POT_DEQUANT_STREAM = Proof(
    "pot_dequant_stream", "PoT3 dequantizer: stream rules, no loss, duplication or "
    "reordering (NaN-tagged items)",
    lambda: DequantStream(PotDequant(bits=3)), depth=16)
INT4_DEQUANT_STREAM = Proof(
    "int4_dequant_stream", "INT4 dequantizer (the baseline): as above",
    lambda: DequantStream(Int4Dequant()), depth=16)
