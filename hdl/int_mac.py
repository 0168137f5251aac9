"""The baseline: a two's complement integer multiply-accumulate (INT8 x INT8 by default)."""

from amaranth.hdl import Const, Mux, Signal, signed

from lowbit.core.modes import Overflow
from lowbit.core.unit_params import ACT_BITS, WEIGHT_BITS
from lowbit.core.widths import signed_bits_for, signed_range

from .mac import MacUnit

__all__ = ["IntMac", "add_booth_product"]


class IntMac(MacUnit):
    """Signed ``weight_bits`` x ``act_bits`` multiply-accumulate, one MAC per cycle.

    Separate form (``fused=False``): the product is the ``*`` operator, left to the synthesis
    tool's own multiplier mapping (LUT array, Booth in the generic flow, or a DSP block where
    the target allows it). Fused form: radix-4 Booth partial products (one per two weight
    bits, each 0, +-act or +-2 act: a 2:1 select and a conditional ones' complement, with the
    +1 of a negative digit as one bit) in the accumulator's carry-save tree, so the whole MAC
    has one carry-propagate adder. This is the baseline every low-bit unit is measured
    against: the flow takes the smaller of the two forms.

    Parameters
    ----------
    weight_bits, act_bits : int
        Operand widths, 2..16 (INT8 x INT8 by default).
    acc_bits : int
        Accumulator width, at least the product width, at most 64.
    overflow : "wrap" | "saturate"
    pipeline : int
        Register stages between the multiplier and the accumulator (fused: in front of the
        fused multiply-accumulate), 0..2.
    fused : bool
        Booth partial products and the accumulator in one carry-save tree
        (:class:`~lowbit.hdl.mac.MacUnit`).

    Ports, latency and throughput: :class:`~lowbit.hdl.mac.MacUnit` with ``weight`` signed
    ``weight_bits`` wide.
    """

    def __init__(self, *, weight_bits=8, act_bits=8, acc_bits=32, overflow=Overflow.WRAP, pipeline=1,
                 fused=False):
        self.weight_bits = WEIGHT_BITS.check(weight_bits)
        self.act_bits = ACT_BITS.check(act_bits)
        w_lo, w_hi = signed_range(weight_bits)
        a_lo, a_hi = signed_range(act_bits)
        super().__init__(weight_shape=signed(weight_bits), act_bits=act_bits,
                         product_bits=signed_bits_for(min(w_lo * a_hi, w_hi * a_lo), w_lo * a_lo),
                         acc_bits=acc_bits, overflow=overflow, pipeline=pipeline, fused=fused)

    def product(self, m):
        return self.weight * self.act, 0

    def add_product(self, m, heap, weight, act, enable):
        add_booth_product(m, heap, weight, act, enable)


def add_booth_product(m, heap, weight, act, enable=None, shift=0):
    """Add ``enable ? weight x act : 0`` (both signed) times ``2**shift`` to ``heap`` as radix-4
    Booth partial products: digit ``d_i = -2 w[2i+1] + w[2i] + w[2i-1]`` (in -2..2) selects 0,
    ``act`` or ``2 act`` (``len(act) + 1`` bits), a negative digit takes its ones' complement
    and puts its +1 in the heap as one bit. ``ceil(len(weight) / 2)`` partial products; shared
    by the fused INT MAC and the INT dot product's lanes."""
    width, weight_bits = len(act) + 1, len(weight)
    bits = [Const(0, 1), *weight, weight[-1]]      # w[-1] = 0, and a sign bit for odd widths
    for i in range((weight_bits + 1) // 2):
        low, mid, high = bits[2 * i], bits[2 * i + 1], bits[2 * i + 2]
        one, two, negative = Signal(name=f"one{i}"), Signal(name=f"two{i}"), Signal(name=f"neg{i}")
        on = 1 if enable is None else enable
        m.d.comb += [
            one.eq(on & (mid ^ low)),
            two.eq(on & Mux(high, ~mid & ~low, mid & low)),
            negative.eq(on & high),
        ]
        partial = Signal(signed(width), name=f"booth{i}")
        m.d.comb += partial.eq(Mux(one, act, Mux(two, act << 1, 0)) ^ negative.replicate(width))
        heap.add_signed(partial, shift + 2 * i)
        heap.add_bit(negative, shift + 2 * i)   # -x = ~x + 1
