# amaranth: UnusedElaboratable=no
# (the combinational harnesses call a unit's datapath hook without elaborating the unit)
"""Proofs of the binary tensor-core array (btc_array): one cell's result over a whole job
equals SPEC.md's plane formula (bounded over the job), and the array's streams give one
result per job, none lost or duplicated, under any back-pressure (bounded)."""

from amaranth.asserts import AnyConst
from amaranth.hdl import Array, Assert, Assume, C, Cat, Mux, Signal, Value, signed

from lowbit.hdl.btc_array import BtcArray

from .harness import Harness, StreamHarness, cycle_counter
from .sby import Proof

__all__ = ["code_value", "btc_spec", "BtcStream", "BtcCellHarness", "BTC_CELL",
           "BTC_ARRAY_STREAM"]


def code_value(m, code, p, is_signed, width):
    """The integer a ``p``-bit code stands for (SPEC.md "Binary tensor core array"): its low
    ``p`` bits, unsigned or two's complement; ``p`` is a runtime value, 1..``width``."""
    value = Signal(signed(width + 1), name="spec_code_value")
    with m.Switch(p):
        for bits in range(1, width + 1):
            with m.Case(bits):
                low = code[:bits]
                m.d.comb += value.eq(Mux(is_signed, low.as_signed(), low))
    return value


def _btc_format_assumptions(m, unit):
    """The input rules the array documents: 1 <= p <= p_max, 1 <= q <= q_max, and p, q and the
    signedness the same for every beat of a job."""
    beat = unit.i.payload
    m.d.comb += Assume(~unit.i.valid | ((beat.p >= 1) & (beat.p <= unit.p_max) &
                                        (beat.q >= 1) & (beat.q <= unit.q_max)))
    in_job = Signal(name="in_job")                     # a job's beat was taken, not its last
    job = Signal(len(beat.p) + len(beat.q) + 2, name="job_format")
    fmt = Cat(beat.p, beat.q, beat.w_signed, beat.a_signed)
    with m.If(unit.i.valid & unit.i.ready):
        m.d.sync += [in_job.eq(~beat.last), job.eq(fmt)]
    m.d.comb += Assume(~(unit.i.valid & in_job) | (fmt == job), "one format per job")


def btc_spec(m, unit, beat, planes=True):
    """SPEC.md "Binary tensor core array": one beat's contribution to each result. With
    ``planes``, SPEC.md's formula ``sum_i sum_j s_ij 2^(i+j) popcount(W_i AND A_j)`` over the
    planes i < p, j < q (s_ij = -1 where exactly one plane is a sign plane: the top plane of
    a signed operand); else the integer dot product ``sum_k value(w_k) x value(a_k)`` of the
    decoded codes (:func:`code_value`), which equals it and which SAT solvers find far harder
    to match against the circuit."""
    results = []
    for r in range(unit.rows):
        for c in range(unit.cols):
            if not planes:
                results.append(sum(
                    code_value(m, beat.w[r][k], beat.p, beat.w_signed, unit.p_max) *
                    code_value(m, beat.a[c][k], beat.q, beat.a_signed, unit.q_max)
                    for k in range(unit.k_slice)))
                continue
            terms = []
            for i in range(unit.p_max):
                for j in range(unit.q_max):
                    both = [beat.w[r][k][i] & beat.a[c][k][j] for k in range(unit.k_slice)]
                    count = sum(bit.as_unsigned() for bit in both)
                    negative = (((beat.p == i + 1) & beat.w_signed) ^
                                ((beat.q == j + 1) & beat.a_signed))
                    used = (beat.p > i) & (beat.q > j)
                    terms.append(Mux(used, Mux(negative, -count, count) << (i + j), 0))
            results.append(sum(terms))
    return results


class BtcStream(StreamHarness):
    """The binary tensor-core array's streams: jobs of any number of beats, any p, q and
    signedness the unit allows, any back-pressure. Each job's last beat owes one result; up
    to 4 can be in the array's 4 stages, and an owed result leaves after at most 3 idle
    cycles. The results' values are :class:`BtcCellHarness`'s business; here they are not
    compared (the array is in-order by construction, so counting shows no loss and no
    duplication), which keeps the proof to seconds."""

    def __init__(self, unit):
        super().__init__(unit)
        self.capacity, self.max_wait = unit.latency, unit.latency - 1

    def assume_input(self, m):
        _btc_format_assumptions(m, self.unit)

    def expected(self, m):
        return self.unit.i.valid & self.unit.i.ready & self.unit.i.payload.last, C(0, 1)

    def matches(self, m, payload, item):
        return C(1, 1)


class BtcCellHarness(Harness):
    """The binary cell's arithmetic over a whole job: ``beats`` free beats (the same p, q and
    signedness, ``last`` on the final one) offered back to back, ``o`` always ready. The
    array's result must come out within ``beats p_max q_max + latency`` cycles and equal
    :func:`btc_spec` summed over the beats, wrapped to ``acc_bits``: SPEC.md's plane formula
    by default, so the plane selection, the AND/popcount of each plane pair, its sign and the
    shift-accumulate by Horner's rule over the p x q passes and the beats are all covered.
    (``planes=False`` compares with the integer dot product instead: the same numbers, but a
    far harder problem for the solver.)"""

    def __init__(self, unit, beats, planes=True):
        self.unit, self.beats, self.planes = unit, beats, planes

    def build(self, m):
        unit, beats = self.unit, self.beats
        m.submodules.array = unit
        layout = unit.i.payload.shape()
        offered = [Signal(layout, name=f"beat{n}") for n in range(beats)]
        for n, beat in enumerate(offered):
            m.d.comb += Value.cast(beat).eq(AnyConst(len(Value.cast(beat))))
            m.d.comb += Assume(beat.last == (n == beats - 1))
        taken = Signal(range(beats + 1), name="taken")
        with m.If(unit.i.valid & unit.i.ready):
            m.d.sync += taken.eq(taken + 1)
        m.d.comb += [unit.i.valid.eq(taken < beats),
                     Value.cast(unit.i.payload).eq(Array(Value.cast(b) for b in offered)[taken]),
                     unit.o.ready.eq(1)]
        _btc_format_assumptions(m, unit)
        contributions = [btc_spec(m, unit, beat, self.planes) for beat in offered]
        results = [Signal(signed(unit.acc_bits), name=f"spec_result{n}")
                   for n in range(unit.rows * unit.cols)]
        m.d.comb += [result.eq(sum(parts)) for result, parts in zip(results, zip(*contributions))]
        limit = beats * unit.p_max * unit.q_max + unit.latency
        t = cycle_counter(m, limit)
        seen = Signal(name="seen_result")
        with m.If(unit.o.valid):
            m.d.sync += seen.eq(1)
        cells = [unit.o.payload[r][c] for r in range(unit.rows) for c in range(unit.cols)]
        m.d.comb += [
            Assert(~unit.o.valid | Cat(a == b for a, b in zip(cells, results)).all(),
                   "the job's result equals the integer dot product"),
            Assert((t != limit) | seen, "the result comes out"),
        ]


BTC_CELL = Proof(
    "btc_cell", "binary tensor-core cell (1x1 array, K=8 per beat, p, q <= 2), jobs "
    "of 2 beats: result = sum of s_ij 2^(i+j) popcount(W_i AND A_j)",
    lambda: BtcCellHarness(BtcArray(rows=1, cols=1, k_slice=8, p_max=2, q_max=2,
                                    acc_bits=16), beats=2), depth=14)
BTC_ARRAY_STREAM = Proof(
    "btc_array_stream", "binary tensor-core array (2x1, K=8, p, q <= 2): stream rules, "
    "one result per job, none lost or duplicated",
    lambda: BtcStream(BtcArray(rows=2, cols=1, k_slice=8, p_max=2, q_max=2, acc_bits=16)),
    depth=20)
