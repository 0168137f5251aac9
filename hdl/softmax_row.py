"""The row machinery shared by the softmax units (SPEC.md "EXAQ softmax"; docs/exaq_hardware.md).

A softmax needs every logit of a row twice after the row's maximum is known (once to sum the
exponentials, once to normalise them), so the units keep the row in memory. This module holds
everything the EXAQ unit and its fixed-point baseline share:

* :class:`MaxFinder`: the running maximum over the valid lanes of each beat;
* :class:`Reciprocal`: ``R = floor(2^Q / S)`` by a sequential restoring divider, several
  quotient bits per cycle;
* :class:`Normaliser`: ``y = (e * R + 2^(Q-O-1)) >> (Q-O)``, the rounding multiply, in two
  pipeline stages;
* :class:`SoftmaxRow`: the stream interface, the row buffer, the symbol buffer and the
  sequencing of the passes as a four-stage row pipeline. A unit subclasses it and provides
  only its exp phase, its accumulate phase and the last step of its normalise phase.
"""

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.core.params import ParameterError, check_int
from lowbit.core.unit_params import EPC, IN_BITS, IN_FRAC, LUT_FRAC, MAX_LEN, OUT_FRAC
from .component import Component

from .stream_pipeline import StallingPipeline

__all__ = ["EPC_CHOICES", "clog2", "count_shape", "beat_layout", "lanes", "MaxFinder",
           "Reciprocal", "Normaliser", "SoftmaxRow"]

EPC_CHOICES = EPC.choices      # elements per cycle: lowbit.core.unit_params, declared once


def clog2(n):
    """``ceil(log2(n))`` for ``n >= 1``."""
    return (n - 1).bit_length()


def count_shape(epc):
    """The shape of a beat's ``count`` field: it holds 1..epc."""
    return unsigned(epc.bit_length())


def beat_layout(elem_shape, epc):
    """One beat of a row: ``epc`` lanes, how many of them are valid, and the end of the row."""
    return data.StructLayout({"data": data.ArrayLayout(elem_shape, epc),
                              "count": count_shape(epc), "last": 1})


def lanes(value, width, count):
    """The ``count`` fields of ``width`` bits packed in ``value``, lowest first.

    The phase sub-modules and the buffers pass lanes packed in plain vectors rather than as
    ``ArrayLayout`` views: Amaranth names a view's fields ``port[k]``, which collides with the
    names Yosys gives single bits (``synth_ecp5`` then fails an internal assertion).
    """
    return [value.word_select(k, width) for k in range(count)]


def _lane_valid(lane, count):
    """Lane ``lane`` carries an element of a beat with ``count`` valid lanes (lane 0 always)."""
    return Const(1) if lane == 0 else count > lane


class MaxFinder(Component):
    """The running maximum of a row's logits, ``epc`` lanes per beat.

    Ports: ``data`` (the beat's lanes, signed ``in_bits`` each, packed), ``count`` (valid
    lanes, 1..epc: lanes at and above it are ignored), ``en`` (take this beat), ``first`` (it
    starts a row), ``max`` (the maximum of the beats taken since the last ``first``, valid
    from the cycle after the last of them). The beat's own maximum, a tree of ``epc - 1``
    comparators, is registered; the next cycle folds it into the running maximum with one
    more comparator (and ``max`` shows that fold before it is registered), so no path
    holds more than the tree or one comparator.
    """

    def __init__(self, *, in_bits, epc):
        self.in_bits, self.epc = in_bits, epc
        super().__init__({
            "data": In(unsigned(in_bits * epc)),
            "count": In(count_shape(epc)),
            "en": In(1),
            "first": In(1),
            "max": Out(signed(in_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        lowest = -(1 << (self.in_bits - 1))
        data_lanes = [lane.as_signed() for lane in lanes(self.data, self.in_bits, self.epc)]
        level = [Mux(_lane_valid(k, self.count), data_lanes[k], lowest) for k in range(self.epc)]
        while len(level) > 1:
            level = [Mux(level[k] >= level[k + 1], level[k], level[k + 1])
                     if k + 1 < len(level) else level[k] for k in range(0, len(level), 2)]
        held = Signal(signed(self.in_bits), reset_less=True)    # the last beat's maximum
        held_first = Signal(reset_less=True, name="held_first")
        pending = Signal(name="pending")
        running = Signal(signed(self.in_bits), reset_less=True)
        folded = Signal(signed(self.in_bits))
        m.d.comb += [folded.eq(Mux(held_first | (held > running), held, running)),
                     self.max.eq(Mux(pending, folded, running))]
        m.d.sync += pending.eq(self.en)
        with m.If(self.en):
            m.d.sync += [held.eq(level[0]), held_first.eq(self.first)]
        with m.If(pending):
            m.d.sync += running.eq(folded)
        return m


class Reciprocal(Component):
    """``r = floor(2^q / s)`` by restoring division, ``bits_per_cycle`` quotient bits per cycle.

    The quotient has ``r_bits`` bits, so the division starts from the partial remainder
    ``2^(q - r_bits)`` and is exact whenever ``s > 2^(q - r_bits)`` (then ``r < 2^r_bits``);
    for a smaller ``s`` the result is unspecified (it still fits ``r_bits``).

    Each cycle runs ``k = bits_per_cycle`` restoring steps one after the other (shift the
    partial remainder, subtract ``s``, keep the difference if it is not negative: one
    quotient bit each), so a radix-2^k digit costs k subtractors in series and no table of
    multiples of ``s``. ``cycles = ceil(r_bits / k)``; when ``k`` does not divide ``r_bits``
    the division starts ``e = k cycles - r_bits`` bits lower, from ``2^(q - r_bits - e)``, and
    the first ``e`` quotient bits it forms are 0 (they fall off the top of ``r``).

    Ports: ``s`` (held stable from ``start`` until ``done``), ``start`` (a one-cycle pulse: the
    first digit is computed at that cycle's clock edge), ``r``, ``done``. Started at cycle
    ``u``, ``done`` is high from cycle ``u + cycles`` until the next ``start``.
    """

    def __init__(self, *, s_bits, q, r_bits, bits_per_cycle=1):
        self.bits_per_cycle = check_int("bits_per_cycle", bits_per_cycle, 1, 4)
        self.cycles = -(-r_bits // bits_per_cycle)
        self.start_exponent = q - r_bits - (self.cycles * bits_per_cycle - r_bits)
        if not 0 <= self.start_exponent < s_bits:
            raise ParameterError(f"reciprocal: the start remainder 2^{self.start_exponent} "
                                 f"must fit {s_bits} bits")
        self.s_bits, self.q, self.r_bits = s_bits, q, r_bits
        super().__init__({
            "s": In(unsigned(s_bits)),
            "start": In(1),
            "r": Out(unsigned(r_bits)),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        remainder = Signal(self.s_bits + 1, reset_less=True)
        quotient = Signal(self.r_bits, reset_less=True)
        left = Signal(range(self.cycles + 1))
        done = Signal()

        current = Mux(self.start, 1 << self.start_exponent, remainder)
        digit = []                                  # the quotient bits, highest first
        for step in range(self.bits_per_cycle):
            shifted = Signal(self.s_bits + 2, name=f"shifted{step}")
            difference = Signal(signed(self.s_bits + 3), name=f"difference{step}")
            m.d.comb += [shifted.eq(current << 1), difference.eq(shifted - self.s)]
            bit = difference >= 0
            digit.append(bit)
            current = Mux(bit, difference, shifted)
        m.d.comb += [self.r.eq(quotient), self.done.eq(done)]

        with m.If(self.start | (left != 0)):
            m.d.sync += [remainder.eq(current),
                         quotient.eq(Cat(*reversed(digit), quotient)),
                         left.eq(Mux(self.start, self.cycles - 1, left - 1)),
                         done.eq(Mux(self.start, self.cycles == 1, left == 1))]
        return m


class Normaliser(Component):
    """``y = (e * r + 2^(shift-1)) >> shift``, kept to ``y_bits`` bits, in two pipeline stages.

    With ``e <= S`` and ``r = floor(2^Q / S)``, ``e * r <= 2^Q``, so with ``shift = Q - O`` the
    result is at most ``2^O`` and ``y_bits = O + 1`` holds it.

    The multiplier is the longest path of either unit, so it is split: ``e`` into a high and
    a low half, the two half-height products registered when ``en`` is high, then added
    (with the rounding constant) and shifted in the next cycle. ``y`` follows ``e`` and ``r``
    by one ``en`` cycle (``latency = 1``); so does ``product``, the plain ``e * r`` (for a
    unit that uses the same multiplier for other per-row products).
    """

    latency = 1

    def __init__(self, *, e_bits, r_bits, shift, y_bits):
        self.e_bits, self.r_bits, self.shift = e_bits, r_bits, shift
        self.low_bits = (e_bits + 1) // 2
        super().__init__({
            "e": In(unsigned(e_bits)),
            "r": In(unsigned(r_bits)),
            "en": In(1, init=1),
            "y": Out(unsigned(y_bits)),
            "product": Out(unsigned(e_bits + r_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        low, high = self.e[:self.low_bits], self.e[self.low_bits:]
        low_product = Signal(self.low_bits + self.r_bits, reset_less=True)
        high_product = Signal(self.e_bits - self.low_bits + self.r_bits, reset_less=True)
        with m.If(self.en):
            m.d.sync += [low_product.eq(low * self.r), high_product.eq(high * self.r)]
        total = (high_product << self.low_bits) + low_product + (1 << (self.shift - 1))
        m.d.comb += [self.y.eq(total >> self.shift),
                     self.product.eq((high_product << self.low_bits) + low_product)]
        return m


class SoftmaxRow(Component):
    """Streaming softmax of rows of fixed-point logits, as a four-stage row pipeline.

    Subclasses provide the exp phase (:meth:`exp_phase`), the per-element accumulation
    (:meth:`accumulate_phase`), the per-row work after it (:meth:`row_phase`) and the output
    side of the normalise phase (:meth:`normalise_phase`); this class holds the rest, once for
    both units.

    Attributes
    ----------
    i : In(stream.Signature(beat_layout(signed(in_bits), epc)))
        Logit beats: ``data`` (``epc`` lanes), ``count`` (valid lanes, 1..epc; every beat of a
        row is full but its last), ``last`` (the row's last beat). A row has 1..max_len
        elements.
    cfg : In(stream.Signature(cfg_layout)), only if the unit has a per-row configuration
        One word per row, in row order: it must be valid when the row enters stage B (which
        reads it there, e.g. the clip) and is taken when the row enters stage R (which reads
        it again, e.g. the table); the stream rule keeps it stable in between. So
        consecutive rows may differ.
    o : Out(stream.Signature(beat_layout(unsigned(out_frac + 1), epc)))
        The row's outputs in order, beat for beat as they came in (same ``count`` and
        ``last``); lanes at and above ``count`` are 0.

    The stages, each busy with one row at a time (docs/exaq_hardware.md):

    A. load: the beats go into the row buffer while :class:`MaxFinder` tracks the maximum.
    B. exp and accumulate: the row buffer is read back one beat per cycle; each lane's
       ``nd = max - x`` is registered and goes through the exp phase (``exp_stages`` register
       stages) to a symbol that is stored in the symbol buffer (three banks) and
       accumulated (``acc_stages`` more cycles until the accumulation is complete).
    R. per row: the accumulation's result is handed over from B; ``sum_cycles`` cycles to
       finish the sum ``S``, :class:`Reciprocal` (``r_cycles`` cycles), ``prep_cycles`` of
       per-row preparation (EXAQ's y table).
    C. normalise and output: the symbol buffer is read back through a
       :class:`StallingPipeline` to ``o`` (the buffer's read register, the normalise phase's
       ``out_stages``, the output register).

    A takes the next row as soon as B has started reading the row buffer (B's reads stay
    ahead of A's writes), B the next row as soon as R has taken the last (one cycle later
    with ``cfg``, whose word R takes), R as soon as C has taken its row, so with rows arriving
    back to back and ``o`` never stalled a row of ``L`` elements takes :meth:`cycles_per_row`
    cycles (the slowest stage's time: ceil(L/epc) plus a few for long rows, the fixed per-row
    work of R for short ones) and goes from its first input beat to its last output beat in
    :meth:`row_latency` cycles. ``latency`` is ``None``: it depends on the row length.
    """

    latency = None
    ND_STAGES = 1      # the register of nd = max - x
    exp_stages = 1     # register stages of the exp phase, from nd to the stored symbol
    acc_stages = 0     # cycles after the last symbol until the accumulation is complete
    out_stages = 0           # register stages of the normalise phase in the output pipeline
    normalise_registers = 0  # those of them inside the phase (not made with `stage`)
    BANKS = 3          # symbol buffer banks: rows in stages B, R and C
    # Quotient bits per cycle of the shared Reciprocal (both units): two restoring steps in
    # series per cycle halve stage R's division (20 -> 10 cycles at the defaults) for one
    # more subtractor; four would put four subtract-and-select carry chains in one cycle,
    # longer than either unit's slowest path (docs/exaq_hardware.md, "Synthesis").
    DIVIDER_BITS = 2

    def __init__(self, *, in_bits, in_frac, lut_frac, out_frac, max_len, epc, symbol_bits,
                 sum_bits, sum_cycles, prep_cycles, cfg_layout=None):
        self.in_bits = IN_BITS.check(in_bits)
        self.in_frac = IN_FRAC.check(in_frac, hi=in_bits - 1,
                                     why="a logit has in_bits - 1 bits besides its sign")
        self.lut_frac = LUT_FRAC.check(lut_frac)
        self.out_frac = OUT_FRAC.check(out_frac)
        self.max_len = MAX_LEN.check(max_len)
        self.epc = EPC.check(epc)
        # Row buffer beats; at least 2, so that its address has a bit (Verilog [-1:0] else).
        self.depth = max(2, -(-max_len // epc))
        self.q = out_frac + lut_frac + clog2(max_len) + 2
        self.r_bits = self.q - lut_frac + 1          # R < 2^r_bits when S > 2^(F-1)
        self.r_cycles = -(-self.r_bits // self.DIVIDER_BITS)   # Reciprocal.cycles
        self.y_bits = out_frac + 1
        self.symbol_bits, self.sum_bits = symbol_bits, sum_bits
        self.sum_cycles, self.prep_cycles = sum_cycles, prep_cycles
        self.has_cfg = cfg_layout is not None
        members = {
            "i": In(stream.Signature(beat_layout(signed(in_bits), epc))),
            "o": Out(stream.Signature(beat_layout(unsigned(self.y_bits), epc))),
        }
        if self.has_cfg:
            members["cfg"] = In(stream.Signature(cfg_layout))
        super().__init__(members)

    # Cycle counts (docs/exaq_hardware.md, "Cycles per row").

    def beats(self, length):
        """Beats of a row of ``length`` elements."""
        check_int("length", length, 1, self.max_len)
        return -(-length // self.epc)

    def stage_cycles(self, length):
        """Each stage's time per row, in steady state: ``{"A", "B", "R", "C"}`` -> cycles from
        taking a row to being able to take the next.

        A: ``beats`` and the cycle B takes the row in. B: the read-back (``beats``), the nd
        and exp registers, ``acc_stages``, the hand-over to R (and one more with ``cfg``:
        the word R takes is B's until then). R: ``sum_cycles``, the reciprocal's start and
        ``r_cycles`` of quotient digits, then (if any) ``prep_cycles`` and one cycle in which the
        prepared state is complete; the hand-over to C is the start of the next. C: the hand-over cycle, ``beats`` issued, and the beat's passage through the
        stages that read the row's state (the symbol buffer's read register and the
        normalise stages made with ``stage``).
        """
        beats = self.beats(length)
        return {
            "A": beats + 1,
            "B": beats + self.ND_STAGES + self.exp_stages + self.acc_stages + 1 + self.has_cfg,
            "R": (self.sum_cycles + 1 + self.r_cycles
                  + (self.prep_cycles + 1 if self.prep_cycles else 0)),
            "C": beats + 2 + self.out_stages - self.normalise_registers,
        }

    def cycles_per_row(self, length):
        """Cycles per row in steady state (rows of ``length`` back to back, ``o`` never
        stalled): the slowest stage's time (:meth:`stage_cycles`)."""
        return max(self.stage_cycles(length).values())

    def row_latency(self, length):
        """Cycles from taking the first input beat of a row to taking its last output beat,
        for a row that finds the unit idle and is never stalled: B takes the row ``beats``
        cycles after its first beat, R ``B - has_cfg`` cycles later (the extra cycle of
        ``cfg`` is after the hand-over), C ``R`` cycles after that (with ``prep_cycles`` = 0
        R hands over in the cycle its reciprocal is done); C issues the first beat a cycle
        later, which leaves the output pipeline ``2 + out_stages`` cycles later, and the last
        beat ``beats - 1`` cycles after it."""
        beats, stages = self.beats(length), self.stage_cycles(length)
        return (2 * beats + stages["B"] - self.has_cfg + stages["R"] + self.out_stages + 2)

    # The unit's phases.

    def exp_phase(self, m, nd, take):
        """The symbols of ``nd`` (``epc`` lanes, unsigned ``in_bits``), ``exp_stages`` cycles
        later. ``take`` is high in the cycle a row enters stage B (with its ``cfg`` word
        valid)."""
        raise NotImplementedError

    def accumulate_phase(self, m, *, take, symbols, lane_valid, en, first):
        """Accumulate the symbols of a beat (``en``; ``lane_valid`` masks the lanes; ``first``
        marks the row's first beat, which starts afresh); complete ``acc_stages`` cycles after
        the last beat's ``en``. ``take`` is high in the cycle the row enters stage B."""
        raise NotImplementedError

    def row_phase(self, m, *, take, sum_step, sum_first, sum_last, r, prep_step):
        """Stage R: ``take`` (the row enters R: copy the accumulation's result; the ``cfg``
        word is taken at its clock edge), then ``sum_cycles`` cycles of ``sum_step``
        (``sum_first``, ``sum_last`` in the first and last), then the reciprocal, then
        ``prep_cycles`` cycles of ``prep_step`` with the row's ``r``. Returns the value of ``S``,
        read while the reciprocal runs."""
        raise NotImplementedError

    def normalise_phase(self, m, *, r, take, symbols, stage, enable):
        """``y`` for each lane's symbol, given the row's ``r``, ``out_stages`` register
        stages later: stages made with ``stage(*values)`` (which returns the registered
        values) plus ``normalise_registers`` inside the phase, enabled by ``enable`` (the
        output pipeline's). ``take`` is high in the cycle a row enters stage C (copy the
        row's state from stage R), then the symbols of the row come past."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        epc, depth = self.epc, self.depth

        m.submodules.row_buffer = row_buffer = Memory(
            shape=unsigned(self.in_bits * epc), depth=depth, init=[])
        row_write, row_read = row_buffer.write_port(), row_buffer.read_port()
        # Three banks, one after another: address = bank x depth + beat. Each stage keeps
        # its bank's base address, so the addresses need one adder and no multiplier.
        symbol_bits = self.symbol_bits
        m.submodules.symbol_buffer = symbol_buffer = Memory(
            shape=unsigned(symbol_bits * epc), depth=self.BANKS * depth, init=[])
        symbol_write, symbol_read = symbol_buffer.write_port(), symbol_buffer.read_port()
        bank_base = range(self.BANKS * depth)

        # --- Stage A: load the row and find its maximum. ---
        # Rows are tracked by the index of their last beat, so that no control path holds
        # a subtraction.
        a_beat = Signal(range(depth))              # the next beat's address
        a_full = Signal()
        a_last_beat = Signal(range(depth), reset_less=True)
        a_last_count = Signal(count_shape(epc), reset_less=True)
        m.submodules.max_finder = max_finder = MaxFinder(in_bits=self.in_bits, epc=epc)
        take_beat = Signal()
        m.d.comb += [
            self.i.ready.eq(~a_full),
            take_beat.eq(self.i.valid & self.i.ready),
            row_write.en.eq(take_beat),
            row_write.addr.eq(a_beat),
            row_write.data.eq(self.i.payload.data),
            max_finder.data.eq(self.i.payload.data),
            max_finder.count.eq(self.i.payload.count),
            max_finder.en.eq(take_beat),
            max_finder.first.eq(a_beat == 0),
        ]
        with m.If(take_beat):
            m.d.sync += a_beat.eq(a_beat + 1)
            with m.If(self.i.payload.last):
                m.d.sync += [a_full.eq(1), a_last_beat.eq(a_beat),
                             a_last_count.eq(self.i.payload.count)]

        # --- Stage B: exp and accumulate. ---
        b_max = Signal(signed(self.in_bits), reset_less=True)
        b_last_beat = Signal(range(depth), reset_less=True)
        b_last_count = Signal(count_shape(epc), reset_less=True)
        b_base = Signal(bank_base)
        b_beat = Signal(range(depth))           # the beat on the row buffer's read port
        b_reading = Signal()                    # b_beat is a beat of the row
        b_free, take_b, take_r, take_c, r_free, c_free = (
            Signal(name=name)
            for name in ("b_free", "take_b", "take_r", "take_c", "r_free", "c_free"))
        cfg_valid = self.cfg.valid if self.has_cfg else Const(1)
        m.d.comb += take_b.eq(a_full & b_free & cfg_valid)
        if self.has_cfg:
            m.d.comb += self.cfg.ready.eq(take_r)
        with m.If(take_b):
            m.d.sync += [a_full.eq(0), a_beat.eq(0),
                         b_max.eq(max_finder.max), b_last_beat.eq(a_last_beat),
                         b_last_count.eq(a_last_count), b_beat.eq(0),
                         b_base.eq(Mux(b_base == (self.BANKS - 1) * depth, 0, b_base + depth))]

        in_code = Signal()
        beat_valid, beat_last = Signal(name="beat_valid"), Signal(name="beat_last")
        m.d.comb += [beat_valid.eq(in_code & b_reading),
                     beat_last.eq(b_beat == b_last_beat),
                     row_read.addr.eq(Mux(beat_valid & ~beat_last, b_beat + 1, 0))]
        with m.If(beat_valid):
            m.d.sync += b_beat.eq(b_beat + 1)
            with m.If(beat_last):
                m.d.sync += b_reading.eq(0)
        with m.If(take_b):
            m.d.sync += b_reading.eq(1)

        # nd = max - x, registered, then the unit's exp phase. The beat's position travels
        # beside them.
        nd = [Signal(self.in_bits, name=f"nd{k}", reset_less=True) for k in range(epc)]
        x = [lane.as_signed() for lane in lanes(row_read.data, self.in_bits, epc)]
        m.d.sync += [nd[k].eq(b_max - x[k]) for k in range(epc)]
        symbols = self.exp_phase(m, nd, take_b)
        valid_s, beat_s, last_s = beat_valid, b_beat, beat_last
        for stage in range(self.ND_STAGES + self.exp_stages):
            valid_r = Signal(name=f"code_valid_s{stage + 1}")
            beat_r = Signal.like(b_beat, name=f"code_beat_s{stage + 1}", reset_less=True)
            last_r = Signal(name=f"code_last_s{stage + 1}", reset_less=True)
            m.d.sync += [valid_r.eq(valid_s), beat_r.eq(beat_s), last_r.eq(last_s)]
            valid_s, beat_s, last_s = valid_r, beat_r, last_r
        lane_valid = Cat(~last_s | _lane_valid(k, b_last_count) for k in range(epc))
        m.d.comb += [symbol_write.en.eq(valid_s),
                     symbol_write.addr.eq(b_base + beat_s),
                     symbol_write.data.eq(Cat(*symbols))]
        self.accumulate_phase(m, take=take_b, symbols=symbols, lane_valid=lane_valid,
                              en=valid_s, first=beat_s == 0)

        # The state machines are one-hot flags written out (no m.FSM, whose `case`
        # statements Verilator's -Wall calls incomplete; flags keep the hand-over logic
        # shallow), and their combinational outputs are plain expressions of the flags:
        # Yosys writes an assignment made inside a condition as an `always @*` block, which
        # Icarus (-g2012) never runs while its inputs keep their initial values, leaving
        # the output X.
        b_idle = Signal(init=1)
        b_code, b_done = Signal(name="b_code"), Signal(name="b_done")
        code_done = Signal()
        acc_wait = Signal(range(max(self.acc_stages, 1) + 1))
        m.d.comb += [
            in_code.eq(b_code),
            code_done.eq(b_code & valid_s & last_s),
            take_r.eq(b_done & (acc_wait == 0) & r_free),
            # With cfg, R takes B's word at the hand-over, so B takes the next row (and
            # reads the next word) one cycle later.
            b_free.eq(b_idle | (take_r if not self.has_cfg else 0)),
        ]
        with m.If(take_r):
            m.d.sync += [b_done.eq(0), b_idle.eq(1)]
        with m.If(code_done):
            m.d.sync += [b_code.eq(0), b_done.eq(1), acc_wait.eq(self.acc_stages)]
        with m.Elif(acc_wait != 0):
            m.d.sync += acc_wait.eq(acc_wait - 1)
        with m.If(take_b):
            m.d.sync += [b_idle.eq(0), b_code.eq(1)]

        # --- Stage R: the sum, the reciprocal and the per-row preparation. ---
        r_last_beat = Signal(range(depth), reset_less=True)
        r_last_count = Signal(count_shape(epc), reset_less=True)
        r_base = Signal(bank_base, reset_less=True)
        with m.If(take_r):
            m.d.sync += [r_last_beat.eq(b_last_beat), r_last_count.eq(b_last_count),
                         r_base.eq(b_base)]
        m.submodules.reciprocal = reciprocal = Reciprocal(
            s_bits=self.sum_bits, q=self.q, r_bits=self.r_bits,
            bits_per_cycle=self.DIVIDER_BITS)
        assert reciprocal.cycles == self.r_cycles
        sum_step, prep_step, div_start = (
            Signal(name=name) for name in ("sum_step", "prep_step", "div_start"))
        sum_k = Signal(range(max(self.sum_cycles, 2)))
        prep_k = Signal(range(max(self.prep_cycles, 2)))
        total = self.row_phase(m, take=take_r, sum_step=sum_step, sum_first=sum_k == 0,
                               sum_last=sum_k == self.sum_cycles - 1, r=reciprocal.r,
                               prep_step=prep_step)
        m.d.comb += reciprocal.s.eq(total)

        r_idle = Signal(init=1)
        r_sum, r_div, r_prep, r_done = (
            Signal(name=name) for name in ("r_sum", "r_div", "r_prep", "r_done"))
        sum_done, div_done, prep_done = (
            Signal(name=name) for name in ("sum_done", "div_done", "prep_done"))
        # R hands over when the row's state is complete: with a preparation, after it (R
        # stays valid until the next start); without, as soon as the division is done.
        r_ready = r_done if self.prep_cycles else r_div & ~div_start
        m.d.comb += [
            sum_done.eq(r_sum & (sum_k == self.sum_cycles - 1)),
            div_done.eq(r_div & ~div_start & reciprocal.done),
            prep_done.eq(r_prep & (prep_k == self.prep_cycles - 1)),
            sum_step.eq(r_sum),
            prep_step.eq(r_prep),
            reciprocal.start.eq(div_start),    # high in the first cycle of DIV only
            take_c.eq(r_ready & reciprocal.done & c_free),
            r_free.eq(r_idle | take_c),
        ]
        m.d.sync += div_start.eq(take_r & (self.sum_cycles == 0) | sum_done)
        with m.If(take_c):
            m.d.sync += [(r_done if self.prep_cycles else r_div).eq(0), r_idle.eq(1)]
        if self.prep_cycles:
            with m.If(div_done):
                m.d.sync += [r_div.eq(0), r_prep.eq(1)]
            with m.If(prep_done):
                m.d.sync += [r_prep.eq(0), r_done.eq(1)]
        with m.If(sum_done):
            m.d.sync += [r_sum.eq(0), r_div.eq(1)]
        with m.If(take_r):
            m.d.sync += [r_idle.eq(0), (r_sum if self.sum_cycles else r_div).eq(1)]
        with m.If(r_sum):
            m.d.sync += sum_k.eq(Mux(sum_done, 0, sum_k + 1))
        with m.If(r_prep):
            m.d.sync += prep_k.eq(Mux(prep_done, 0, prep_k + 1))

        # --- Stage C: normalise and output. ---
        c_r = Signal(self.r_bits, reset_less=True)
        c_last_beat = Signal(range(depth), reset_less=True)
        c_last_count = Signal(count_shape(epc), reset_less=True)
        c_base = Signal(bank_base, reset_less=True)
        c_beat = Signal(range(depth))
        c_issuing = Signal()                    # beats of the row are left to issue
        with m.If(take_c):
            m.d.sync += [c_r.eq(reciprocal.r), c_last_beat.eq(r_last_beat),
                         c_last_count.eq(r_last_count), c_base.eq(r_base), c_beat.eq(0)]

        issue = SimpleNamespace(valid=Signal(name="issue_valid"), ready=Signal(name="issue_ready"))
        pipeline = StallingPipeline(m, issue, self.o)
        in_out = Signal()
        is_last = Signal()
        m.d.comb += [issue.valid.eq(in_out & c_issuing), is_last.eq(c_beat == c_last_beat)]
        with m.If(issue.valid & issue.ready):
            m.d.sync += c_beat.eq(c_beat + 1)
            with m.If(is_last):
                m.d.sync += c_issuing.eq(0)
        with m.If(take_c):
            m.d.sync += c_issuing.eq(1)
        count = Mux(is_last, c_last_count, epc)
        m.d.comb += [symbol_read.en.eq(pipeline.enable),
                     symbol_read.addr.eq(c_base + c_beat)]
        # Stage 1: the symbol buffer's read register, with the beat's facts beside it.
        issued_s1, last_s1, count_s1 = pipeline.stage(issue.valid, is_last, count)
        # The normalise phase's register stages: those it makes with `stage` and those
        # inside it (enabled with the pipeline), the beat's facts carried beside them.
        # Until a beat has left the stages made with `stage`, it still reads the row's
        # state (R, the y table): those stages must be empty before C takes the next row.
        carried = [issued_s1, last_s1, count_s1]
        reading = [issued_s1]

        def stage(*values):
            *registered, carried[0], carried[1], carried[2] = pipeline.stage(*values, *carried)
            reading.append(carried[0])
            return registered

        outputs = self.normalise_phase(m, r=c_r, take=take_c,
                                       symbols=lanes(symbol_read.data, symbol_bits, epc),
                                       stage=stage, enable=pipeline.enable)
        in_flight = Cat(*reading).any()      # (registered copies of the stages' valid bits)
        for _ in range(self.normalise_registers):
            stage()
        _, last_n, count_n = carried
        lane_y = [Signal(self.y_bits, name=f"y{k}") for k in range(epc)]
        m.d.comb += [lane_y[k].eq(Mux(_lane_valid(k, count_n), outputs[k], 0))
                     for k in range(epc)]
        # The output register.
        y_o, last_o, count_o = pipeline.stage(Cat(*lane_y), last_n, count_n)
        assert pipeline.latency == 2 + self.out_stages
        pipeline.finish(Cat(y_o, count_o, last_o))

        c_idle = Signal(init=1)
        c_out = Signal()
        m.d.comb += [
            in_out.eq(c_out),
            # Free once every beat has been issued and has left the stages that read the
            # row's bank and state. (From registers only, so that o.ready does not reach
            # stage R's hand-over.)
            c_free.eq(c_idle | (c_out & ~c_issuing & ~in_flight)),
        ]
        with m.If(c_out & c_free):
            m.d.sync += [c_out.eq(0), c_idle.eq(1)]
        with m.If(take_c):
            m.d.sync += [c_idle.eq(0), c_out.eq(1)]
        return m
