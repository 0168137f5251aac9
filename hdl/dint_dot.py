"""N-lane dINT4 weight x INT activation dot product (SPEC.md "dINT"), with a pipelined tree."""

from amaranth.hdl import Signal, signed, unsigned

from lowbit.core.params import check_choice, check_int
from lowbit.core.widths import signed_bits_for, signed_range, sum_bits

from .adder_tree import BitHeap
from .dint_mac import SPECIAL_VARIANTS, add_signed_product, decode, decode_table
from .dot_product import LaneDotProduct

__all__ = ["DintDot"]


def scaled_range(special, frac_bits):
    """The smallest and largest ``value x 2^f`` of the codebook (the special code counts 1)."""
    values = [(-1) ** neg * (1 if spec else mag << frac_bits)
              for neg, mag, spec in decode_table(special).values()]
    return min(values), max(values)


class DintDot(LaneDotProduct):
    """``lanes`` dINT4 x signed ``act_bits`` products summed by a pipelined adder tree.

    Each lane is the dINT MAC's multiplier without a multiplier: the code is decoded to sign,
    3-bit magnitude and special flag (:func:`~lowbit.hdl.dint_mac.decode`); three partial
    products of the ones' complement ``act ^ sign`` at shifts f, f+1, f+2 (the special code's
    unshifted activation in the lowest) and one +1 bit per negated partial product go into the
    lane's own carry-save tree with one carry-propagate adder
    (:func:`~lowbit.hdl.dint_mac.add_signed_product`, the fused MAC's piece), which gives the
    lane's exact signed product ``value(code) x 2^f x act``. The lanes' products are registered
    and summed by the shared pipelined tree. The sum carries f fractional bits.

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

    Interface, latency and throughput: :class:`~lowbit.hdl.dot_product.LaneDotProduct`, with
    ``weights`` the 4-bit dINT codes and ``latency = 1 + ceil(log2(lanes))``; one beat per cycle.
    """

    def __init__(self, *, lanes=8, special="half", frac_bits=1, act_bits=8):
        self.special = check_choice("special", special, SPECIAL_VARIANTS)
        self.frac_bits = check_int("frac_bits", frac_bits, 1, 2)
        check_int("act_bits", act_bits, 2, 16)
        check_int("lanes", lanes, 4, 64)
        w_lo, w_hi = scaled_range(special, frac_bits)
        a_lo, a_hi = signed_range(act_bits)
        corners = [w * a for w in (w_lo, w_hi) for a in (a_lo, a_hi)]
        self.product_bits = signed_bits_for(min(corners), max(corners))
        super().__init__(lanes=lanes, act_bits=act_bits, weight_shape=unsigned(4),
                         sum_bits=sum_bits(min(corners), max(corners), lanes))

    def lane_terms(self, m, weights, acts):
        terms = []
        for k in range(self.lanes):
            negative, magnitude, is_special = decode(m, weights[k], self.special)
            heap = BitHeap(self.product_bits)
            add_signed_product(m, heap, acts[k], negative, magnitude, is_special,
                               self.frac_bits)
            product = Signal(signed(self.product_bits), name=f"product{k}")
            m.d.comb += product.eq(heap.resolve(m, f"lane{k}"))
            terms.append(product)
        return [terms]
