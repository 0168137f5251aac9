"""The accumulate stage shared by every multiply-accumulate unit."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.modes import Overflow
from lowbit.core.params import check_int
from lowbit.core.unit_params import ACC_BITS, OVERFLOW
from lowbit.core.widths import signed_range
from .component import Component

__all__ = ["check_accumulator", "register_sum", "Accumulator"]


def check_accumulator(*, product_bits, acc_bits, overflow, stages):
    """Validate an accumulator configuration; shared by the units that build one."""
    check_int("product_bits", product_bits, 2, 64)
    acc_bits = ACC_BITS.check(acc_bits, lo=product_bits, why=f"a product needs {product_bits} bits")
    overflow = OVERFLOW.check(overflow)
    check_int("stages", stages, 0, 4)
    return dict(product_bits=product_bits, acc_bits=acc_bits, overflow=overflow, stages=stages)


def register_sum(m, acc, total, overflow):
    """``acc <= total`` at the clock, wrapped or saturated to ``acc``'s signed width.

    ``total`` is the resolved sum, one bit wider than ``acc``: its top two bits differ exactly
    on overflow, which is all saturation needs to know."""
    if overflow == Overflow.WRAP:
        m.d.sync += acc.eq(total)  # truncation is the wrap-around
    else:
        lo, hi = signed_range(len(acc))
        overflowed = total[-1] != total[-2]
        with m.If(overflowed):
            m.d.sync += acc.eq(Mux(total[-1], lo, hi))
        with m.Else():
            m.d.sync += acc.eq(total)


class Accumulator(Component):
    """Signed accumulator with optional negation of the addend and pipeline stages in front.

    Every cycle the accumulator takes ``acc <= overflow((clear ? 0 : acc) + addend)`` where
    ``addend = valid ? (negate ? -product : product) : 0``; ``overflow`` is two's complement
    wrap-around or saturation to the signed ``acc_bits`` range. ``clear`` acts whether or not
    ``valid`` is high, so ``clear & valid`` starts a new sum with this product, without a bubble.

    The negation is folded into the adder as ``acc + (product ^ -negate) + negate``, so a
    sign-magnitude multiplier in front (dINT, PoT) needs no negator of its own.

    Parameters
    ----------
    product_bits : int
        Width of the signed ``product`` input, 2..64.
    acc_bits : int
        Width of the signed accumulator, ``product_bits``..64.
    overflow : "wrap" | "saturate"
    stages : int
        Register stages between the inputs and the accumulate step, 0..4.

    Attributes
    ----------
    product : In(signed(product_bits))
    negate, valid, clear : In(1)
    acc : Out(signed(acc_bits))
        Registered; reflects an input ``latency = stages + 1`` cycles after it was presented.
    """

    def __init__(self, *, product_bits, acc_bits, overflow=Overflow.WRAP, stages=0):
        check_accumulator(product_bits=product_bits, acc_bits=acc_bits, overflow=overflow,
                          stages=stages)
        self.product_bits, self.acc_bits = product_bits, acc_bits
        self.overflow, self.stages = overflow, stages
        super().__init__({
            "product": In(signed(product_bits)),
            "negate": In(1),
            "valid": In(1),
            "clear": In(1),
            "acc": Out(signed(acc_bits)),
        })

    @property
    def latency(self):
        return self.stages + 1

    def elaborate(self, platform):
        m = Module()

        product, negate, valid, clear = self.product, self.negate, self.valid, self.clear
        for stage in range(self.stages):
            registered = (Signal.like(product, name=f"product_s{stage}"),
                          Signal(name=f"negate_s{stage}"),
                          Signal(name=f"valid_s{stage}"),
                          Signal(name=f"clear_s{stage}"))
            m.d.sync += [r.eq(v) for r, v in zip(registered, (product, negate, valid, clear))]
            product, negate, valid, clear = registered

        base = Mux(clear, 0, self.acc)
        ones_if_negate = negate.replicate(self.product_bits).as_signed()
        addend = Mux(valid, product ^ ones_if_negate, 0)
        carry_in = valid & negate
        # One bit wider than the accumulator: its top two bits differ exactly on overflow.
        total = Signal(signed(self.acc_bits + 1))
        m.d.comb += total.eq(base + addend + carry_in)
        register_sum(m, self.acc, total, self.overflow)
        return m
