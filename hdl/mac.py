"""The frame every multiply-accumulate unit shares: ports, checks and the accumulator."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.unit_params import FUSED, PIPELINE
from .component import Component

from .accumulator import Accumulator, check_accumulator, register_sum
from .adder_tree import BitHeap

__all__ = ["MacUnit"]


class MacUnit(Component):
    """A weight x activation multiply-accumulate, one MAC per cycle, in one of two forms.

    ``fused=False``: a subclass's :meth:`product` (the datapath from ``weight`` and ``act`` to
    the product's magnitude and sign) feeds ``pipeline`` register stages and then the shared
    :class:`~lowbit.hdl.accumulator.Accumulator` (which applies the sign on its carry-in): the
    multiplier resolves its partial products with its own adders, the accumulator adds the
    product with another.

    ``fused=True``: ``weight``, ``act``, ``valid`` and ``clear`` go through the ``pipeline``
    register stages first; then a subclass's :meth:`add_product` puts the product's signed
    partial products (gated by ``valid``) into one :class:`~lowbit.hdl.adder_tree.BitHeap`
    together with ``clear ? 0 : acc``, and the heap's carry-save tree and its single
    carry-propagate adder give the new sum, ``acc_bits + 1`` wide. The accumulator register
    always holds the resolved sum, so saturation (and every read) sees it: overflow is the
    top two bits of that adder's output differing, as in the separate form. Same ports, same
    latency, same results.

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

    def __init__(self, *, weight_shape, act_bits, product_bits, acc_bits, overflow, pipeline,
                 fused=False):
        pipeline = PIPELINE.check(pipeline)
        self.fused = FUSED.check(fused)
        self.product_bits = product_bits
        self._accumulator = check_accumulator(product_bits=product_bits, acc_bits=acc_bits,
                                              overflow=overflow, stages=pipeline)
        self.acc_bits, self.overflow = self._accumulator["acc_bits"], self._accumulator["overflow"]
        self.pipeline = pipeline
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

    def add_product(self, m, heap, weight, act, enable):
        """Add ``enable ? weight x act : 0`` (the exact signed product, in the accumulator's
        units) to ``heap`` as partial products, for the fused form."""
        raise NotImplementedError

    def elaborate(self, platform):
        if self.fused:
            return self._elaborate_fused()
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

    def _elaborate_fused(self):
        m = Module()
        inputs = (self.weight, self.act, self.valid, self.clear)
        for stage in range(self.pipeline):
            registered = tuple(Signal.like(value, name=f"{value.name}_s{stage}")
                               for value in inputs)
            m.d.sync += [r.eq(v) for r, v in zip(registered, inputs)]
            inputs = registered
        weight, act, valid, clear = inputs
        base = Signal(signed(self.acc_bits))
        m.d.comb += base.eq(Mux(clear, 0, self.acc))
        heap = BitHeap(self.acc_bits + 1)   # the overflow check needs one bit more
        heap.add_signed(base)
        self.add_product(m, heap, weight, act, valid)
        register_sum(m, self.acc, heap.resolve(m, "mac"), self.overflow)
        return m
