"""The attention block's bit-plane engine: a ``lanes``-wide dot product of WpA8 operands from
binary AND/popcount plane products (ABQ-LLM), two weight planes per pass, so that the weight
precision is chosen per job: a W2A8 beat takes one pass, a W8A8 beat four (ABQ's 4x)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from lowbit.core.unit_params import LANES, LEVELS_PER_STAGE
from lowbit.core.widths import sum_bits

from .adder_tree import adder_tree, tree_levels
from .btc_array import CompressorPopcount
from .component import Component

__all__ = ["BitplaneDot", "WEIGHT_PLANES", "ACT_PLANES", "MAX_PASSES"]

WEIGHT_PLANES = 2     # weight planes per pass: a W2 beat is one pass
ACT_PLANES = 8        # the activations are signed 8-bit: all 8 planes every pass
MAX_PASSES = 4        # 8-bit weights (Q8, or the softmax's P): planes 0..7 in 4 passes
ZERO_BITS = 2         # ABQ W2 zero points 0..3


class BitplaneDot(Component):
    """One pass of a ``lanes``-wide WpA8 dot product, from plane products.

    A pass ``g`` takes weight planes ``2g`` and ``2g + 1`` of every lane (bits of the
    ``weights`` codes) and all 8 planes of the signed 8-bit ``acts``, and for each of the
    2 x 8 plane pairs (r, j) counts ``popcount(W_{2g+r} AND A_j)`` over the lanes in a
    :class:`~lowbit.hdl.btc_array.CompressorPopcount` (btc_array's tree, ``k_slice = lanes``).
    The pass's result is ``2^(2g) sum_{r,j} +-2^(r+j) count_{r,j}``, a pair counting negative
    when exactly one of its planes is a sign plane: the activations' plane 7, and the weights'
    plane ``2g + 1`` when ``top_signed`` says it is a signed weight's top plane. A p-bit job
    (p even) sums the passes ``g = 0 .. p/2 - 1`` of each beat (the caller's accumulator):
    W2A8 one pass per beat, W8A8 four, on the same 16 popcounts.

    The ABQ zero-point term: ``zero_point`` (0..3) times the activations' sum is subtracted, the sum
    from 8 more popcounts of the activation planes alone (``popcount(A_j)``), so
    ``sum_k (weights[k] - zero_point) acts[k]`` for unsigned W2 codes. Give it on one pass of a beat.

    Interface: ``i`` (In) ``{weights: lanes x unsigned(8), acts: lanes x signed(8),
    plane_pair: g (0..3), top_signed: 1, zero_point: unsigned(2)}``; ``o`` (Out) ``signed(sum_bits)``,
    the pass's exact result. One pass per cycle; a pass's result leaves :attr:`latency` cycles
    after it enters (``1`` plane register, the popcount's ``stages``, ``ceil(log2(48))`` adder
    levels... exactly ``1 + popcount.stages + tree_levels(terms) + 1``); the pipeline holds while
    ``o`` is valid and not ready.
    """

    def __init__(self, *, lanes=8, levels_per_stage=2):
        self.lanes = LANES.check(lanes)
        self.levels_per_stage = LEVELS_PER_STAGE.check(levels_per_stage)
        self.popcount = CompressorPopcount(lanes, self.levels_per_stage)
        self.terms = WEIGHT_PLANES * ACT_PLANES + ZERO_BITS * ACT_PLANES
        # A pass: weight values of two planes at 2^(2g), g <= 3: 0..192 (or -128..64 with the
        # sign plane) against -128..127, less zero (0..3) x the activation.
        top = 3 << (2 * (MAX_PASSES - 1))
        act_lo, act_hi = -(1 << (ACT_PLANES - 1)), (1 << (ACT_PLANES - 1)) - 1
        zero_hi = (1 << ZERO_BITS) - 1
        self.sum_bits = sum_bits(top * act_lo - zero_hi * act_hi, top * -act_lo - zero_hi * act_lo,
                                 lanes)
        self.latency = 1 + self.popcount.stages + tree_levels(self.terms) + 1
        self.weight_shape = unsigned(WEIGHT_PLANES * MAX_PASSES)
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "weights": data.ArrayLayout(self.weight_shape, lanes),
                "acts": data.ArrayLayout(signed(ACT_PLANES), lanes),
                "plane_pair": unsigned(2),
                "top_signed": 1,
                "zero_point": unsigned(ZERO_BITS),
            }))),
            "o": Out(stream.Signature(signed(self.sum_bits))),
        })

    def elaborate(self, platform):
        m = Module()
        L, pc = self.lanes, self.popcount
        beat = self.i.payload
        enable = Signal()
        m.d.comb += [enable.eq(~self.o.valid | self.o.ready), self.i.ready.eq(enable)]

        def stage(value, name):
            # (a valid flag is reset: a pass in flight at a reset never comes out)
            reg = Signal(value.shape(), name=name, reset_less=not name.startswith("valid"))
            with m.If(enable):
                m.d.sync += reg.eq(value)
            return reg

        # The pass's planes, registered: weight planes 2g + r, activation planes j (bit k of a
        # plane is lane k's bit).
        w_planes = [Signal(L, name=f"w_plane{r}", reset_less=True) for r in range(WEIGHT_PLANES)]
        a_planes = [Signal(L, name=f"a_plane{j}", reset_less=True) for j in range(ACT_PLANES)]
        with m.If(enable):
            for r, plane in enumerate(w_planes):
                m.d.sync += plane.eq(Cat(beat.weights[k].word_select(beat.plane_pair, WEIGHT_PLANES)[r]
                                         for k in range(L)))
            for j, plane in enumerate(a_planes):
                m.d.sync += plane.eq(Cat(beat.acts[k][j] for k in range(L)))
        in_valid = Signal()
        with m.If(enable):
            m.d.sync += in_valid.eq(self.i.valid)
        flags = {"valid": in_valid,
                 "plane_pair": stage(beat.plane_pair, "plane_pair_s0"),
                 "top_signed": stage(beat.top_signed, "top_signed_s0"),
                 "zero_point": stage(beat.zero_point, "zero_point_s0")}

        # Popcounts: the 16 plane pairs, and the 8 activation planes alone (the zero point).
        no = Const(0, 1)
        ones = Const((1 << L) - 1, L)
        counts = {(r, j): pc.build(m, w_planes[r], a_planes[j], no, no, f"pair{r}{j}",
                                   enable=enable)
                  for r in range(WEIGHT_PLANES) for j in range(ACT_PLANES)}
        act_counts = [pc.build(m, ones, a_planes[j], no, no, f"act{j}", enable=enable)
                      for j in range(ACT_PLANES)]
        for n in range(pc.stages):
            flags = {k: stage(v, f"{k}_p{n}") for k, v in flags.items()}

        # The weighted sum: +-2^(r + j) count for each pair, -zero_b 2^(b + j) (+-count_j).
        terms = []
        act_sign = ACT_PLANES - 1
        for (r, j), count in counts.items():
            term = Signal(signed(len(count) + r + j + 1), name=f"pair{r}{j}_term")
            shifted = count << (r + j)
            if r == WEIGHT_PLANES - 1:
                negative = flags["top_signed"] ^ (j == act_sign)
                m.d.comb += term.eq(Mux(negative, -shifted, shifted))
            else:
                m.d.comb += term.eq(-shifted if j == act_sign else shifted)
            terms.append(term)
        for b in range(ZERO_BITS):
            for j, count in enumerate(act_counts):
                term = Signal(signed(len(count) + b + j + 1), name=f"zero{b}_act{j}_term")
                shifted = count << (b + j)
                # subtracted: the sign plane's count, negative in the sum, comes in positive
                m.d.comb += term.eq(Mux(flags["zero_point"][b], shifted if j == act_sign else -shifted, 0))
                terms.append(term)
        assert len(terms) == self.terms
        level = [0]

        def register_level(*values):
            out = [stage(v, f"tree{level[0]}_{n}") for n, v in enumerate(values)]
            level[0] += 1
            return out

        total = adder_tree(terms, register_level)
        for n in range(tree_levels(self.terms)):
            flags = {k: stage(v, f"{k}_t{n}") for k, v in flags.items()}

        # The pass's place: 2^(2g).
        result = Signal(signed(self.sum_bits), name="pass_sum", reset_less=True)
        shifted = Signal(signed(self.sum_bits), name="pass_shifted")
        m.d.comb += shifted.eq(total << (WEIGHT_PLANES * flags["plane_pair"]))
        with m.If(enable):
            m.d.sync += [result.eq(shifted), self.o.valid.eq(flags["valid"])]
        m.d.comb += self.o.payload.eq(result)
        return m
