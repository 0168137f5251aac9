"""Power-of-two weight x INT activation multiply-accumulate (SPEC.md "PoT")."""

from amaranth.hdl import Mux, Signal, signed, unsigned

from lowbit.core.modes import Overflow
from lowbit.core.unit_params import ACT_BITS
from lowbit.core.widths import signed_bits_for, signed_range

from .mac import MacUnit
from .pot_code import PotCode

__all__ = ["PotMac"]


class PotMac(MacUnit):
    """PoT ``bits``-bit weight x signed ``act_bits`` multiply-accumulate, one MAC per cycle.

    The product is the exact integer ``a x 2^(f-e)``, negated for a negative weight, with
    ``f = 2^(bits-1) - 1`` fractional bits (:class:`~lowbit.hdl.pot_code.PotCode`): a left
    shift of the activation by ``f - e`` (a barrel shifter, no multiplier) and the sign applied
    in the shared accumulator's carry-in.

    Parameters
    ----------
    bits : int
        PoT code width, 2..5 (sign + ``bits - 1`` exponent bits).
    zero_code : bool
        Whether the largest exponent index means 0.
    act_bits, acc_bits, overflow, pipeline, fused
        As in :class:`~lowbit.hdl.dint_mac.DintMac`; fused, the shifted activation's ones'
        complement and the +1 of a negative weight go into the accumulator's carry-save tree.

    Ports, latency and throughput: :class:`~lowbit.hdl.mac.MacUnit` with ``weight`` the
    ``bits``-bit PoT code and ``acc`` in units of 2^-f.
    """

    def __init__(self, *, bits=4, zero_code=True, act_bits=8, acc_bits=32, overflow=Overflow.WRAP,
                 pipeline=1, fused=False):
        self.code = PotCode(bits=bits, zero_code=zero_code)
        self.act_bits = ACT_BITS.check(act_bits)
        a_lo, _ = signed_range(act_bits)
        largest = -a_lo << self.code.frac_bits
        super().__init__(weight_shape=unsigned(bits), act_bits=act_bits,
                         product_bits=signed_bits_for(-largest, largest), acc_bits=acc_bits,
                         overflow=overflow, pipeline=pipeline, fused=fused)

    def product(self, m):
        negative, shift, is_zero = self.code.decode(m, self.weight)
        magnitude = Signal(signed(self.product_bits))
        m.d.comb += magnitude.eq(Mux(is_zero, 0, self.act << shift))
        return magnitude, negative

    def add_product(self, m, heap, weight, act, enable):
        negative, shift, is_zero = self.code.decode(m, weight)
        take, flip = Signal(), Signal()
        m.d.comb += [take.eq(enable & ~is_zero), flip.eq(take & negative)]
        term = Signal(signed(self.product_bits))
        m.d.comb += term.eq(Mux(take, act << shift, 0) ^ flip.replicate(self.product_bits))
        heap.add_signed(term)
        heap.add_bit(flip)   # -x = ~x + 1
