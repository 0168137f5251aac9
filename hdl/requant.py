"""Requantization: an accumulator scaled by ``M / 2^s``, rounded half up and saturated
(docs/requant.md; golden model ``golden_models/requant.py``)."""

from amaranth.hdl import Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from lowbit.core.unit_params import REQUANT_LANES, requant_widths
from lowbit.core.widths import signed_range

from .component import Component
from .stream_pipeline import StallingPipeline

__all__ = ["SHIFT_BITS", "Requant"]

SHIFT_BITS = 6          # s in 0..63


class Requant(Component):
    """``lanes`` signed accumulators times one unsigned ``M``, shifted right by ``s`` with
    round half up, saturated to signed ``out_bits``:
    ``y = clamp(floor((acc M + 2^(s-1)) / 2^s))``, exact for every input (s = 0 gives ``acc M``).

    The beat's ``(M, s)`` is shared by its lanes: per tensor, or per output channel when a
    beat holds one channel's accumulators (several tokens); ``lanes = 1`` gives a pair per
    element. The rounding uses one barrel shift and one increment:
    ``floor((x + 2^(s-1)) / 2^s) = (floor(2x / 2^s) + 1) >> 1`` with ``x = acc M``, so no
    ``2^(s-1)`` constant is built from ``s``.

    Parameters
    ----------
    lanes : int
        Accumulators per beat, 1..64.
    acc_bits : int
        Signed accumulator width, 2..48.
    m_bits : int
        Unsigned multiplier width, 1..32, with ``acc_bits + m_bits <= 64``.
    out_bits : int
        Signed output width, 2..32, below ``acc_bits + m_bits``.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"acc": ArrayLayout(signed(acc_bits), lanes),
                                          "m": unsigned(m_bits), "s": unsigned(6)})))
    o : Out(stream.Signature(ArrayLayout(signed(out_bits), lanes)))
        The lanes' results, in order.

    Latency and throughput: one beat per cycle; a beat accepted at a clock edge leaves
    ``latency = 3`` edges later when ``o`` is not stalled (registers after the multiplier,
    after the shift, after the rounding and saturation). Back-pressure stalls the whole
    pipeline (:class:`~lowbit.hdl.stream_pipeline.StallingPipeline`).
    """

    latency = 3

    def __init__(self, *, lanes=1, acc_bits=32, m_bits=16, out_bits=8):
        self.lanes = REQUANT_LANES.check(lanes)
        self.acc_bits, self.m_bits, self.product_bits, self.out_bits = requant_widths(
            acc_bits, m_bits, out_bits)
        layout = data.StructLayout({
            "acc": data.ArrayLayout(signed(self.acc_bits), self.lanes),
            "m": unsigned(self.m_bits),
            "s": unsigned(SHIFT_BITS),
        })
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self.out_bits), self.lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        pipeline = StallingPipeline(m, self.i, self.o)
        lanes = range(self.lanes)
        payload = self.i.payload

        # Stage 1: acc x M, exact in acc_bits + m_bits signed bits (M is unsigned).
        m_signed = Signal(signed(self.m_bits + 1))
        m.d.comb += m_signed.eq(Cat(payload.m, Const(0, 1)).as_signed())
        products = []
        for k in lanes:
            product = Signal(signed(self.product_bits), name=f"product{k}")
            m.d.comb += product.eq(payload.acc[k] * m_signed)
            products.append(product)
        *products, s = pipeline.stage(*products, payload.s)

        # Stage 2: floor(2 x / 2^s), arithmetic: one more bit than the product for the doubling.
        halves = []
        for k in lanes:
            doubled = Signal(signed(self.product_bits + 1), name=f"doubled{k}")
            half = Signal(signed(self.product_bits + 1), name=f"half{k}")
            m.d.comb += [doubled.eq(products[k] << 1), half.eq(doubled >> s)]
            halves.append(half)
        halves = pipeline.stage(*halves)

        # Stage 3: + 1, halve (the round half up), saturate.
        lo, hi = signed_range(self.out_bits)
        results = []
        for k in lanes:
            incremented = Signal(signed(self.product_bits + 2), name=f"incremented{k}")
            rounded = Signal(signed(self.product_bits + 1), name=f"rounded{k}")
            above = Signal(name=f"above{k}")
            below = Signal(name=f"below{k}")
            result = Signal(signed(self.out_bits), name=f"result{k}")
            m.d.comb += [incremented.eq(halves[k] + 1),
                         rounded.eq(incremented >> 1),    # 2^P - 1 at most: fits P + 1 bits
                         above.eq(rounded > hi), below.eq(rounded < lo)]
            with m.If(above):
                m.d.comb += result.eq(hi)
            with m.Elif(below):
                m.d.comb += result.eq(lo)
            with m.Else():
                m.d.comb += result.eq(rounded)
            results.append(result)
        results = pipeline.stage(*results)
        assert pipeline.latency == self.latency
        pipeline.finish(Cat(*results))
        return m
