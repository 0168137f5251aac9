"""ABQ-LLM's distribution correction, block-wise, in NumPy (our reading of the paper).

ABQ-LLM calibrates the quantization parameters of each transformer block so that the quantized
block reproduces the full-precision block: a cosine-similarity loss on the block output (its
"DLC" term) and a divergence between the attention distributions ("AKL"). The paper learns
OmniQuant-style per-channel clipping with gradients; NumPy has no autograd, so **our reading**
searches instead, per linear layer, one factor f on that layer's weight scales (codes
``clip(rint(w / (f s)) + z, 0, top)``, the zero points kept), over :data:`DC_FACTORS`, by
coordinate descent through the block's six layers in order, keeping a factor only if it
lowers the block loss

    L = -log(mean_t cos(h_q[t], h[t])) + mean_rows KL(P || P_q),

h the full-precision block's output for the full-precision input, h_q the quantized block's
output for the input coming out of the already corrected earlier blocks (as OmniQuant and
ABQ-LLM chain them), P and P_q the attention probabilities of every real query row. The
weights start from :func:`~lowbit.golden_models.abq.quantize_weights` (per-channel MSE-searched
range, with or without bit balance); the activations are quantized per token (ABQ's quantizer)
in both the search and the evaluation.
"""

import math

import numpy as np

from .._checks import check_int
from ..abq import dequantize, quantize_activations, quantize_weights, top_code
from .minilm import softmax as exact_softmax

__all__ = ["DC_FACTORS", "DC_SENTENCES", "block_loss", "correct_distribution"]

DC_FACTORS = (0.8, 0.9, 1.1, 1.25)
# Calibration sentences the block search uses (the first ones of the calibration set).
DC_SENTENCES = 64


class _Recorder:
    """A softmax hook that keeps the probabilities of the real query rows."""

    def __init__(self):
        self.probs = None

    def __call__(self, logits, key_mask):
        p = exact_softmax(logits, key_mask)
        real = np.broadcast_to(np.swapaxes(key_mask, -1, -2)[..., 0], p.shape[:-1])
        self.probs = p[real]
        return p


def block_loss(h, h_q, p, p_q):
    """The block loss: -log of the mean token cosine plus the mean attention-row KL(p || p_q)."""
    h, h_q = np.asarray(h, dtype=np.float64), np.asarray(h_q, dtype=np.float64)
    cos = np.einsum("ij,ij->i", h, h_q) / (np.linalg.norm(h, axis=1) * np.linalg.norm(h_q, axis=1))
    p, p_q = np.asarray(p, dtype=np.float64), np.asarray(p_q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(np.maximum(p_q, 1e-300))), 0.0)
    return -math.log(max(float(cos.mean()), 1e-12)) + float(kl.sum(axis=-1).mean())


def _requantize(w, qt, factor, top):
    """Dequantized weights with the scales of ``qt`` times ``factor`` (zero points kept)."""
    s = qt.scales * factor
    codes = np.clip(np.rint(w / s) + qt.zeros, 0, top)
    return (codes - qt.zeros) * s


def correct_distribution(model, sentences, bits, act_bits, *, balanced=False, n_grid=100, progress=None):
    """Quantized weights of every linear layer after the block-wise distribution correction.

    Inputs: a :class:`~.minilm.MiniLM`; calibration ``sentences`` (list of str; the first
    :data:`DC_SENTENCES` are used); weight ``bits`` p and activation bits q of ABQ's WpAq;
    ``balanced`` bit balance; ``n_grid`` of the initial range search; ``progress(name)`` called
    after each layer. Output: (dict name -> float64 (out, in) dequantized weights, dict name ->
    chosen factor).
    """
    bits = check_int("bits", bits, 1, 8)
    act_bits = check_int("act_bits", act_bits, 1, 8)
    top = top_code(bits, balanced)
    texts = list(sentences)[:DC_SENTENCES]

    def act_quant(name, x):
        return dequantize(*quantize_activations(x, act_bits)[:3])

    batch, h_fp = model.embed(texts)
    h_q = h_fp
    weights, factors = {}, {}
    for i in range(model.n_layers):
        names = [n for n in model.linear_names if n.startswith(f"encoder.layer.{i}.")]
        record = _Recorder()
        target = model.block(h_fp, batch, i, softmax=record)
        p = record.probs
        originals = {n: model.weight(n).astype(np.float64) for n in names}
        tensors = {n: quantize_weights(originals[n], bits, balanced=balanced, n_grid=n_grid) for n in names}
        current = {n: dequantize(*tensors[n][:3]) for n in names}

        def loss(candidate):
            rec = _Recorder()
            out = model.block(h_q, batch, i, weights=candidate, act_quant=act_quant, softmax=rec)
            return block_loss(target, out, p, rec.probs)

        best = loss(current)
        for name in names:
            factors[name] = 1.0
            for f in DC_FACTORS:
                trial = dict(current, **{name: _requantize(originals[name], tensors[name], f, top)})
                value = loss(trial)
                if value < best:
                    best, current, factors[name] = value, trial, f
            if progress is not None:
                progress(name)
        weights.update(current)
        h_q = model.block(h_q, batch, i, weights=current, act_quant=act_quant)
        h_fp = target
    return weights, factors
