"""The frame every multiply-accumulate unit shares: ports, checks and the accumulator."""

from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.params import check_int

from .accumulator import Accumulator, check_accumulator

__all__ = ["MacUnit"]


class MacUnit(wiring.Component):
    """A weight x activation multiply-accumulate, one MAC per cycle.

    A subclass provides :meth:`product`, the datapath from ``weight`` and ``act`` to the
    product's magnitude and sign; this frame adds the pipeline stages and the shared
    :class:`~lowbit.hdl.accumulator.Accumulator` (which applies the sign on its carry-in).

    Attributes
    ----------
    weight : In(weight_shape)
    act : In(signed(act_bits))
    valid, clear : In(1)
        ``valid`` accumulates this cycle's product; ``clear`` drops the old sum (with
        ``valid``, the new sum starts with this product).
    acc : Out(signed(acc_bits))
        The running sum, ``latency = pipeline + 1`` cycles after the inputs.
    """

    def __init__(self, *, weight_shape, act_bits, product_bits, acc_bits, overflow, pipeline):
        check_int("pipeline", pipeline, 0, 2)
        self.product_bits = product_bits
        self._accumulator = check_accumulator(product_bits=product_bits, acc_bits=acc_bits,
                                              overflow=overflow, stages=pipeline)
        self.acc_bits, self.overflow, self.pipeline = acc_bits, overflow, pipeline
        super().__init__({
            "weight": In(weight_shape),
            "act": In(signed(act_bits)),
            "valid": In(1),
            "clear": In(1),
            "acc": Out(signed(acc_bits)),
        })

    @property
    def latency(self):
        return self.pipeline + 1

    def product(self, m):
        """Add the multiplier to ``m``; returns ``(magnitude, negative)`` of this cycle's
        product (``magnitude`` a signed value of at most ``product_bits``)."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        magnitude, negative = self.product(m)
        m.submodules.accumulator = acc = Accumulator(**self._accumulator)
        m.d.comb += [
            acc.product.eq(magnitude),
            acc.negate.eq(negative),
            acc.valid.eq(self.valid),
            acc.clear.eq(self.clear),
            self.acc.eq(acc.acc),
        ]
        return m
