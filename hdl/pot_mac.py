"""Power-of-two weight x INT activation multiply-accumulate (SPEC.md "PoT")."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lowbit.params import check_int
from lowbit.widths import signed_bits_for, signed_range

from .accumulator import Accumulator, check_accumulator
from .pot_code import PotCode

__all__ = ["PotMac"]


class PotMac(wiring.Component):
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
    act_bits, acc_bits, overflow, pipeline
        As in :class:`~lowbit.hdl.dint_mac.DintMac`.

    Attributes
    ----------
    weight : In(bits)
        PoT code.
    act : In(signed(act_bits))
    valid, clear : In(1)
    acc : Out(signed(acc_bits))
        The running sum in units of 2^-f, ``latency = pipeline + 1`` cycles after the inputs.
    """

    def __init__(self, *, bits=4, zero_code=True, act_bits=8, acc_bits=32, overflow="wrap",
                 pipeline=1):
        self.code = PotCode(bits=bits, zero_code=zero_code)
        self.act_bits = check_int("act_bits", act_bits, 2, 16)
        a_lo, _ = signed_range(act_bits)
        largest = -a_lo << self.code.frac_bits
        self.product_bits = signed_bits_for(-largest, largest)
        check_int("pipeline", pipeline, 0, 2)
        self._accumulator = check_accumulator(product_bits=self.product_bits, acc_bits=acc_bits,
                                              overflow=overflow, stages=pipeline)
        self.acc_bits, self.overflow, self.pipeline = acc_bits, overflow, pipeline
        super().__init__({
            "weight": In(bits),
            "act": In(signed(act_bits)),
            "valid": In(1),
            "clear": In(1),
            "acc": Out(signed(acc_bits)),
        })

    @property
    def latency(self):
        return self.pipeline + 1

    def elaborate(self, platform):
        m = Module()
        negative, shift, is_zero = self.code.decode(m, self.weight)
        magnitude = Signal(signed(self.product_bits))
        m.d.comb += magnitude.eq(Mux(is_zero, 0, self.act << shift))

        m.submodules.accumulator = acc = Accumulator(**self._accumulator)
        m.d.comb += [
            acc.product.eq(magnitude),
            acc.negate.eq(negative),
            acc.valid.eq(self.valid),
            acc.clear.eq(self.clear),
            self.acc.eq(acc.acc),
        ]
        return m
