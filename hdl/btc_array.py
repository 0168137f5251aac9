"""Binary tensor-core array: WpAq matrix products from AND/popcount bit planes (ABQ-LLM)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.core.params import check_choice, check_int
from lowbit.core.widths import signed_bits_for
from .component import Component

__all__ = ["BtcArray", "CompressorPopcount", "BANKS"]

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

    The tree is shaped for 4-input LUTs: the first level takes two AND pairs per bit of output
    (``x0 y0 ^ x1 y1`` and ``x0 y0 x1 y1``, one LUT4 each, so the ANDs cost nothing of their
    own); then full adders (3:2 counters, one LUT per output) reduce every bit column of the
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
        # Full-adder levels after the pair level: each takes the tallest column from h to
        # ceil(2h / 3) bits (a column gains at most the carries of the column below).
        heights, levels = self._heights(width), 0
        while max(heights) > 2:
            heights, levels = self._reduce_heights(heights), levels + 1
        self.fa_levels = levels
        # Registers: after the pair level, every levels_per_stage full-adder levels (the last
        # one always), and after the carry chain.
        self.stages = 1 + -(-levels // levels_per_stage) + 1

    @staticmethod
    def _heights(width):
        return [width // 2 + width % 2, width // 2]

    @staticmethod
    def _reduce_heights(heights):
        out = [0] * (len(heights) + 1)
        for col, h in enumerate(heights):
            out[col] += h // 3 + h % 3
            out[col + 1] += h // 3
        while out and out[-1] == 0:
            out.pop()
        return out

    def build(self, m, x, y, negate, carry_in, name):
        """Add the tree to ``m`` (inside the caller's ``with m.If(enable)``): ``x`` and ``y`` are
        values of the tree's stage 0, the result is registered at stage ``stages``, signed,
        ``out_bits`` wide. ``negate`` must be the flag of the pair at stage ``stages - 2``
        (where the last counters are computed) and ``carry_in`` the same flag at stage
        ``stages - 1`` (the carry chain's)."""
        def register(bits, tag):
            # One register per level, not one per bit: a netlist of fewer, wider signals
            # (Verilator compiles the array's C++ several times faster).
            reg = Signal(len(bits), name=f"{name}_{tag}", reset_less=True)
            m.d.sync += reg.eq(Cat(*bits))   # inside the caller's `with m.If(enable)`
            return [reg[n] for n in range(len(bits))]

        def register_columns(columns, tag):
            flat = register([b for col in columns for b in col], tag)
            out, start = [], 0
            for col in columns:
                out.append(flat[start:start + len(col)])
                start += len(col)
            return out

        pairs = [x[2 * k] & y[2 * k] for k in range(self.width // 2)], \
                [x[2 * k + 1] & y[2 * k + 1] for k in range(self.width // 2)]
        col0 = [a ^ b for a, b in zip(*pairs)]
        col1 = [a & b for a, b in zip(*pairs)]
        if self.width % 2:
            col0.append(x[self.width - 1] & y[self.width - 1])
        columns = [col0, col1]
        if self.fa_levels == 0:
            columns = self._negate(columns, negate)
        columns = register_columns(columns, "p")
        for level in range(self.fa_levels):
            nxt = [[] for _ in range(len(columns) + 1)]
            for col, bits in enumerate(columns):
                bits = list(bits)
                while len(bits) >= 3:
                    a, b, c = bits.pop(0), bits.pop(0), bits.pop(0)
                    nxt[col].append(a ^ b ^ c)
                    nxt[col + 1].append((a & b) | (a & c) | (b & c))
                nxt[col] += bits
            while not nxt[-1]:
                nxt.pop()
            columns = nxt[:self.out_bits]        # columns above the count's width hold 0
            last = level == self.fa_levels - 1
            if last:
                columns = self._negate(columns, negate)
            if last or (level + 1) % self.levels_per_stage == 0:
                columns = register_columns(columns, f"l{level}")
        rows = [Cat(*(col[n] if n < len(col) else Const(0) for col in columns))
                for n in range(2)]
        result = Signal(signed(self.out_bits), name=f"{name}_count", reset_less=True)
        # {row0, negate} + {row1, negate}, shifted down: the carry chain's carry-in is negate.
        total = Cat(carry_in, rows[0]) + Cat(carry_in, rows[1])
        m.d.sync += result.eq(total[1:1 + self.out_bits])
        return result

    def _negate(self, columns, negate):
        """The carry-save rows, each ``out_bits`` wide, XORed with ``negate``: two rows of at
        most one bit per column (every column has at most two bits here)."""
        out = []
        for col in range(self.out_bits):
            bits = columns[col] if col < len(columns) else []
            out.append([(bits[n] if n < len(bits) else Const(0)) ^ negate for n in range(2)])
        return out


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

    def __init__(self, *, rows=4, cols=4, k_slice=32, p_max=8, q_max=8, max_slices=16,
                 levels_per_stage=2):
        self.rows = check_int("rows", rows, 1, 16)
        self.cols = check_int("cols", cols, 1, 16)
        self.k_slice = check_int("k_slice", k_slice, 8, 256)
        self.p_max = check_int("p_max", p_max, 1, 8)
        self.q_max = check_int("q_max", q_max, 1, 8)
        self.max_slices = check_int("max_slices", max_slices, 1, 64)
        self.levels_per_stage = check_choice("levels_per_stage", levels_per_stage, (1, 2))
        self.k_max = self.max_slices * self.k_slice
        self.acc_bits = _acc_bits(self.k_max, self.p_max, self.q_max)
        self.popcount = CompressorPopcount(self.k_slice, self.levels_per_stage)
        # issue -> buffer read data -> plane registers -> popcount stages -> accumulator
        self.latency = 2 + self.popcount.stages + 1
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
            mem = Memory(shape=unsigned(width), depth=BANKS << (sb + plane_bits), init=[],
                         attrs={"ram_style": "block"})
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
        new_diagonal = Signal()     # this pass starts a diagonal (and is not the job's first)
        first = Signal()            # this pass is the job's first

        last_slice = s == slices - 1
        diagonal_end = (i == 0) | (j == q - 1)
        last_pass = active & last_slice & (i == 0) & (j == 0)
        next_bank = Mux(active, succ(bank), bank)
        start = (~active | last_pass) & full.bit_select(next_bank, 1)
        clear_full = Signal(BANKS)
        m.d.comb += clear_full.eq(Mux(last_pass & enable, 1 << bank, 0))
        set_full = Signal(BANKS)
        m.d.comb += set_full.eq(Mux(taken & beat.last, 1 << load_bank, 0))
        m.d.sync += full.eq((full & ~clear_full) | set_full)
        with m.If(enable):
            with m.If(start):
                m.d.sync += [active.eq(1), bank.eq(next_bank), s.eq(0), first.eq(1),
                             new_diagonal.eq(0)]
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
                m.d.sync += first.eq(0)
                with m.If(~last_slice):
                    m.d.sync += [s.eq(s + 1), new_diagonal.eq(0)]
                with m.Else():
                    m.d.sync += s.eq(0)
                    with m.If(~diagonal_end):
                        m.d.sync += [i.eq(i - 1), j.eq(j + 1), new_diagonal.eq(0)]
                    with m.Else():
                        # next diagonal d - 1 = i + j - 1, from its largest weight plane
                        d = i + j - 1
                        with m.If(d >= p - 1):
                            m.d.sync += [i.eq(p - 1), j.eq(d - (p - 1))]
                        with m.Else():
                            m.d.sync += [i.eq(d), j.eq(0)]
                        m.d.sync += new_diagonal.eq(1)

        m.d.comb += [
            w_rd.addr.eq(Cat(s[:sb], i[:wb], bank)),
            a_rd.addr.eq(Cat(s[:sb], j[:ab], bank)),
            w_rd.en.eq(enable),
            a_rd.en.eq(enable),
        ]

        # ---- Pass flags down the pipeline, one register stage per datapath stage.
        negate = ((i == p - 1) & w_signed) ^ ((j == q - 1) & a_signed)
        flags = [dict(valid=active, first=first, double=new_diagonal, negate=negate,
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
        at_acc = flags[self.latency - 1]

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
        accs = []
        with m.If(enable):
            for r in range(self.rows):
                for c in range(self.cols):
                    count = pc.build(m, w_planes[r], a_planes[c], negate_late, carry,
                                     name=f"cell_{r}_{c}")
                    acc = Signal(signed(self.acc_bits), name=f"acc_{r}_{c}", reset_less=True)
                    base = Mux(at_acc["first"], 0, Mux(at_acc["double"], acc << 1, acc))
                    # count is ~popcount when negative: {base, n} + {count, n} adds the 1
                    neg = at_acc["negate"]
                    wide = Cat(count, count[-1].replicate(self.acc_bits - pc.out_bits))
                    total = Cat(neg, base[:self.acc_bits]) + Cat(neg, wide)
                    with m.If(at_acc["valid"]):
                        m.d.sync += acc.eq(total[1:1 + self.acc_bits])
                    accs.append(acc)
        m.d.comb += [self.o.payload[r][c].eq(accs[r * self.cols + c])
                     for r in range(self.rows) for c in range(self.cols)]

        with m.If(enable):
            m.d.sync += self.o.valid.eq(at_acc["valid"] & at_acc["last"])
        return m
