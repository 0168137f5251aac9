"""The N-lane dot-product unit frame shared by the PoT and integer dot products."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.unit_params import ACT_BITS, DOT_FUSED, LANES
from .component import Component

from .adder_tree import BitHeap, adder_tree, adder_trees, tree_levels
from .stream_pipeline import StallingPipeline

__all__ = ["LaneDotProduct"]


class LaneDotProduct(Component):
    """``lanes`` weight x activation products summed by a pipelined adder tree, as streams.

    A subclass passes ``weight_shape``, ``sum_bits`` and ``term_lists`` (how many lists of terms
    it sums: the lane products, plus e.g. a list of correction bits) to ``__init__`` and
    provides either :meth:`add_lane_product` (one lane's product as partial products in a
    :class:`~lowbit.hdl.adder_tree.BitHeap`: the frame then resolves one heap per lane,
    :meth:`resolved_lane_products`, and puts every lane's into the fused form's one heap) or
    :meth:`lane_terms` and :meth:`add_lane_products` themselves. :meth:`lane_terms` turns one
    beat's weights and activations into those lists, one entry per lane in each. The lists are
    reduced in lockstep (the same pipeline stages) and their sums added in one final stage.

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
        self.lanes = LANES.check(lanes)
        self.act_bits = ACT_BITS.check(act_bits)
        self.fused = DOT_FUSED.check(fused)
        self.sum_bits, self.weight_shape = sum_bits, weight_shape
        self.latency = 2 if fused else 1 + tree_levels(lanes) + tree_levels(term_lists)
        layout = data.StructLayout({
            "weights": data.ArrayLayout(weight_shape, lanes),
            "acts": data.ArrayLayout(signed(act_bits), lanes),
        })
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(signed(sum_bits))),
        })

    def add_lane_product(self, m, heap, weight, act):
        """Add one lane's exact product ``weight x act`` to ``heap`` as partial products."""
        raise NotImplementedError

    def resolved_lane_products(self, m, weights, acts, add_product=None):
        """Every lane's product from a :class:`~lowbit.hdl.adder_tree.BitHeap` of its own: the
        lane's partial products (``add_product(m, heap, weight, act)``, by default
        :meth:`add_lane_product`) reduced by the lane's carry-save tree and resolved by its one
        carry-propagate adder. Returns the signed ``product<k>`` Signals, ``self.product_bits``
        wide (the subclass sets it: the widest exact lane product), lane by lane."""
        add_product = self.add_lane_product if add_product is None else add_product
        products = []
        for k in range(self.lanes):
            heap = BitHeap(self.product_bits)
            add_product(m, heap, weights[k], acts[k])
            product = Signal(signed(self.product_bits), name=f"product{k}")
            m.d.comb += product.eq(heap.resolve(m, f"lane{k}"))
            products.append(product)
        return products

    def lane_terms(self, m, weights, acts):
        """The lists of terms to sum, each with one entry per lane; by default one list, the
        lanes' products (:meth:`resolved_lane_products`)."""
        return [self.resolved_lane_products(m, weights, acts)]

    def add_lane_products(self, m, heap, weights, acts):
        """Add every lane's exact product to ``heap`` as partial products (fused form); by
        default :meth:`add_lane_product` lane by lane."""
        for k in range(self.lanes):
            self.add_lane_product(m, heap, weights[k], acts[k])

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
