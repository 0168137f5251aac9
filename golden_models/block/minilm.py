"""Real data for the block: MiniLM's attention layer on a real sentence, and the comparison
of the block's integer output with FP32 (issue 17, item 2; docs/block_model.md).

:func:`minilm_inputs` takes the input of one of all-MiniLM-L6-v2's self-attention layers for
a sentence from the float32 model's forward pass, quantizes that layer's four weights with the
configuration's quantizer and calibrates the static scales, the requant pairs and the EXAQ
clip on the calibration sentences of the study set (disjoint from the evaluation sentences the
figures are measured on). :func:`compare_fp32` measures the dequantized integer output against
FP32, as the layer output (``attention.output.dense``, before the residual and LayerNorm) and
end to end: the sentence embedding with that layer's attention output replaced.
"""

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from lowbit.core.modes import BlockEngine, BlockSoftmax

from .._checks import ParameterError, check_choice, check_int
from ..accuracy.minilm import MiniLM, _gelu, cosine_rows
from ..accuracy.sentences import STUDY_SET, evaluation_texts, load_sentences
from .calibrate import calibrate, dequantize_output, encode
from .pipeline import CONFIGS, BlockParams, block_forward

__all__ = ["D_MODEL", "HEADS", "Reference", "minilm_inputs", "compare_fp32", "embedding_with_attention",
           "ablations", "config_label", "accuracy_rows", "format_accuracy"]

D_MODEL, HEADS = 384, 12
_PROJ = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
         "o": "attention.output.dense"}


@functools.cache
def model():
    """The float32 all-MiniLM-L6-v2 (the FP32 reference of the accuracy table), loaded once."""
    return MiniLM("float32")


@functools.cache
def _sentences(name):
    return load_sentences(name)


def _layer_inputs(texts, layer):
    """Each sentence's input to transformer layer ``layer``: float32 (T_i, 384) arrays."""
    m = model()
    batch, h = m.embed(list(texts))
    for i in range(layer):
        h = m.block(h, batch, i)
    return np.split(h, np.cumsum(batch.lengths)[:-1])


def _layer_weights(layer):
    m = model()
    prefix = f"encoder.layer.{layer}"
    weights = {p: m.weight(f"{prefix}.{s}").astype(np.float64) for p, s in _PROJ.items()}
    biases = {p: m.params[f"{prefix}.{s}.bias"].astype(np.float64) for p, s in _PROJ.items()}
    return weights, biases


@functools.cache
def _calibration(params, layer, sentence_set):
    """The layer's :class:`~.calibrate.Calibration` on the set's calibration sentences
    (``params`` with tokens/max_tokens normalised away: they do not change it)."""
    weights, biases = _layer_weights(layer)
    calib = [x.astype(np.float64) for x in _layer_inputs(_sentences(sentence_set)["calibration"], layer)]
    return calibrate(params, weights, biases, calib)


@dataclass(frozen=True)
class Reference:
    """The FP32 side of one sentence: ``config``, ``sentence`` (the text), ``layer``,
    ``tokens``; ``x`` float32 (T, 384), the layer's input; ``attention`` float32 (T, 384),
    its ``attention.output.dense`` output; ``embedding`` float32 (384,), the sentence
    embedding; ``scales`` the block inputs' real scales (to dequantize the output);
    ``clip_real`` the calibrated EXAQ clip (None for the fixed softmax)."""
    config: str
    sentence: str
    layer: int
    tokens: int
    x: np.ndarray
    attention: np.ndarray
    embedding: np.ndarray
    scales: dict
    clip_real: float | None


def _sentence_text(sentence, sentence_set):
    if isinstance(sentence, str):
        if not sentence.strip():
            raise ParameterError("sentence must be a non-empty string or an evaluation sentence index")
        return sentence
    texts = evaluation_texts(_sentences(sentence_set))
    return texts[check_int("sentence", sentence, 0, len(texts) - 1)]


def _format(config):
    """(engine, softmax) of a configuration: a name of :data:`CONFIGS`, or a pair
    ``(engine, softmax)`` of any engine and softmax (for the ablations)."""
    if isinstance(config, tuple):
        probe = BlockParams(engine=config[0], softmax=config[1])   # checks both
        return probe.engine, probe.softmax
    fmt = CONFIGS[check_choice("config", config, tuple(CONFIGS))]
    return fmt.engine, fmt.softmax


def config_label(config):
    """A configuration's name, or ``engine+softmax`` for a pair."""
    return config if isinstance(config, str) else "+".join(config)


def ablations(configs):
    """For each configuration, its weights with the fixed-point baseline softmax and its
    softmax with INT8 weights: which of the two costs the accuracy. Pairs, without repeats
    of each other or of the configurations themselves."""
    seen = {_format(c) for c in configs}
    extra = []
    for c in configs:
        engine, softmax = _format(c)
        for pair in ((engine, BlockSoftmax.FIXED), (BlockEngine.INT8, softmax)):
            if pair not in seen:
                seen.add(pair)
                extra.append(pair)
    return extra


def minilm_inputs(config, sentence, layer=0, d_model=D_MODEL, *, max_tokens=None, sentence_set=STUDY_SET, **params):
    """The block's inputs for MiniLM's self-attention layer ``layer`` (0..5) on a real sentence.

    Inputs: ``config`` a name of :data:`~.pipeline.CONFIGS` (or an (engine, softmax) pair);
    ``sentence`` an index into the
    study set's evaluation sentences (0..239) or a text; ``d_model`` must be 384 (MiniLM's
    width: a narrower block cannot run the real layer); ``max_tokens`` the block's (default:
    the sentence's token count, at least 2); further ``params`` fields of
    :class:`~.pipeline.BlockParams` (``in_bits``, ``out_frac``, ...).
    Output: (:class:`~.pipeline.BlockParams`, :class:`~.pipeline.BlockInputs`, :class:`Reference`).
    """
    engine, softmax = _format(config)
    check_int("layer", layer, 0, 5)
    check_int("d_model", d_model, D_MODEL, D_MODEL, "MiniLM's width")
    text = _sentence_text(sentence, sentence_set)
    m = model()
    tokens = len(m.token_ids([text])[0])
    if tokens > 128:
        raise ParameterError(f"the sentence has {tokens} tokens: at most 128 (max_tokens)")
    max_tokens = max(2, tokens) if max_tokens is None else max_tokens
    base = BlockParams(engine=engine, softmax=softmax, d_model=D_MODEL, heads=HEADS, tokens=1, max_tokens=2,
                       **params)
    calibration = _calibration(base, layer, sentence_set)
    block = dataclasses.replace(base, tokens=tokens, max_tokens=max_tokens)
    calibration = dataclasses.replace(calibration, params=block)
    x = _layer_inputs([text], layer)[0]
    inputs = encode(calibration, x.astype(np.float64))
    capture = {}
    embedding = m.encode([text], capture=capture)[0]
    name = f"encoder.layer.{layer}.{_PROJ['o']}"
    attention = capture[name] @ m.weight(name).T + m.params[f"{name}.bias"]
    reference = Reference(config_label(config), text, layer, tokens, x, attention, embedding, calibration.scales, calibration.clip_real)
    return block, inputs, reference


def embedding_with_attention(sentence, layer, attention):
    """The sentence embedding of the float32 model with layer ``layer``'s attention output
    (``attention.output.dense``, before the residual) replaced by ``attention`` (T, 384)."""
    m = model()
    batch, h = m.embed([sentence])
    for i in range(layer):
        h = m.block(h, batch, i)
    prefix = f"encoder.layer.{layer}"
    attention = np.asarray(attention, dtype=m.dtype)
    # The rest of the layer exactly as MiniLM._layer computes it after its attention.
    h = m._layer_norm(attention + h, f"{prefix}.attention.output.LayerNorm")
    mid = _gelu(h @ m.weight(f"{prefix}.intermediate.dense").T + m.params[f"{prefix}.intermediate.dense.bias"])
    out = mid @ m.weight(f"{prefix}.output.dense").T + m.params[f"{prefix}.output.dense.bias"]
    h = m._layer_norm(out + h, f"{prefix}.output.LayerNorm")
    for i in range(layer + 1, m.n_layers):
        h = m.block(h, batch, i)
    pooled = h.mean(axis=0)
    return pooled / np.linalg.norm(pooled)


def compare_fp32(reference, trace):
    """The block's output against FP32. Output: dict with ``layer_cosine`` (cosine of the
    flattened (T, 384) outputs), ``layer_rel_error`` (||y - y_fp32||_F / ||y_fp32||_F),
    ``token_cosine_min`` (the worst token's cosine) and ``embedding_cosine`` (the sentence
    embedding with the layer's attention output replaced by the dequantized integer one,
    against the FP32 embedding)."""
    out = np.asarray(trace.out)
    if out.shape != reference.attention.shape:
        raise ParameterError(f"trace.out must have shape {reference.attention.shape}, got {out.shape}")
    y = out * reference.scales["c"] * reference.scales["w_o"][None, :]
    ref = reference.attention.astype(np.float64)
    flat = cosine_rows(y.reshape(1, -1), ref.reshape(1, -1))[0]
    emb = embedding_with_attention(reference.sentence, reference.layer, y)
    return {"layer_cosine": float(flat),
            "layer_rel_error": float(np.linalg.norm(y - ref) / np.linalg.norm(ref)),
            "token_cosine_min": float(cosine_rows(y, ref).min()),
            "embedding_cosine": float(cosine_rows(emb[None], reference.embedding[None].astype(np.float64))[0])}


def accuracy_rows(configs=tuple(CONFIGS), sentences=(0,), layer=0, progress=None):
    """The accuracy figures of every configuration (a name or an (engine, softmax) pair) on
    the given evaluation sentences.

    Output: a list of dicts, one per configuration: ``config``, ``engine``, ``softmax``,
    ``sentences`` (how many), ``tokens`` (total), the means of the :func:`compare_fp32`
    figures over the sentences and the worst ``embedding_cosine`` (``embedding_cosine_min``),
    plus ``clip`` (the real EXAQ clip) and ``saturated`` (fraction of Q8/K8/V8/C8 codes at
    -128 or 127)."""
    rows = []
    for config in configs:
        figures, tokens, saturated, total, clip = [], 0, 0, 0, None
        for s in sentences:
            params, inputs, ref = minilm_inputs(config, s, layer)
            trace = block_forward(params, inputs)
            figures.append(compare_fp32(ref, trace))
            tokens += ref.tokens
            codes = np.concatenate([a.ravel() for a in (trace.q8, trace.k8, trace.v8, trace.c8)])
            saturated += int(np.sum((codes == -128) | (codes == 127)))
            total += codes.size
            clip = ref.clip_real
            if progress is not None:
                progress(config, s)
        engine, softmax = _format(config)
        row = {"config": config_label(config), "engine": engine, "softmax": softmax,
               "sentences": len(figures), "tokens": tokens}
        for key in figures[0]:
            row[key] = float(np.mean([f[key] for f in figures]))
        row["embedding_cosine_min"] = float(min(f["embedding_cosine"] for f in figures))
        row["clip"] = clip
        row["saturated"] = saturated / total
        rows.append(row)
    return rows


def format_accuracy(rows):
    """The rows of :func:`accuracy_rows` as a Markdown table."""
    lines = ["| config | weights x act | softmax | layer cosine | layer rel. error | worst token cosine (mean) "
             "| embedding cosine (mean / min) | EXAQ clip | saturated codes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        clip = "-" if r["clip"] is None else f"{r['clip']:.2f}"
        lines.append(f"| {r['config']} | {r['engine']} x INT8 | {r['softmax']} | {r['layer_cosine']:.4f} "
                     f"| {r['layer_rel_error']:.4f} | {r['token_cosine_min']:.4f} "
                     f"| {r['embedding_cosine']:.5f} / {r['embedding_cosine_min']:.5f} | {clip} "
                     f"| {100 * r['saturated']:.2f} % |")
    return "\n".join(lines)


# ------------------------------------------------------------------ lowbit experiment block-accuracy
def add_arguments(parser):
    parser.add_argument("--config", nargs="+", choices=tuple(CONFIGS), default=list(CONFIGS),
                        help="configurations (default: all four)")
    parser.add_argument("--sentences", type=int, default=8,
                        help="how many evaluation sentences of the study set, from the first (default 8)")
    parser.add_argument("--layer", type=int, default=0, help="MiniLM layer whose attention is replaced (0..5)")
    parser.add_argument("--ablation", action="store_true",
                        help="also each configuration's weights with the fixed softmax and its softmax with INT8 "
                             "weights (which of the two costs the accuracy)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")


def run(args):
    import json

    from ..accuracy.progress import Steps

    n = check_int("--sentences", args.sentences, 1, len(evaluation_texts(_sentences(STUDY_SET))))
    layer = check_int("--layer", args.layer, 0, 5)
    configs = tuple(args.config)
    if args.ablation:
        configs += tuple(ablations(configs))
    steps = Steps(len(configs) * n)
    rows = accuracy_rows(configs, tuple(range(n)), layer,
                         lambda config, s: steps.step(f"{config_label(config)}: sentence {s}"))
    print(f"MiniLM layer {layer} self-attention in the block's integer model against FP32, "
          f"{n} evaluation sentences of the study set (calibration: its calibration sentences)\n")
    print(format_accuracy(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0
