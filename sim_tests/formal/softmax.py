# amaranth: UnusedElaboratable=no
# (the combinational harnesses call a unit's datapath hook without elaborating the unit)
"""Proofs of the softmax units (exaq_softmax and the fixed-point baseline): the EXAQ quantizer,
the count-based accumulation and the normalise stage equal SPEC.md's formulas (bounded over
the cycles each takes); and both units' streams keep the stream rules and give each row back
beat for beat (bounded, the longer ones under pytest -m slow)."""

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cat, Const, Mux, Signal, Value

from lowbit.core.modes import ExaqTop
from lowbit.hdl.exaq_softmax import CodeCounter, ExaqCoder, ExaqSoftmax, NormTable
from lowbit.hdl.component import unelaborated
from lowbit.hdl.softmax_fixed import SoftmaxFixed
from lowbit.hdl.softmax_row import Reciprocal, lanes

from .harness import Harness, StreamHarness, cycle_counter, group, stall_rule
from .sby import Proof

__all__ = ["exaq_code_spec", "RowStream", "CoderHarness", "CounterHarness", "NormTableHarness",
           "EXAQ_CODER", "EXAQ_COUNTER", "EXAQ_NORM_TABLE", "EXAQ_CODER_8BIT",
           "EXAQ_COUNTER_B3", "EXAQ_NORM_TABLE_B3", "EXAQ_SOFTMAX_STREAM",
           "SOFTMAX_FIXED_STREAM", "ReciprocalHarness", "RECIPROCAL", "RECIPROCAL_WIDE",
           "EXAQ_NORM_TABLE_SERIAL", "EXAQ_NORM_TABLE_SERIAL_B3", "EXAQ_COUNTER_SERIAL"]


def exaq_code_spec(nd, clip, bits):
    """SPEC.md "EXAQ softmax", step 2: ``min(2^b - 1, round(-d / step))`` with step =
    C / (2^b - 1), rounded half up (docs/exaq_softmax.md): ``floor((2 N nd + C) / (2 C))``."""
    top = (1 << bits) - 1
    quotient = (2 * top * nd + clip) // (2 * clip)
    return Mux(quotient > top, top, quotient)


class RowStream(StreamHarness):
    """A softmax unit's beats: each output beat must carry the ``count`` and ``last`` of the
    input beat it answers, in order, so a row comes out as long as it went in and no beat is
    lost, duplicated or moved (its values are the sim tests' business). Assumed, as the unit
    documents: 1 <= count <= epc, every beat but a row's last is full, a row has at most
    ``max_len`` elements; the ``cfg`` stream, if any, is free and keeps the stream rule.
    Capacity: stages A (the row buffer), B, R and C (the row being output) hold a row each,
    plus the output pipeline's beats. No wait bound: a row's output waits for
    the row's last beat, which the producer may withhold."""

    def __init__(self, unit, capacity):
        super().__init__(unit)
        self.capacity = capacity

    def assume_input(self, m):
        unit = self.unit
        beat = unit.i.payload
        if unit.has_cfg:
            m.d.comb += [unit.cfg.valid.eq(AnySeq(1)),
                         unit.cfg.payload.eq(AnySeq(len(Value.cast(unit.cfg.payload))))]
            stall_rule(m, unit.cfg, Assume, "cfg")
        taken = Signal(range(unit.depth + 1), name="row_beats")   # beats of the row so far
        with m.If(unit.i.valid & unit.i.ready):
            m.d.sync += taken.eq(Mux(beat.last, 0, taken + 1))
        elements = taken * unit.epc + beat.count
        m.d.comb += Assume(~unit.i.valid | ((beat.count >= 1) & (beat.count <= unit.epc) &
                                            (beat.last | (beat.count == unit.epc)) &
                                            (elements <= unit.max_len) &
                                            (beat.last | (elements < unit.max_len))),
                           "rows of 1..max_len elements, full beats but the last")

    def expected(self, m):
        beat = self.unit.i.payload
        return self.unit.i.valid & self.unit.i.ready, Cat(beat.count, beat.last)

    def matches(self, m, payload, item):
        return Cat(payload.count, payload.last) == item


class CoderHarness(Harness):
    """The EXAQ quantizer (:class:`~lowbit.hdl.exaq_softmax.ExaqCoder`): free ``clip``, ``load``
    and distances every cycle (clips assumed >= 1, as the unit's ``cfg`` requires). The
    specification keeps the clip of the last ``load``; once one has happened, every lane's
    registered code must be :func:`exaq_code_spec` of the distance and clip of the cycle
    before. Thresholds are the coder's only state and a function of the last loaded clip, so
    any state is reached within two cycles: the bounded proof covers all of them."""

    def __init__(self, coder):
        self.coder = coder

    def build(self, m):
        coder = m.submodules.coder = self.coder
        m.d.comb += [coder.clip.eq(AnySeq(len(coder.clip))), coder.load.eq(AnySeq(1)),
                     coder.nd.eq(AnySeq(len(coder.nd)))]
        m.d.comb += Assume(~coder.load | (coder.clip >= 1))
        clip = Signal(len(coder.clip), name="spec_clip")
        loaded, checked = Signal(name="spec_loaded"), Signal(name="spec_checked")
        with m.If(coder.load):
            m.d.sync += [clip.eq(coder.clip), loaded.eq(1)]
        m.d.sync += checked.eq(loaded)
        codes = [Signal(coder.bits, name=f"spec_code{k}") for k in range(coder.epc)]
        m.d.sync += [code.eq(exaq_code_spec(nd, clip, coder.bits))
                     for code, nd in zip(codes, lanes(coder.nd, coder.in_bits, coder.epc))]
        m.d.comb += Assert(~checked | (coder.code == Cat(*codes)), "codes equal the specification")


class CounterHarness(Harness):
    """The EXAQ code counters (:class:`~lowbit.hdl.exaq_softmax.CodeCounter`, stage B)
    against SPEC.md step 4's ``n_k``, the number of valid codes equal to ``k``: cycles
    1..``beats`` bring free codes with free lane-valid bits (``first`` in cycle 1); afterwards
    every counter must hold its ``n_k`` (with ``top = zero`` the top code has none)."""

    def __init__(self, counter, beats):
        self.counter, self.beats = counter, beats

    def build(self, m):
        cc, beats = self.counter, self.beats
        m.submodules.counter = cc
        done = beats + 1
        t = cycle_counter(m, done)
        en = (t >= 1) & (t <= beats)
        m.d.comb += [cc.code.eq(AnySeq(len(cc.code))), cc.valid.eq(AnySeq(cc.epc)),
                     cc.en.eq(en), cc.first.eq(t == 1)]
        codes = lanes(cc.code, cc.bits, cc.epc)
        counts = [Signal(range(beats * cc.epc + 1), name=f"spec_n{k}")
                  for k in range(cc.entries)]
        with m.If(en):
            m.d.sync += [n.eq(Mux(cc.first, 0, n) +
                              sum((cc.valid[lane] & (code == k)).as_unsigned()
                                  for lane, code in enumerate(codes)))
                         for k, n in enumerate(counts)]
        got = lanes(cc.counts, cc.count_bits, cc.entries)
        m.d.comb += Assert((t != done) | Cat(a == b for a, b in zip(got, counts)).all(),
                           "n_k: the valid codes equal to k")


class SumHarness(Harness):
    """The EXAQ sum S = sum_k n_k LUT[k] (SPEC.md step 4 as written there) on the normalise
    stage's one multiplier (:class:`~lowbit.hdl.exaq_softmax.NormTable` with counts, stage
    R): cycle 0 takes a free table and free counts (assumed to total at most ``max_len``, as a
    row's do), then the unit's ``sum_cycles`` of ``sum_step``; afterwards ``s`` must be S and
    the table back in place (with ``top = zero`` the top code's entry is not used)."""

    def __init__(self, table, max_len):
        self.table, self.max_len = table, max_len

    def build(self, m):
        nt = m.submodules.norm_table = self.table
        lut = Signal(len(nt.lut_in), name="lut")
        counts_in = Signal(len(nt.counts_in), name="counts")
        m.d.comb += [lut.eq(AnyConst(len(lut))), counts_in.eq(AnyConst(len(counts_in)))]
        done = nt.sum_cycles + 1
        t = cycle_counter(m, done)
        m.d.comb += [nt.lut_in.eq(lut), nt.counts_in.eq(counts_in), nt.take.eq(t == 0),
                     nt.sum_step.eq((t >= 1) & (t < done)), nt.sum_first.eq(t == 1),
                     nt.sum_last.eq(t == done - 1), nt.step.eq(0),
                     nt.r.eq(AnySeq(len(nt.r)))]
        entries = lanes(lut, nt.lut_frac + 1, 1 << nt.bits)[:nt.entries]
        counts = lanes(counts_in, nt.count_bits, nt.entries)
        m.d.comb += Assume(sum(counts) <= self.max_len, "a row's counts total at most max_len")
        total = sum(n * e for n, e in zip(counts, entries))
        width = min(nt.y_bits, nt.lut_frac + 1)     # what the y port shows of each entry
        kept = [y[:width] == e[:width]
                for y, e in zip(lanes(nt.y, nt.y_bits, 1 << nt.bits), entries)]
        m.d.comb += Assert((t != done) | ((nt.s == total) & Cat(*kept).all()),
                           "S = sum_k n_k LUT[k], table back in place")


class NormTableHarness(Harness):
    """The EXAQ normalise stage (:class:`~lowbit.hdl.exaq_softmax.NormTable` with its shared
    :class:`~lowbit.hdl.softmax_row.Normaliser`) against SPEC.md step 5 as the golden model
    fixes it: ``y_k = (LUT[k] R + 2^(shift-1)) >> shift`` for every code (0 for the top code
    with ``top = zero``). A free table and a free R, with ``LUT[k] R <= 2^Q`` (true of
    R = floor(2^Q / S) with LUT[k] <= S, the unit's use); cycle 0 takes the table, then the
    unit's ``steps``; afterwards every entry must be right."""

    def __init__(self, table, q):
        self.table, self.q = table, q

    def build(self, m):
        nt = m.submodules.norm_table = self.table
        lut = Signal(len(nt.lut_in), name="lut")
        r = Signal(nt.r_bits, name="r")
        m.d.comb += [lut.eq(AnyConst(len(lut))), r.eq(AnyConst(nt.r_bits))]
        done = nt.steps + 1
        t = cycle_counter(m, done)
        m.d.comb += [nt.lut_in.eq(lut), nt.r.eq(r), nt.take.eq(t == 0),
                     nt.step.eq((t >= 1) & (t < done))]
        entries = lanes(lut, nt.lut_frac + 1, 1 << nt.bits)
        ys = lanes(nt.y, nt.y_bits, 1 << nt.bits)
        right = []
        for k, (e, y) in enumerate(zip(entries, ys)):
            if k < nt.entries:
                m.d.comb += Assume(e * r <= (1 << self.q))
                right.append(y == ((e * r + (1 << (nt.shift - 1))) >> nt.shift))
            else:
                right.append(y == 0)
        m.d.comb += Assert((t != done) | Cat(*right).all(), "y table equals the specification")


class ReciprocalHarness(Harness):
    """The shared divider (:class:`~lowbit.hdl.softmax_row.Reciprocal`, stage R of both
    units) against SPEC.md's ``R = floor(2^Q / S)``: a free ``s`` in its exact range
    (``2^(q - r_bits) < s < 2^s_bits``), ``start`` in cycle 0; ``done`` must rise exactly
    ``cycles`` cycles later (not before), with ``r`` the quotient."""

    def __init__(self, reciprocal):
        self.reciprocal = reciprocal

    def build(self, m):
        rc = m.submodules.reciprocal = self.reciprocal
        s = Signal(rc.s_bits, name="spec_s")
        m.d.comb += [s.eq(AnyConst(rc.s_bits)), rc.s.eq(s)]
        m.d.comb += Assume(s > (1 << (rc.q - rc.r_bits)), "S > 2^(F-1), the unit's range")
        t = cycle_counter(m, rc.cycles)
        m.d.comb += rc.start.eq(t == 0)
        quotient = (Const(1 << rc.q, rc.q + 1) // s)
        m.d.comb += [Assert((t == 0) | (t == rc.cycles) | ~rc.done, "done not before its time"),
                     Assert((t != rc.cycles) | (rc.done & (rc.r == quotient)),
                            "r = floor(2^q / s) after ceil(r_bits / k) cycles")]


def _reciprocals(*shapes):
    """Dividers of every ``(s_bits, q, r_bits)`` at 1..4 quotient bits per cycle."""
    return group(*(ReciprocalHarness(Reciprocal(s_bits=s_bits, q=q, r_bits=r_bits,
                                                bits_per_cycle=k))
                   for s_bits, q, r_bits in shapes for k in (1, 2, 3, 4)))


def _softmax_small(cls, **extra):
    return cls(in_bits=4, in_frac=2, lut_frac=4, out_frac=4, max_len=2, epc=1, **extra)


def _norm_table(bits, top, max_len, counts=False, serial=False):
    """The normalise stage of a small EXAQ unit (F = O = 4); with ``counts``, the one that
    also forms S from the code counts (the unit's at 4 lanes and more)."""
    unit = ExaqSoftmax(in_bits=4, in_frac=2, bits=bits, lut_frac=4, out_frac=4,
                       max_len=max_len, top=top)
    unelaborated(unit)   # built for its derived widths only
    extra = {"count_bits": max_len.bit_length(), "sum_bits": unit.sum_bits} if counts else {}
    return NormTable(bits=bits, lut_frac=unit.lut_frac, r_bits=unit.r_bits,
                     shift=unit.q - unit.out_frac, y_bits=unit.y_bits, top=top, serial=serial,
                     **extra), unit


def _norm_table_harness(bits, top, max_len, serial=False):
    table, unit = _norm_table(bits, top, max_len, serial=serial)
    return NormTableHarness(table, unit.q)


def _accumulation(bits, top, max_len=4, beats=2, serial=False):
    """S of SPEC.md step 4 as the unit forms it at 4 lanes and more: the code counters (two
    lanes, ``beats`` beats of any codes) and the sum of their counts times the table (on the
    multiplier, or bit-serially with ``serial``)."""
    table, _ = _norm_table(bits, top, max_len, counts=True, serial=serial)
    return group(CounterHarness(CodeCounter(bits=bits, epc=2, max_len=max_len, top=top), beats),
                 SumHarness(table, max_len))


# What the stream proofs' units (rows of up to 2) hold at most: a row in each of the stages A,
# B, R and C, plus the beats of the output pipeline: 4 x 2 + 4.
_ROWS_INSIDE = 12

EXAQ_CODER = Proof(
    "exaq_coder", "EXAQ quantizer, 5-bit distances, b = 2 and 3, two lanes: "
    "code = min(2^b-1, floor((2(2^b-1) nd + C) / 2C))",
    lambda: group(*(CoderHarness(ExaqCoder(in_bits=5, bits=b, epc=2)) for b in (2, 3))),
    depth=4)
EXAQ_COUNTER = Proof(
    "exaq_counter", "EXAQ accumulation by code counts, b = 2: the counters (two lanes, two "
    "beats of any codes) = n_k, and the sum on the shared multiplier = sum_k n_k LUT[k], any "
    "counts and table",
    lambda: _accumulation(2, ExaqTop.EXP), depth=8)
EXAQ_NORM_TABLE = Proof(
    "exaq_norm_table", "EXAQ normalise stage, b = 2, F = O = 4: "
    "y table = (LUT[k] R + 2^(s-1)) >> s, any table and R",
    lambda: _norm_table_harness(2, ExaqTop.EXP, max_len=1), depth=7)
RECIPROCAL = Proof(
    "reciprocal", "the shared divider, 1-4 quotient bits per cycle: R = floor(2^Q / S) for "
    "every S in range (the small units' widths: F = 4, rows up to 2 and 8)",
    lambda: _reciprocals((6, 11, 8), (8, 13, 10)), depth=12)
EXAQ_COUNTER_SERIAL = Proof(
    "exaq_counter_serial", "EXAQ accumulation by code counts with the bit-serial sum "
    "(serial_y at 4+ lanes), b = 2: n_k, then S = sum_k n_k LUT[k] by Horner's rule over the "
    "count bits, any counts and table",
    lambda: _accumulation(2, ExaqTop.EXP, serial=True), depth=16)
EXAQ_NORM_TABLE_SERIAL = Proof(
    "exaq_norm_table_serial", "EXAQ normalise stage with the bit-serial multiply (serial_y), "
    "b = 2, F = O = 4: y table = (LUT[k] R + 2^(s-1)) >> s, any table and R",
    lambda: _norm_table_harness(2, ExaqTop.EXP, max_len=1, serial=True), depth=23)
# Larger widths and the long stream proofs (pytest -m slow).
EXAQ_NORM_TABLE_SERIAL_B3 = Proof(
    "exaq_norm_table_serial_b3", "EXAQ normalise stage with the bit-serial multiply, b = 3 "
    "with top zero, rows up to 4",
    lambda: _norm_table_harness(3, ExaqTop.ZERO, max_len=4, serial=True), depth=38, slow=True,
    timeout=1800)
# (At the defaults' widths, S 18 bits and Q 29, and at S 16 / Q 25 the solver did not finish
# within 25 and 5 minutes on the shared machine: the divider is the same circuit at every
# width, and the simulations check it at the defaults and the extremes.)
RECIPROCAL_WIDE = Proof(
    "reciprocal_wide", "the shared divider at wider widths (S 12 bits, Q 19, R 12 bits), 1-4 "
    "quotient bits per cycle",
    lambda: _reciprocals((12, 19, 12)), depth=14, slow=True, timeout=1800)
EXAQ_CODER_8BIT = Proof(
    "exaq_coder_8bit", "EXAQ quantizer, 8-bit distances (the default unit), b = 2, 3, 4",
    lambda: group(*(CoderHarness(ExaqCoder(in_bits=8, bits=b, epc=2)) for b in (2, 3, 4))),
    depth=4, slow=True)
EXAQ_COUNTER_B3 = Proof(
    "exaq_counter_b3", "EXAQ accumulation, b = 3 with top zero (7 counters, 7 table entries)",
    lambda: _accumulation(3, ExaqTop.ZERO), depth=11, slow=True, timeout=1800)
EXAQ_NORM_TABLE_B3 = Proof(
    "exaq_norm_table_b3", "EXAQ normalise stage, b = 3 with top zero, rows up to 4",
    lambda: _norm_table_harness(3, ExaqTop.ZERO, max_len=4), depth=10, slow=True, timeout=1800)
EXAQ_SOFTMAX_STREAM = Proof(
    "exaq_softmax_stream", "EXAQ softmax (4-bit logits, b = 2, rows of 1-2): stream "
    "rules on i, cfg and o; rows come out beat for beat",
    lambda: RowStream(_softmax_small(ExaqSoftmax, bits=2), capacity=_ROWS_INSIDE),
    depth=30, slow=True, timeout=3600)
SOFTMAX_FIXED_STREAM = Proof(
    "softmax_fixed_stream", "fixed-point softmax (the baseline), same sizes: as above",
    lambda: RowStream(_softmax_small(SoftmaxFixed), capacity=_ROWS_INSIDE),
    depth=30, slow=True, timeout=3600)
