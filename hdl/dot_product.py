"""The N-lane dot-product unit frame shared by the PoT and integer dot products."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.params import check_choice, check_int
from .component import Component

from .adder_tree import BitHeap, adder_tree, adder_trees, tree_levels
from .stream_pipeline import StallingPipeline

__all__ = ["LaneDotProduct"]


class LaneDotProduct(Component):
    """``lanes`` weight x activation products summed by a pipelined adder tree, as streams.

    A subclass passes ``weight_shape``, ``sum_bits`` and ``term_lists`` (how many lists of terms
    it sums: the lane products, plus e.g. a list of correction bits) to ``__init__`` and
    provides :meth:`lane_terms`, which turns one beat's weights and activations into those
    lists, one entry per lane in each. The lists are reduced in lockstep (the same pipeline
    stages) and their sums added in one final stage.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"weights": ArrayLayout(weight_shape, lanes),
                                          "acts": ArrayLayout(signed(act_bits), lanes)})))
        One beat per cycle at most.
    o : Out(stream.Signature(signed(sum_bits)))
        The exact dot product of each beat, in order.

    Latency and throughput: one beat per cycle; a beat accepted at a clock edge leaves
    ``latency = 1 + ceil(log2(lanes)) + ceil(log2(term_lists))`` edges later when ``o`` is not
    stalled (one register stage for the lane terms, one per tree level, one to join the lists).
    Back-pressure on ``o`` stalls the whole pipeline
    (:class:`~lowbit.hdl.stream_pipeline.StallingPipeline`).

    Fused form (``fused=True``): a subclass's :meth:`add_lane_products` puts every lane's
    partial products into one :class:`~lowbit.hdl.adder_tree.BitHeap` for the whole beat; its
    carry-save tree reduces them to two rows, which are registered (the pipeline cut: two
    ``sum_bits`` rows instead of every lane's product and every tree level), and one
    carry-propagate adder adds them into the registered output: ``latency = 2``.
    """

    def __init__(self, *, lanes, act_bits, weight_shape, sum_bits, term_lists=1, fused=False):
        self.lanes = check_int("lanes", lanes, 4, 64)
        self.act_bits = check_int("act_bits", act_bits, 2, 16)
        self.fused = check_choice("fused", fused, (False, True))
        self.sum_bits = sum_bits
        self.latency = 2 if fused else 1 + tree_levels(lanes) + tree_levels(term_lists)
        layout = data.StructLayout({
            "weights": data.ArrayLayout(weight_shape, lanes),
            "acts": data.ArrayLayout(signed(act_bits), lanes),
        })
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(signed(sum_bits))),
        })

    def lane_terms(self, m, weights, acts):
        raise NotImplementedError

    def add_lane_products(self, m, heap, weights, acts):
        """Add every lane's exact product to ``heap`` as partial products (fused form)."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        pipeline = StallingPipeline(m, self.i, self.o)
        if self.fused:
            heap = BitHeap(self.sum_bits)
            self.add_lane_products(m, heap, self.i.payload.weights, self.i.payload.acts)
            rows = pipeline.stage(*heap.carry_save(m, "dot"))
            total = Signal(self.sum_bits, name="dot_sum")
            m.d.comb += total.eq(rows[0] + rows[1])
            (registered,) = pipeline.stage(total)
            assert pipeline.latency == self.latency
            pipeline.finish(registered.as_signed())
            return m
        lists = self.lane_terms(m, self.i.payload.weights, self.i.payload.acts)
        registered = pipeline.stage(*(term for terms in lists for term in terms))
        lists = [registered[k * self.lanes:(k + 1) * self.lanes] for k in range(len(lists))]
        total = adder_tree(adder_trees(lists, stage=pipeline.stage), stage=pipeline.stage)
        assert pipeline.latency == self.latency
        result = Signal(signed(self.sum_bits))
        m.d.comb += result.eq(total)  # exact: sum_bits holds every possible sum
        pipeline.finish(result)
        return m
