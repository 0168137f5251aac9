"""From a real-valued attention layer to the block's integer inputs: weight quantization with
the format's quantizer, static per-tensor activation scales, the requant pairs, integer
biases, the EXAQ clip and table (docs/block_model.md, "Scales").

A float layer is its four (D, D) weights and (D,) biases (``q``, ``k``, ``v``, ``o``, as
``x @ W.T + b``) and the calibration inputs: the layer input of each calibration sentence,
(T_i, D) each. :func:`calibrate` runs the float layer on them once, takes every tensor's
scale from its largest magnitude (``max|t| / 127``: symmetric, per tensor, static), and
quantizes the weights; :func:`encode` then turns one sentence's float input into
:class:`~.pipeline.BlockInputs`. :func:`random_inputs` does both on a seeded random layer.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from lowbit.core.modes import BlockEngine, DintCodebook

from .._checks import ParameterError, check_int
from ..abq import quantize_weights
from ..dint import DintFormat, quantize_dint, quantize_int
from ..pot import PotFormat, quantize_pot_two_step
from ..requant import requant_pair
from .pipeline import ACT_BITS, BIAS_BITS, PROJECTIONS, BlockInputs, BlockParams, RequantPair

__all__ = ["Calibration", "float_attention", "quantize_weight", "calibrate", "encode", "dequantize_output",
           "random_layer", "random_inputs"]

ACT_MAX = (1 << (ACT_BITS - 1)) - 1   # symmetric INT8 codes -127..127
CLIP_CALLS = 25                       # as ExaqAttention: calibration sentences in 25 calls


def float_attention(x, weights, biases, heads):
    """The float layer on one sentence: dict with ``q``, ``k``, ``v`` (T, D), ``logits``
    (H, T, T) (scaled by 1/sqrt(dh)), ``probs``, ``ctx`` (T, D) and ``out`` (T, D)."""
    x = np.asarray(x, dtype=np.float64)
    t, d = x.shape
    dh = d // heads
    r = {p: x @ weights[p].T + biases[p] for p in ("q", "k", "v")}
    qh, kh, vh = (r[p].reshape(t, heads, dh).transpose(1, 0, 2) for p in ("q", "k", "v"))
    logits = qh @ kh.transpose(0, 2, 1) / math.sqrt(dh)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = e / e.sum(axis=-1, keepdims=True)
    ctx = (probs @ vh).transpose(1, 0, 2).reshape(t, d)
    return {**r, "logits": logits, "probs": probs, "ctx": ctx, "out": ctx @ weights["o"].T + biases["o"]}


def quantize_weight(engine, w, calib_x=None):
    """One (D, D) weight in the engine's format with its quantizer.

    Output: (codes int64 (D, D), per-channel real scale of one unit of the engine's weight
    operand (so value x 2**f x this = the weight), zero points int64 (D,)).
    """
    d = w.shape[0]
    zeros = np.zeros(d, dtype=np.int64)
    if engine == BlockEngine.INT8:
        codes, scales = quantize_int(w, 8, search=False)
        return codes.astype(np.int64), scales, zeros
    if engine == BlockEngine.DINT:
        fmt = DintFormat(DintCodebook.HALF, 1)
        codes, scales = quantize_dint(w, fmt)
        return codes.astype(np.int64), scales / (1 << fmt.frac_bits), zeros
    if engine == BlockEngine.POT:
        fmt = PotFormat(4, True)
        codes, scales = quantize_pot_two_step(w, fmt, calib_x)
        return codes.astype(np.int64), scales / (1 << fmt.frac_bits), zeros
    qt = quantize_weights(w, 2)
    return qt.codes.astype(np.int64), qt.scales[:, 0], qt.zeros[:, 0].astype(np.int64)


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` fixes for a layer: ``params``; ``scales`` (``x``, ``q``, ``k``,
    ``v``, ``c`` per tensor; ``w_q`` .. ``w_o`` per channel, the real value of one unit of the
    engine's weight operand); ``codes``/``zero_points`` per projection; ``bias`` per projection
    (int64, the accumulator's units); ``requant`` pairs; ``clip`` (EXAQ, fixed point) and the
    real clip ``clip_real``; ``logit_max``, the largest |logit| seen (its fixed point must fit
    ``in_bits``)."""
    params: BlockParams
    scales: dict
    codes: dict
    zero_points: dict
    bias: dict
    requant: dict
    clip: int | None
    clip_real: float | None
    logit_max: float


def _scale(values):
    amax = max(float(np.max(np.abs(v))) for v in values)
    return amax / ACT_MAX if amax > 0 else 1.0


def _pairs(scales, m_bits):
    pairs = [requant_pair(s, m_bits) for s in np.atleast_1d(scales)]
    m = np.array([p[0] for p in pairs], dtype=np.int64)
    s = np.array([p[1] for p in pairs], dtype=np.int64)
    return RequantPair(m, s) if np.ndim(scales) else RequantPair(m[0], s[0])


def _exaq_clip(params, logits_per_sentence):
    """The project's clip rule for attention rows (:data:`~..accuracy.exaq_attention.DEFAULT_RULE`):
    the calibration sentences in ``CLIP_CALLS`` calls, each call's clip the rule's value on
    all its rows (padded keys masked), the mean over the calls."""
    from ..accuracy.exaq import ClipCalibrator
    from ..accuracy.exaq_attention import DEFAULT_RULE

    n = len(logits_per_sentence)
    calls = min(CLIP_CALLS, n)
    calibrator = ClipCalibrator(params.exaq_bits, DEFAULT_RULE, calls)
    for batch in np.array_split(np.arange(n), calls):
        rows = [logits_per_sentence[i].reshape(-1, logits_per_sentence[i].shape[-1]) for i in batch]
        width = max(r.shape[1] for r in rows)
        z = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]))) for r in rows])
        valid = np.concatenate([np.arange(width)[None, :].repeat(r.shape[0], 0) < r.shape[1] for r in rows])
        calibrator(z, valid)
    return float(np.mean(calibrator.clips))


def calibrate(params, weights, biases, calib_inputs):
    """Fix the layer's codes, scales, pairs, biases and clip on ``calib_inputs`` (a list of
    float (T_i, D) layer inputs, one per calibration sentence). ``params.tokens`` is not used.
    Output: :class:`Calibration`."""
    if not calib_inputs:
        raise ParameterError("calib_inputs must hold at least one sentence's layer input")
    runs = [float_attention(x, weights, biases, params.heads) for x in calib_inputs]
    s = {"x": _scale(calib_inputs)}
    for name, key in (("q", "q"), ("k", "k"), ("v", "v"), ("c", "ctx")):
        s[name] = _scale([r[key] for r in runs])
    codes, zero_points, bias = {}, {}, {}
    calib = {"x": np.concatenate(calib_inputs), "ctx": np.concatenate([r["ctx"] for r in runs])}
    for p in PROJECTIONS:
        codes[p], s[f"w_{p}"], zero_points[p] = quantize_weight(params.engine, weights[p], calib["ctx" if p == "o" else "x"])
        unit = (s["c"] if p == "o" else s["x"]) * s[f"w_{p}"]
        lo, hi = -(1 << (BIAS_BITS - 1)), (1 << (BIAS_BITS - 1)) - 1
        bias[p] = np.clip(np.rint(biases[p] / unit), lo, hi).astype(np.int64)
    pairs = {p: _pairs(s["x"] * s[f"w_{p}"] / s[p], params.m_bits) for p in ("q", "k", "v")}
    pairs["score"] = _pairs(s["q"] * s["k"] * 2.0**params.in_frac / math.sqrt(params.head_dim), params.m_bits)
    pairs["context"] = _pairs(s["v"] * 2.0**-params.out_frac / s["c"], params.m_bits)
    logit_max = max(float(np.max(np.abs(r["logits"]))) for r in runs)
    clip = clip_real = None
    if params.exaq_bits is not None:
        clip_real = _exaq_clip(params, [r["logits"] for r in runs])
        clip = params.softmax_model().fixed_clip(clip_real)
    return Calibration(params, s, codes, zero_points, bias, pairs, clip, clip_real, logit_max)


def encode(calibration, x):
    """One sentence's float layer input ``x`` (T, D) as :class:`BlockInputs` under a
    :class:`Calibration`; ``params.tokens`` must equal T (use ``dataclasses.replace``)."""
    params = calibration.params
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (params.tokens, params.d_model):
        raise ParameterError(f"x must have shape ({params.tokens}, {params.d_model}), got {x.shape}")
    x8 = np.clip(np.rint(x / calibration.scales["x"]), -ACT_MAX, ACT_MAX).astype(np.int64)
    lut = None if calibration.clip is None else params.softmax_model().lut(calibration.clip)
    return BlockInputs(x=x8, weights=calibration.codes, bias=calibration.bias, zero_points=calibration.zero_points,
                       requant=calibration.requant, clip=calibration.clip, lut=lut, scales=calibration.scales)


def dequantize_output(inputs, out):
    """The block's exact output (T, D) in real units: ``out x s_c x s_wo[c]``."""
    return np.asarray(out, dtype=np.float64) * inputs.scales["c"] * inputs.scales["w_o"][None, :]


def random_layer(d_model, seed, qk_gain=2.0):
    """A seeded random float layer: weights N(0, 1/D) (W_q, W_k times ``qk_gain``, so that the
    attention is peaked as in a trained model), biases N(0, 0.1**2). Output: (weights, biases)."""
    rng = np.random.default_rng(seed)
    d = d_model
    weights = {p: rng.standard_normal((d, d)) / math.sqrt(d) * (qk_gain if p in "qk" else 1.0) for p in PROJECTIONS}
    biases = {p: 0.1 * rng.standard_normal(d) for p in PROJECTIONS}
    return weights, biases


def random_inputs(params, seed=0, calib_sentences=3, saturate=False):
    """Valid inputs of any size from a seeded random float layer, quantized and calibrated as
    real data is (:func:`calibrate` on ``calib_sentences`` random inputs plus this one, then
    :func:`encode`). Output: :class:`BlockInputs` (with ``scales``).

    ``saturate=True`` drives every stage into its limits, for the hardware's corner cases:
    each requant pair's gain times 4 (``s`` two smaller, so a good share of Q8/K8/V8, the
    logits and C8 saturate both ways) and a tenth of the input codes at -128 or 127."""
    if not isinstance(params, BlockParams):
        raise ParameterError("random_inputs takes a BlockParams")
    check_int("seed", seed, 0, 2**63 - 1)
    check_int("calib_sentences", calib_sentences, 0, 1000)
    weights, biases = random_layer(params.d_model, seed)
    rng = np.random.default_rng([seed, 1])
    x = rng.standard_normal((params.tokens, params.d_model))
    calib = [x] + [rng.standard_normal((params.max_tokens, params.d_model)) for _ in range(calib_sentences)]
    inputs = encode(calibrate(params, weights, biases, calib), x)
    if not saturate:
        return inputs
    pairs = {name: RequantPair(pair.m, np.maximum(np.asarray(pair.s) - 2, 0)) for name, pair in inputs.requant.items()}
    x8 = inputs.x.copy()
    corner = rng.random(x8.shape) < 0.1
    x8[corner] = rng.choice([-128, 127], int(corner.sum()))
    return dataclasses.replace(inputs, x=x8, requant=pairs)
