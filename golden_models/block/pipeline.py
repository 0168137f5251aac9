"""The integer pipeline of one quantized self-attention layer (docs/block_model.md, BLOCK.md).

T tokens, D = d_model, H heads of dh = D / H; every value is an exact integer:

1. projections P in (q, k, v): ``acc = W_P x + bias_P - zw_P sum(x)`` with the engine's dot
   product (its weights carry f fractional bits), ``P8 = requant(acc, M_c, s_c)``, 8 bits;
2. scores per head ``S = Q8 K8^T`` (INT8 x INT8), logits ``L = requant(S, M_s, s_s)`` to the
   softmax's ``in_bits`` (``in_frac`` fractional bits);
3. the softmax unit's golden model on every row of L: ``P`` in 0..2**out_frac;
4. context per head ``Cx = P V8``, ``C8 = requant(Cx, M_x, s_x)``, 8 bits;
5. output ``out = W_o C8 + bias_o - zw_o sum(C8)``, exact.

The arithmetic of each product is the golden model of the unit that computes it (``int_dot``,
``dint_dot``, ``pot_dot``, ``btc_array``), the softmax that of ``exaq_softmax`` or
``softmax_fixed``, the scaling that of ``requant``; nothing is re-derived here.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from lowbit.core.modes import BLOCK_CONFIGS, BlockEngine, BlockFormat, BlockSoftmax, DintCodebook, ExaqTop
from lowbit.core.unit_params import BLOCK_ENGINE, BLOCK_M_BITS, BLOCK_SOFTMAX, D_MODEL, HEADS, MAX_TOKENS
from lowbit.core.widths import signed_bits_for, signed_range

from .._checks import ParameterError, check_choice, check_int, int_array
from ..btc_array import BtcArray
from ..dint_dot import DintDot, lane_beats
from ..exaq_softmax import ExaqSoftmax
from ..int_dot import IntDot
from ..pot_dot import PotDot
from ..requant import MAX_SHIFT, requant
from ..softmax_fixed import SoftmaxFixed

__all__ = [
    "ENGINES", "SOFTMAXES", "PROJECTIONS", "BIAS_BITS", "ACT_BITS",
    "BlockFormat", "CONFIGS", "BlockParams", "RequantPair", "BlockInputs", "BlockTrace",
    "check_inputs", "block_forward", "engine_matmul", "act_matmul", "weight_values",
]

ENGINES = BLOCK_ENGINE.choices
SOFTMAXES = BLOCK_SOFTMAX.choices
PROJECTIONS = ("q", "k", "v", "o")
ACT_BITS = 8          # x, Q8, K8, V8, C8
BIAS_BITS = 32        # a bias per output channel, in the accumulator's units
ZP_BITS = 2           # ABQ W2: codes and zero points 0..3
PRODUCT_LANES = 64    # lanes of the models' dot products (any width gives the same sums)

CONFIGS = BLOCK_CONFIGS   # the four configurations, declared in lowbit.core.modes

# The engines' weight formats: (fractional bits f of the dot product, code range).
_ENGINE_FORMAT = {BlockEngine.INT8: (0, (-127, 127)), BlockEngine.DINT: (1, (0, 15)),
                  BlockEngine.POT: (7, (0, 15)), BlockEngine.BITPLANE: (0, (0, 3))}


@dataclass(frozen=True)
class BlockParams:
    """Shape and arithmetic of one block run.

    ``d_model`` D in 16..384, a multiple of ``heads`` (1..12); ``tokens`` T in 1..max_tokens
    (default ``max_tokens``);
    ``max_tokens`` in 2..128 (the softmax unit's ``max_len``: its normalisation depends on it);
    ``engine`` in :data:`ENGINES`, ``softmax`` in :data:`SOFTMAXES`; the logits' ``in_bits``
    (4..16) and ``in_frac`` (0..in_bits-1); the softmax's ``lut_frac`` and ``out_frac``
    (4..16; P is unsigned, 0..2**out_frac); ``m_bits`` (8..24), the width of every M.
    """
    d_model: int = 32
    heads: int = 2
    tokens: int | None = None
    max_tokens: int = 8
    engine: BlockEngine = BlockEngine.INT8
    softmax: BlockSoftmax = BlockSoftmax.EXAQ3
    in_bits: int = 12
    in_frac: int = 4
    lut_frac: int = 10
    out_frac: int = 7
    m_bits: int = 16

    def __post_init__(self):
        HEADS.check(self.heads)
        D_MODEL.check(self.d_model)
        if self.d_model % self.heads:
            raise ParameterError(f"d_model={self.d_model} is not allowed: d_model must be a multiple of heads={self.heads}",
                                 name="d_model", value=self.d_model)
        MAX_TOKENS.check(self.max_tokens)
        if self.tokens is None:   # a full block: as many tokens as it holds
            object.__setattr__(self, "tokens", self.max_tokens)
        check_int("tokens", self.tokens, 1, self.max_tokens, f"max_tokens={self.max_tokens}")
        object.__setattr__(self, "engine", BLOCK_ENGINE.check(self.engine))     # as members
        object.__setattr__(self, "softmax", BLOCK_SOFTMAX.check(self.softmax))
        BLOCK_M_BITS.check(self.m_bits)
        self.softmax_model()   # checks in_bits, in_frac, lut_frac, out_frac

    @classmethod
    def of(cls, config, **kwargs):
        """The parameters of a named configuration of :data:`CONFIGS`, plus ``kwargs``."""
        fmt = CONFIGS[check_choice("config", config, tuple(CONFIGS))]
        return cls(engine=fmt.engine, softmax=fmt.softmax, **kwargs)

    @property
    def head_dim(self):
        return self.d_model // self.heads

    @property
    def frac_bits(self):
        """f: fractional bits of the engine's dot products (0 for INT8 and W2, 1 dINT, 7 PoT4)."""
        return _ENGINE_FORMAT[self.engine][0]

    @property
    def code_range(self):
        """The closed range of the weight codes of the engine."""
        return _ENGINE_FORMAT[self.engine][1]

    @property
    def exaq_bits(self):
        """b of the EXAQ softmax (2 or 3), None for the fixed one."""
        return self.softmax.exaq_bits

    @property
    def p_bits(self):
        """Signed width of the softmax outputs P (0..2**out_frac) as a dot-product operand."""
        return self.out_frac + 2

    def softmax_model(self):
        """The golden model of the softmax unit, with ``max_len = max_tokens``."""
        common = dict(in_bits=self.in_bits, in_frac=self.in_frac, lut_frac=self.lut_frac,
                      out_frac=self.out_frac, max_len=self.max_tokens)
        if self.softmax == BlockSoftmax.FIXED:
            return SoftmaxFixed(**common)
        return ExaqSoftmax(bits=self.exaq_bits, top=ExaqTop.EXP, **common)

    def widths(self):
        """Signed widths of the integers between the stages: ``acc`` (projections), ``S``,
        ``Cx``, ``out``; each the fewest bits holding every value the inputs allow."""
        d, dh, t = self.d_model, self.head_dim, self.max_tokens
        w_lo, w_hi = weight_value_range(self.engine)
        a_lo, a_hi = signed_range(ACT_BITS)
        b_lo, b_hi = signed_range(BIAS_BITS)
        prod = [w * a for w in (w_lo, w_hi) for a in (a_lo, a_hi)]
        proj = signed_bits_for(d * min(prod) + b_lo, d * max(prod) + b_hi)
        qk = [a * b for a in (a_lo, a_hi) for b in (a_lo, a_hi)]
        p_hi = 1 << self.out_frac
        pv = [p * v for p in (0, p_hi) for v in (a_lo, a_hi)]
        return {"acc": proj, "S": signed_bits_for(dh * min(qk), dh * max(qk)),
                "Cx": signed_bits_for(t * min(pv), t * max(pv)), "out": proj}


def weight_value_range(engine):
    """The closed range of one weight operand's exact value (x 2**f) in the dot product;
    for W2 the centred code ``c - zw``."""
    if engine == BlockEngine.INT8:
        return _ENGINE_FORMAT[BlockEngine.INT8][1]
    if engine == BlockEngine.DINT:
        v = DintDot().format.scaled_values
    elif engine == BlockEngine.POT:
        v = PotDot(bits=4, zero_code=True).format.scaled_values
    else:
        top = (1 << ZP_BITS) - 1
        return -top, top
    return int(v.min()), int(v.max())


class RequantPair(NamedTuple):
    """``M`` (unsigned ``m_bits``) and ``s`` (0..63): int64 arrays, one per output channel
    (shape (D,)) for the projections, scalars (shape ()) for the score and context stages."""
    m: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class BlockInputs:
    """Everything the block is fed (BLOCK.md "Inputs"), int64 arrays.

    ``x`` (T, D) INT8 codes; ``weights[P]`` (D, D) codes (out, in) in the engine's format;
    ``bias[P]`` (D,) signed 32-bit, in the accumulator's units; ``zero_points[P]`` (D,) in 0..3
    (ABQ W2; 0 for the other engines); ``requant`` a :class:`RequantPair` for each of ``q``,
    ``k``, ``v`` (per channel), ``score`` and ``context`` (per tensor); ``clip`` the EXAQ clip
    C in the logits' fixed point and ``lut`` its table (``softmax_model().lut(clip)``), both
    None for the fixed softmax. ``scales``: the real scales behind the codes (a dict, for
    dequantizing: ``x``, ``q``, ``k``, ``v``, ``c`` per tensor, ``w_q`` .. ``w_o`` per
    channel), empty when the inputs are not from a real-valued layer.
    """
    x: np.ndarray
    weights: dict
    bias: dict
    zero_points: dict
    requant: dict
    clip: int | None = None
    lut: np.ndarray | None = None
    scales: dict = field(default_factory=dict)


class BlockTrace(NamedTuple):
    """Every intermediate of :func:`block_forward` (int64): ``acc`` dict q/k/v -> (T, D);
    ``q8``, ``k8``, ``v8`` (T, D); ``S``, ``L``, ``P`` (H, T, T); ``softmax_rows`` the softmax
    model's row record (ExaqRow or SoftmaxRow, rows = H x T); ``Cx``, ``c8`` (T, D); ``out`` (T, D)."""
    acc: dict
    q8: np.ndarray
    k8: np.ndarray
    v8: np.ndarray
    S: np.ndarray
    L: np.ndarray
    P: np.ndarray
    softmax_rows: tuple
    Cx: np.ndarray
    c8: np.ndarray
    out: np.ndarray


# ----------------------------------------------------------------------------- the products
def _lane_matmul(dot, codes, acts):
    """``acts @ value(codes).T`` (T, out) through an N-lane dot-product model ``dot`` (its
    ``dot(weights, acts)`` on (beats, lanes)), token blocks at a time to bound the memory."""
    n_out, n_in = codes.shape
    chunks = -(-n_in // dot.lanes)
    step = max(1, (1 << 21) // (n_out * chunks * dot.lanes))
    out = np.empty((acts.shape[0], n_out), dtype=np.int64)
    for t0 in range(0, acts.shape[0], step):
        block = acts[t0:t0 + step]
        w, a = lane_beats(codes, block, dot.lanes)
        out[t0:t0 + step] = dot.dot(w, a).reshape(block.shape[0], n_out, chunks).sum(axis=2)
    return out


def _array_matmul(W, A, p, q, w_signed, a_signed, tile=128):
    """``W @ A`` (rows, cols) on ``btc_array``'s model at p x q planes, K in one slice, row tiles."""
    rows, k = W.shape
    out = np.empty((rows, A.shape[1]), dtype=np.int64)
    for r0 in range(0, rows, tile):
        w = W[r0:r0 + tile]
        array = BtcArray(rows=w.shape[0], cols=A.shape[1], k_slice=k, p_max=p, q_max=q, acc_bits=64)
        out[r0:r0 + tile] = array.matmul(w, A, p=p, q=q, w_signed=w_signed, a_signed=a_signed)
    return out


def engine_matmul(engine, codes, acts):
    """The engine's raw product ``sum_i value(codes[c, i]) x acts[t, i]`` (T, out), int64.

    ``codes`` (out, in) in the engine's format (W2: the unsigned codes; the zero-point term is
    the caller's), ``acts`` (T, in) signed 8-bit. INT8, dINT and PoT through their lane dot
    products (``int_dot``, ``dint_dot``, ``pot_dot``), W2 through ``btc_array`` at p = 2, q = 8.
    """
    lanes = min(PRODUCT_LANES, codes.shape[1])
    if engine == BlockEngine.INT8:
        return _lane_matmul(IntDot(lanes=lanes, weight_bits=8, act_bits=ACT_BITS), codes, acts)
    if engine == BlockEngine.DINT:
        return _lane_matmul(DintDot(lanes=lanes, special=DintCodebook.HALF, frac_bits=1, act_bits=ACT_BITS), codes, acts)
    if engine == BlockEngine.POT:
        return _lane_matmul(PotDot(lanes=lanes, bits=4, zero_code=True, act_bits=ACT_BITS), codes, acts)
    return _array_matmul(codes, acts.T, ZP_BITS, ACT_BITS, False, True).T


def act_matmul(engine, a, b, a_bits, a_signed):
    """An activation x activation product ``a @ b.T`` (n, m): ``a`` (n, K) of ``a_bits``
    (signed, or unsigned when not ``a_signed``), ``b`` (m, K) signed 8-bit. The lane engines
    use an ``int_dot`` beside them; the bit-plane engine the same array at p = a_bits, q = 8."""
    if engine == BlockEngine.BITPLANE:
        return _array_matmul(a, b.T, a_bits, ACT_BITS, a_signed, True)
    lanes = min(PRODUCT_LANES, a.shape[1])
    dot = IntDot(lanes=lanes, weight_bits=ACT_BITS, act_bits=a_bits + (not a_signed))
    return _lane_matmul(dot, b, a)


def weight_values(engine, codes, zero_points=None):
    """The exact integer weight values x 2**f the products use (for W2: ``codes - zw``)."""
    codes = np.asarray(codes, dtype=np.int64)
    if engine == BlockEngine.DINT:
        return DintDot().format.decode_scaled(codes)
    if engine == BlockEngine.POT:
        return PotDot(bits=4, zero_code=True).format.decode_scaled(codes)
    if engine == BlockEngine.BITPLANE:
        return codes - np.asarray(zero_points, dtype=np.int64)[:, None]
    return codes


# ----------------------------------------------------------------------------- the pipeline
def check_inputs(params, inputs):
    """Refuse inputs that do not fit ``params`` (one line naming the field)."""
    if not isinstance(params, BlockParams) or not isinstance(inputs, BlockInputs):
        raise ParameterError("block_forward takes a BlockParams and a BlockInputs")
    t, d = params.tokens, params.d_model
    _shaped("x", int_array("x", inputs.x, *signed_range(ACT_BITS)), (t, d))
    for p in PROJECTIONS:
        _shaped(f"weights[{p}]", int_array(f"weights[{p}]", inputs.weights[p], *params.code_range), (d, d))
        _shaped(f"bias[{p}]", int_array(f"bias[{p}]", inputs.bias[p], *signed_range(BIAS_BITS)), (d,))
        zp_hi = (1 << ZP_BITS) - 1 if params.engine == BlockEngine.BITPLANE else 0
        _shaped(f"zero_points[{p}]", int_array(f"zero_points[{p}]", inputs.zero_points[p], 0, zp_hi), (d,))
    for name, shape in (("q", (d,)), ("k", (d,)), ("v", (d,)), ("score", ()), ("context", ())):
        pair = inputs.requant[name]
        _shaped(f"requant[{name}].m", int_array(f"requant[{name}].m", pair.m, 0, (1 << params.m_bits) - 1), shape)
        _shaped(f"requant[{name}].s", int_array(f"requant[{name}].s", pair.s, 0, MAX_SHIFT), shape)
    if params.softmax == BlockSoftmax.FIXED:
        if inputs.clip is not None:
            raise ParameterError("clip must be None for the fixed softmax")
    else:
        model = params.softmax_model()
        check_int("clip", inputs.clip, 1, model.max_clip)
        if inputs.lut is None or not np.array_equal(inputs.lut, model.lut(inputs.clip)):
            raise ParameterError("lut must be the EXAQ table of clip (softmax_model().lut(clip))")


def _shaped(name, a, shape):
    if a.shape != shape:
        raise ParameterError(f"{name} must have shape {shape}, got {a.shape}")
    return a


def _projection(params, inputs, p, acts):
    """``W_P acts + bias_P - zw_P sum(acts)``: (T, D) int64."""
    w = np.asarray(inputs.weights[p], dtype=np.int64)
    raw = engine_matmul(params.engine, w, np.asarray(acts, dtype=np.int64))
    zw = np.asarray(inputs.zero_points[p], dtype=np.int64)
    return raw + np.asarray(inputs.bias[p], dtype=np.int64)[None, :] - zw[None, :] * acts.sum(axis=1, keepdims=True)


def _heads(params, a):
    """(T, D) -> (H, T, dh)."""
    return a.reshape(a.shape[0], params.heads, params.head_dim).transpose(1, 0, 2)


def _requant(pair, a, bits):
    return requant(a, np.asarray(pair.m), np.asarray(pair.s), bits)


def stage_projections(params, inputs):
    """Stage 1: the accumulators and the 8-bit Q8, K8, V8."""
    x = np.asarray(inputs.x, dtype=np.int64)
    acc = {p: _projection(params, inputs, p, x) for p in ("q", "k", "v")}
    codes = {p: _requant(inputs.requant[p], acc[p], ACT_BITS) for p in acc}
    return acc, codes


def stage_scores(params, q8, k8):
    """Stage 2's products: S (H, T, T) = Q8 K8^T per head."""
    qh, kh = _heads(params, q8), _heads(params, k8)
    return np.stack([act_matmul(params.engine, qh[h], kh[h], ACT_BITS, True) for h in range(params.heads)])


def stage_softmax(params, inputs, logits):
    """Stage 3: the softmax unit on every row; (row record, P (H, T, T))."""
    model = params.softmax_model()
    rows = logits.reshape(-1, logits.shape[-1])
    record = model.row(rows) if params.softmax == BlockSoftmax.FIXED else model.row(rows, inputs.clip)
    return record, record.y.reshape(logits.shape)


def stage_context(params, probs, v8):
    """Stage 4's products: Cx (T, D) = P V8 per head, heads concatenated."""
    vh = _heads(params, v8)
    p_planes = params.out_frac + 1   # P in 0..2**out_frac, unsigned
    ctx = [act_matmul(params.engine, probs[h], vh[h].T, p_planes, False) for h in range(params.heads)]
    return np.concatenate(ctx, axis=1)


def block_forward(params, inputs):
    """Run the block's integer pipeline; every intermediate in a :class:`BlockTrace`."""
    check_inputs(params, inputs)
    acc, codes = stage_projections(params, inputs)
    S = stage_scores(params, codes["q"], codes["k"])
    L = _requant(inputs.requant["score"], S, params.in_bits)
    record, P = stage_softmax(params, inputs, L)
    Cx = stage_context(params, P, codes["v"])
    c8 = _requant(inputs.requant["context"], Cx, ACT_BITS)
    out = _projection(params, inputs, "o", c8)
    return BlockTrace(acc, codes["q"], codes["k"], codes["v"], S, L, P, record, Cx, c8, out)
