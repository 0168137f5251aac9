"""The stream frame shared by the weight dequantizers: (code, FP16 scale) in, FP16 out."""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from .component import Component

from .stream_pipeline import StallingPipeline

__all__ = ["Dequantizer"]


class Dequantizer(Component):
    """One weight per cycle: ``code`` and an FP16 ``scale`` in, the FP16 weight out.

    A subclass provides :meth:`weight`, the combinational datapath from the code and the
    scale's bits to the weight's bits; the frame registers it once.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"code": unsigned(code_bits), "scale": unsigned(16)})))
    o : Out(stream.Signature(unsigned(16)))
        binary16 bit patterns. Latency 1 cycle, throughput one weight per cycle; back-pressure
        stalls the unit (:class:`~lowbit.hdl.stream_pipeline.StallingPipeline`).
    """

    latency = 1

    def __init__(self, code_bits):
        layout = data.StructLayout({"code": unsigned(code_bits), "scale": unsigned(16)})
        super().__init__({"i": In(stream.Signature(layout)),
                          "o": Out(stream.Signature(unsigned(16)))})

    def weight(self, m, code, scale):
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        pipeline = StallingPipeline(m, self.i, self.o)
        weight = Signal(16)
        m.d.comb += weight.eq(self.weight(m, self.i.payload.code, self.i.payload.scale))
        registered, = pipeline.stage(weight)
        pipeline.finish(registered)
        return m
