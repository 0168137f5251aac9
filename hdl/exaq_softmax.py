"""EXAQ softmax: 2-4 bit codes of the clipped logit distances, counted, one table per row
(SPEC.md "EXAQ softmax"; docs/exaq_hardware.md)."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.modes import ExaqTop
from lowbit.core.unit_params import (EPC, EXAQ_BITS, EXAQ_SERIAL_Y, EXAQ_TOP, IN_BITS, LUT_FRAC,
                                     MAX_LEN)
from .component import Component, named

from .adder_tree import adder_tree
from .softmax_fixed import ExpSum
from .softmax_row import Normaliser, SoftmaxRow, lanes

__all__ = ["ExaqSoftmax", "ExaqCoder", "CodeCounter", "NormTable", "thermometer_to_binary"]

def thermometer_to_binary(bits, m=None, name="code"):
    """The number of ones of a thermometer code ``bits`` (``bits[k]`` implies ``bits[k-1]``)
    of ``2^b - 1`` bits, as a ``b``-bit value: a tree of multiplexers, no adder. With a
    module ``m``, each multiplexer's output is a signal named from ``name`` (``code0_low``:
    its low bits), so the Verilog names its nets."""
    bits = list(bits)
    if len(bits) == 1:
        return bits[0]
    half = len(bits) // 2
    middle = bits[half]
    low = Mux(middle, thermometer_to_binary(bits[half + 1:], m, f"{name}_upper"),
              thermometer_to_binary(bits[:half], m, f"{name}_lower"))
    if m is not None:
        low = named(m, f"{name}_low", low)
    return Cat(low, middle)


class ExaqCoder(Component):
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
            terms = [named(m, f"clip_x{1 << j}", self.clip << j)
                     for j in range(multiple.bit_length()) if multiple >> j & 1]
            total = terms[0]
            for count, term in enumerate(terms[1:], 2):
                total = named(m, f"threshold{k}_sum{count}", total + term)
            with m.If(self.load):
                m.d.sync += threshold.eq(total)
            thresholds.append(threshold)
        codes = []
        for lane, nd in enumerate(lanes(self.nd, self.in_bits, self.epc)):
            scaled = Signal(self.scaled_bits, name=f"scaled{lane}")
            m.d.comb += scaled.eq(named(m, f"nd{lane}_x{2 << self.bits}", nd << (self.bits + 1))
                                  - named(m, f"nd{lane}_x2", nd << 1))
            code = Signal(self.bits, name=f"code{lane}")
            above = [named(m, f"lane{lane}_above{k}", scaled >= t) for k, t
                     in enumerate(thresholds)]
            m.d.comb += code.eq(thermometer_to_binary(above, m, f"code{lane}"))
            codes.append(code)
        m.d.sync += self.code.eq(Cat(*codes))
        return m


class CodeCounter(Component):
    """The accumulate phase of EXAQ (stage B): one counter per code.

    Each ``en`` cycle adds to counter ``k`` the number of valid lanes (``valid``) whose code is
    ``k`` (``first``: the row's first beat, the counters restart from it): with ``epc`` lanes,
    ``epc`` comparisons and a population count per counter, not an adder of exponentials.
    ``counts`` holds them (``entries`` fields of ``count_bits``, lowest code first) from the
    cycle after the last ``en``. ``entries`` is ``2^b``, or ``2^b - 1`` with ``top = zero``
    (the top code's exponential is 0: it needs no counter). Counters are sized from
    ``max_len``: ``count_bits = bits of max_len``.
    """

    def __init__(self, *, bits, epc, max_len, top):
        self.bits, self.epc = bits, epc
        self.entries = (1 << bits) - (top == ExaqTop.ZERO)
        self.count_bits = max_len.bit_length()
        super().__init__({
            "code": In(unsigned(bits * epc)),
            "valid": In(epc),
            "en": In(1),
            "first": In(1),
            "counts": Out(unsigned(self.count_bits * self.entries)),
        })

    def elaborate(self, platform):
        m = Module()
        counts = [Signal(self.count_bits, name=f"n{k}") for k in range(self.entries)]
        codes = lanes(self.code, self.bits, self.epc)
        m.d.comb += self.counts.eq(Cat(*counts))
        with m.If(self.en):
            for k, n in enumerate(counts):
                hits = [self.valid[lane] & (codes[lane] == k) for lane in range(self.epc)]
                m.d.sync += n.eq(Mux(self.first, 0, n) + adder_tree(hits))
        return m


class NormTable(Component):
    """EXAQ's per-row work after the counts (stage R): ``S = sum_k n_k LUT[k]`` and the
    ``y`` table, with one shared two-stage :class:`Normaliser` as the only multiplier.

    ``take`` loads the row's table (``lut_in``) into a shift register and, with a sum
    (``count_bits`` given), the counts (``counts_in``). Then ``sum_cycles = entries + 1``
    cycles of ``sum_step`` (``sum_first``, ``sum_last`` in the first and last): each but the
    last feeds ``n_0 LUT[0]`` to the multiplier while the counts shift down and the table
    rotates (so after the sum it is back in place); each but the first adds the product of
    the step before to ``s``. Then, with the row's ``r`` held on its input, each of the
    ``steps = entries + 1`` cycles of ``step`` shifts the register down by one: the entry
    leaving the bottom, ``LUT[k]``, goes into the multiplier with ``r``, and what enters at
    the top is its result of the step before, ``y_(k-1) = (LUT[k-1] R + 2^(Q-O-1)) >> (Q-O)``
    (the first step's is stale and leaves at the bottom by the last). After the last step the
    register holds the ``y`` table (2^b - 1 entries and a constant 0 with ``top = zero``), in
    the flip-flops of the table it replaced.

    With ``serial`` there is no multiplier. With a sum, ``sum_cycles = count_bits entries``:
    Horner's rule over the count bits, most significant first, one entry a cycle on one adder
    of ``sum_bits``: ``s = 2 s`` at each bit's first entry, ``+ LUT[k]`` if bit j of ``n_k``
    is set (the table rotates every cycle, so it is back in place after the sum; each count
    leaving the bottom re-enters at the top shifted left, so its next bit comes up next
    time). The y table: each entry least significant bit of ``LUT[k]`` first, on one adder of
    about ``r_bits`` bits, ``acc = (acc + bit R) >> 1`` from ``acc = 2^(shift-1)`` (the
    rounding constant: after F + 1 steps ``acc = floor((LUT[k] R + 2^(shift-1)) / 2^(F+1))``,
    and ``shift - F - 1`` more bits of wiring give ``y_k``). ``steps = entries (F + 1)``: in
    the last step of each entry the register shifts down by one entry and ``y_k`` enters at
    the top, as above; in the others the bottom entry shifts right by one bit.
    """

    def __init__(self, *, bits, lut_frac, r_bits, shift, y_bits, top, count_bits=None,
                 sum_bits=None, serial=False):
        self.bits, self.lut_frac, self.r_bits, self.shift, self.y_bits = (
            bits, lut_frac, r_bits, shift, y_bits)
        self.entries = (1 << bits) - (top == ExaqTop.ZERO)
        self.serial = serial
        self.count_bits, self.sum_bits = count_bits, sum_bits
        self.has_sum = count_bits is not None
        assert not serial or shift > lut_frac + 1
        self.steps = (self.entries * (lut_frac + 1) if serial
                      else self.entries + Normaliser.latency)
        self.sum_cycles = (0 if not self.has_sum else count_bits * self.entries if serial
                           else self.entries + Normaliser.latency)
        members = {
            "lut_in": In(unsigned((lut_frac + 1) << bits)),   # 2^b entries, packed
            "r": In(unsigned(r_bits)),
            "take": In(1),
            "step": In(1),
            "y": Out(unsigned(y_bits << bits)),             # 2^b entries, packed
        }
        if self.has_sum:
            assert count_bits <= r_bits
            members.update({
                "counts_in": In(unsigned(count_bits * self.entries)),
                "sum_step": In(1), "sum_first": In(1), "sum_last": In(1),
                "s": Out(unsigned(sum_bits)),
            })
        super().__init__(members)

    def elaborate(self, platform):
        if self.serial:
            return self._elaborate_serial()
        m = Module()
        m.submodules.normaliser = normaliser = Normaliser(
            e_bits=self.lut_frac + 1, r_bits=self.r_bits, shift=self.shift, y_bits=self.y_bits)
        width = max(self.lut_frac + 1, self.y_bits)
        table = [Signal(width, name=f"entry{k}", reset_less=True) for k in range(self.entries)]
        lut_in = lanes(self.lut_in, self.lut_frac + 1, self.entries)
        m.d.comb += [normaliser.e.eq(table[0]),
                     self.y.eq(Cat(*(entry[:self.y_bits] for entry in table)))]
        with m.If(self.take):
            m.d.sync += [table[k].eq(lut_in[k]) for k in range(self.entries)]
        if self.has_sum:
            counts = [Signal(self.count_bits, name=f"count{k}", reset_less=True)
                      for k in range(self.entries)]
            total = Signal(self.sum_bits, name="total", reset_less=True)
            m.d.comb += [normaliser.r.eq(Mux(self.sum_step, counts[0], self.r)),
                         self.s.eq(total)]
            with m.If(self.take):
                m.d.sync += [n.eq(v) for n, v in
                             zip(counts, lanes(self.counts_in, self.count_bits, self.entries))]
            with m.Elif(self.sum_step & ~self.sum_last):
                m.d.sync += [*(counts[k].eq(counts[k + 1]) for k in range(self.entries - 1)),
                             *(table[k].eq(table[(k + 1) % self.entries])
                               for k in range(self.entries))]
            with m.If(self.sum_step):
                m.d.sync += total.eq(Mux(self.sum_first, 0,
                                         total + normaliser.product[:self.sum_bits]))
        else:
            m.d.comb += normaliser.r.eq(self.r)
        with m.If(~self.take & self.step):
            m.d.sync += [*(table[k].eq(table[k + 1]) for k in range(self.entries - 1)),
                         table[-1].eq(normaliser.y)]
        return m

    def _elaborate_serial(self):
        m = Module()
        width = max(self.lut_frac + 1, self.y_bits)
        table = [Signal(width, name=f"entry{k}", reset_less=True) for k in range(self.entries)]
        lut_in = lanes(self.lut_in, self.lut_frac + 1, self.entries)
        m.d.comb += self.y.eq(Cat(*(entry[:self.y_bits] for entry in table)))
        rounding = 1 << (self.shift - 1)
        # acc < max(2^(shift-1), R) <= 2^max(shift-1, r_bits): one adder of that width.
        acc = Signal(max(self.shift - 1, self.r_bits) + 1, name="product_acc", reset_less=True)
        bit = Signal(range(self.lut_frac + 1), name="product_bit")
        added = Signal(len(acc) + 1, name="product_sum")
        m.d.comb += added.eq(acc + Mux(table[0][0], self.r, 0))
        halved = added >> 1
        entry_last = bit == self.lut_frac
        y = Signal(self.y_bits, name="product_y")
        m.d.comb += y.eq(halved >> (self.shift - self.lut_frac - 1))
        with m.If(self.take):
            m.d.sync += [*(table[k].eq(lut_in[k]) for k in range(self.entries)),
                         acc.eq(rounding), bit.eq(0)]
        if self.has_sum:
            self._serial_sum(m, table)
        with m.If(~self.take & self.step):
            m.d.sync += [acc.eq(Mux(entry_last, rounding, halved)),
                         bit.eq(Mux(entry_last, 0, bit + 1))]
            with m.If(entry_last):
                m.d.sync += [*(table[k].eq(table[k + 1]) for k in range(self.entries - 1)),
                             table[-1].eq(y)]
            with m.Else():
                m.d.sync += table[0].eq(table[0] >> 1)
        return m

    def _serial_sum(self, m, table):
        """S = sum_k n_k LUT[k] by Horner's rule over the count bits (see the class)."""
        counts = [Signal(self.count_bits, name=f"count{k}", reset_less=True)
                  for k in range(self.entries)]
        total = Signal(self.sum_bits, name="total", reset_less=True)
        entry = Signal(range(self.entries), name="sum_entry")
        m.d.comb += self.s.eq(total)
        term = Mux(counts[0][-1], table[0][:self.lut_frac + 1], 0)
        with m.If(self.take):
            m.d.sync += [*(n.eq(v) for n, v in
                           zip(counts, lanes(self.counts_in, self.count_bits, self.entries))),
                         entry.eq(0)]
        with m.Elif(self.sum_step):
            m.d.sync += [*(counts[k].eq(counts[k + 1]) for k in range(self.entries - 1)),
                         counts[-1].eq(counts[0] << 1),
                         *(table[k].eq(table[(k + 1) % self.entries])
                           for k in range(self.entries)),
                         entry.eq(Mux(entry == self.entries - 1, 0, entry + 1)),
                         total.eq(Mux(self.sum_first, 0,
                                      Mux(entry == 0, total << 1, total)) + term)]


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

    Phases: exp = :class:`ExaqCoder` (codes, stored in the symbol buffer: b bits an element;
    its thresholds from the clip of the ``cfg`` word, read when the row enters stage B);
    accumulate = :class:`CodeCounter` in stage B; stage R = :class:`NormTable`, which takes
    the counts and the ``cfg`` word's table and with one multiplier forms S
    (``sum_cycles = 2^b + 1``, ``2^b`` with top zero), then after the shared reciprocal the
    y table (``prep_cycles`` = the same); stage C copies the y table and looks each lane's
    code up in it. Cycles: :meth:`cycles_per_row`, :meth:`row_latency`.

    ``serial_y``: stage R's products by :class:`NormTable`'s bit-serial arithmetic, so the
    unit has no multiplier at all: the y table in ``prep_cycles`` = 2^b (F + 1) (88 at the
    defaults) and, from ``COUNT_FROM_EPC`` lanes up, S in ``sum_cycles`` = 2^b x bits of
    max_len; long rows (more than about R's cycles, 100 at one lane, beats) hide them
    behind stage B, shorter ones wait for them.
    """

    COUNT_FROM_EPC = 4

    def __init__(self, *, in_bits=8, in_frac=4, bits=3, lut_frac=10, out_frac=10,
                 max_len=128, top=ExaqTop.EXP, epc=1, serial_y=False):
        self.bits = EXAQ_BITS.check(bits)
        self.top = top = EXAQ_TOP.check(top)
        # (checked here too: the cfg layout below is built from them)
        IN_BITS.check(in_bits), LUT_FRAC.check(lut_frac), MAX_LEN.check(max_len)
        entries = (1 << bits) - (top == ExaqTop.ZERO)
        # How S is formed: from COUNT_FROM_EPC lanes up, 2^b code counters (each beat adds a
        # population count to each) and 2^b multiply-adds per row in stage R; below, one
        # table lookup per lane and an adder, which at one or two lanes is the smaller.
        self.counting = EPC.check(epc) >= self.COUNT_FROM_EPC
        self.serial_y = EXAQ_SERIAL_Y.check(serial_y)
        count_bits = max_len.bit_length()
        prep = entries * (lut_frac + 1) if self.serial_y else entries + Normaliser.latency
        sums = (0 if not self.counting else count_bits * entries if self.serial_y
                else entries + Normaliser.latency)
        cfg = data.StructLayout({
            "clip": unsigned(in_bits + 1),
            "lut": data.ArrayLayout(unsigned(lut_frac + 1), 1 << bits),
        })
        super().__init__(in_bits=in_bits, in_frac=in_frac, lut_frac=lut_frac,
                         out_frac=out_frac, max_len=max_len, epc=epc,
                         symbol_bits=bits,
                         sum_bits=(max_len * ((1 << (lut_frac + 1)) - 1)).bit_length(),
                         sum_cycles=sums, prep_cycles=prep, cfg_layout=cfg)
        self.acc_stages = 0 if self.counting else 1     # ExpSum's register
        self.out_stages = 1                             # the symbol register before the lookup

    def exp_phase(self, m, nd, take):
        m.submodules.coder = coder = ExaqCoder(in_bits=self.in_bits, bits=self.bits,
                                               epc=self.epc)
        m.d.comb += [coder.clip.eq(self.cfg.payload.clip), coder.load.eq(take),
                     coder.nd.eq(Cat(*nd))]
        return lanes(coder.code, self.bits, self.epc)

    def accumulate_phase(self, m, *, take, symbols, lane_valid, en, first):
        if not self.counting:
            # One or two lanes: the table entries of the codes, added (the cfg word, which
            # stage R takes, is stable while B reads it). With top = zero the top code adds 0.
            lut = lanes(self.cfg.payload.lut.as_value(), self.lut_frac + 1, 1 << self.bits)
            if self.top == ExaqTop.ZERO:
                lut[-1] = Const(0, self.lut_frac + 1)
            table = Array(lut)
            m.submodules.table_sum = acc = ExpSum(epc=self.epc, lut_frac=self.lut_frac,
                                                  max_len=self.max_len, sum_bits=self.sum_bits)
            m.d.comb += [acc.e.eq(Cat(*(table[code] for code in symbols))),
                         acc.valid.eq(lane_valid), acc.en.eq(en), acc.first.eq(first)]
            self._sum_b = acc.s
            return
        m.submodules.counter = counter = CodeCounter(
            bits=self.bits, epc=self.epc, max_len=self.max_len, top=self.top)
        m.d.comb += [counter.first.eq(first), counter.code.eq(Cat(*symbols)),
                     counter.valid.eq(lane_valid), counter.en.eq(en)]
        self._counts_b = counter.counts

    def row_phase(self, m, *, take, sum_step, sum_first, sum_last, r, prep_step):
        m.submodules.norm_table = table = NormTable(
            bits=self.bits, lut_frac=self.lut_frac, r_bits=self.r_bits,
            shift=self.q - self.out_frac, y_bits=self.y_bits, top=self.top,
            serial=self.serial_y,
            **({"count_bits": self.max_len.bit_length(), "sum_bits": self.sum_bits}
               if self.counting else {}))
        assert table.steps == self.prep_cycles
        # The table comes from the cfg word, which stage R takes (stage B only read it).
        m.d.comb += [table.lut_in.eq(self.cfg.payload.lut), table.take.eq(take),
                     table.r.eq(r), table.step.eq(prep_step)]
        self._norm_table = table
        if not self.counting:
            total = Signal(self.sum_bits, name="row_sum", reset_less=True)
            with m.If(take):
                m.d.sync += total.eq(self._sum_b)
            return total
        m.d.comb += [table.counts_in.eq(self._counts_b), table.sum_step.eq(sum_step),
                     table.sum_first.eq(sum_first), table.sum_last.eq(sum_last)]
        return table.s

    def normalise_phase(self, m, *, r, take, symbols, stage, enable):
        # Stage C's copy of the y table, taken from stage R when the row enters C (R then
        # prepares the next row's in its own register).
        entries = self._norm_table.entries
        ys = [Signal(self.y_bits, name=f"y_table{k}", reset_less=True) for k in range(entries)]
        with m.If(take):
            m.d.sync += [y.eq(v) for y, v in
                         zip(ys, lanes(self._norm_table.y, self.y_bits, entries))]
        ys += [Const(0, self.y_bits)] * ((1 << self.bits) - entries)   # top = zero
        table = Array(ys)
        # A register after the symbol buffer's read port (block RAM on FPGAs, whose
        # clock-to-output is most of a cycle), as in the baseline, then the lookup.
        symbols = stage(*symbols)
        return [table[code] for code in symbols]
