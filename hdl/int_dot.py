"""The baseline N-lane integer dot product (INT4 x INT8 lanes by default)."""

from amaranth.hdl import signed

from lowbit.core.unit_params import ACT_BITS, BOOTH, LANES, WEIGHT_BITS
from lowbit.core.widths import signed_bits_for, signed_range, sum_bits

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
        self.booth = BOOTH.check(booth)
        self.weight_bits = WEIGHT_BITS.check(weight_bits)
        ACT_BITS.check(act_bits)
        (w_lo, w_hi), (a_lo, a_hi) = signed_range(weight_bits), signed_range(act_bits)
        LANES.check(lanes)
        self.product_bits = signed_bits_for(min(w_lo * a_hi, w_hi * a_lo), w_lo * a_lo)
        super().__init__(lanes=lanes, act_bits=act_bits, weight_shape=signed(weight_bits),
                         sum_bits=sum_bits(min(w_lo * a_hi, w_hi * a_lo), w_lo * a_lo, lanes),
                         fused=fused)

    def lane_terms(self, m, weights, acts):
        if not self.booth:
            return [[weights[k] * acts[k] for k in range(self.lanes)]]
        return super().lane_terms(m, weights, acts)

    def add_lane_product(self, m, heap, weight, act):
        add_booth_product(m, heap, weight, act)
