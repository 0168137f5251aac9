"""dINT4 weight x INT activation multiply-accumulate (the dINT paper's MAC, SPEC.md "dINT")."""

from amaranth.hdl import Cat, Const, Mux, Signal, signed, unsigned

from lowbit.core.modes import DintCodebook, Overflow
from lowbit.core.unit_params import ACT_BITS, DINT_FRAC_BITS, DINT_SPECIAL
from lowbit.core.widths import signed_bits_for, signed_range

from .mac import MacUnit

__all__ = ["decode_table", "decode", "add_signed_product", "DintMac"]


def decode_table(special):
    """The dINT4 codebook as ``code -> (negative, integer magnitude, is_special)``.

    Codes are read as 4-bit two's complement integers except the special ones, which stand
    for a magnitude of 2^-f: ``half`` spends the pattern 1000 (which would be -8) on +2^-f;
    ``pm_half`` spends 0111 on +2^-f and 1000 on -2^-f, and keeps 1001 as -7.
    """
    special_codes = {DintCodebook.HALF: {0b1000: 0},
                     DintCodebook.PM_HALF: {0b0111: 0, 0b1000: 1}}[special]
    table = {}
    for code in range(16):
        if code in special_codes:
            table[code] = (special_codes[code], 0, 1)
        else:
            value = code - 16 if code & 0b1000 else code
            table[code] = (int(value < 0), abs(value), 0)
    return table


def decode(m, code, special):
    """Add the code decoder to ``m``; returns ``(negative, magnitude, is_special)`` of ``code``:
    the sign, the 3-bit integer magnitude and the special flag of :func:`decode_table`."""
    negative = Signal()
    magnitude = Signal(unsigned(3))
    is_special = Signal()
    with m.Switch(code):
        for code_value, (neg, mag, spec) in decode_table(special).items():
            with m.Case(code_value):
                m.d.comb += [negative.eq(neg), magnitude.eq(mag), is_special.eq(spec)]
    return negative, magnitude, is_special


def add_signed_product(m, heap, code, act, special, frac_bits, enable=None, shift=0):
    """Add ``enable ? value(code) x 2^f x act : 0`` times ``2**shift`` to ``heap``, as two
    radix-4 Booth partial products: the shared piece of the fused dINT MAC and the dINT dot
    product.

    Every integer code of both codebooks is the 4-bit two's complement pattern of its value
    (docs/dint.md), so its two Booth digits come straight from the code bits:
    ``d0 = -2 c1 + c0``, ``d1 = -2 c3 + c2 + c1`` (each in -2..2, value = 4 d1 + d0), and each
    digit selects 0, +-act or +-2 act (a 2:1 select and a conditional ones' complement, the +1
    of a negative digit one bit in the heap) at shift f (d0) and f + 2 (d1). A special code
    (``is_special`` of :func:`decode_table`) turns both digits off and puts +-act unshifted into
    the low partial product instead (it never needs a digit there). Two partial products per
    lane, against the four of a radix-4 Booth INT8 weight."""
    f, width = frac_bits, len(act)
    on = Const(1, 1) if enable is None else enable
    is_special, special_negative = Signal(name="is_special"), Signal(name="special_negative")
    specials = {code_value: neg for code_value, (neg, _, spec) in decode_table(special).items()
                if spec}
    m.d.comb += [is_special.eq(Cat(code == c for c in specials).any()),
                 special_negative.eq(Cat(code == c for c, neg in specials.items() if neg).any())
                 if any(specials.values()) else special_negative.eq(0)]
    digit_on = Signal(name="digit_on")
    m.d.comb += digit_on.eq(on & ~is_special)
    bits = [Const(0, 1), *code]
    digits = []
    for i in range(2):
        low, mid, high = bits[2 * i], bits[2 * i + 1], bits[2 * i + 2]
        one, two, negative = (Signal(name=f"one{i}"), Signal(name=f"two{i}"),
                              Signal(name=f"neg{i}"))
        m.d.comb += [one.eq(digit_on & (mid ^ low)),
                     two.eq(digit_on & Mux(high, ~mid & ~low, mid & low)),
                     negative.eq(digit_on & high)]
        digits.append((one, two, negative))
    (one0, two0, neg0), (one1, two1, neg1) = digits
    take_special = Signal(name="take_special")
    low_negative = Signal(name="low_negative")
    m.d.comb += [take_special.eq(on & is_special),
                 low_negative.eq(neg0 | (take_special & special_negative))]
    low_width = width + f + 1
    low = Signal(signed(low_width), name="pp0")
    m.d.comb += low.eq(Mux(take_special, act, Mux(one0, act << f, Mux(two0, act << (f + 1), 0)))
                       ^ low_negative.replicate(low_width))
    heap.add_signed(low, shift)
    heap.add_bit(low_negative, shift)   # -x = ~x + 1
    high = Signal(signed(width + 1), name="pp1")
    m.d.comb += high.eq(Mux(one1, act, Mux(two1, act << 1, 0)) ^ neg1.replicate(width + 1))
    heap.add_signed(high, shift + f + 2)
    heap.add_bit(neg1, shift + f + 2)


class DintMac(MacUnit):
    """dINT4 x signed ``act_bits`` multiply-accumulate, one MAC per cycle.

    The product ``value(code) x 2^f x act`` is an exact integer (f = ``frac_bits``; the special
    code's magnitude 2^-f times 2^f is 1). It is built as SPEC.md describes: the code is decoded
    to sign, a 3-bit integer magnitude and a special flag; the magnitude multiplies the
    activation by shift-and-add of three partial products, the special code selects the
    unshifted activation in the lowest partial product (it never coincides with a non-zero
    magnitude, so it costs no extra adder); the sign is applied in the accumulator's carry-in.
    No general multiplier is instantiated.

    Parameters
    ----------
    special : "half" | "pm_half"
        Codebook variant (see :func:`decode_table` and docs/dint.md).
    frac_bits : int
        f, 1 or 2: the special magnitude is 2^-f; ``acc`` carries f fractional bits.
    act_bits : int
        Activation width, 2..16.
    acc_bits : int
        Accumulator width, at least the product width, at most 64.
    overflow : "wrap" | "saturate"
    pipeline : int
        Register stages between the multiplier and the accumulator (fused: in front of the
        fused multiply-accumulate), 0..2.
    fused : bool
        The product's two radix-4 Booth partial products (:func:`add_signed_product`) and the
        accumulator in one carry-save tree with one carry-propagate adder
        (:class:`~lowbit.hdl.mac.MacUnit`).

    Ports, latency and throughput: :class:`~lowbit.hdl.mac.MacUnit` with ``weight`` the dINT4
    code and ``acc`` in units of 2^-f.
    """

    def __init__(self, *, special=DintCodebook.HALF, frac_bits=1, act_bits=8, acc_bits=32,
                 overflow=Overflow.WRAP, pipeline=1, fused=False):
        self.special = DINT_SPECIAL.check(special)
        self.frac_bits = DINT_FRAC_BITS.check(frac_bits)
        self.act_bits = ACT_BITS.check(act_bits)
        a_lo, _ = signed_range(act_bits)
        largest = 7 << frac_bits  # the largest |value x 2^f|
        super().__init__(weight_shape=unsigned(4), act_bits=act_bits,
                         product_bits=signed_bits_for(largest * a_lo, -largest * a_lo),
                         acc_bits=acc_bits, overflow=overflow, pipeline=pipeline, fused=fused)

    def product(self, m):
        negative, magnitude, is_special = decode(m, self.weight, self.special)

        f, act = self.frac_bits, self.act
        partial = [
            Mux(magnitude[0], act << f, Mux(is_special, act, 0)),
            Mux(magnitude[1], act << (f + 1), 0),
            Mux(magnitude[2], act << (f + 2), 0),
        ]
        unsigned_product = Signal(signed(self.product_bits))
        m.d.comb += unsigned_product.eq(partial[0] + partial[1] + partial[2])

        return unsigned_product, negative

    def add_product(self, m, heap, weight, act, enable):
        add_signed_product(m, heap, weight, act, self.special, self.frac_bits, enable)
