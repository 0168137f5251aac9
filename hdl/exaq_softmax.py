"""EXAQ softmax: 2-4 bit codes of the clipped logit distances, counted, one table per row
(SPEC.md "EXAQ softmax"; docs/exaq_hardware.md)."""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.params import check_choice, check_int

from .adder_tree import adder_tree
from .softmax_row import Normaliser, SoftmaxRow, lanes

__all__ = ["ExaqSoftmax", "ExaqCoder", "CodeCounter", "NormTable", "thermometer_to_binary"]

TOPS = ("exp", "zero")


def thermometer_to_binary(bits):
    """The number of ones of a thermometer code ``bits`` (``bits[k]`` implies ``bits[k-1]``)
    of ``2^b - 1`` bits, as a ``b``-bit value: a tree of multiplexers, no adder."""
    bits = list(bits)
    if len(bits) == 1:
        return bits[0]
    half = len(bits) // 2
    middle = bits[half]
    return Cat(Mux(middle, thermometer_to_binary(bits[half + 1:]),
                   thermometer_to_binary(bits[:half])), middle)


class ExaqCoder(wiring.Component):
    """The exp phase: each lane's distance ``nd`` to its b-bit code, registered once.

    ``code = #{k < 2^b - 1 : 2 (2^b - 1) nd >= (2k + 1) C}``: ``load`` registers the
    ``2^b - 1`` thresholds ``(2k + 1) C`` (shift-adds of ``clip``, once per row); each lane
    forms ``2 (2^b - 1) nd = (nd << (b + 1)) - (nd << 1)`` and compares it with every
    threshold. The thresholds rise with ``k``, so the comparisons form a thermometer code,
    turned into binary by a multiplexer tree. No divider, no exponential.
    """

    def __init__(self, *, in_bits, bits, epc):
        self.in_bits, self.bits, self.epc = in_bits, bits, epc
        self.top_code = (1 << bits) - 1
        clip_max = (1 << (in_bits + 1)) - 1
        self.threshold_bits = ((2 * self.top_code - 1) * clip_max).bit_length()
        self.scaled_bits = (2 * self.top_code * ((1 << in_bits) - 1)).bit_length()
        super().__init__({
            "clip": In(unsigned(in_bits + 1)),
            "load": In(1),
            "nd": In(unsigned(in_bits * epc)),        # epc lanes, packed
            "code": Out(unsigned(bits * epc)),
        })

    def elaborate(self, platform):
        m = Module()
        thresholds = []
        for k in range(self.top_code):
            multiple = 2 * k + 1
            threshold = Signal(self.threshold_bits, name=f"threshold{k}", reset_less=True)
            terms = [self.clip << j for j in range(multiple.bit_length()) if multiple >> j & 1]
            with m.If(self.load):
                m.d.sync += threshold.eq(sum(terms[1:], terms[0]))
            thresholds.append(threshold)
        codes = []
        for lane, nd in enumerate(lanes(self.nd, self.in_bits, self.epc)):
            scaled = Signal(self.scaled_bits, name=f"scaled{lane}")
            m.d.comb += scaled.eq((nd << (self.bits + 1)) - (nd << 1))
            code = Signal(self.bits, name=f"code{lane}")
            m.d.comb += code.eq(thermometer_to_binary(scaled >= t for t in thresholds))
            codes.append(code)
        m.d.sync += self.code.eq(Cat(*codes))
        return m


class CodeCounter(wiring.Component):
    """The accumulate phase: one counter per code, then ``S = sum_k n_k LUT[k]``.

    ``load`` (once per row, with ``lut_in`` valid) registers the row's table. Each ``en``
    cycle adds to counter ``k`` the number of valid lanes (``valid``) whose code is ``k``
    (``first``: the row's first beat, the counters restart from it): with ``epc`` lanes,
    ``epc`` comparisons and a population count per counter, not an adder of exponentials.
    Then ``entries`` cycles of ``step`` (``step_first`` in the first), one multiply-add
    each: ``S += n_0 LUT[0]`` while the counters shift down and the table rotates, so after
    the last step the table is back in place for the normalise phase. ``entries`` is
    ``2^b``, or ``2^b - 1`` with ``top = zero`` (the top code's exponential is 0: it needs
    no counter, no table entry and no step).
    """

    def __init__(self, *, bits, epc, lut_frac, max_len, top):
        self.bits, self.epc, self.lut_frac = bits, epc, lut_frac
        self.entries = (1 << bits) - (top == "zero")
        self.count_bits = max_len.bit_length()
        self.sum_bits = (max_len * ((1 << (lut_frac + 1)) - 1)).bit_length()
        lut = unsigned((lut_frac + 1) << bits)          # 2^b entries, packed
        super().__init__({
            "lut_in": In(lut),
            "load": In(1),
            "code": In(unsigned(bits * epc)),
            "valid": In(epc),
            "en": In(1),
            "first": In(1),
            "step": In(1),
            "step_first": In(1),
            "lut": Out(lut),
            "s": Out(unsigned(self.sum_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        counts = [Signal(self.count_bits, name=f"n{k}") for k in range(self.entries)]
        table = [Signal(self.lut_frac + 1, name=f"lut{k}", reset_less=True)
                 for k in range(self.entries)]
        total = Signal(self.sum_bits, reset_less=True)
        lut_in = lanes(self.lut_in, self.lut_frac + 1, self.entries)
        codes = lanes(self.code, self.bits, self.epc)
        m.d.comb += [self.s.eq(total), self.lut.eq(Cat(*table))]
        with m.If(self.load):
            m.d.sync += [table[k].eq(lut_in[k]) for k in range(self.entries)]
        with m.If(self.en):
            for k, n in enumerate(counts):
                hits = [self.valid[lane] & (codes[lane] == k) for lane in range(self.epc)]
                m.d.sync += n.eq(Mux(self.first, 0, n) + adder_tree(hits))
        with m.If(self.step):
            m.d.sync += [total.eq(Mux(self.step_first, 0, total) + counts[0] * table[0]),
                         *(counts[k].eq(counts[k + 1]) for k in range(self.entries - 1)),
                         *(table[k].eq(table[(k + 1) % self.entries])
                           for k in range(self.entries))]
        return m


class NormTable(wiring.Component):
    """The normalise phase of EXAQ: ``y_k`` for every code, once per row, then a lookup.

    ``take`` loads the row's table (``lut_in``) into a shift register; then, with the row's
    ``r`` held on its input, each of the ``steps = entries + 1`` cycles of ``step`` shifts
    the register down by one: the entry leaving the bottom, ``LUT[k]``, goes into the one
    shared two-stage :class:`Normaliser`, and what enters at the top is the normaliser's
    result of the step before, ``y_(k-1) = (LUT[k-1] R + 2^(Q-O-1)) >> (Q-O)`` (the first
    step's is stale and leaves at the bottom by the last). After the last step the register
    holds the ``y`` table (2^b - 1 entries and a constant 0 with ``top = zero``), in the
    flip-flops of the table it replaced. The per-element work is then a 2^b-way
    multiplexer per lane.
    """

    def __init__(self, *, bits, lut_frac, r_bits, shift, y_bits, top):
        self.bits, self.lut_frac, self.r_bits, self.shift, self.y_bits = (
            bits, lut_frac, r_bits, shift, y_bits)
        self.entries = (1 << bits) - (top == "zero")
        self.steps = self.entries + Normaliser.latency
        super().__init__({
            "lut_in": In(unsigned((lut_frac + 1) << bits)),   # 2^b entries, packed
            "r": In(unsigned(r_bits)),
            "take": In(1),
            "step": In(1),
            "y": Out(unsigned(y_bits << bits)),             # 2^b entries, packed
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.normaliser = normaliser = Normaliser(
            e_bits=self.lut_frac + 1, r_bits=self.r_bits, shift=self.shift, y_bits=self.y_bits)
        width = max(self.lut_frac + 1, self.y_bits)
        table = [Signal(width, name=f"entry{k}", reset_less=True) for k in range(self.entries)]
        lut_in = lanes(self.lut_in, self.lut_frac + 1, self.entries)
        m.d.comb += [normaliser.e.eq(table[0]), normaliser.r.eq(self.r),
                     self.y.eq(Cat(*(entry[:self.y_bits] for entry in table)))]
        with m.If(self.take):
            m.d.sync += [table[k].eq(lut_in[k]) for k in range(self.entries)]
        with m.Elif(self.step):
            m.d.sync += [*(table[k].eq(table[k + 1]) for k in range(self.entries - 1)),
                         table[-1].eq(normaliser.y)]
        return m


class ExaqSoftmax(SoftmaxRow):
    """EXAQ softmax of rows of signed fixed-point logits with a per-row clip and table.

    Per row: ``m = max x``; ``code_i = min(2^b - 1, floor((2 (2^b - 1)(m - x_i) + C) / 2C))``
    (by comparisons with ``(2k + 1) C``); counts ``n_k``; ``S = sum_k n_k LUT[k]``;
    ``R = floor(2^Q / S)``; ``y_i = (LUT[code_i] R + 2^(Q-O-1)) >> (Q-O)`` with
    ``Q = O + F + ceil(log2 max_len) + 2``.

    Interface: :class:`~lowbit.hdl.softmax_row.SoftmaxRow`, with the per-row stream
    ``cfg``: payload ``{clip: unsigned(in_bits + 1), lut: ArrayLayout(unsigned(F + 1), 2^b)}``
    (``clip`` in the logits' fixed point, 1 <= C < 2^(in_bits+1); the table as the golden
    model computes it from C, which needs LUT[0] > 2^(F-1), true of LUT[0] = 2^F; with
    ``top = zero`` the last entry is not read: it is 0).

    Phases: exp = :class:`ExaqCoder` (codes, stored in the symbol buffer: b bits an element);
    accumulate = :class:`CodeCounter` (``sum_cycles = 2^b``, or ``2^b - 1`` with top zero);
    normalise = the shared reciprocal, then :class:`NormTable` (``prep_cycles`` = the same)
    and a table lookup per lane. Cycles: :meth:`cycles_per_row`, :meth:`row_latency`.
    """

    def __init__(self, *, in_bits=8, in_frac=4, bits=3, lut_frac=10, out_frac=10,
                 max_len=128, top="exp", epc=1):
        self.bits = check_int("bits", bits, 2, 4)
        self.top = check_choice("top", top, TOPS)
        check_int("in_bits", in_bits, 4, 16)
        check_int("lut_frac", lut_frac, 4, 16)
        check_int("max_len", max_len, 1, 4096)
        entries = (1 << bits) - (top == "zero")
        cfg = data.StructLayout({
            "clip": unsigned(in_bits + 1),
            "lut": data.ArrayLayout(unsigned(lut_frac + 1), 1 << bits),
        })
        super().__init__(in_bits=in_bits, in_frac=in_frac, lut_frac=lut_frac,
                         out_frac=out_frac, max_len=max_len, epc=epc,
                         symbol_bits=bits,
                         sum_bits=(max_len * ((1 << (lut_frac + 1)) - 1)).bit_length(),
                         sum_cycles=entries, prep_cycles=entries + Normaliser.latency,
                         cfg_layout=cfg)

    def exp_phase(self, m, nd, take):
        m.submodules.coder = coder = ExaqCoder(in_bits=self.in_bits, bits=self.bits,
                                               epc=self.epc)
        m.d.comb += [coder.clip.eq(self.cfg.payload.clip), coder.load.eq(take),
                     coder.nd.eq(Cat(*nd))]
        return lanes(coder.code, self.bits, self.epc)

    def accumulate_phase(self, m, *, take, symbols, lane_valid, en, first, sum_step,
                         sum_first):
        m.submodules.counter = counter = CodeCounter(
            bits=self.bits, epc=self.epc, lut_frac=self.lut_frac, max_len=self.max_len,
            top=self.top)
        m.d.comb += [counter.lut_in.eq(self.cfg.payload.lut), counter.load.eq(take),
                     counter.first.eq(first), counter.step_first.eq(sum_first),
                     counter.code.eq(Cat(*symbols)),
                     counter.valid.eq(lane_valid), counter.en.eq(en),
                     counter.step.eq(sum_step)]
        self._lut_b = counter.lut
        return counter.s

    def normalise_phase(self, m, *, r, take, prep_step, symbols, stage, enable):
        m.submodules.norm_table = table = NormTable(
            bits=self.bits, lut_frac=self.lut_frac, r_bits=self.r_bits,
            shift=self.q - self.out_frac, y_bits=self.y_bits, top=self.top)
        # The row's table comes from stage B's copy (rotated back in place by the sum).
        m.d.comb += [table.lut_in.eq(self._lut_b), table.r.eq(r), table.take.eq(take),
                     table.step.eq(prep_step)]
        self._norm_table = table
        ys = Array(lanes(table.y, self.y_bits, 1 << self.bits))
        return [ys[code] for code in symbols]
