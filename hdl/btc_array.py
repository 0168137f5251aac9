"""Binary tensor-core array: WpAq matrix products from AND/popcount bit planes (ABQ-LLM)."""

from amaranth.hdl import Cat, Const, Elaboratable, Module, Mux, ResetSignal, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.core.unit_params import COLS, K_SLICE, LEVELS_PER_STAGE, MAX_SLICES, P_MAX, Q_MAX, ROWS
from lowbit.core.widths import signed_bits_for
from .component import Component

__all__ = ["BtcArray", "CompressorPopcount", "PlanePopcount", "CellAccumulator", "BANKS"]

# Plane buffer banks: one being loaded, one being computed and one full and waiting, so that
# loading a job never waits for the job before the one being computed (with two banks a W1Aq
# job would lose a cycle per job: it loads as many beats as it computes passes).
BANKS = 3


def _acc_bits(k_max, p_max, q_max):
    """Signed bits of any result of a job of depth <= k_max at p <= p_max, q <= q_max, in any
    signedness (the same arithmetic as golden_models.btc_array.acc_bits_for)."""
    ends = []
    for w_lo, w_hi in ((0, (1 << p_max) - 1), (-(1 << (p_max - 1)), (1 << (p_max - 1)) - 1)):
        for a_lo, a_hi in ((0, (1 << q_max) - 1), (-(1 << (q_max - 1)), (1 << (q_max - 1)) - 1)):
            ends += [w * a * k_max for w in (w_lo, w_hi) for a in (a_lo, a_hi)]
    return signed_bits_for(min(ends), max(ends))


def _bits(n):
    """Address bits that count 0..n-1 (0 for n = 1)."""
    return (n - 1).bit_length()


class CompressorPopcount:
    """``popcount(x AND y)`` of two ``width``-bit values as a pipelined compressor tree, built
    into a module by :meth:`build` (a helper, not a component: the cells of an array share
    its enable and its pipeline flags).

    The tree is shaped for 4-input LUTs, and no AND has a LUT of its own. Its first stage
    takes the raw AND terms: half adders of two AND pairs (``x0 y0 ^ x1 y1`` and ``x0 y0 x1
    y1``, a LUT4 each), then, with two levels per stage, full adders that take two of those
    sums and one more raw AND (``a ^ b ^ x y`` and its majority, a LUT4 each), so that one AND
    in five is absorbed by a counter that also removes a bit (the half adders remove none).
    Then full adders (3:2 counters, one LUT per output) reduce every bit column of the
    carry-save sum to two bits, ``levels_per_stage`` levels between registers; the two rows
    are XORed with ``negate`` before the last register (absorbed into the last counters' LUTs)
    and added by one carry chain with ``negate`` as carry-in, giving ``negate ? ~count :
    count`` (``-count - 1``: the accumulator adds the missing 1). ``stages`` registers from
    the inputs to the result.
    """

    def __init__(self, width, levels_per_stage):
        self.width = width
        self.levels_per_stage = levels_per_stage
        self.count_bits = width.bit_length()
        self.out_bits = self.count_bits + 1           # room for ~count, a negative number
        # The first stage: `pairs` half adders of AND pairs, then (two levels per stage) the
        # remaining `absorbed` ANDs each into a full adder with two of the half adders' sums.
        # The fewest pairs that leave no AND over: width - 2 h <= h // 2.
        if levels_per_stage == 1:
            self.pairs = width // 2
        else:
            self.pairs = next(h for h in range(width // 2 + 1)
                              if width - 2 * h <= h // 2 or h == width // 2)
        self.absorbed = min(width - 2 * self.pairs, self.pairs // 2) \
            if levels_per_stage == 2 else 0
        self.single = width - 2 * self.pairs - self.absorbed     # an AND alone: 0 or 1
        # Full-adder levels after the first stage: each takes the tallest column from h to
        # ceil(2h / 3) bits (a column gains at most the carries of the column below).
        heights, levels = self._first_heights(), 0
        while max(heights) > 2:
            heights, levels = self._reduce_heights(heights), levels + 1
        self.fa_levels = levels
        # Registers: after the first stage, every levels_per_stage full-adder levels (the last
        # one always), and after the carry chain.
        self.stages = 1 + -(-levels // levels_per_stage) + 1

    def _first_heights(self):
        h, f = self.pairs, self.absorbed
        if self.levels_per_stage == 1:
            return [h + self.single, h]
        # the level after the half adders also reduces the carries (column 1) 3:2
        col1 = h + f - 2 * (h // 3) if h >= 3 else h + f
        heights = [h - 2 * f + f + self.single, col1, h // 3 if h >= 3 else 0]
        while heights and heights[-1] == 0:
            heights.pop()
        return heights

    @staticmethod
    def _reduce_heights(heights):
        out = [0] * (len(heights) + 1)
        for col, h in enumerate(heights):
            out[col] += h // 3 + h % 3
            out[col + 1] += h // 3
        while out and out[-1] == 0:
            out.pop()
        return out

    def _full_adders(self, columns, counters):
        """One level of 3:2 counters over every column of plain bits; ``counters(triples)``
        makes the counters of a level and returns their sum and carry bits."""
        triples, places, nxt = [], [], [[] for _ in range(len(columns) + 1)]
        for col, bits in enumerate(columns):
            bits = list(bits)
            while len(bits) >= 3:
                triples.append((bits.pop(0), bits.pop(0), bits.pop(0)))
                places.append(col)
            nxt[col] += bits
        sums, carries = counters(triples)
        for col, s, c in zip(places, sums, carries):
            nxt[col].append(s)
            nxt[col + 1].append(c)
        while not nxt[-1]:
            nxt.pop()
        return nxt

    def build(self, m, x, y, negate, carry_in, name, enable=None):
        """Add the tree to ``m``: ``x`` and ``y`` are values of the tree's stage 0, the result
        is registered at stage ``stages``, signed, ``out_bits`` wide; its registers move when
        ``enable`` is high (None: always). ``negate`` must be the flag of the pair at stage
        ``stages - 2`` (where the last counters are computed) and ``carry_in`` the same flag
        at stage ``stages - 1`` (the carry chain's). The logic of each level is a few wide
        named signals (``<name>_and``, ``<name>_<level>_sum``, ...), not one per bit."""
        def sync(*statements):
            if enable is None:
                m.d.sync += statements
            else:
                with m.If(enable):
                    m.d.sync += statements

        def register(bits, tag):
            # One register per level, not one per bit: a netlist of fewer, wider signals
            # (Verilator compiles the array's C++ several times faster).
            reg = Signal(len(bits), name=f"{name}_{tag}", reset_less=True)
            sync(reg.eq(Cat(*bits)))
            return list(reg)

        def register_columns(columns, tag):
            flat = register([b for col in columns for b in col], tag)
            out, start = [], 0
            for col in columns:
                out.append(flat[start:start + len(col)])
                start += len(col)
            return out

        def wire(value, width, tag):
            sig = Signal(width, name=f"{name}_{tag}")
            m.d.comb += sig.eq(value)
            return list(sig)

        def counters(tag):
            def make(triples):
                if not triples:
                    return [], []
                n = len(triples)
                a, b, c = (Cat(*(t[k] for t in triples)) for k in range(3))
                half = Cat(*wire(a ^ b, n, f"{tag}_half"))
                pairs = [Cat(*wire(u & v, n, f"{tag}_{name}"))
                         for u, v, name in ((a, b, "ab"), (a, c, "ac"), (b, c, "bc"))]
                either = Cat(*wire(pairs[0] | pairs[1], n, f"{tag}_ab_ac"))
                # sum a ^ b ^ c, carry the majority a b | a c | b c
                return (wire(half ^ c, n, f"{tag}_sum"),
                        wire(either | pairs[2], n, f"{tag}_carry"))
            return make

        ands = wire(x & y, self.width, "and")
        h, f = self.pairs, self.absorbed
        even, odd = Cat(*ands[0:2 * h:2]), Cat(*ands[1:2 * h:2])
        sums = wire(even ^ odd, h, "pair_sum") if h else []
        carries = wire(even & odd, h, "pair_carry") if h else []
        rest = ands[2 * h:]
        if self.levels_per_stage == 1:
            columns = [sums + rest, carries]
        else:
            # full adders a ^ b ^ (x y): two half-adder sums and one raw AND, a LUT4 each
            col0, col1 = counters("absorb")([(sums[2 * k], sums[2 * k + 1], rest[k])
                                             for k in range(f)])
            col0 = col0 + sums[2 * f:] + rest[f:]
            # and the half adders' carries 3:2 in the same level
            upper = self._full_adders([carries], counters("pair_fa")) if h >= 3 else [carries]
            columns = [col0, col1 + upper[0], *upper[1:]]
        while columns and not columns[-1]:
            columns.pop()
        assert [len(col) for col in columns] == self._first_heights(), (name, self.width)
        if self.fa_levels == 0:
            columns = self._negate(columns, negate, wire)
        columns = register_columns(columns, "p")
        for level in range(self.fa_levels):
            columns = self._full_adders(columns, counters(f"fa{level}"))[:self.out_bits]
            # (columns above the count's width hold 0)
            last = level == self.fa_levels - 1
            if last:
                columns = self._negate(columns, negate, wire)
            if last or (level + 1) % self.levels_per_stage == 0:
                columns = register_columns(columns, f"l{level}")
        rows = [Cat(*(col[n] if n < len(col) else Const(0) for col in columns))
                for n in range(2)]
        result = Signal(signed(self.out_bits), name=f"{name}_count", reset_less=True)
        # {row0, negate} + {row1, negate}, shifted down: the carry chain's carry-in is negate.
        total = Signal(self.out_bits + 2, name=f"{name}_total")
        m.d.comb += total.eq(Cat(carry_in, rows[0]) + Cat(carry_in, rows[1]))
        sync(result.eq(total[1:1 + self.out_bits]))
        return result

    def _negate(self, columns, negate, wire):
        """The carry-save rows, each ``out_bits`` wide, XORed with ``negate``: two rows of at
        most one bit per column (every column has at most two bits here)."""
        rows = []
        for n in range(2):
            bits = Cat(*(columns[col][n] if col < len(columns) and n < len(columns[col])
                         else Const(0) for col in range(self.out_bits)))
            rows.append(wire(bits ^ negate.replicate(self.out_bits), self.out_bits,
                             f"row{n}"))
        return [[rows[0][col], rows[1][col]] for col in range(self.out_bits)]


class PlanePopcount(Elaboratable):
    """One cell's :class:`CompressorPopcount` as a submodule (so that a synthesis report per
    module shows the popcounts apart from the accumulators and the control).

    Inputs ``x``, ``y`` (the two planes, stage 0), ``enable`` (the array's pipeline enable),
    ``negate`` (at stage ``stages - 2``) and ``carry_in`` (at ``stages - 1``); output
    ``count``, registered at stage ``stages``: ``popcount(x AND y)``, or ``~popcount`` where
    negated."""

    def __init__(self, tree):
        self.tree = tree
        self.x, self.y = Signal(tree.width, name="x"), Signal(tree.width, name="y")
        self.enable, self.negate = Signal(name="enable"), Signal(name="negate")
        self.carry_in = Signal(name="carry_in")
        self.count = Signal(signed(tree.out_bits), name="count")

    def elaborate(self, platform):
        m = Module()
        count = self.tree.build(m, self.x, self.y, self.negate, self.carry_in, "tree",
                                enable=self.enable)
        m.d.comb += self.count.eq(count)
        return m


class CellAccumulator(Elaboratable):
    """One cell's accumulation, two adders and no multiplexer: the diagonal's sum ``diag +=
    +-count`` (a negated count arrives as ``~popcount``; ``negate`` as the carry-in adds the
    1), cleared by the flip-flops' synchronous reset as it hands the diagonal on; then Horner's
    rule over the diagonals, ``acc = 2 acc + diagonal`` (the doubling is wiring), cleared
    likewise as it hands the job's result to ``result``.

    The array drives the shared controls: ``add`` (a count enters the sum),
    ``diagonal_done`` (it was its diagonal's last), ``clear_diag`` (``diagonal_done``, or
    reset), ``step`` (a finished diagonal enters the accumulator, a cycle later),
    ``job_done`` (it was the job's last) and ``clear_acc`` (``job_done``, or reset). The
    clears take the array's reset in, so they map to the flip-flops' own synchronous reset (a
    multiplexer per bit otherwise)."""

    def __init__(self, count_bits, diagonal_bits, acc_bits):
        self.count = Signal(signed(count_bits), name="count")
        self.negate = Signal(name="negate")
        self.add, self.diagonal_done = Signal(name="add"), Signal(name="diagonal_done")
        self.clear_diag, self.step = Signal(name="clear_diag"), Signal(name="step")
        self.job_done, self.clear_acc = Signal(name="job_done"), Signal(name="clear_acc")
        self.diagonal_bits, self.acc_bits = diagonal_bits, acc_bits
        self.result = Signal(signed(acc_bits), name="result")

    def elaborate(self, platform):
        m = Module()
        db, ab = self.diagonal_bits, self.acc_bits
        diag = Signal(signed(db), reset_less=True)
        done = Signal(signed(db), name="diag_done", reset_less=True)
        count = self.count
        wide = Cat(count, count[-1].replicate(db - len(count)))
        diag_sum = Signal(db + 2, name="diag_sum")
        m.d.comb += diag_sum.eq(Cat(self.negate, diag) + Cat(self.negate, wide))
        diag_next = diag_sum[1:1 + db]
        with m.If(self.clear_diag):
            m.d.sync += diag.eq(0)
        with m.Elif(self.add):
            m.d.sync += diag.eq(diag_next)
        with m.If(self.diagonal_done):
            m.d.sync += done.eq(diag_next)
        acc = Signal(signed(ab), reset_less=True)
        result = Signal(signed(ab), reset_less=True)
        acc_next = Signal(ab, name="acc_next")
        acc_sum = Signal(ab + 2, name="acc_sum")
        m.d.comb += [acc_sum.eq((acc << 1) + done), acc_next.eq(acc_sum)]
        with m.If(self.clear_acc):
            m.d.sync += acc.eq(0)
        with m.Elif(self.step):
            m.d.sync += acc.eq(acc_next)
        with m.If(self.job_done):
            m.d.sync += result.eq(acc_next)
        m.d.comb += self.result.eq(result)
        return m


class BtcArray(Component):
    """A ``rows`` x ``cols`` array of binary dot-product cells computing ``O = W @ A``.

    **Operands as bit planes.** A job is fed as bit planes, each crossing the input once: for
    every K-slice s of ``k_slice`` columns (in order), ``max(p, q)`` beats, beat b carrying
    weight plane b of the slice for every row (``w``, one ``k_slice``-bit word per row; its
    bit t is bit b of ``W[r, s k_slice + t]``) and activation plane b for every column
    (``a``, one word per token), zeros where b >= p (q); ``last`` on the job's final beat
    (``golden_models.btc_array.job_beats`` makes them). p, q (1..p_max, 1..q_max) and the two
    signedness flags are the same in every beat of a job. A job has 1..``max_slices`` slices.

    **Plane buffers.** Two memories (block RAM on FPGAs) of ``BANKS`` banks each hold the
    planes of whole jobs: ``banks x p_max x max_slices`` words of ``rows x k_slice`` bits for
    W, likewise for A. A plane's place is its address, so the array has no plane
    multiplexers; one bank loads while one is computed and a third waits full.

    **Compute.** Every cycle the sequencer reads one weight plane i and one activation plane j
    of one slice s from the bank of the job being computed, and every cell (r, c) computes
    ``popcount(W_i[r] AND A_j[c])`` in a pipelined compressor tree
    (:class:`CompressorPopcount`). The passes go over the diagonals d = i + j from p + q - 2
    down to 0, every pair (i, j) of a diagonal and every slice of it, so one accumulator per
    cell applies the plane weights 2^(i+j) by Horner's rule: it doubles once per diagonal,
    ``acc = 2 acc +- count``, with no shifter; a pair counts negative when exactly one of its
    planes is a sign plane (the top plane of a signed operand). A job takes exactly
    :meth:`job_cycles` = ``p * q * slices`` cycles of the sequencer, and loading it
    ``max(p, q) * slices`` beats, so back-to-back jobs follow each other every
    ``p * q * slices`` cycles (W2A8 is 4x faster than W8A8).

    **Result.** ``acc_bits`` = the signed bits of any job of depth ``k_max`` = ``max_slices
    * k_slice`` (so nothing wraps). A job's result is valid :attr:`latency` cycles after its
    last pass; while it waits at the stalled output the compute pipeline holds (the loader
    goes on filling free banks). :meth:`result_cycle` gives the exact cycle of each result.

    Parameters
    ----------
    rows, cols : int
        Array size, 1..16 each.
    k_slice : int
        Bits of K per cell and cycle, 8..256.
    p_max, q_max : int
        Largest weight and activation precision, 1..8.
    max_slices : int
        Most K-slices per job, 1..64 (the plane buffer depth).
    levels_per_stage : int
        Compressor levels between popcount registers, 1 or 2.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({
            "w": ArrayLayout(unsigned(k_slice), rows), "a": ArrayLayout(unsigned(k_slice), cols),
            "p": range(1, p_max + 1), "q": range(1, q_max + 1),
            "w_signed": 1, "a_signed": 1, "last": 1})))
    o : Out(stream.Signature(ArrayLayout(ArrayLayout(signed(acc_bits), cols), rows)))
    """

    def __init__(self, *, rows=ROWS.default, cols=COLS.default, k_slice=K_SLICE.default,
                 p_max=P_MAX.default, q_max=Q_MAX.default, max_slices=MAX_SLICES.default,
                 levels_per_stage=LEVELS_PER_STAGE.default):
        self.rows = ROWS.check(rows)
        self.cols = COLS.check(cols)
        self.k_slice = K_SLICE.check(k_slice)
        self.p_max = P_MAX.check(p_max)
        self.q_max = Q_MAX.check(q_max)
        self.max_slices = MAX_SLICES.check(max_slices)
        self.levels_per_stage = LEVELS_PER_STAGE.check(levels_per_stage)
        self.k_max = self.max_slices * self.k_slice
        self.acc_bits = _acc_bits(self.k_max, self.p_max, self.q_max)
        self.popcount = CompressorPopcount(self.k_slice, self.levels_per_stage)
        # A diagonal's sum: at most min(p_max, q_max) plane pairs of k_max ANDs, either sign.
        diagonal_max = min(self.p_max, self.q_max) * self.k_max
        self.diagonal_bits = max(signed_bits_for(-diagonal_max, diagonal_max),
                                 self.popcount.out_bits)
        # issue -> buffer read data -> plane registers -> popcount stages -> diagonal sum
        # -> Horner accumulator and result register
        self.latency = 2 + self.popcount.stages + 2
        self._slice_bits, self._w_plane_bits, self._a_plane_bits = (
            _bits(self.max_slices), _bits(self.p_max), _bits(self.q_max))
        layout = data.StructLayout({
            "w": data.ArrayLayout(unsigned(self.k_slice), self.rows),
            "a": data.ArrayLayout(unsigned(self.k_slice), self.cols),
            "p": range(1, self.p_max + 1),
            "q": range(1, self.q_max + 1),
            "w_signed": 1,
            "a_signed": 1,
            "last": 1,
        })
        result = data.ArrayLayout(data.ArrayLayout(signed(self.acc_bits), self.cols), self.rows)
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(result))})

    # The cycle formulas (what the testbench asserts).

    def job_cycles(self, p, q, slices):
        """Sequencer cycles of a WpAq job of ``slices`` K-slices: ``p * q * slices``."""
        return p * q * slices

    def load_beats(self, p, q, slices):
        """Input beats of a job: ``max(p, q) * slices``."""
        return max(p, q) * slices

    def macs_per_cycle(self, p, q):
        """Effective multiply-accumulates per cycle of a WpAq job."""
        return self.rows * self.cols * self.k_slice / (p * q)

    @property
    def buffer_depth(self):
        """Words of each plane buffer (banks x planes x slices, each rounded to a power of 2
        so an address is a concatenation)."""
        return BANKS << (self._slice_bits + max(self._w_plane_bits, self._a_plane_bits))

    @property
    def buffer_bits(self):
        """Bits of both plane buffers."""
        w = (BANKS << (self._slice_bits + self._w_plane_bits)) * self.rows * self.k_slice
        a = (BANKS << (self._slice_bits + self._a_plane_bits)) * self.cols * self.k_slice
        return w + a

    def operand_bits_per_cycle(self, p, q):
        """Input bits a WpAq job needs per compute cycle: ``(rows + cols) k_slice`` bits a
        beat, ``max(p, q)`` beats every ``p q`` cycles."""
        return (self.rows + self.cols) * self.k_slice * max(p, q) / (p * q)

    def elaborate(self, platform):
        m = Module()
        beat = self.i.payload
        sb, wb, ab = self._slice_bits, self._w_plane_bits, self._a_plane_bits
        plane_range = range(max(2, self.p_max, self.q_max))
        slice_range = range(max(2, self.max_slices))

        def buffer(name, plane_bits, width):
            # A bank is written only while not full and read only while full, so a read never
            # meets a write to its address: `no_rw_check` tells Yosys so, which spares the
            # collision bypass it would build otherwise (a register and a LUT per data bit).
            mem = Memory(shape=unsigned(width), depth=BANKS << (sb + plane_bits), init=[],
                         attrs={"ram_style": "block", "no_rw_check": 1})
            m.submodules[name] = mem
            return mem, mem.write_port(), mem.read_port(domain="sync")

        w_buf, w_wr, w_rd = buffer("w_buffer", wb, self.rows * self.k_slice)
        a_buf, a_wr, a_rd = buffer("a_buffer", ab, self.cols * self.k_slice)

        # ---- Loader: beats into the bank `load_bank`, plane b of slice s at Cat(s, b, bank).
        full = Signal(BANKS)
        load_bank = Signal(range(BANKS))
        load_plane = Signal(plane_range)
        load_slice = Signal(slice_range)
        job_p = [Signal(range(1, self.p_max + 1), name=f"bank{n}_p", init=1) for n in range(BANKS)]
        job_q = [Signal(range(1, self.q_max + 1), name=f"bank{n}_q", init=1) for n in range(BANKS)]
        job_slices = [Signal(range(1, self.max_slices + 1), name=f"bank{n}_slices", init=1)
                      for n in range(BANKS)]
        job_w_signed = [Signal(name=f"bank{n}_w_signed") for n in range(BANKS)]
        job_a_signed = [Signal(name=f"bank{n}_a_signed") for n in range(BANKS)]

        def succ(bank):
            return Mux(bank == BANKS - 1, 0, bank + 1)

        m.d.comb += self.i.ready.eq(~full.bit_select(load_bank, 1))
        taken = self.i.valid & self.i.ready
        planes = Mux(beat.p > beat.q, beat.p, beat.q)
        m.d.comb += [
            w_wr.addr.eq(Cat(load_slice[:sb], load_plane[:wb], load_bank)),
            a_wr.addr.eq(Cat(load_slice[:sb], load_plane[:ab], load_bank)),
            w_wr.data.eq(beat.w.as_value()),
            a_wr.data.eq(beat.a.as_value()),
            w_wr.en.eq(taken & (load_plane < beat.p)),
            a_wr.en.eq(taken & (load_plane < beat.q)),
        ]
        with m.If(taken):
            with m.If(load_plane == planes - 1):
                m.d.sync += [load_plane.eq(0), load_slice.eq(load_slice + 1)]
            with m.Else():
                m.d.sync += load_plane.eq(load_plane + 1)
            with m.If(beat.last):
                m.d.sync += [load_plane.eq(0), load_slice.eq(0), load_bank.eq(succ(load_bank))]
                # (if, not switch: a case over 3 of a 2-bit value's 4 values is incomplete,
                # which Verilator -Wall refuses)
                for n in range(BANKS):
                    with m.If(load_bank == n):
                        m.d.sync += [job_p[n].eq(beat.p), job_q[n].eq(beat.q),
                                     job_slices[n].eq(load_slice + 1),
                                     job_w_signed[n].eq(beat.w_signed),
                                     job_a_signed[n].eq(beat.a_signed)]

        # ---- Sequencer: one pass (i, j, s) per cycle over the diagonals of the bank `bank`.
        enable = Signal()     # the compute pipeline moves unless a result waits at o
        m.d.comb += enable.eq(~self.o.valid | self.o.ready)
        active = Signal()
        bank = Signal(range(BANKS))
        p, q = Signal(range(1, self.p_max + 1), init=1), Signal(range(1, self.q_max + 1), init=1)
        slices = Signal(range(1, self.max_slices + 1), init=1)
        w_signed, a_signed = Signal(), Signal()
        i = Signal(range(max(2, self.p_max)))
        j = Signal(range(max(2, self.q_max)))
        s = Signal(slice_range)

        last_slice, diagonal_end = Signal(name="last_slice"), Signal(name="diagonal_end")
        diagonal_last = Signal(name="diagonal_last")     # this pass ends its diagonal
        last_pass = Signal(name="last_pass")             # ... and its job
        m.d.comb += [last_slice.eq(s == slices - 1), diagonal_end.eq((i == 0) | (j == q - 1)),
                     diagonal_last.eq(last_slice & diagonal_end),
                     last_pass.eq(active & last_slice & (i == 0) & (j == 0))]
        next_bank = Mux(active, succ(bank), bank)
        start = (~active | last_pass) & full.bit_select(next_bank, 1)
        clear_full = Signal(BANKS)
        m.d.comb += clear_full.eq(Mux(last_pass & enable, 1 << bank, 0))
        set_full = Signal(BANKS)
        m.d.comb += set_full.eq(Mux(taken & beat.last, 1 << load_bank, 0))
        m.d.sync += full.eq((full & ~clear_full) | set_full)
        with m.If(enable):
            with m.If(start):
                m.d.sync += [active.eq(1), bank.eq(next_bank), s.eq(0)]
                for n in range(BANKS):
                    with m.If(next_bank == n):
                        m.d.sync += [p.eq(job_p[n]), q.eq(job_q[n]),
                                     slices.eq(job_slices[n]),
                                     w_signed.eq(job_w_signed[n]),
                                     a_signed.eq(job_a_signed[n]),
                                     i.eq(job_p[n] - 1), j.eq(job_q[n] - 1)]
            with m.Elif(last_pass):
                m.d.sync += [active.eq(0), bank.eq(succ(bank))]
            with m.Elif(active):
                with m.If(~last_slice):
                    m.d.sync += s.eq(s + 1)
                with m.Else():
                    m.d.sync += s.eq(0)
                    with m.If(~diagonal_end):
                        m.d.sync += [i.eq(i - 1), j.eq(j + 1)]
                    with m.Else():
                        # next diagonal d - 1 = i + j - 1, from its largest weight plane
                        d = i + j - 1
                        with m.If(d >= p - 1):
                            m.d.sync += [i.eq(p - 1), j.eq(d - (p - 1))]
                        with m.Else():
                            m.d.sync += [i.eq(d), j.eq(0)]

        m.d.comb += [
            w_rd.addr.eq(Cat(s[:sb], i[:wb], bank)),
            a_rd.addr.eq(Cat(s[:sb], j[:ab], bank)),
            w_rd.en.eq(enable),
            a_rd.en.eq(enable),
        ]

        # ---- Pass flags down the pipeline, one register stage per datapath stage.
        negate = ((i == p - 1) & w_signed) ^ ((j == q - 1) & a_signed)
        flags = [dict(valid=active, diagonal_last=diagonal_last, negate=negate,
                      last=last_pass)]
        for stage in range(self.latency - 1):
            regs = {name: Signal(name=f"{name}_s{stage + 1}") for name in flags[0]}
            with m.If(enable):
                m.d.sync += [regs[name].eq(value) for name, value in flags[-1].items()]
            flags.append(regs)
        # flags[n] belongs to the data of stage n: 1 = buffer read data, 2 = plane registers
        # (the popcount's stage 0), ...
        pc = self.popcount
        negate_late = flags[2 + pc.stages - 2]["negate"]   # the stage before the carry chain
        carry = flags[2 + pc.stages - 1]["negate"]         # the carry chain's stage
        at_sum = flags[self.latency - 2]       # the count enters its diagonal's sum
        at_acc = flags[self.latency - 1]       # a diagonal's sum enters the accumulator

        # ---- Cells.
        w_planes = [Signal(self.k_slice, name=f"w_plane_{r}", reset_less=True)
                    for r in range(self.rows)]
        a_planes = [Signal(self.k_slice, name=f"a_plane_{c}", reset_less=True)
                    for c in range(self.cols)]
        # Registered straight out of the block RAM: its clock-to-output delay (5.8 ns on ECP5
        # without the output register) plus the first LUT level set Fmax otherwise.
        with m.If(enable):
            m.d.sync += [plane.eq(w_rd.data[r * self.k_slice:(r + 1) * self.k_slice])
                         for r, plane in enumerate(w_planes)]
            m.d.sync += [plane.eq(a_rd.data[c * self.k_slice:(c + 1) * self.k_slice])
                         for c, plane in enumerate(a_planes)]
        # Every cell: its popcount, then its accumulator (two submodules each).
        reset = ResetSignal(allow_reset_less=True)    # (0 in a reset-less domain)
        add, diagonal_done = Signal(name="add"), Signal(name="diagonal_done")
        step, job_done = Signal(name="step"), Signal(name="job_done")
        clear_diag, clear_acc = Signal(name="clear_diag"), Signal(name="clear_acc")
        m.d.comb += [
            add.eq(enable & at_sum["valid"]),
            diagonal_done.eq(add & at_sum["diagonal_last"]),
            step.eq(enable & at_acc["valid"] & at_acc["diagonal_last"]),
            job_done.eq(step & at_acc["last"]),
            clear_diag.eq(reset | diagonal_done),
            clear_acc.eq(reset | job_done),
        ]
        results = []
        for r in range(self.rows):
            for c in range(self.cols):
                count = m.submodules[f"popcount_{r}_{c}"] = PlanePopcount(pc)
                cell = m.submodules[f"acc_{r}_{c}"] = CellAccumulator(
                    pc.out_bits, self.diagonal_bits, self.acc_bits)
                m.d.comb += [
                    count.x.eq(w_planes[r]), count.y.eq(a_planes[c]), count.enable.eq(enable),
                    count.negate.eq(negate_late), count.carry_in.eq(carry),
                    cell.count.eq(count.count), cell.negate.eq(at_sum["negate"]),
                    cell.add.eq(add), cell.diagonal_done.eq(diagonal_done),
                    cell.clear_diag.eq(clear_diag), cell.step.eq(step),
                    cell.job_done.eq(job_done), cell.clear_acc.eq(clear_acc),
                ]
                results.append(cell.result)
        m.d.comb += [self.o.payload[r][c].eq(results[r * self.cols + c])
                     for r in range(self.rows) for c in range(self.cols)]

        with m.If(enable):
            m.d.sync += self.o.valid.eq(at_acc["valid"] & at_acc["last"])
        return m
