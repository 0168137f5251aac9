"""The baseline: a two's complement integer multiply-accumulate (INT8 x INT8 by default)."""

from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lowbit.params import check_int
from lowbit.widths import signed_bits_for, signed_range

from .accumulator import Accumulator, check_accumulator

__all__ = ["IntMac"]


class IntMac(wiring.Component):
    """Signed ``weight_bits`` x ``act_bits`` multiply-accumulate, one MAC per cycle.

    The product is the ``*`` operator, left to the synthesis tool's own multiplier mapping
    (LUT array, or a DSP block where the target allows it): this is the baseline every
    low-bit unit is measured against.

    Parameters
    ----------
    weight_bits, act_bits : int
        Operand widths, 2..16 (INT8 x INT8 by default).
    acc_bits : int
        Accumulator width, at least the product width, at most 64.
    overflow : "wrap" | "saturate"
    pipeline : int
        Register stages between the multiplier and the accumulator, 0..2.

    Attributes
    ----------
    weight : In(signed(weight_bits))
    act : In(signed(act_bits))
    valid, clear : In(1)
        ``valid`` accumulates this cycle's product; ``clear`` drops the old sum (with
        ``valid``, the new sum starts with this product).
    acc : Out(signed(acc_bits))
        The running sum, ``latency = pipeline + 1`` cycles after the inputs.
    """

    def __init__(self, *, weight_bits=8, act_bits=8, acc_bits=32, overflow="wrap", pipeline=1):
        self.weight_bits = check_int("weight_bits", weight_bits, 2, 16)
        self.act_bits = check_int("act_bits", act_bits, 2, 16)
        w_lo, w_hi = signed_range(weight_bits)
        a_lo, a_hi = signed_range(act_bits)
        self.product_bits = signed_bits_for(min(w_lo * a_hi, w_hi * a_lo), w_lo * a_lo)
        check_int("pipeline", pipeline, 0, 2)
        self._accumulator = check_accumulator(product_bits=self.product_bits, acc_bits=acc_bits,
                                              overflow=overflow, stages=pipeline)
        self.acc_bits, self.overflow, self.pipeline = acc_bits, overflow, pipeline
        super().__init__({
            "weight": In(signed(weight_bits)),
            "act": In(signed(act_bits)),
            "valid": In(1),
            "clear": In(1),
            "acc": Out(signed(acc_bits)),
        })

    @property
    def latency(self):
        return self.pipeline + 1

    def elaborate(self, platform):
        m = Module()
        m.submodules.accumulator = acc = Accumulator(**self._accumulator)
        m.d.comb += [
            acc.product.eq(self.weight * self.act),
            acc.negate.eq(0),
            acc.valid.eq(self.valid),
            acc.clear.eq(self.clear),
            self.acc.eq(acc.acc),
        ]
        return m
