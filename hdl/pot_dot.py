"""N-lane power-of-two weight dot product: shifts, no multipliers (SPEC.md "PoT")."""

from amaranth.hdl import Mux, Signal, signed, unsigned

from lowbit.core.unit_params import ACT_BITS, LANES
from lowbit.core.widths import signed_range, sum_bits

from .dot_product import LaneDotProduct
from .pot_code import PotCode

__all__ = ["PotDot"]


class PotDot(LaneDotProduct):
    """``lanes`` PoT x signed ``act_bits`` products summed by a pipelined adder tree.

    Each lane is a barrel shift ``a << (E - e)`` (zero for the zero code); a negative weight
    is applied as ``~x + 1``, with the ones' complement in the lane and the ``+1``s counted by
    a second, 1-bit-wide tree that runs in lockstep with the main one, so no lane needs its own
    negator and the count never sits in front of a register as a deep popcount. The sum
    carries ``f = 2^(bits-1) - 1`` fractional bits.

    With ``fused``, every lane's ones' complement term and its +1 go into one carry-save
    tree for the whole beat with one carry-propagate adder (``latency = 2``).

    Interface, latency and throughput: :class:`~lowbit.hdl.dot_product.LaneDotProduct`, with
    ``weights`` unsigned PoT codes and ``latency = 2 + ceil(log2(lanes))`` (fused: 2).
    """

    def __init__(self, *, lanes=8, bits=4, zero_code=True, act_bits=8, fused=False):
        self.code = PotCode(bits=bits, zero_code=zero_code)
        ACT_BITS.check(act_bits)
        LANES.check(lanes)
        a_lo, _ = signed_range(act_bits)
        largest = -a_lo << self.code.frac_bits
        super().__init__(lanes=lanes, act_bits=act_bits, weight_shape=unsigned(bits),
                         sum_bits=sum_bits(-largest, largest, lanes), term_lists=2, fused=fused)

    def lane_terms(self, m, weights, acts):
        terms, negated = [], []
        for k in range(self.lanes):
            negative, shift, is_zero = self.code.decode(m, weights[k])
            magnitude = Mux(is_zero, 0, acts[k] << shift)
            flip = negative & ~is_zero
            terms.append(magnitude ^ flip.replicate(len(magnitude)).as_signed())
            negated.append(flip)
        return [terms, negated]  # negated: the +1s of the two's complement negations

    def add_lane_products(self, m, heap, weights, acts):
        width = self.act_bits + self.code.frac_bits   # a x 2^shift and its ones' complement
        for k in range(self.lanes):
            negative, shift, is_zero = self.code.decode(m, weights[k])
            flip = Signal(name=f"flip{k}")
            term = Signal(signed(width), name=f"term{k}")
            m.d.comb += [flip.eq(negative & ~is_zero),
                         term.eq(Mux(is_zero, 0, acts[k] << shift) ^ flip.replicate(width))]
            heap.add_signed(term)
            heap.add_bit(flip)   # -x = ~x + 1
