"""AQAS and SLAC, the dINT paper's two calibration methods, as we read them.

**AQAS** (activation-quantization-aware scaling): a W4A8 layer computes A(X) Q(W)^T, with A the
INT8 per-token activation quantizer, so the weight scales are chosen to minimise the layer's
*output* error against the float layer, ``||A(X) Q(W; s)^T - X W^T||_F^2`` on calibration
inputs X, and not the weight error ``||W - Q(W; s)||^2`` (the scale search of
:func:`~lowbit.golden_models.dint.quantize_dint`). The error splits by output channel o:
``q_o^T H_q q_o - 2 q_o^T G w_o + const`` with ``H_q = A(X)^T A(X)`` and ``G = A(X)^T X``, so
each channel's scale is searched independently from two (in, in) matrices, whatever the token
count. Candidates (**our choice**; the paper leaves the search open): the format's own
MSE-searched scale and the clipping ratios 1, 0.9, ..., 0.5 of max|w_o| / max_level, then a
refinement of +-0.05 and +-0.025 around each channel's best ratio. The MSE scale is a
candidate, so on the calibration data AQAS is never worse than the plain search. The scales
then feed RTN (:func:`aqas_rtn`) or GPTQ (:func:`~.ptq.gptq`'s ``scales``), for INT4 and dINT4.

**SLAC** (sequence-length-aware calibration): the calibration sequences have the length of the
target sequences, because the layers' input statistics (attention mixing, LayerNorm inputs)
depend on it. :func:`calibration_texts` builds calibration texts of a given length: the
sentences alone (``"sentence"``: the target length of the sentence embeddings evaluated here)
or consecutive sentences packed into groups of at least N tokens (GPTQ's usual practice of
fixed long segments, the "plain" calibration SLAC is compared with).
"""

import numpy as np

from .._checks import ParameterError, check_int
from .ptq import rtn

__all__ = ["AQAS_RATIOS", "aqas_scales", "aqas_rtn", "output_cost", "calibration_texts"]

AQAS_RATIOS = np.round(np.linspace(1.0, 0.5, 6), 6)
_REFINE = (-0.05, -0.025, 0.025, 0.05)


def output_cost(w, wf, scales, h_q, g):
    """Per output channel: ``||A(X) q_o - X w_o||^2`` up to a constant, for the scales given.

    Inputs: ``w`` float64 (out, in); ``wf`` a :class:`~.ptq.WeightFormat`; ``scales`` (out,);
    ``h_q = A(X)^T A(X)``, ``g = A(X)^T X`` float64 (in, in). Output: float64 (out,).
    """
    q = wf.round(w, scales[:, None])
    return np.einsum("ij,ij->i", q @ h_q, q) - 2.0 * np.einsum("ij,ij->i", q @ g, w)


def aqas_scales(w, x, wf, act_quant, *, base_scales=None):
    """AQAS per-output-channel scales of ``w`` (out, in) for calibration inputs ``x`` (tokens, in).

    ``act_quant(x) -> A(x)`` is the activation quantizer of the layer (float in, dequantized
    float out); ``base_scales`` (out,) the format's own scales (default ``wf.scales(w)``), always
    a candidate. Output: float64 (out,) positive scales.
    """
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if w.ndim != 2 or x.ndim != 2 or x.shape[1] != w.shape[1] or x.shape[0] == 0:
        raise ParameterError(f"x must be (tokens, {w.shape[1]}) for w of shape {w.shape}, got {x.shape}")
    xq = np.asarray(act_quant(x), dtype=np.float64)
    h_q, g = xq.T @ xq, xq.T @ x
    base = wf.scales(w) if base_scales is None else np.asarray(base_scales, dtype=np.float64)
    amax = np.abs(w).max(axis=1)
    unit = np.where(amax > 0, amax / wf.max_level, base)   # scale of ratio 1 (max-scale RTN)
    best_scale, best_cost = base.copy(), output_cost(w, wf, base, h_q, g)
    best_ratio = np.ones(w.shape[0])
    rows = np.arange(w.shape[0])

    def consider(ratio):
        nonlocal best_scale, best_cost, best_ratio
        scales = ratio * unit
        cost = output_cost(w, wf, scales, h_q, g)
        better = cost < best_cost
        best_scale = np.where(better, scales, best_scale)
        best_ratio = np.where(better, ratio, best_ratio)
        best_cost = np.where(better, cost, best_cost)

    for r in AQAS_RATIOS:
        consider(np.full(rows.size, r))
    centre = best_ratio.copy()
    for step in _REFINE:
        consider(np.clip(centre + step, 0.05, 1.5))
    return best_scale


def aqas_rtn(w, x, wf, act_quant, *, base_scales=None):
    """RTN with AQAS scales: (float64 (out, in) dequantized weights, float64 (out,) scales)."""
    return rtn(w, wf, scales=aqas_scales(w, x, wf, act_quant, base_scales=base_scales))


def calibration_texts(sentences, length, model):
    """SLAC's calibration texts: ``length`` "sentence" (every sentence alone) or an integer N in
    8..256: consecutive sentences joined by spaces into groups of at least N tokens (with
    [CLS] and [SEP]; a last, shorter group is kept). Inputs: list of str; ``model`` a
    :class:`~.minilm.MiniLM` (its tokenizer counts the tokens). Output: list of str."""
    sentences = list(sentences)
    if length == "sentence":
        return sentences
    length = check_int("calibration length", length, 8, model.max_seq_length)
    counts = [len(t) - 2 for t in model.token_ids(sentences)]   # without [CLS] and [SEP]
    groups, current, tokens = [], [], 2
    for text, n in zip(sentences, counts):
        current.append(text)
        tokens += n
        if tokens >= length:
            groups.append(" ".join(current))
            current, tokens = [], 2
    if current:
        groups.append(" ".join(current))
    return groups
