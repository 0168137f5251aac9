# amaranth: UnusedElaboratable=no
# (the combinational harnesses call a unit's datapath hook without elaborating the unit)
"""Proofs of the dINT4 dot product and the fused carry-save forms (issue 15).

- ``dint_dot_lanes`` (complete): one lane of ``dint_dot`` (two radix-4 Booth partial products
  read off the code bits, the special code, the lane's carry-save tree and its one adder,
  :meth:`~lowbit.hdl.dot_product.LaneDotProduct.resolved_lane_products`) equals SPEC.md's
  codebook value x 2^f times the activation, for every code and every INT8 activation, in all
  four codebooks (half / pm_half, f = 1 / 2); INT16 activations under ``-m slow``.
- ``dint_dot_datapath`` (complete): the whole beat, 4 lanes x INT2 activations, every lane's
  product and the adder tree that sums them (without the pipeline registers), equals the exact
  dot product, in all four codebooks.
- ``dint_dot_fused_datapath`` (complete, ``-m slow``: 91 s for one codebook here): the fused
  form, every lane's partial products in one carry-save tree for the beat, its two rows added,
  4 lanes x INT2, all four codebooks. (A carry-save tree against a sum of products is a hard
  problem for the SMT solvers: one codebook at INT2 took 90 s with Yices.)
- ``dint_dot_stream`` (bounded): the fused stream keeps the stream rules and loses, duplicates
  or reorders no sum (tagged items).
- ``fused_mac_whole`` (bounded): the fused MACs (dINT4, PoT4 and INT4 Booth partial products in
  one carry-save tree with the accumulator) equal SPEC.md's accumulation over 8 cycles,
  saturation included.
"""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Signal, signed

from lowbit.core.modes import DintCodebook, Overflow
from lowbit.hdl.adder_tree import BitHeap
from lowbit.hdl.dint_dot import DintDot
from lowbit.hdl.dint_mac import DintMac
from lowbit.hdl.int_mac import IntMac
from lowbit.hdl.pot_mac import PotMac

from .codebooks import DINT_CODEBOOKS, dint_spec, pot_spec
from .dot import DotHarness, DotStream, dot_spec
from .harness import CaseHarness
from .mac import MacHarness
from .sby import Proof

__all__ = ["LaneProductHarness", "FusedDotHarness", "DINT_DOT_LANES", "DINT_DOT_LANES_A16",
           "DINT_DOT_DATAPATH", "DINT_DOT_FUSED_DATAPATH",
           "DINT_DOT_STREAM", "FUSED_MAC_WHOLE"]

class LaneProductHarness(CaseHarness):
    """One lane of a dot product (the unit's :meth:`resolved_lane_products` on a one-lane
    slice: its partial products, carry-save tree and adder) for any weight code and
    activation, against ``spec(m, weight, act)``."""

    def build_case(self, m, k, unit, spec):
        weight = Signal(unit.weight_shape, name=f"weight{k}")
        act = Signal(signed(unit.act_bits), name=f"act{k}")
        m.d.comb += [weight.eq(AnySeq(len(weight))), act.eq(AnySeq(signed(len(act))))]
        heap = BitHeap(unit.product_bits)
        unit.add_lane_product(m, heap, weight, act)
        product = Signal(signed(unit.product_bits), name=f"product{k}")
        m.d.comb += product.eq(heap.resolve(m, f"lane{k}"))
        m.d.comb += Assert(product == spec(m, weight, act),
                           f"unit {k}: lane product equals the specification")


class FusedDotHarness(DotHarness):
    """A dot product's fused datapath (every lane's partial products in one
    :class:`~lowbit.hdl.adder_tree.BitHeap`, :meth:`add_lane_products`; its carry-save rows
    added, without the pipeline registers) for any beat, against the exact dot product, as
    :class:`~.dot.DotHarness` checks the unfused one."""

    def datapath(self, m, k, unit, beat):
        heap = BitHeap(unit.sum_bits)
        unit.add_lane_products(m, heap, beat.weights, beat.acts)
        rows = heap.carry_save(m, f"dot{k}")
        return rows[0] + rows[1]


def _lanes(act_bits):
    return LaneProductHarness([(DintDot(lanes=4, special=s, frac_bits=f, act_bits=act_bits),
                                dint_spec(s, f)) for s, f in DINT_CODEBOOKS])


def _datapath(act_bits, fused=False):
    cases = [(DintDot(lanes=4, special=s, frac_bits=f, act_bits=act_bits, fused=fused),
              dot_spec(dint_spec(s, f))) for s, f in DINT_CODEBOOKS]
    return FusedDotHarness(cases) if fused else DotHarness(cases)


DINT_DOT_LANES = Proof(
    "dint_dot_lanes", "dINT4 dot-product lane x INT8, half and pm_half, f = 1 and 2: two Booth "
    "partial products from the code bits, carry-save tree, adder = codebook value x act",
    lambda: _lanes(8))
DINT_DOT_LANES_A16 = Proof(
    "dint_dot_lanes_a16", "as dint_dot_lanes, INT16 activations", lambda: _lanes(16), slow=True)
DINT_DOT_DATAPATH = Proof(
    "dint_dot_datapath", "dINT4 dot-product datapath, 4 lanes x INT2, half and pm_half, f = 1 "
    "and 2: lane products + adder tree = exact dot product", lambda: _datapath(2))
DINT_DOT_FUSED_DATAPATH = Proof(
    "dint_dot_fused_datapath", "dINT4 dot product, fused: every lane's partial products in one "
    "carry-save tree, 4 lanes x INT2, half and pm_half, f = 1 and 2 = exact dot product",
    lambda: _datapath(2, fused=True), slow=True, timeout=3600)
DINT_DOT_STREAM = Proof(
    "dint_dot_stream", "dINT4 dot product, 4 lanes x INT4 (fused, latency 2): stream rules, no "
    "loss, duplication or reordering (tagged items: code 1 = +1 x 2^f)",
    lambda: DotStream(DintDot(lanes=4, act_bits=4, fused=True), one=0b0001, zero=0b0000,
                      shift=1), depth=10)
FUSED_MAC_WHOLE = Proof(
    "fused_mac_whole", "fused MACs, one carry-save tree with the accumulator: dINT4 (pm_half, "
    "saturate, 2 stages), PoT4 (wrap, 1 stage), INT4 x INT4 Booth (saturate, 1 stage): acc = "
    "SPEC accumulation of the table products",
    lambda: MacHarness([
        (DintMac(special=DintCodebook.PM_HALF, frac_bits=1, acc_bits=13,
                 overflow=Overflow.SATURATE, pipeline=2, fused=True),
         dint_spec(DintCodebook.PM_HALF, 1)),
        (PotMac(bits=4, zero_code=True, acc_bits=17, overflow=Overflow.WRAP, pipeline=1,
                fused=True),
         pot_spec(4, True)),
        (IntMac(weight_bits=4, act_bits=4, acc_bits=9, overflow=Overflow.SATURATE, pipeline=1,
                fused=True), lambda m, w, a: w * a),
    ]), depth=8)
