"""dINT4 weight x INT activation multiply-accumulate (the dINT paper's MAC, SPEC.md "dINT")."""

from amaranth.hdl import Mux, Signal, signed, unsigned

from lowbit.core.params import check_choice, check_int
from lowbit.core.widths import signed_bits_for, signed_range

from .mac import MacUnit

__all__ = ["SPECIAL_VARIANTS", "decode", "DintMac"]

SPECIAL_VARIANTS = ("half", "pm_half")


def decode_table(special):
    """The dINT4 codebook as ``code -> (negative, integer magnitude, is_special)``.

    Codes are read as 4-bit two's complement integers except the special ones, which stand
    for a magnitude of 2^-f: ``half`` spends the pattern 1000 (which would be -8) on +2^-f;
    ``pm_half`` spends 0111 on +2^-f and 1000 on -2^-f, and keeps 1001 as -7.
    """
    special_codes = {"half": {0b1000: 0}, "pm_half": {0b0111: 0, 0b1000: 1}}[special]
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


def add_signed_product(m, heap, act, negative, take, is_special, frac_bits, shift=0):
    """Add ``(-1)^negative x (take x 2^f + is_special) x act`` times ``2**shift`` to ``heap``.

    ``take`` are the magnitude bits already gated by the caller's enable (``is_special`` and
    ``negative`` too): three partial products of the ones' complement ``act ^ negative`` at
    shifts f, f+1, f+2 (the special code's unshifted ``act`` shares the lowest one: it never
    coincides with a non-zero magnitude), and for a negative weight one +1 per partial product
    taken, at its shift: ``-(a 2^s) = (~a) 2^s + 2^s``. Shared by the fused dINT MAC and the
    dINT dot product's lanes."""
    f, width = frac_bits, len(act)
    flipped = Signal(signed(width), name="flipped_act")
    m.d.comb += flipped.eq(act ^ negative.replicate(width))
    low = Signal(signed(width + f), name="pp0")
    m.d.comb += low.eq(Mux(take[0], flipped << f, Mux(is_special, flipped, 0)))
    heap.add_signed(low, shift)
    heap.add_bit(negative & is_special, shift)
    for k in range(3):
        if k:
            partial = Signal(signed(width), name=f"pp{k}")
            m.d.comb += partial.eq(Mux(take[k], flipped, 0))
            heap.add_signed(partial, shift + f + k)
        heap.add_bit(negative & take[k], shift + f + k)


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
        The partial products and the accumulator in one carry-save tree with one
        carry-propagate adder (:func:`add_signed_product`; :class:`~lowbit.hdl.mac.MacUnit`).

    Ports, latency and throughput: :class:`~lowbit.hdl.mac.MacUnit` with ``weight`` the dINT4
    code and ``acc`` in units of 2^-f.
    """

    def __init__(self, *, special="half", frac_bits=1, act_bits=8, acc_bits=32,
                 overflow="wrap", pipeline=1, fused=False):
        self.special = check_choice("special", special, SPECIAL_VARIANTS)
        self.frac_bits = check_int("frac_bits", frac_bits, 1, 2)
        self.act_bits = check_int("act_bits", act_bits, 2, 16)
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
        negative, magnitude, is_special = decode(m, weight, self.special)
        take, negative_taken, special_taken = Signal(3), Signal(), Signal()
        m.d.comb += [take.eq(magnitude & enable.replicate(3)),
                     negative_taken.eq(negative & enable),
                     special_taken.eq(is_special & enable)]
        add_signed_product(m, heap, act, negative_taken, take, special_taken, self.frac_bits)
