"""The baseline N-lane integer dot product (INT4 x INT8 lanes by default)."""

from amaranth.hdl import signed

from lowbit.core.params import check_int
from lowbit.core.widths import signed_range, sum_bits

from .dot_product import LaneDotProduct

__all__ = ["IntDot"]


class IntDot(LaneDotProduct):
    """``lanes`` signed ``weight_bits`` x ``act_bits`` products (the ``*`` operator) summed.

    Interface, latency and throughput: :class:`~lowbit.hdl.dot_product.LaneDotProduct`, with
    ``weights`` signed and ``latency = 1 + ceil(log2(lanes))``.
    """

    def __init__(self, *, lanes=8, weight_bits=4, act_bits=8):
        self.weight_bits = check_int("weight_bits", weight_bits, 2, 16)
        check_int("act_bits", act_bits, 2, 16)
        (w_lo, w_hi), (a_lo, a_hi) = signed_range(weight_bits), signed_range(act_bits)
        check_int("lanes", lanes, 4, 64)
        super().__init__(lanes=lanes, act_bits=act_bits, weight_shape=signed(weight_bits),
                         sum_bits=sum_bits(min(w_lo * a_hi, w_hi * a_lo), w_lo * a_lo, lanes))

    def lane_terms(self, m, weights, acts):
        return [[weights[k] * acts[k] for k in range(self.lanes)]]
