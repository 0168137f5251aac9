"""The baseline softmax: an exponential ROM, an adder accumulation and a multiply per element
(SPEC.md "EXAQ softmax", baseline; docs/exaq_hardware.md)."""

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.core.unit_params import EXP_INDEX_FRAC, IN_BITS, IN_FRAC, LUT_FRAC, MAX_LEN
from .component import Component

from .adder_tree import adder_tree
from .softmax_row import Normaliser, SoftmaxRow, lanes

__all__ = ["SoftmaxFixed", "ExpRom", "ExpSum", "exp_table"]


def exp_table(lut_frac, exp_index_frac):
    """``EXP[j] = floor(2^F exp(-j / 2^G) + 1/2)`` for j in 0..255, in float64."""
    j = np.arange(256, dtype=np.float64)
    return np.floor(2.0 ** lut_frac * np.exp(-j / 2.0 ** exp_index_frac) + 0.5).astype(np.int64)


class ExpRom(Component):
    """The exp phase of the baseline: ``e = EXP[min(255, nd >> (in_frac - G))]`` per lane.

    The table is computed at elaboration and kept only as deep as it can matter: up to the
    largest index a distance of ``in_bits`` bits reaches, and up to its first 0 entry (the
    table falls monotonically, so every later entry is 0 too); the index is clamped to the
    last kept entry. One synchronous read port per lane (block RAM on FPGAs), so ``e`` comes
    one cycle after ``nd``.
    """

    def __init__(self, *, in_bits, in_frac, exp_index_frac, lut_frac, epc):
        self.epc, self.lut_frac = epc, lut_frac
        self.shift = in_frac - exp_index_frac
        table = exp_table(lut_frac, exp_index_frac)
        last = min(255, ((1 << in_bits) - 1) >> self.shift)
        zeros = np.flatnonzero(table[:last + 1] == 0)
        if len(zeros):
            last = int(zeros[0])
        self.table = [int(v) for v in table[:last + 1]]
        self.reachable = ((1 << in_bits) - 1) >> self.shift    # the largest nd >> shift
        self.nd_bits = in_bits
        super().__init__({
            "nd": In(unsigned(in_bits * epc)),            # epc lanes, packed
            "e": Out(unsigned((lut_frac + 1) * epc)),
        })

    def elaborate(self, platform):
        m = Module()
        last = len(self.table) - 1
        m.submodules.rom = rom = Memory(shape=unsigned(self.lut_frac + 1), depth=len(self.table),
                                        init=self.table)
        values = []
        for lane, nd in enumerate(lanes(self.nd, self.nd_bits, self.epc)):
            port = rom.read_port()
            index = Signal(range(last + 1), name=f"index{lane}")
            shifted = nd >> self.shift
            clamped = Mux(shifted > last, last, shifted) if self.reachable > last else shifted
            m.d.comb += [index.eq(clamped),
                         port.addr.eq(index)]
            values.append(port.data)
        m.d.comb += self.e.eq(Cat(*values))
        return m


class ExpSum(Component):
    """The accumulate phase of the baseline: ``S += sum of the beat's valid e``.

    Each ``en`` cycle the adder tree of the beat's ``epc`` masked terms is registered (with
    ``first``, the row's first beat, which starts the sum afresh); the next cycle adds it to
    the accumulator. So S is complete one cycle after the last beat's ``en``: the unit's
    ``acc_stages = 1``. ``sum_bits`` defaults to what ``max_len`` terms of at most ``2^F``
    need. (EXAQ uses it too, on its table entries, at one or two lanes.)
    """

    def __init__(self, *, epc, lut_frac, max_len, sum_bits=None):
        self.epc, self.lut_frac = epc, lut_frac
        self.sum_bits = (max_len << lut_frac).bit_length() if sum_bits is None else sum_bits
        super().__init__({
            "e": In(unsigned((lut_frac + 1) * epc)),      # epc lanes, packed
            "valid": In(epc),
            "en": In(1),
            "first": In(1),
            "s": Out(unsigned(self.sum_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        terms = [Mux(self.valid[k], e, 0)
                 for k, e in enumerate(lanes(self.e, self.lut_frac + 1, self.epc))]
        beat_sum = Signal(self.lut_frac + 1 + (self.epc - 1).bit_length(), reset_less=True)
        beat_first = Signal(reset_less=True, name="beat_first")
        pending = Signal(name="pending")
        total = Signal(self.sum_bits, reset_less=True)
        m.d.comb += self.s.eq(total)
        m.d.sync += [beat_sum.eq(adder_tree(terms)), beat_first.eq(self.first),
                     pending.eq(self.en)]
        with m.If(pending):
            m.d.sync += total.eq(Mux(beat_first, 0, total) + beat_sum)
        return m


class SoftmaxFixed(SoftmaxRow):
    """Conventional fixed-point softmax, the baseline of :class:`~lowbit.hdl.exaq_softmax.ExaqSoftmax`.

    Per row: ``m = max x``; ``e_i = EXP[min(255, (m - x_i) >> (in_frac - G))]`` from a ROM;
    ``S = sum e_i``; the same ``R = floor(2^Q / S)`` and ``y_i = (e_i R + 2^(Q-O-1)) >> (Q-O)``.

    Interface: :class:`~lowbit.hdl.softmax_row.SoftmaxRow`, without ``cfg``. Phases: exp =
    :class:`ExpRom` (the ``e`` values are stored in the symbol buffer: F + 1 bits an element);
    accumulate = :class:`ExpSum` during the read-back (``acc_stages = 1``: its pipeline
    register), S handed to stage R (``sum_cycles = 0``); normalise = the shared reciprocal in
    stage R, then one :class:`~lowbit.hdl.softmax_row.Normaliser` (a multiplier) per lane in
    stage C (``prep_cycles = 0``).
    """

    def __init__(self, *, in_bits=8, in_frac=4, lut_frac=10, out_frac=10, max_len=128,
                 epc=1, exp_index_frac=None):
        IN_BITS.check(in_bits)
        IN_FRAC.check(in_frac, hi=in_bits - 1, why="a logit has in_bits - 1 bits besides its sign")
        if exp_index_frac is None:
            exp_index_frac = min(in_frac, 5)
        self.exp_index_frac = EXP_INDEX_FRAC.check(exp_index_frac, hi=in_frac,
                                        why="the index keeps at most in_frac fractional bits")
        LUT_FRAC.check(lut_frac), MAX_LEN.check(max_len)
        super().__init__(in_bits=in_bits, in_frac=in_frac, lut_frac=lut_frac,
                         out_frac=out_frac, max_len=max_len, epc=epc,
                         symbol_bits=lut_frac + 1,
                         sum_bits=(max_len << lut_frac).bit_length(),
                         sum_cycles=0, prep_cycles=0)
        self.acc_stages = 1          # ExpSum's register between the adder tree and S
        self.out_stages = 1 + Normaliser.latency
        self.normalise_registers = Normaliser.latency

    def exp_phase(self, m, nd, take):
        m.submodules.exp_rom = rom = ExpRom(
            in_bits=self.in_bits, in_frac=self.in_frac, exp_index_frac=self.exp_index_frac,
            lut_frac=self.lut_frac, epc=self.epc)
        m.d.comb += rom.nd.eq(Cat(*nd))
        return lanes(rom.e, self.lut_frac + 1, self.epc)

    def accumulate_phase(self, m, *, take, symbols, lane_valid, en, first):
        m.submodules.exp_sum = acc = ExpSum(epc=self.epc, lut_frac=self.lut_frac,
                                            max_len=self.max_len)
        m.d.comb += [acc.e.eq(Cat(*symbols)), acc.valid.eq(lane_valid), acc.en.eq(en),
                     acc.first.eq(first)]
        self._sum_b = acc.s

    def row_phase(self, m, *, take, sum_step, sum_first, sum_last, r, prep_step):
        # Stage R's copy of S, held for the reciprocal while B sums the next row.
        total = Signal(self.sum_bits, name="row_sum", reset_less=True)
        with m.If(take):
            m.d.sync += total.eq(self._sum_b)
        return total

    def normalise_phase(self, m, *, r, take, symbols, stage, enable):
        # A register after the symbol buffer's (block RAM) read port, then the two-stage
        # normaliser: the multipliers start from flip-flops.
        symbols = stage(*symbols)
        outputs = []
        for k in range(self.epc):
            normaliser = Normaliser(e_bits=self.lut_frac + 1, r_bits=self.r_bits,
                                    shift=self.q - self.out_frac, y_bits=self.y_bits)
            m.submodules[f"normaliser{k}"] = normaliser
            m.d.comb += [normaliser.e.eq(symbols[k]), normaliser.r.eq(r),
                         normaliser.en.eq(enable)]
            outputs.append(normaliser.y)
        return outputs
