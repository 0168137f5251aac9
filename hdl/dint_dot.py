"""N-lane dINT4 weight x INT activation dot product (SPEC.md "dINT"), with a pipelined tree."""

from amaranth.hdl import unsigned

from lowbit.core.modes import DintCodebook
from lowbit.core.unit_params import ACT_BITS, DINT_FRAC_BITS, DINT_SPECIAL, LANES
from lowbit.core.widths import signed_bits_for, signed_range, sum_bits

from .dint_mac import add_signed_product, decode_table
from .dot_product import LaneDotProduct

__all__ = ["DintDot"]


def scaled_range(special, frac_bits):
    """The smallest and largest ``value x 2^f`` of the codebook (the special code counts 1)."""
    values = [(-1) ** neg * (1 if spec else mag << frac_bits)
              for neg, mag, spec in decode_table(special).values()]
    return min(values), max(values)


class DintDot(LaneDotProduct):
    """``lanes`` dINT4 x signed ``act_bits`` products summed, streams in and out.

    Each lane is the fused dINT MAC's multiplier (:func:`~lowbit.hdl.dint_mac.add_signed_product`):
    the integer codes are 4-bit two's complement, so two radix-4 Booth digits straight from the
    code bits select 0, +-act or +-2 act at shifts f and f + 2 (a special code puts +-act
    unshifted in the low one instead), each with its +1 bit; no multiplier, no negator. By
    default each lane's two partial products go into the lane's own carry-save tree with one
    carry-propagate adder, and the registered lane products are summed by the shared pipelined
    tree. With ``fused``, every lane's partial products go into one carry-save tree for the
    whole beat instead: its two rows are registered and one carry-propagate adder gives the
    registered sum (:class:`~lowbit.hdl.dot_product.LaneDotProduct`'s fused form). The sum
    carries f fractional bits.

    Parameters
    ----------
    lanes : int
        Products per beat, 4..64.
    special : "half" | "pm_half"
        Codebook (:func:`~lowbit.hdl.dint_mac.decode_table`, docs/dint.md).
    frac_bits : int
        f, 1 or 2: the special magnitude is 2^-f.
    act_bits : int
        Activation width, 2..16.
    fused : bool
        One carry-save tree for the whole beat (``latency = 2``) instead of one per lane and
        the adder tree.

    Interface, latency and throughput: :class:`~lowbit.hdl.dot_product.LaneDotProduct`, with
    ``weights`` the 4-bit dINT codes and ``latency = 1 + ceil(log2(lanes))`` (fused: 2); one
    beat per cycle.
    """

    def __init__(self, *, lanes=8, special=DintCodebook.HALF, frac_bits=1, act_bits=8, fused=False):
        self.special = DINT_SPECIAL.check(special)
        self.frac_bits = DINT_FRAC_BITS.check(frac_bits)
        ACT_BITS.check(act_bits)
        LANES.check(lanes)
        w_lo, w_hi = scaled_range(special, frac_bits)
        a_lo, a_hi = signed_range(act_bits)
        corners = [w * a for w in (w_lo, w_hi) for a in (a_lo, a_hi)]
        self.product_bits = signed_bits_for(min(corners), max(corners))
        super().__init__(lanes=lanes, act_bits=act_bits, weight_shape=unsigned(4),
                         sum_bits=sum_bits(min(corners), max(corners), lanes), fused=fused)

    def add_lane_product(self, m, heap, weight, act):
        add_signed_product(m, heap, weight, act, self.special, self.frac_bits)
