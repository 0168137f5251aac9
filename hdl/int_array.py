"""The baseline matrix unit: a rows x cols array of INT8 x INT8 MACs (hdl/int_mac.py)."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.unit_params import ARRAY_ACC_BITS, COLS, ROWS
from .component import Component

from .int_mac import IntMac

__all__ = ["IntArray"]


class IntArray(Component):
    """``O = W @ A`` on ``rows`` x ``cols`` :class:`~lowbit.hdl.int_mac.IntMac` cells.

    Each input beat is one k of a job: column ``W[:, k]`` (``rows`` INT8 codes) and row
    ``A[k, :]`` (``cols`` INT8 codes), ``last`` on the job's final k; cell (r, c) accumulates
    ``W[r, k] * A[k, c]``, one k per cycle, so a job of K columns takes K cycles whatever its
    precision. The MACs' accumulators hold the finished result until ``o`` takes it; the array
    takes no beat meanwhile, so consecutive jobs are separated by ``latency`` idle cycles.

    Parameters
    ----------
    rows, cols : int
        Array size, 1..16 each.
    acc_bits : int
        Accumulator width, 16..64.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"w": ArrayLayout(signed(8), rows),
                                          "a": ArrayLayout(signed(8), cols), "last": 1})))
    o : Out(stream.Signature(ArrayLayout(ArrayLayout(signed(acc_bits), cols), rows)))
        One result per job, ``latency`` cycles after its last beat is taken.
    """

    def __init__(self, *, rows=ROWS.default, cols=COLS.default, acc_bits=ARRAY_ACC_BITS.default):
        self.rows = ROWS.check(rows)
        self.cols = COLS.check(cols)
        self.acc_bits = ARRAY_ACC_BITS.check(acc_bits)
        self._mac = dict(weight_bits=8, act_bits=8, acc_bits=acc_bits, pipeline=1)
        layout = data.StructLayout({"w": data.ArrayLayout(signed(8), rows),
                                    "a": data.ArrayLayout(signed(8), cols), "last": 1})
        result = data.ArrayLayout(data.ArrayLayout(signed(acc_bits), cols), rows)
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(result))})

    @property
    def latency(self):
        return self._mac["pipeline"] + 1

    def elaborate(self, platform):
        m = Module()
        taken = self.i.valid & self.i.ready
        job_start = Signal(init=1)    # after reset and after every job's last beat
        with m.If(taken):
            m.d.sync += job_start.eq(self.i.payload.last)

        for r in range(self.rows):
            for c in range(self.cols):
                m.submodules[f"mac_{r}_{c}"] = mac = IntMac(**self._mac)
                m.d.comb += [mac.weight.eq(self.i.payload.w[r]), mac.act.eq(self.i.payload.a[c]),
                             mac.valid.eq(taken), mac.clear.eq(taken & job_start),
                             self.o.payload[r][c].eq(mac.acc)]

        # A finished job's result travels `latency` cycles into the accumulators, then waits
        # there for `o`; no beat is taken from the last beat until the result is.
        done = taken & self.i.payload.last
        for stage in range(self.latency - 1):   # o.valid rises with the last accumulation
            delayed = Signal(name=f"done_s{stage}")
            m.d.sync += delayed.eq(done)
            done = delayed
        pending = Signal()
        with m.If(taken & self.i.payload.last):
            m.d.sync += pending.eq(1)
        with m.If(done):
            m.d.sync += self.o.valid.eq(1)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [self.o.valid.eq(0), pending.eq(0)]
        m.d.comb += self.i.ready.eq(~pending)
        return m
