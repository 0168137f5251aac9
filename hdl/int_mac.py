"""The baseline: a two's complement integer multiply-accumulate (INT8 x INT8 by default)."""

from amaranth.hdl import signed

from lowbit.core.params import check_int
from lowbit.core.widths import signed_bits_for, signed_range

from .mac import MacUnit

__all__ = ["IntMac"]


class IntMac(MacUnit):
    """Signed ``weight_bits`` x ``act_bits`` multiply-accumulate, one MAC per cycle.

    The product is the ``*`` operator, left to the synthesis tool's own multiplier mapping
    (LUT array, or a DSP block where the target allows it): this is the baseline every
    low-bit unit is measured against.

    Parameters
    ----------
    weight_bits, act_bits : int
        Operand widths, 2..16 (INT8 x INT8 by default).
    acc_bits : int
        Accumulator width, at least the product width, at most 64.
    overflow : "wrap" | "saturate"
    pipeline : int
        Register stages between the multiplier and the accumulator, 0..2.

    Ports, latency and throughput: :class:`~lowbit.hdl.mac.MacUnit` with ``weight`` signed
    ``weight_bits`` wide.
    """

    def __init__(self, *, weight_bits=8, act_bits=8, acc_bits=32, overflow="wrap", pipeline=1):
        self.weight_bits = check_int("weight_bits", weight_bits, 2, 16)
        self.act_bits = check_int("act_bits", act_bits, 2, 16)
        w_lo, w_hi = signed_range(weight_bits)
        a_lo, a_hi = signed_range(act_bits)
        super().__init__(weight_shape=signed(weight_bits), act_bits=act_bits,
                         product_bits=signed_bits_for(min(w_lo * a_hi, w_hi * a_lo), w_lo * a_lo),
                         acc_bits=acc_bits, overflow=overflow, pipeline=pipeline)

    def product(self, m):
        return self.weight * self.act, 0
