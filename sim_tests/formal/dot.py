# amaranth: UnusedElaboratable=no
# (the combinational harnesses call a unit's datapath hook without elaborating the unit)
"""Proofs of the N-lane dot products (pot_dot and the INT baseline): the datapath (lane terms
and adder trees, without their registers) equals the exact dot product for any beat
(complete); and each unit's stream keeps the stream rules and loses, duplicates or reorders
no sum (bounded, tagged items)."""

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Array, Assert, Assume, Cat, Mux, Signal, Value, signed

from lowbit.hdl.adder_tree import adder_tree, adder_trees
from lowbit.hdl.int_dot import IntDot
from lowbit.hdl.pot_dot import PotDot

from .codebooks import case_table, pot_table
from .harness import CaseHarness, PipelineStream
from .sby import Proof

__all__ = ["dot_spec", "DotHarness", "DotStream", "DOT_DATAPATH", "POT_DOT_STREAM", "INT_DOT_STREAM"]


def dot_spec(decode):
    """The exact dot product of a beat: sum over lanes of ``decode(weight) x act``."""
    def spec(m, payload):
        terms = [decode(m, w, a) for w, a in zip(payload.weights, payload.acts)]
        total = Signal(signed(max(len(t) for t in terms) + len(terms)), name="spec_dot")
        m.d.comb += total.eq(sum(terms))
        return total
    return spec


def _pot_dot_spec(bits, zero_code):
    table = pot_table(bits, zero_code)
    return dot_spec(lambda m, w, a: case_table(m, w, table, a, len(a) + (1 << bits)))


class DotHarness(CaseHarness):
    """A dot product's datapath (:meth:`datapath`: the unit's ``lane_terms`` and the adder
    trees it sums them with, here without their pipeline registers) for any beat, against the
    exact sum of the specification's lane products, in the unit's ``sum_bits`` (which must
    hold it). ``cases``: ``[(unit, spec)]``, ``spec(m, beat)`` as :func:`dot_spec` makes it."""

    def build_case(self, m, k, unit, spec):
        beat = Signal(unit.i.payload.shape(), name=f"beat{k}")
        m.d.comb += Value.cast(beat).eq(AnySeq(len(Value.cast(beat))))
        total = Signal(signed(unit.sum_bits), name=f"sum{k}")
        m.d.comb += total.eq(self.datapath(m, k, unit, beat))
        m.d.comb += Assert(total == spec(m, beat), f"unit {k}: sum equals the specification")

    def datapath(self, m, k, unit, beat):
        """The unit's sum of ``beat``, without its registers."""
        return adder_tree(adder_trees(unit.lane_terms(m, beat.weights, beat.acts)))


class DotStream(PipelineStream):
    """A dot product's stream, tagged: one lane (``lane``, a free constant: the solver picks
    it) carries the weight ``one`` (the code of +1 x 2^``shift`` by SPEC.md), every other lane
    the weight ``zero``; the output is then that lane's activation shifted by ``shift``."""

    def __init__(self, unit, *, one, zero, shift):
        super().__init__(unit)
        self.one, self.zero, self.shift = one, zero, shift

    def assume_input(self, m):
        self.lane = Signal(range(self.unit.lanes), name="tag_lane")
        m.d.comb += self.lane.eq(AnyConst(len(self.lane)))
        weights = self.unit.i.payload.weights
        m.d.comb += Assume(~self.unit.i.valid |
                           Cat(Value.cast(w) == Mux(self.lane == k, self.one, self.zero)
                               for k, w in enumerate(weights)).all(), "one tagged lane")

    def tag(self, m, payload):
        acts = Array(payload.acts)
        return (acts[self.lane] << self.shift).as_signed()


DOT_DATAPATH = Proof(
    "dot_datapath", "dot-product datapaths, 4 lanes: PoT3 x INT4 (ones' complement "
    "lanes + carry count) and INT4 x INT4: sum = exact dot product",
    lambda: DotHarness([(PotDot(lanes=4, bits=3, act_bits=4), _pot_dot_spec(3, True)),
                        (IntDot(lanes=4, weight_bits=4, act_bits=4),
                         dot_spec(lambda m, w, a: w * a))]))
POT_DOT_STREAM = Proof(
    "pot_dot_stream", "PoT dot product, 4 lanes, PoT3 x INT4: stream rules, no loss, "
    "duplication or reordering (tagged items)",
    lambda: DotStream(PotDot(lanes=4, bits=3, act_bits=4), one=0b000, zero=0b011, shift=3),
    depth=12)
INT_DOT_STREAM = Proof(
    "int_dot_stream", "INT dot product (the baseline), 4 lanes, INT4 x INT4: as above",
    lambda: DotStream(IntDot(lanes=4, weight_bits=4, act_bits=4), one=1, zero=0, shift=0),
    depth=12)
