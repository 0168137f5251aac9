"""Binary tensor-core array: WpAq matrix products from AND/popcount bit planes (ABQ-LLM)."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.params import check_int

from .adder_tree import popcount

__all__ = ["BtcArray", "MAX_CODE_BITS"]

# Amaranth numbers the input bits of a design in 16 bits: an input beat's codes must stay below
# 2^16 with room for its few control bits (p, q, signedness, last) and the other inputs.
MAX_CODE_BITS = (1 << 16) - 256


class BtcArray(wiring.Component):
    """A ``rows`` x ``cols`` array of binary dot-product cells computing ``O = W @ A``.

    Each input beat is one ``k_slice``-deep slice of a job: the codes of ``W[:, slice]``
    (``rows`` x ``k_slice``) and ``A[slice, :]`` (given per column, ``cols`` x ``k_slice``),
    with the job's precision ``p``, ``q`` (1..p_max, 1..q_max) and signedness, which must stay
    the same for every beat of a job, and ``last`` on the job's final slice. The array spends
    ``p x q`` cycles on a beat, one per pair of bit planes (i, j), and only then takes the beat
    (the producer holds it meanwhile, as the stream protocol requires), so a WpAq job of K
    columns takes ``p * q * K / k_slice`` cycles: W2A8 runs 4x faster than W8A8.

    Each cycle every cell computes ``popcount(W_i[r] AND A_j[c])`` over the slice. Plane
    pairs run from the most significant down, so the plane weights 2^(i+j) come from doubling
    (Horner's rule), not from shifters: the cell keeps ``inner = 2 inner +- popcount`` over j,
    ``slice = 2 slice + inner`` over i, and ``job += slice`` over slices, each one register
    stage after the other. A pair counts negative when exactly one of its planes is a sign
    plane (the top plane of a signed operand). Sums wrap to ``acc_bits``.

    Parameters
    ----------
    rows, cols : int
        Array size, 1..16 each.
    k_slice : int
        Bits of K per cell and cycle, 8..256, and at most ``MAX_CODE_BITS`` code bits per
        beat: ``k_slice * (rows * p_max + cols * q_max) <= 65280`` (255 at 16 x 16 x W8A8).
    p_max, q_max : int
        Largest weight and activation precision, 1..8.
    acc_bits : int
        Result width, 16..64.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({
            "w": ArrayLayout(ArrayLayout(unsigned(p_max), k_slice), rows),
            "a": ArrayLayout(ArrayLayout(unsigned(q_max), k_slice), cols),
            "p": unsigned, "q": unsigned, "w_signed": 1, "a_signed": 1, "last": 1})))
        Codes in the low ``p`` (``q``) bits of each field: two's complement when signed.
    o : Out(stream.Signature(ArrayLayout(ArrayLayout(signed(acc_bits), cols), rows)))
        One result matrix per job, ``latency`` = 4 cycles after the job's last beat is taken
        (popcount, inner, slice and job stages) when ``o`` is free; back-pressure stalls the
        array.
    """

    latency = 4

    def __init__(self, *, rows=4, cols=4, k_slice=64, p_max=8, q_max=8, acc_bits=32):
        self.rows = check_int("rows", rows, 1, 16)
        self.cols = check_int("cols", cols, 1, 16)
        self.p_max = check_int("p_max", p_max, 1, 8)
        self.q_max = check_int("q_max", q_max, 1, 8)
        code_bits = rows * p_max + cols * q_max     # bits of an input beat per k
        self.k_slice = check_int("k_slice", k_slice, 8, min(256, MAX_CODE_BITS // code_bits),
                                 why=f"an input beat holds k_slice x {code_bits} code bits, at "
                                     f"most {MAX_CODE_BITS}")
        self.acc_bits = check_int("acc_bits", acc_bits, 16, 64)
        layout = data.StructLayout({
            "w": data.ArrayLayout(data.ArrayLayout(unsigned(p_max), k_slice), rows),
            "a": data.ArrayLayout(data.ArrayLayout(unsigned(q_max), k_slice), cols),
            "p": range(1, p_max + 1),
            "q": range(1, q_max + 1),
            "w_signed": 1,
            "a_signed": 1,
            "last": 1,
        })
        result = data.ArrayLayout(data.ArrayLayout(signed(acc_bits), cols), rows)
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(result))})

    def macs_per_cycle(self, p, q):
        """Effective multiply-accumulates per cycle of a WpAq job."""
        return self.rows * self.cols * self.k_slice / (p * q)

    def elaborate(self, platform):
        m = Module()
        beat = self.i.payload
        # Everything moves unless a finished result waits to be taken; the job registers
        # themselves hold that result, so freezing them is all the output buffering needed.
        enable = Signal()
        m.d.comb += enable.eq(~self.o.valid | self.o.ready)

        # The plane pair of this cycle, from (p-1, q-1) down to (0, 0); the beat is taken on
        # its last pass.
        # Plane indices get at least one bit: at p_max = 1 a zero-width signal would become
        # `wire [-1:0]` in the Verilog, a two-bit vector there.
        busy = Signal()
        i_range, j_range = range(max(2, self.p_max)), range(max(2, self.q_max))
        i_next, j_next = Signal(i_range), Signal(j_range)
        plane_i, plane_j = Signal(i_range), Signal(j_range)
        m.d.comb += [plane_i.eq(Mux(busy, i_next, beat.p - 1)),
                     plane_j.eq(Mux(busy, j_next, beat.q - 1))]
        last_pass = (plane_i == 0) & (plane_j == 0)
        m.d.comb += self.i.ready.eq(enable & last_pass)
        passing = enable & self.i.valid
        with m.If(passing):
            m.d.sync += busy.eq(~last_pass)
            with m.If(plane_j == 0):
                m.d.sync += [j_next.eq(beat.q - 1), i_next.eq(plane_i - 1)]
            with m.Else():
                m.d.sync += [j_next.eq(plane_j - 1), i_next.eq(plane_i)]
        job_start = Signal(init=1)    # after reset and after every job's last beat
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += job_start.eq(beat.last)

        # Stage 1: every cell's popcount of this plane pair.
        # Named signals, not expressions: popcount slices its operand bit by bit, and every
        # slice of an expression would repeat the whole expression in the netlist.
        w_planes = [Signal(self.k_slice, name=f"w_plane_{r}") for r in range(self.rows)]
        a_planes = [Signal(self.k_slice, name=f"a_plane_{c}") for c in range(self.cols)]
        # Each row's and column's codes in a named signal too: a code sliced out of the payload
        # is converted as a slice of a slice of it, which costs the payload's whole width for
        # every code (rows=16, k_slice=256 took minutes to convert).
        w_rows = [Signal(data.ArrayLayout(unsigned(self.p_max), self.k_slice), name=f"w_row_{r}")
                  for r in range(self.rows)]
        a_cols = [Signal(data.ArrayLayout(unsigned(self.q_max), self.k_slice), name=f"a_col_{c}")
                  for c in range(self.cols)]
        m.d.comb += [w_row.eq(beat.w[r]) for r, w_row in enumerate(w_rows)]
        m.d.comb += [a_col.eq(beat.a[c]) for c, a_col in enumerate(a_cols)]
        m.d.comb += [plane.eq(Cat(w_rows[r][k].bit_select(plane_i, 1)
                                  for k in range(self.k_slice)))
                     for r, plane in enumerate(w_planes)]
        m.d.comb += [plane.eq(Cat(a_cols[c][k].bit_select(plane_j, 1)
                                  for k in range(self.k_slice)))
                     for c, plane in enumerate(a_planes)]
        cells = [(r, c) for r in range(self.rows) for c in range(self.cols)]
        both = [Signal(self.k_slice, name=f"and_{r}_{c}") for r, c in cells]
        m.d.comb += [bits.eq(w_planes[r] & a_planes[c]) for bits, (r, c) in zip(both, cells)]
        count_bits = self.k_slice.bit_length()
        counts = [Signal(count_bits, name=f"count_{r}_{c}") for r, c in cells]
        counted = Signal()
        flags = _PassFlags()
        with m.If(enable):
            m.d.sync += counted.eq(passing)
            m.d.sync += [count.eq(popcount(bits)) for count, bits in zip(counts, both)]
            m.d.sync += flags.capture(
                j_first=plane_j == beat.q - 1, j_last=plane_j == 0,
                i_first=plane_i == beat.p - 1, i_last=plane_i == 0,
                negative=((plane_i == beat.p - 1) & beat.w_signed) ^
                         ((plane_j == beat.q - 1) & beat.a_signed),
                first_slice=job_start, last_slice=beat.last)

        # Stages 2-4: inner over j, slice over i, job over the slices (Horner's rule).
        inner_bits = count_bits + self.q_max + 1
        slice_bits = count_bits + self.p_max + self.q_max + 1
        inner = [Signal(signed(inner_bits), name=f"inner_{r}_{c}") for r, c in cells]
        slice_sum = [Signal(signed(slice_bits), name=f"slice_{r}_{c}") for r, c in cells]
        job = [Signal(signed(self.acc_bits), name=f"job_{r}_{c}") for r, c in cells]
        inner_done, slice_done = Signal(), Signal()
        after_inner, after_slice = _PassFlags(), _PassFlags()
        with m.If(enable):
            m.d.sync += [inner_done.eq(counted & flags.j_last), after_inner.copy(flags),
                         slice_done.eq(inner_done & after_inner.i_last),
                         after_slice.copy(after_inner),
                         self.o.valid.eq(slice_done & after_slice.last_slice)]
            with m.If(counted):
                m.d.sync += [acc.eq(Mux(flags.j_first, 0, acc << 1) +
                                    Mux(flags.negative, -count, count))
                             for acc, count in zip(inner, counts)]
            with m.If(inner_done):
                m.d.sync += [acc.eq(Mux(after_inner.i_first, 0, acc << 1) + part)
                             for acc, part in zip(slice_sum, inner)]
            with m.If(slice_done):
                m.d.sync += [acc.eq(Mux(after_slice.first_slice, 0, acc) + part)
                             for acc, part in zip(job, slice_sum)]
        m.d.comb += [self.o.payload[r][c].eq(acc) for acc, (r, c) in zip(job, cells)]
        return m


class _PassFlags:
    """What a pass's sums need to know on their way down the stages (a register bundle)."""

    NAMES = ("j_first", "j_last", "i_first", "i_last", "negative", "first_slice",
             "last_slice")

    def __init__(self):
        for name in self.NAMES:
            setattr(self, name, Signal(name=name))

    def capture(self, **values):
        return [getattr(self, name).eq(values[name]) for name in self.NAMES]

    def copy(self, other):
        return [getattr(self, name).eq(getattr(other, name)) for name in self.NAMES]
