"""The baseline N-lane integer dot product (INT4 x INT8 lanes by default)."""

from amaranth.hdl import Signal, signed

from lowbit.core.params import check_choice, check_int
from lowbit.core.widths import signed_bits_for, signed_range, sum_bits

from .adder_tree import BitHeap
from .dot_product import LaneDotProduct
from .int_mac import add_booth_product

__all__ = ["IntDot"]


class IntDot(LaneDotProduct):
    """``lanes`` signed ``weight_bits`` x ``act_bits`` products summed.

    Each lane's product is the ``*`` operator (left to the synthesis tool's multiplier
    mapping) or, with ``booth``, the lane's radix-4 Booth partial products in its own
    carry-save tree with one carry-propagate adder (the counterpart of ``dint_dot``'s lanes);
    with ``fused``, every lane's radix-4 Booth partial products
    (:func:`~lowbit.hdl.int_mac.add_booth_product`, the fused INT MAC's piece) go into one
    carry-save tree for the whole beat with one carry-propagate adder
    (:class:`~lowbit.hdl.dot_product.LaneDotProduct`'s fused form, ``latency = 2``). The flow
    builds both and keeps the smaller.

    Interface, latency and throughput: :class:`~lowbit.hdl.dot_product.LaneDotProduct`, with
    ``weights`` signed and ``latency = 1 + ceil(log2(lanes))``.
    """

    def __init__(self, *, lanes=8, weight_bits=4, act_bits=8, fused=False, booth=False):
        self.booth = check_choice("booth", booth, (False, True))
        self.weight_bits = check_int("weight_bits", weight_bits, 2, 16)
        check_int("act_bits", act_bits, 2, 16)
        (w_lo, w_hi), (a_lo, a_hi) = signed_range(weight_bits), signed_range(act_bits)
        check_int("lanes", lanes, 4, 64)
        self.product_bits = signed_bits_for(min(w_lo * a_hi, w_hi * a_lo), w_lo * a_lo)
        super().__init__(lanes=lanes, act_bits=act_bits, weight_shape=signed(weight_bits),
                         sum_bits=sum_bits(min(w_lo * a_hi, w_hi * a_lo), w_lo * a_lo, lanes),
                         fused=fused)

    def lane_terms(self, m, weights, acts):
        if not self.booth:
            return [[weights[k] * acts[k] for k in range(self.lanes)]]
        terms = []
        for k in range(self.lanes):
            heap = BitHeap(self.product_bits)
            add_booth_product(m, heap, weights[k], acts[k])
            product = Signal(signed(self.product_bits), name=f"product{k}")
            m.d.comb += product.eq(heap.resolve(m, f"lane{k}"))
            terms.append(product)
        return [terms]

    def add_lane_products(self, m, heap, weights, acts):
        for k in range(self.lanes):
            add_booth_product(m, heap, weights[k], acts[k])
