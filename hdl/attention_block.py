"""One quantized self-attention layer (MiniLM's: Q, K, V projections, per-head scores, softmax,
context, output projection) as one streaming circuit built from the units (issue 17; the
integer pipeline is /work/brief/BLOCK.md's, docs/block.md).

The projection engine is a unit's lane dot product (``int_dot`` INT8 x INT8, ``dint_dot``
dINT4 x INT8, ``pot_dot`` PoT4 x INT8); the activation x activation products (Q K^T and P V)
run on an ``int_dot`` of 9-bit x 8-bit lanes beside it; the softmax is ``softmax_fixed`` or
``exaq_softmax``; requantization between the stages is one ``requant`` unit shared by every stage.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.core.modes import BlockEngine, BlockSoftmax, DintCodebook, ExaqTop
from lowbit.core.params import ParameterError, check_int
from lowbit.core.unit_params import (BLOCK_ENGINE, BLOCK_IN_BITS, BLOCK_LANES, BLOCK_M_BITS, BLOCK_SOFTMAX,
                                     D_MODEL, HEADS, IN_FRAC, LUT_FRAC, MAX_TOKENS)
from lowbit.core.widths import signed_range

from .bitplane_dot import MAX_PASSES, BitplaneDot
from .component import Component
from .dint_dot import DintDot
from .exaq_softmax import ExaqSoftmax
from .int_dot import IntDot
from .pot_dot import PotDot
from .requant import Requant
from .softmax_fixed import SoftmaxFixed

__all__ = ["AttentionBlock", "ENGINES", "SOFTMAXES", "SHIFT_BITS", "BIAS_BITS"]

ENGINES = BLOCK_ENGINE.choices
SOFTMAXES = BLOCK_SOFTMAX.choices
SHIFT_BITS = 6          # requant shift s in 0..63
BIAS_BITS = 32          # int32 biases in the accumulator's units
ACT_BITS = 8            # INT8 activations (x, Q8, K8, V8, C8)
ZP_BITS = 2             # ABQ W2: unsigned codes and zero points 0..3
P_BITS = 8              # softmax outputs 0..2^out_frac with out_frac = 7: unsigned 8-bit
AA_WEIGHT_BITS = 9      # the activation x activation engine's "weight" lane: Q8 or P, signed 9

# Destinations of a result (the kind tag that travels with each beat).
KIND_Q, KIND_K, KIND_V, KIND_O, KIND_S, KIND_C = range(6)


def _ceil_div(a, b):
    return -(-a // b)


class AttentionBlock(Component):
    """One self-attention layer of ``d_model`` channels, ``heads`` heads, up to ``max_tokens``
    tokens, on one ``lanes``-wide projection engine.

    Parameters
    ----------
    engine : "int8" | "dint" | "pot"
        The projection engine: ``IntDot`` (INT8 x INT8), ``DintDot`` (dINT4 ``half``, f = 1)
        or ``PotDot`` (PoT4 with the zero code, f = 7), ``lanes`` wide. ("bitplane", the
        btc_array at p = 2 / q = 8, is not built yet: refused with one line.)
    softmax : "fixed" | "exaq2" | "exaq3"
        ``SoftmaxFixed`` or ``ExaqSoftmax`` (b = 2 or 3, top "exp") on the score rows, one
        element per cycle, ``max_len = max_tokens``, ``out_frac = 7``.
    lanes : int, 4..64
        Lanes of the projection engine and of the activation x activation engine.
    d_model : int, 16..384, a multiple of heads x lanes
    heads : int, 1..12 (head_dim = d_model / heads)
    max_tokens : int, 2..128
    in_bits, in_frac, lut_frac : the softmax's logit width, its fractional bits and F.
    m_bits : int, 8..24, width of the requant multipliers M.

    Streams (all ``amaranth.lib.stream``; a layer is one ``cfg`` word, then the others):

    ``cfg`` (In): one word per layer: ``tokens`` T (1..max_tokens), the score requant
    (``m_s``, ``s_s``), the context requant (``m_x``, ``s_x``) and, for EXAQ, the softmax's
    ``clip`` and ``lut`` (BLOCK.md). Taken when the block is idle.
    ``x`` (In): the layer input, T x d_model INT8 codes, ``lanes`` per beat, token-major
    (beat ``t * d_model / lanes + b`` holds channels ``b * lanes ..``).
    ``w`` (In): the weight rows in the order the sequencer uses them: for P in q, k, v, o, for
    each output channel c, ``d_model / lanes`` beats of ``lanes`` codes (input channels in
    order). A row is kept in an on-chip row buffer and reused for all T tokens; two banks,
    so the next row streams in while this one computes.
    ``ch`` (In): one word per weight row, in the same order: the channel's ``bias`` (int32,
    the accumulator's units) and requant pair (``m``, ``s``; unused for o).
    ``o`` (Out): the layer output out[t, c] (signed ``out_bits``, exact), channel-major: beat
    ``c * T + t``; ``last`` on the layer's final beat.

    The layer (BLOCK.md stages 1-5): load x; the Q, K, V projections (results requantized to
    INT8 into the Q, K buffers and the transposed V buffer); per head, the scores of every
    (t, u) (requantized to the logits, streamed row by row into the softmax, whose outputs P
    fill the P buffer), then the context of every (t, j) (requantized into the C buffer; row
    t starts when P row t is in); the output projection from the C buffer to ``o``.

    Cycles per layer (every input always valid, ``o`` always ready, the softmax keeping up
    with the score rows; :meth:`cycles`, checked in simulation): with B = d_model / lanes,
    dh = head_dim, Bh = dh / lanes, Bt = ceil(T / lanes),
    ``1 + T B + 3 (d_model T B) + 1 + heads (T T Bh + 1 + T dh Bt + 1) + tail + d_model T B
    + tail_o`` where ``tail`` is the pipeline depth waited for before the output projection
    (:attr:`tail`) and ``tail_o`` that of the last output beat. The engines do one beat per
    cycle: :meth:`utilisation`.
    """

    def __init__(self, *, engine=BLOCK_ENGINE.default, softmax=BLOCK_SOFTMAX.default,
                 lanes=BLOCK_LANES.default, d_model=D_MODEL.default, heads=HEADS.default,
                 max_tokens=MAX_TOKENS.default, in_bits=BLOCK_IN_BITS.default, in_frac=IN_FRAC.default,
                 lut_frac=LUT_FRAC.default, m_bits=BLOCK_M_BITS.default):
        self.engine = BLOCK_ENGINE.check(engine)
        self.softmax = BLOCK_SOFTMAX.check(softmax)
        self.d_model = D_MODEL.check(d_model)
        self.heads = HEADS.check(heads)
        if d_model % heads:
            divisors = [h for h in range(HEADS.lo, HEADS.hi + 1) if d_model % h == 0]
            raise ParameterError(
                f"heads={heads} is not allowed: heads must divide d_model={d_model}, one of "
                f"{', '.join(map(str, divisors))} (heads must be one of these)", name="heads", value=heads, choices=divisors)
        self.lanes = BLOCK_LANES.check(lanes)
        if (d_model // heads) % lanes:
            divisors = [n for n in range(BLOCK_LANES.lo, BLOCK_LANES.hi + 1)
                        if (d_model // heads) % n == 0]
            raise ParameterError(
                f"lanes={lanes} is not allowed: lanes must be one of "
                f"{', '.join(map(str, divisors)) or f'none in {BLOCK_LANES.lo}..{BLOCK_LANES.hi}'}"
                f", the divisors of head_dim = "
                f"d_model / heads = {d_model // heads} (d_model a multiple of heads x lanes)", name="lanes", value=lanes,
                choices=divisors or None)
        self.max_tokens = MAX_TOKENS.check(max_tokens)
        self.in_bits = BLOCK_IN_BITS.check(in_bits)
        self.in_frac = IN_FRAC.check(in_frac, hi=in_bits - 1,
                                     why="a logit has in_bits - 1 bits besides its sign")
        self.lut_frac = LUT_FRAC.check(lut_frac)
        self.m_bits = BLOCK_M_BITS.check(m_bits)
        self.out_frac = 7
        self.head_dim = d_model // heads
        self.beats = d_model // lanes                    # B: beats of a d_model vector
        self.head_beats = self.head_dim // lanes          # Bh
        self.token_beats = _ceil_div(max_tokens, lanes)   # beats of a max_tokens vector

        # The units, built here so that their parameters are checked now.
        if self.engine == BlockEngine.INT8:
            self.proj = IntDot(lanes=lanes, weight_bits=8, act_bits=ACT_BITS)
            self.weight_shape = signed(8)
        elif self.engine == BlockEngine.DINT:
            self.proj = DintDot(lanes=lanes, special=DintCodebook.HALF, frac_bits=1, act_bits=ACT_BITS)
            self.weight_shape = unsigned(4)
        elif self.engine == BlockEngine.POT:
            self.proj = PotDot(lanes=lanes, bits=4, zero_code=True, act_bits=ACT_BITS)
            self.weight_shape = unsigned(4)
        else:
            self.proj = BitplaneDot(lanes=lanes)
            self.weight_shape = unsigned(ZP_BITS)
        # Passes of the engine per beat: a projection one; Q K^T and P V one on the int_dot,
        # and on the bit-plane engine (8-bit Q8 and P, two weight planes a pass) four.
        self.bitplane = self.engine == BlockEngine.BITPLANE
        self.aa_passes = MAX_PASSES if self.bitplane else 1
        self.aa = None if self.bitplane else IntDot(lanes=lanes, weight_bits=AA_WEIGHT_BITS,
                                                    act_bits=ACT_BITS)
        common = dict(in_bits=in_bits, in_frac=in_frac, lut_frac=lut_frac,
                      out_frac=self.out_frac, max_len=max_tokens, epc=1)
        self.exaq_bits = self.softmax.exaq_bits
        if self.exaq_bits is None:
            self.sm = SoftmaxFixed(**common)
        else:
            self.sm = ExaqSoftmax(bits=self.exaq_bits, top=ExaqTop.EXP, **common)
        self.engine_latency = max(self.proj.latency, self.aa.latency if self.aa else 0)

        # Accumulator widths: a projection's sum of B beats plus the bias; a score's Bh beats
        # of Q8 K8 lanes; a context's beats of P V8 lanes.
        proj_lo, proj_hi = signed_range(self.proj.sum_bits)
        aa_lo, aa_hi = signed_range((self.aa or self.proj).sum_bits)
        bias_lo, bias_hi = signed_range(BIAS_BITS)
        aa_beats = max(self.head_beats, self.token_beats) * self.aa_passes
        lo = min(proj_lo * self.beats + bias_lo, aa_lo * aa_beats)
        hi = max(proj_hi * self.beats + bias_hi, aa_hi * aa_beats)
        self.acc_bits = max((-lo - 1).bit_length(), hi.bit_length()) + 1
        self.out_bits = self.acc_bits
        self.requant = Requant(lanes=1, acc_bits=self.acc_bits, m_bits=m_bits,
                               out_bits=max(in_bits, ACT_BITS))
        self.latency = None
        # Pipeline depth from an issued beat to its result's write: the memory read, the
        # engine, the accumulate stage, the requant unit, the write.
        self.tail = 1 + self.engine_latency + 1 + Requant.latency + 1
        # The softmax's row time as the sequencer computes it from the layer's token count T:
        # every stage of the softmax takes its T beats plus a constant, or a constant, so
        # cycles_per_row(T) = max(T + after_beats, fixed) (checked here for every T).
        stages = [(self.sm.stage_cycles(1)[k], self.sm.stage_cycles(max_tokens)[k])
                  for k in self.sm.stage_cycles(1)]
        self.sm_after_beats = max(lo - 1 for lo, hi in stages if hi - lo == max_tokens - 1)
        self.sm_fixed = max([lo for lo, hi in stages if hi == lo], default=0)
        assert all(self.sm.cycles_per_row(t) == max(t + self.sm_after_beats, self.sm_fixed)
                   for t in range(1, max_tokens + 1)), "a softmax stage not linear in T"
        self.fifo_depth = 16

        lut_layout = {}
        if self.exaq_bits is not None:
            lut_layout = {"clip": unsigned(in_bits + 1),
                          "lut": data.ArrayLayout(unsigned(lut_frac + 1), 1 << self.exaq_bits)}
        cfg = data.StructLayout({
            "tokens": unsigned(max_tokens.bit_length()),
            "m_s": unsigned(m_bits), "s_s": unsigned(SHIFT_BITS),
            "m_x": unsigned(m_bits), "s_x": unsigned(SHIFT_BITS),
            **lut_layout,
        })
        ch = data.StructLayout({"bias": signed(BIAS_BITS), "m": unsigned(m_bits),
                                "s": unsigned(SHIFT_BITS),
                                **({"zero_point": unsigned(ZP_BITS)} if self.bitplane else {})})
        super().__init__({
            "cfg": In(stream.Signature(cfg)),
            "x": In(stream.Signature(data.ArrayLayout(signed(ACT_BITS), lanes))),
            "w": In(stream.Signature(data.ArrayLayout(self.weight_shape, lanes))),
            "ch": In(stream.Signature(ch)),
            "o": Out(stream.Signature(data.StructLayout({"data": signed(self.out_bits),
                                                         "last": 1}))),
        })

    # --- Cycle counts ---

    def phase_cycles(self, tokens):
        """Each phase's cycles for a layer of ``tokens`` tokens (streams never stalled)."""
        t = check_int("tokens", tokens, 1, self.max_tokens)
        scores, context = self._head_cycles(t)
        return {
            "cfg": 1,
            "load_x": t * self.beats,
            "qkv": 3 * self.d_model * t * self.beats,
            "scores": self.heads * scores,
            "context": self.heads * context,
            "drain": 1 + self.tail,
            "out": self.d_model * t * self.beats,
            "out_tail": self.tail + 1,
        }

    def score_row_cycles(self, tokens):
        """Cycles from the start of one score row to the next's: the row's ``T Bh N`` beats, or
        the softmax's row time (``cycles_per_row(T)``) where that is longer. The sequencer
        holds a row's first beat until then, so the softmax takes every score as it arrives
        and the layer's time is the formula's at every ``T``, short rows included."""
        t = check_int("tokens", tokens, 1, self.max_tokens)
        return max(t * self.head_beats * self.aa_passes, self.sm.cycles_per_row(t))

    def _head_cycles(self, t):
        """``(scores, context)``: one head's cycles in each phase. Score row ``r`` starts
        ``r P`` cycles into the head (``P`` = :meth:`score_row_cycles`); its P row is written
        (the sequencer's count of P rows passes ``r``) ``r P + T Bh N + tail + row_latency(T)
        - T + 2`` cycles in; context row ``r``, ``dh Bt N`` beats, starts when the previous
        one is done and its P row is written."""
        n = self.aa_passes
        period, row = self.score_row_cycles(t), t * self.head_beats * n
        context_row = self.head_dim * _ceil_div(t, self.lanes) * n
        scores = (t - 1) * period + row + 1          # + the cycle of the SCORES_END state
        written = row + self.tail + self.sm.row_latency(t) - t + 2
        end = scores
        for r in range(t):
            end = max(end, written + r * period) + context_row
        return scores, end + 1 - scores             # + the cycle of the CONTEXT_END state

    def cycles(self, tokens):
        """Cycles from taking the ``cfg`` word to taking the layer's last ``o`` beat."""
        return sum(self.phase_cycles(tokens).values())

    def engine_beats(self, tokens):
        """Busy cycles of each engine per layer (a beat, or on the bit-plane engine a pass,
        per cycle): ``{"proj": ..., "aa": ...}``: the projections', and Q K^T's and P V's
        (on the bit-plane engine the same engine's, ``aa_passes`` a beat)."""
        bt = _ceil_div(tokens, self.lanes)
        return {"proj": 4 * self.d_model * tokens * self.beats,
                "aa": self.heads * (tokens * tokens * self.head_beats
                                    + tokens * self.head_dim * bt) * self.aa_passes}

    def utilisation(self, tokens, cycles=None):
        """Busy fraction of each engine over a layer of ``cycles`` (default :meth:`cycles`)."""
        cycles = self.cycles(tokens) if cycles is None else cycles
        return {name: beats / cycles for name, beats in self.engine_beats(tokens).items()}

    # --- The circuit ---

    def elaborate(self, platform):
        m = Module()
        L, D, B = self.lanes, self.d_model, self.beats
        dh, Bh, TB = self.head_dim, self.head_beats, self.token_beats
        T_MAX = self.max_tokens
        wbits = self.weight_shape.width

        m.submodules.proj = proj = self.proj
        aa = self.aa
        if aa is not None:
            m.submodules.aa = aa
        m.submodules.softmax = sm = self.sm

        # --- Buffers (kept in ``buffers`` by name, for simulation) ---
        self.buffers = {}
        def buffer(name, depth, granular):
            mem = Memory(shape=unsigned(ACT_BITS * L), depth=max(2, depth), init=[])
            m.submodules[name] = self.buffers[name] = mem
            wp = mem.write_port(granularity=ACT_BITS) if granular else mem.write_port()
            return mem, wp, mem.read_port()

        _, x_wr, x_rd = buffer("x_buffer", T_MAX * B, False)
        _, q_wr, q_rd = buffer("q_buffer", T_MAX * B, True)
        _, k_wr, k_rd = buffer("k_buffer", T_MAX * B, True)
        _, v_wr, v_rd = buffer("vt_buffer", D * TB, True)     # V transposed: channel-major
        _, c_wr, c_rd = buffer("c_buffer", T_MAX * B, True)
        _, p_wr, p_rd = buffer("p_buffer", T_MAX * TB, True)  # this head's P rows
        m.submodules.w_buffer = w_mem = Memory(shape=unsigned(wbits * L), depth=2 * B, init=[])
        w_wr, w_rd = w_mem.write_port(), w_mem.read_port()

        # --- Layer configuration ---
        cfg = Signal(self.cfg.payload.shape(), reset_less=True)
        tokens = cfg.tokens

        # --- Weight row loader: two banks of one row each, with the row's ch word ---
        # (Combinational signals are plain expressions, never assigned inside a condition:
        # Yosys writes such an assignment as an `always @*` block, which Icarus does not run
        # while its inputs keep their initial values; and no m.FSM, whose `case` statements
        # Verilator's -Wall calls incomplete. As in hdl/softmax_row.py.)
        row_full = Signal(2)
        ch_full = Signal(2)
        load_bank = Signal()
        load_beat = Signal(range(max(B, 2)))
        ch_bank = Signal()
        bias = [Signal(signed(BIAS_BITS), name=f"bias{k}", reset_less=True) for k in range(2)]
        mul = [Signal(self.m_bits, name=f"m{k}", reset_less=True) for k in range(2)]
        shift = [Signal(SHIFT_BITS, name=f"s{k}", reset_less=True) for k in range(2)]
        zero = [Signal(ZP_BITS, name=f"zero{k}", reset_less=True) for k in range(2)]
        set_row, set_ch, release = Signal(2), Signal(2), Signal(2)
        w_take, ch_take = Signal(), Signal()
        m.d.comb += [
            self.w.ready.eq(~row_full.bit_select(load_bank, 1)),
            w_take.eq(self.w.valid & self.w.ready),
            w_wr.addr.eq(Mux(load_bank, B, 0) + load_beat),
            w_wr.data.eq(self.w.payload.as_value()),
            w_wr.en.eq(w_take),
            set_row.eq(Mux(w_take & (load_beat == B - 1), Mux(load_bank, 2, 1), 0)),
            self.ch.ready.eq(~ch_full.bit_select(ch_bank, 1)),
            ch_take.eq(self.ch.valid & self.ch.ready),
            set_ch.eq(Mux(ch_take, Mux(ch_bank, 2, 1), 0)),
        ]
        with m.If(w_take):
            m.d.sync += load_beat.eq(Mux(load_beat == B - 1, 0, load_beat + 1))
            with m.If(load_beat == B - 1):
                m.d.sync += load_bank.eq(~load_bank)
        with m.If(ch_take):
            m.d.sync += ch_bank.eq(~ch_bank)
            for k in range(2):
                with m.If(ch_bank == k):
                    m.d.sync += [bias[k].eq(self.ch.payload.bias), mul[k].eq(self.ch.payload.m),
                                 shift[k].eq(self.ch.payload.s)]
                    if self.bitplane:
                        m.d.sync += zero[k].eq(self.ch.payload.zero_point)
        m.d.sync += [row_full.eq((row_full | set_row) & ~release),
                     ch_full.eq((ch_full | set_ch) & ~release)]

        # --- Sequencer counters ---
        proj_sel = Signal(range(4))          # 0 q, 1 k, 2 v, 3 o
        cur_bank = Signal()
        beat = Signal(range(max(B, TB, 2)))   # beat within the current dot product
        tok = Signal(range(T_MAX + 1))        # t
        chan = Signal(range(D + 1))           # output channel c (projections), j (context)
        col = Signal(range(T_MAX + 1))        # u (scores)
        head = Signal(range(self.heads + 1))
        act_base = Signal(range(T_MAX * B + 1))       # t * B
        c_word = Signal(range(B + 1))                 # c // L
        c_lane = Signal(range(L))                     # c % L
        t_word = Signal(range(TB + 1))                # t // L
        t_lane = Signal(range(L))                     # t % L
        vt_base = Signal(range(D * TB + 1))           # c * TB
        head_off = Signal(range(B + 1))               # h * Bh
        head_vt = Signal(range(D * TB + 1))           # h * dh * TB
        q_base = Signal(range(T_MAX * B + 1))         # t * B + h * Bh
        k_base = Signal(range(T_MAX * B + 1))         # u * B + h * Bh
        p_base = Signal(range(T_MAX * TB + 1))        # t * TB
        u_base = Signal(range(T_MAX + L + 1))         # beat * L (context)
        drain = Signal(range(self.tail + 2))
        # The bit-plane engine's pass within a Q K^T or P V beat (weight planes 2 g, 2 g + 1).
        if self.bitplane:
            aa_pass = Signal(range(self.aa_passes), name="aa_pass")
            pass_last = Signal(name="aa_pass_last")
            m.d.comb += pass_last.eq(aa_pass == self.aa_passes - 1)
        def on_last_pass(value):
            return value & pass_last if self.bitplane else value

        # Score-row pacing: a row's first beat waits until `pace` is 0, `row_period` (the
        # softmax's row time where that is longer than the row's beats) after the previous
        # row's first beat, so the softmax takes every score as it comes.
        period_max = self.score_row_cycles(T_MAX)
        row_period = Signal(range(period_max + 1), reset_less=True)
        pace = Signal(range(period_max + 1))
        row_beats = tokens * (Bh * self.aa_passes)
        sm_row = Mux(tokens + self.sm_after_beats > self.sm_fixed,
                     tokens + self.sm_after_beats, self.sm_fixed)
        m.d.sync += row_period.eq(Mux(row_beats > sm_row, row_beats, sm_row))

        # P rows written so far in this head (the softmax's outputs).
        p_rows = Signal(range(T_MAX + 1))
        p_clear = Signal()

        # Credits: results headed for a FIFO that are issued but not yet taken out of it.
        m.submodules.s_fifo = s_fifo = SyncFIFOBuffered(width=self.in_bits + 1,
                                                        depth=self.fifo_depth)
        m.submodules.o_fifo = o_fifo = SyncFIFOBuffered(width=self.out_bits,
                                                        depth=self.fifo_depth)
        s_credit = Signal(range(self.fifo_depth + 1))
        o_credit = Signal(range(self.fifo_depth + 1))
        s_take, o_take = Signal(), Signal()          # a credit taken at issue

        issue = Signal()                # a beat is issued this cycle
        kind = Signal(range(6))
        first, last = Signal(), Signal()
        row_last = Signal()             # a score ending a softmax row
        dest_addr = Signal(range(max(T_MAX * B, D * TB, T_MAX * TB) + 1))
        dest_lane = Signal(range(L))
        is_aa = Signal()
        layer_done = Signal()

        # The sequencer's state, one value per phase.
        (IDLE, LOAD_X, PROJ, SCORES, SCORES_END, CONTEXT, CONTEXT_END, DRAIN,
         OUT_TAIL) = range(9)
        state = Signal(range(9))
        st = {k: Signal(name=f"in_{n}") for k, n in enumerate(
            ("idle", "load_x", "proj", "scores", "scores_end", "context", "context_end",
             "drain", "out_tail"))}
        m.d.comb += [st[k].eq(state == k) for k in st]

        bank_ok = (row_full & ch_full).bit_select(cur_bank, 1)
        is_o = proj_sel == 3
        last_proj, last_score = beat == B - 1, beat == Bh - 1
        last_context = u_base + L >= tokens
        row_start = (chan == 0) & (beat == 0)
        score_row_start = (col == 0) & (beat == 0)
        if self.bitplane:
            score_row_start &= aa_pass == 0
        issue_proj, issue_score, issue_context = Signal(), Signal(), Signal()
        proj_row_end = issue_proj & last_proj & (tok == tokens - 1)     # a channel's last beat
        proj_end = proj_row_end & (chan == D - 1)                         # a projection's
        m.d.comb += [
            self.cfg.ready.eq(st[IDLE]),
            self.x.ready.eq(st[LOAD_X]),
            x_wr.en.eq(st[LOAD_X] & self.x.valid),
            x_wr.addr.eq(act_base + beat),
            x_wr.data.eq(self.x.payload.as_value()),
            issue_proj.eq(st[PROJ] & bank_ok &
                          ~(is_o & last_proj & (o_credit == self.fifo_depth))),
            issue_score.eq(st[SCORES] & ~(on_last_pass(last_score) &
                                          (s_credit == self.fifo_depth)) &
                           ~(score_row_start & (pace != 0))),
            issue_context.eq(st[CONTEXT] & (~row_start | (p_rows > tok))),
            issue.eq(issue_proj | issue_score | issue_context),
            is_aa.eq(st[SCORES] | st[CONTEXT]),
            kind.eq(Mux(st[PROJ], proj_sel, Mux(st[SCORES], KIND_S, KIND_C))),
            first.eq((beat == 0) & (aa_pass == 0) if self.bitplane else beat == 0),
            last.eq(Mux(st[PROJ], last_proj, on_last_pass(Mux(st[SCORES], last_score,
                                                              last_context)))),
            row_last.eq(col == tokens - 1),
            o_take.eq(issue_proj & is_o & last_proj),
            s_take.eq(on_last_pass(issue_score & last_score)),
            dest_addr.eq(Mux(st[PROJ] & (proj_sel == 2), vt_base + t_word, act_base + c_word)),
            dest_lane.eq(Mux(st[PROJ] & (proj_sel == 2), t_lane, c_lane)),
            w_rd.addr.eq(Mux(cur_bank, B, 0) + beat),
            x_rd.addr.eq(act_base + beat),
            c_rd.addr.eq(act_base + beat),
            q_rd.addr.eq(q_base + beat),
            k_rd.addr.eq(k_base + beat),
            p_rd.addr.eq(p_base + beat),
            v_rd.addr.eq(vt_base + beat),
            release.eq(Mux(proj_row_end, Mux(cur_bank, 2, 1), 0)),
            p_clear.eq((proj_end & (proj_sel == 2)) |
                       (st[CONTEXT_END] & (head != self.heads))),
        ]

        with m.If(st[IDLE] & self.cfg.valid):
            m.d.sync += [cfg.eq(self.cfg.payload), act_base.eq(0), beat.eq(0),
                         state.eq(LOAD_X)]
        with m.If(st[LOAD_X] & self.x.valid):
            m.d.sync += beat.eq(beat + 1)
            with m.If(beat == B - 1):
                m.d.sync += [beat.eq(0), act_base.eq(act_base + B)]
                with m.If(act_base == (tokens - 1) * B):
                    m.d.sync += [act_base.eq(0), tok.eq(0), chan.eq(0), proj_sel.eq(0),
                                 c_word.eq(0), c_lane.eq(0), t_word.eq(0),
                                 t_lane.eq(0), vt_base.eq(0), state.eq(PROJ)]
        with m.If(issue_proj):
            m.d.sync += beat.eq(beat + 1)
            with m.If(last_proj):
                m.d.sync += [beat.eq(0), tok.eq(tok + 1), act_base.eq(act_base + B),
                             t_lane.eq(Mux(t_lane == L - 1, 0, t_lane + 1)),
                             t_word.eq(t_word + (t_lane == L - 1))]
                with m.If(tok == tokens - 1):
                    m.d.sync += [tok.eq(0), act_base.eq(0), t_lane.eq(0), t_word.eq(0),
                                 cur_bank.eq(~cur_bank), chan.eq(chan + 1),
                                 c_lane.eq(Mux(c_lane == L - 1, 0, c_lane + 1)),
                                 c_word.eq(c_word + (c_lane == L - 1)),
                                 vt_base.eq(vt_base + TB)]
                    with m.If(chan == D - 1):
                        m.d.sync += [chan.eq(0), c_lane.eq(0), c_word.eq(0),
                                     vt_base.eq(0), proj_sel.eq(proj_sel + 1)]
                        with m.If(proj_sel == 2):
                            m.d.sync += [head.eq(0), head_off.eq(0), head_vt.eq(0),
                                         q_base.eq(0), k_base.eq(0), col.eq(0),
                                         state.eq(SCORES)]
                        with m.If(proj_sel == 3):
                            m.d.sync += state.eq(OUT_TAIL)
        if self.bitplane:
            with m.If(issue_score | issue_context):
                m.d.sync += aa_pass.eq(Mux(pass_last, 0, aa_pass + 1))
        with m.If(issue_score & score_row_start):
            m.d.sync += pace.eq(row_period - 1)
        with m.Elif(pace != 0):
            m.d.sync += pace.eq(pace - 1)
        with m.If(on_last_pass(issue_score)):
            m.d.sync += beat.eq(beat + 1)
            with m.If(last_score):
                m.d.sync += [beat.eq(0), col.eq(col + 1), k_base.eq(k_base + B)]
                with m.If(col == tokens - 1):
                    m.d.sync += [col.eq(0), k_base.eq(head_off), tok.eq(tok + 1),
                                 q_base.eq(q_base + B)]
                    with m.If(tok == tokens - 1):
                        m.d.sync += [tok.eq(0), chan.eq(0), u_base.eq(0), p_base.eq(0),
                                     act_base.eq(0), c_word.eq(head_off), c_lane.eq(0),
                                     vt_base.eq(head_vt), state.eq(SCORES_END)]
        with m.If(st[SCORES_END]):
            m.d.sync += state.eq(CONTEXT)
        with m.If(on_last_pass(issue_context)):
            m.d.sync += [beat.eq(beat + 1), u_base.eq(u_base + L)]
            with m.If(last_context):
                m.d.sync += [beat.eq(0), u_base.eq(0), chan.eq(chan + 1),
                             vt_base.eq(vt_base + TB),
                             c_lane.eq(Mux(c_lane == L - 1, 0, c_lane + 1)),
                             c_word.eq(c_word + (c_lane == L - 1))]
                with m.If(chan == dh - 1):
                    m.d.sync += [chan.eq(0), vt_base.eq(head_vt), c_word.eq(head_off),
                                 c_lane.eq(0), tok.eq(tok + 1), p_base.eq(p_base + TB),
                                 act_base.eq(act_base + B)]
                    with m.If(tok == tokens - 1):
                        m.d.sync += [tok.eq(0), head.eq(head + 1),
                                     head_off.eq(head_off + Bh),
                                     head_vt.eq(head_vt + dh * TB),
                                     q_base.eq(head_off + Bh), k_base.eq(head_off + Bh),
                                     act_base.eq(0), state.eq(CONTEXT_END)]
        with m.If(st[CONTEXT_END]):
            with m.If(head == self.heads):
                m.d.sync += [drain.eq(self.tail), proj_sel.eq(3), chan.eq(0),
                             c_word.eq(0), c_lane.eq(0), state.eq(DRAIN)]
            with m.Else():
                m.d.sync += state.eq(SCORES)
        with m.If(st[DRAIN]):
            # The last contexts reach the C buffer before the output projection reads it.
            m.d.sync += drain.eq(drain - 1)
            with m.If(drain == 0):
                m.d.sync += state.eq(PROJ)
        with m.If(st[OUT_TAIL] & layer_done):
            m.d.sync += state.eq(IDLE)

        # --- Beat issue -> memory read (one cycle) -> engines ---
        def delayed(value, name):
            reg = Signal(value.shape(), name=name, reset_less=True)
            m.d.sync += reg.eq(value)
            return reg

        lane_bank_bias = Mux(cur_bank, bias[1], bias[0])
        lane_bank_m = Mux(cur_bank, mul[1], mul[0])
        lane_bank_s = Mux(cur_bank, shift[1], shift[0])
        tag_fields = {
            "kind": unsigned(3), "first": 1, "last": 1, "row_last": 1,
            "addr": unsigned(len(dest_addr)), "lane": unsigned(len(dest_lane)),
            "bias": signed(BIAS_BITS), "m": unsigned(self.m_bits), "s": unsigned(SHIFT_BITS),
            "aa": 1,
        }
        if self.bitplane:
            tag_fields.update({"zero_point": unsigned(ZP_BITS), "plane_pair": unsigned(2)})
        tag = Signal(data.StructLayout(tag_fields))
        is_proj = kind < 4
        m.d.comb += [
            tag.kind.eq(kind), tag.first.eq(first), tag.last.eq(last),
            tag.row_last.eq(row_last), tag.addr.eq(dest_addr), tag.lane.eq(dest_lane),
            tag.bias.eq(Mux(is_proj, lane_bank_bias, 0)),
            tag.m.eq(Mux(is_proj, lane_bank_m, Mux(kind == KIND_S, cfg.m_s, cfg.m_x))),
            tag.s.eq(Mux(is_proj, lane_bank_s, Mux(kind == KIND_S, cfg.s_s, cfg.s_x))),
            tag.aa.eq(is_aa),
        ]
        if self.bitplane:
            m.d.comb += [tag.zero_point.eq(Mux(cur_bank, zero[1], zero[0])),
                         tag.plane_pair.eq(aa_pass)]
        valid1 = Signal()
        m.d.sync += valid1.eq(issue)
        tag1 = delayed(tag, "tag_s1")
        u_base1 = delayed(u_base, "u_base_s1")
        is_o1 = tag1.kind == KIND_O
        act_word = Mux(is_o1, c_rd.data, x_rd.data)
        is_ctx1 = tag1.kind == KIND_C
        if self.bitplane:
            # One engine for every product, its precision per job: a projection beat is one
            # pass of W2 codes (less the zero point) against x or C8; a Q K^T beat four passes
            # of Q8's planes (signed: its plane 7 in pass 3 counts negative) against K8; a P V
            # beat four of P's (unsigned 0..128) against V8.
            m.d.comb += [
                proj.i.valid.eq(valid1),
                proj.i.payload.plane_pair.eq(tag1.plane_pair),
                proj.i.payload.top_signed.eq(tag1.aa & ~is_ctx1 &
                                             (tag1.plane_pair == self.aa_passes - 1)),
                proj.i.payload.zero_point.eq(Mux(tag1.aa, 0, tag1.zero_point)),
                proj.o.ready.eq(1),
            ]
        else:
            m.d.comb += [
                proj.i.valid.eq(valid1 & ~tag1.aa),
                proj.i.payload.weights.eq(w_rd.data),
                proj.i.payload.acts.eq(act_word),
                proj.o.ready.eq(1),
                aa.i.valid.eq(valid1 & tag1.aa),
                aa.o.ready.eq(1),
            ]
        for k in range(L):
            q_lane = q_rd.data.word_select(k, ACT_BITS).as_signed()
            p_lane = p_rd.data.word_select(k, P_BITS)
            p_masked = Mux(u_base1 + k < tokens, p_lane, 0)
            aa_weight = Mux(is_ctx1, p_masked, q_lane)
            aa_act = Mux(is_ctx1, v_rd.data.word_select(k, ACT_BITS),
                         k_rd.data.word_select(k, ACT_BITS))
            if self.bitplane:
                m.d.comb += [
                    proj.i.payload.weights[k].eq(Mux(tag1.aa, aa_weight[:ACT_BITS],
                                                     w_rd.data.word_select(k, wbits))),
                    proj.i.payload.acts[k].eq(Mux(tag1.aa, aa_act,
                                                  act_word.word_select(k, ACT_BITS))),
                ]
            else:
                m.d.comb += [aa.i.payload.weights[k].eq(aa_weight),
                             aa.i.payload.acts[k].eq(aa_act)]

        # Equal latency for both engines: the shorter one's result is delayed.
        def padded(stream_o, latency, name):
            value, valid = stream_o.payload, stream_o.valid
            for n in range(self.engine_latency - latency):
                value = delayed(value, f"{name}_pad{n}")
                v = Signal(name=f"{name}_pad_valid{n}")
                m.d.sync += v.eq(valid)
                valid = v
            return value, valid

        proj_sum, proj_valid = padded(proj.o, proj.latency, "proj")
        if aa is not None:
            aa_sum, aa_valid = padded(aa.o, aa.latency, "aa")
        tag_e = tag1
        for n in range(self.engine_latency):
            tag_e = delayed(tag_e, f"tag_e{n}")

        # --- Accumulate ---
        dot = Signal(signed(self.acc_bits))
        if aa is None:
            m.d.comb += dot.eq(proj_sum)
            dot_valid = proj_valid
        else:
            m.d.comb += dot.eq(Mux(proj_valid, proj_sum, aa_sum))
            dot_valid = proj_valid | aa_valid
        acc = Signal(signed(self.acc_bits), reset_less=True)
        total = Signal(signed(self.acc_bits), reset_less=True)
        total_valid = Signal()
        base = Mux(tag_e.first, tag_e.bias, acc)
        m.d.sync += total_valid.eq(dot_valid & tag_e.last)
        with m.If(dot_valid):
            m.d.sync += acc.eq(base + dot)
        m.d.sync += total.eq(base + dot)
        tag_a = delayed(tag_e, "tag_acc")

        # --- Requant (the requant unit): clamp(floor((a M + 2^(s-1)) / 2^s)) to the wider of
        # the logits and INT8; an INT8 destination saturates once more (a clamp into a range
        # inside the first gives the clamp into it directly). ---
        requant = self.requant
        m.submodules.requant = requant
        m.d.comb += [requant.i.valid.eq(total_valid), requant.i.payload.acc[0].eq(total),
                     requant.i.payload.m.eq(tag_a.m), requant.i.payload.s.eq(tag_a.s),
                     requant.o.ready.eq(1)]
        total_w, tag_w = total, tag_a
        for n in range(requant.latency):
            total_w = delayed(total_w, f"total_rq{n}")
            tag_w = delayed(tag_w, f"tag_rq{n}")
        valid_w = requant.o.valid
        wide = requant.o.payload[0]
        is_s = tag_w.kind == KIND_S
        lo8, hi8 = -(1 << (ACT_BITS - 1)), (1 << (ACT_BITS - 1)) - 1
        y = Signal(signed(requant.out_bits))
        m.d.comb += y.eq(Mux(is_s | ((wide >= lo8) & (wide <= hi8)), wide,
                             Mux(wide < 0, lo8, hi8)))

        # --- Write the result ---
        byte = y[:ACT_BITS]
        word = Cat(*([byte] * L))
        lane_mask = Signal(L)
        m.d.comb += lane_mask.eq(1 << tag_w.lane)
        for kind_k, port in ((KIND_Q, q_wr), (KIND_K, k_wr), (KIND_V, v_wr), (KIND_C, c_wr)):
            m.d.comb += [port.addr.eq(tag_w.addr), port.data.eq(word),
                         port.en.eq(Mux(valid_w & (tag_w.kind == kind_k), lane_mask, 0))]
        m.d.comb += [
            s_fifo.w_en.eq(valid_w & (tag_w.kind == KIND_S)),
            s_fifo.w_data.eq(Cat(y[:self.in_bits], tag_w.row_last)),
            o_fifo.w_en.eq(valid_w & (tag_w.kind == KIND_O)),
            o_fifo.w_data.eq(total_w),
        ]

        # --- Scores -> softmax -> P buffer ---
        m.d.comb += [
            sm.i.valid.eq(s_fifo.r_rdy),
            sm.i.payload.data[0].eq(s_fifo.r_data[:self.in_bits]),
            sm.i.payload.count.eq(1),
            sm.i.payload.last.eq(s_fifo.r_data[self.in_bits]),
            s_fifo.r_en.eq(sm.i.ready),
            sm.o.ready.eq(1),
        ]
        if self.exaq_bits is not None:
            m.d.comb += [sm.cfg.valid.eq(1), sm.cfg.payload.clip.eq(cfg.clip),
                         sm.cfg.payload.lut.eq(cfg.lut)]
        s_pop = s_fifo.r_rdy & s_fifo.r_en
        m.d.sync += s_credit.eq(s_credit + s_take - s_pop)

        p_col_word = Signal(range(TB + 1))
        p_col_lane = Signal(range(L))
        p_row_base = Signal(range(T_MAX * TB + 1))
        p_take = sm.o.valid
        m.d.comb += [p_wr.addr.eq(p_row_base + p_col_word),
                     p_wr.data.eq(Cat(*([sm.o.payload.data[0][:P_BITS]] * L))),
                     p_wr.en.eq(Mux(p_take, 1 << p_col_lane, 0))]
        with m.If(p_take):
            m.d.sync += [p_col_lane.eq(Mux(p_col_lane == L - 1, 0, p_col_lane + 1)),
                         p_col_word.eq(p_col_word + (p_col_lane == L - 1))]
            with m.If(sm.o.payload.last):
                m.d.sync += [p_col_lane.eq(0), p_col_word.eq(0), p_rows.eq(p_rows + 1),
                             p_row_base.eq(p_row_base + TB)]
        with m.If(p_clear):
            m.d.sync += [p_rows.eq(0), p_row_base.eq(0), p_col_lane.eq(0), p_col_word.eq(0)]

        # --- Output projection -> o ---
        out_count = Signal(range(D * T_MAX + 1))
        o_pop = self.o.valid & self.o.ready
        m.d.comb += [
            self.o.valid.eq(o_fifo.r_rdy),
            self.o.payload.data.eq(o_fifo.r_data),
            self.o.payload.last.eq(out_count == D * tokens - 1),
            o_fifo.r_en.eq(self.o.ready),
            layer_done.eq(o_pop & self.o.payload.last),
        ]
        m.d.sync += o_credit.eq(o_credit + o_take - o_pop)
        with m.If(o_pop):
            m.d.sync += out_count.eq(Mux(self.o.payload.last, 0, out_count + 1))
        return m
