"""Second-order post-training weight quantization: GPTQ and Athena-style block-wise variants.

A linear layer y = x W^T (W float (out, in)) is quantized to minimise the layer output error
on calibration inputs X (tokens, in): ||X W^T - X W_q^T||_F^2 = sum over rows r of
(w_r - q_r) H (w_r - q_r)^T / 2 with the Hessian H = 2 X^T X, the same for every row.

- :func:`rtn`: round every weight to the nearest representable value (the baseline).
- :func:`gptq`: columns in order; each column's rounding error is spread over the columns not
  yet quantized through the inverse Hessian (its upper Cholesky factor), with lazy block updates.
- :func:`athena`: the block-wise variant (**our reading** of Athena, see ``docs/ptq.md``):
  ``grouping="columns"`` quantizes groups of columns jointly, refines each group's rounding by
  coordinate descent on the group's exact second-order loss and downdates the inverse Hessian
  (Schur complement) after every group; ``grouping="rows"`` processes groups of output
  channels, each with its own greedy column order and an inverse Hessian downdated column by
  column (OBQ-style).

Format-agnostic: a :class:`WeightFormat` gives the per-output-channel scales (the format's own
search, run once on the original weights) and a rounding function to the nearest representable
value; :func:`int_format` and :func:`dint_format` adapt :mod:`lowbit.golden_models.dint`.
Everything here is float64.
"""

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lowbit.core.options import COUNT, bounded

from .._checks import ParameterError, check_choice, check_int
from ..dint import DintFormat, LevelRounder, quantize_dint, quantize_int

__all__ = [
    "WeightFormat",
    "int_format",
    "dint_format",
    "hessian",
    "output_error",
    "rtn",
    "gptq",
    "athena",
    "GROUPINGS",
    "quantize_model",
]

GROUPINGS = ("columns", "rows")


@dataclass(frozen=True)
class WeightFormat:
    """A per-output-channel weight format, as the PTQ loops see it.

    ``scales(w)``: float64 (out, in) weights -> float64 (out,) positive scales (run once, on
    the original weights). ``round(w, s)``: elementwise nearest representable value of ``w``
    for scale ``s`` (arrays broadcasting against each other, e.g. a column (out,) with scales
    (out,), or a block (out, k) with (out, 1)); returns the dequantized float64 values.
    ``max_step``: the largest gap between neighbouring levels, in units of the scale, so a
    rounding error above ``max_step / 2 * s`` means the weight lies beyond the end levels.
    """

    name: str
    scales: Callable
    round: Callable
    max_step: float = 1.0
    max_level: float = 1.0   # the largest magnitude, in units of the scale (max-scale RTN: max|w| / max_level)


def int_format(bits=4, *, n_grid=100):
    """Symmetric INT ``bits`` with the MSE scale search of :func:`~lowbit.golden_models.dint.quantize_int`
    (``n_grid=1``: max-scale); rounding ties go to the smaller magnitude, as there."""
    bits = check_int("bits", bits, 2, 16)
    q = (1 << (bits - 1)) - 1
    rounder = LevelRounder(np.arange(-q, q + 1, dtype=np.float64), unit=1.0)
    return WeightFormat(
        name=f"INT{bits}",
        scales=lambda w: quantize_int(w, bits, n_grid=n_grid)[1],
        round=lambda w, s: rounder.values(w / s) * s,
        max_level=float(q),
    )


def dint_format(fmt=None, *, n_grid=100):
    """dINT4 (default ``DintFormat()``: ``special="half"``, f = 1) with the scale search of
    :func:`~lowbit.golden_models.dint.quantize_dint`."""
    fmt = DintFormat() if fmt is None else fmt
    if not isinstance(fmt, DintFormat):
        raise ParameterError(f"fmt must be a DintFormat, got {type(fmt).__name__}")
    return WeightFormat(
        name=f"dINT4({fmt.special},f={fmt.frac_bits})",
        scales=lambda w: quantize_dint(w, fmt, n_grid=n_grid)[1],
        round=lambda w, s: fmt.rounder.values(w / s) * s,
        max_level=float(fmt.max_level),
    )


def hessian(x):
    """H = 2 X^T X of calibration inputs ``x`` float (tokens, in). Output float64 (in, in)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ParameterError(f"x must be a non-empty 2-D (tokens, in) array, got shape {x.shape}")
    return 2.0 * (x.T @ x)


def output_error(x, w, w_q):
    """Layer output error ||X W^T - X W_q^T||_F: ``x`` (tokens, in), ``w``, ``w_q`` (out, in)."""
    x = np.asarray(x, dtype=np.float64)
    return float(np.linalg.norm(x @ (np.asarray(w, dtype=np.float64) - w_q).T))


def _weights(w, h, wf, scales):
    """Checked float64 copies of the weights and Hessian, and the channel scales."""
    w = np.array(w, dtype=np.float64)  # a copy: the loops update it in place
    h = np.array(h, dtype=np.float64)
    if w.ndim != 2 or w.size == 0 or not np.all(np.isfinite(w)):
        raise ParameterError(f"w must be a finite non-empty 2-D (out, in) array, got shape {w.shape}")
    if h.shape != (w.shape[1], w.shape[1]):
        raise ParameterError(f"h must have shape ({w.shape[1]}, {w.shape[1]}) for w of shape {w.shape}, got {h.shape}")
    scales = wf.scales(w) if scales is None else np.asarray(scales, dtype=np.float64)
    if scales.shape != (w.shape[0],) or not np.all(scales > 0):
        raise ParameterError(f"scales must hold {w.shape[0]} positive values")
    return w, h, scales


def _damped(h, damp):
    """H with dead inputs made harmless and the diagonal damped.

    A column whose input is always 0 (diag 0) has no effect on the calibration output: its
    diagonal becomes 1, so H is invertible and that column's rounding error is spread nowhere
    (GPTQ also zeroes such weights; we keep them rounded, so inputs that are non-zero later
    still see them). Then H + damp * mean(diag H) * I, as GPTQ.
    """
    if not 0 <= damp <= 1:
        raise ParameterError(f"damp={damp!r} is out of range: damp must be in 0..1")
    h = h.copy()
    d = np.einsum("ii->i", h)  # a writable view of the diagonal
    d[d == 0] = 1.0
    d += damp * d.mean()
    return h


def _inverse(h):
    """H^-1 of a symmetric positive definite H, through its Cholesky factor L (H^-1 = L^-T L^-1)."""
    l_inv = np.linalg.inv(np.linalg.cholesky(h))
    return l_inv.T @ l_inv


def _inverse_upper_factor(h):
    """Upper triangular U with U^T U = H^-1, from one Cholesky factorisation.

    With J the order-reversing permutation and J H J = L L^T, H^-1 = (J L^-1 J)^T (J L^-1 J),
    and J L^-1 J is upper triangular: no explicit inverse of H, no second factorisation.
    """
    l_inv = np.linalg.inv(np.linalg.cholesky(h[::-1, ::-1]))
    return np.ascontiguousarray(l_inv[::-1, ::-1])


def rtn(w, wf, *, scales=None):
    """Round to nearest: every weight to the nearest representable value of its channel.

    Inputs: ``w`` float (out, in); ``wf`` a :class:`WeightFormat`; ``scales`` (out,) or None
    (``wf.scales(w)``). Output: (float64 (out, in) dequantized weights, float64 (out,) scales).
    """
    w, _, scales = _weights(w, np.zeros((np.shape(w)[1],) * 2), wf, scales)
    return wf.round(w, scales[:, None]), scales


def gptq(w, h, wf, *, block_size=128, damp=0.01, act_order=False, scales=None):
    """GPTQ: quantize the columns in order, spreading each column's error over the later ones.

    With U the upper Cholesky factor of H^-1 (H^-1 = U^T U), column j is rounded,
    q_j = round(w_j), and the later columns of every row are updated by
    w_k -= (w_j - q_j) / U_jj * U_jk (k > j). Within a block of ``block_size`` columns this
    runs column by column; the later blocks receive the block's accumulated update in one
    product (lazy batch update: the same result, fewer passes over W).

    Inputs: ``w`` float (out, in); ``h`` float (in, in), e.g. :func:`hessian` of the
    calibration inputs; ``wf`` a :class:`WeightFormat`; ``damp`` the relative diagonal
    damping; ``act_order`` quantizes columns in order of decreasing diag(H) (off by default);
    ``scales`` (out,) or None (``wf.scales(w)``).
    Output: (float64 (out, in) dequantized weights, float64 (out,) scales).
    """
    w, h, scales = _weights(w, h, wf, scales)
    block_size = check_int("block_size", block_size, 1, 1 << 20)
    h = _damped(h, damp)
    order = np.argsort(-np.diag(h), kind="stable") if act_order else np.arange(w.shape[1])
    w, h = w[:, order], h[np.ix_(order, order)]
    u = _inverse_upper_factor(h)
    q = np.empty_like(w)
    for start in range(0, w.shape[1], block_size):
        stop = min(start + block_size, w.shape[1])
        block = w[:, start:stop]  # a view: the column loop updates W in place
        err = np.empty_like(block)
        for j in range(stop - start):
            q[:, start + j] = wf.round(block[:, j], scales)
            err[:, j] = (block[:, j] - q[:, start + j]) / u[start + j, start + j]
            block[:, j + 1 :] -= np.outer(err[:, j], u[start + j, start + j + 1 : stop])
        w[:, stop:] -= err @ u[start:stop, stop:]
    result = np.empty_like(q)
    result[:, order] = q
    return result, scales


def athena(w, h, wf, *, grouping="columns", group_size=128, damp=0.01, sweeps=4, scales=None):
    """Athena-style block-wise second-order quantization, grouping by columns or by rows.

    ``grouping="columns"``: groups of ``group_size`` consecutive columns, in order. Let Hi be
    the inverse (damped) Hessian of the columns not yet quantized, G the current group, R the
    later columns and P = (Hi_GG)^-1. Fixing the group to Q_G and re-fitting W_R optimally
    costs tr(E P E^T) per layer, E = W_G - Q_G (block OBS). The group is first rounded
    greedily (column by column with error feedback inside the group: exactly GPTQ's choice),
    then up to ``sweeps`` coordinate-descent sweeps re-round each column to the minimiser of
    that cost with the others fixed (never increasing it). Then W_R -= E P Hi_GR, and Hi is
    downdated to the remaining columns: Hi_RR - Hi_RG P Hi_GR. ``sweeps=0`` equals :func:`gptq`.

    ``grouping="rows"``: groups of ``group_size`` output channels, each an independent
    problem with the shared H. Within a group the next column is the one of least total
    greedy loss sum_r (w_rp - q_rp)^2 / Hi_pp over the group's rows (OBQ's criterion), except
    that a column holding a weight pushed beyond the grid (rounding error above
    ``wf.max_step / 2`` scales) goes first, the largest such error first (OBQ's outlier rule:
    left for later, such weights only grow). Its error is spread over the group's remaining
    columns and Hi is downdated by that column (rank one). ``group_size=1`` is OBQ;
    ``sweeps`` is unused.

    Inputs and output as :func:`gptq` (``group_size`` >= 1).
    """
    grouping = check_choice("grouping", grouping, GROUPINGS)
    group_size = check_int("group_size", group_size, 1, 1 << 20)
    sweeps = check_int("sweeps", sweeps, 0, 1000)
    w, h, scales = _weights(w, h, wf, scales)
    h_inv = _inverse(_damped(h, damp))
    if grouping == "columns":
        return _athena_columns(w, h_inv, wf, scales, group_size, sweeps), scales
    q = np.empty_like(w)
    for start in range(0, w.shape[0], group_size):
        rows = slice(start, start + group_size)
        q[rows] = _greedy_rows(w[rows], h_inv.copy(), wf, scales[rows, None])
    return q, scales


def _athena_columns(w, h_inv, wf, scales, group_size, sweeps):
    """Column grouping of :func:`athena`: ``w`` (out, in) is updated in place, ``h_inv`` (in, in)
    is the inverse of the damped Hessian. Output float64 (out, in) dequantized weights."""
    q = np.empty_like(w)
    for start in range(0, w.shape[1], group_size):
        stop = min(start + group_size, w.shape[1])
        k = stop - start
        group, later = w[:, start:stop], w[:, stop:]  # views into w
        p = _inverse(h_inv[:k, :k])
        q[:, start:stop] = _refine(group, _greedy_group(group, h_inv[:k, :k].copy(), wf, scales), p, wf, scales, sweeps)
        coupling = p @ h_inv[:k, k:]  # P Hi_GR, (k, remaining)
        later -= (group - q[:, start:stop]) @ coupling
        h_inv = h_inv[k:, k:] - h_inv[k:, :k] @ coupling
    return q


def _greedy_group(group, h_inv, wf, scales):
    """Round a group's columns in order, each error spread over the group's later columns.

    ``group`` (out, k) is not modified; ``h_inv`` (k, k) is consumed (downdated in place).
    Output float64 (out, k) dequantized values.
    """
    w = group.copy()
    q = np.empty_like(w)
    for j in range(w.shape[1]):
        q[:, j] = wf.round(w[:, j], scales)
        err = (w[:, j] - q[:, j]) / h_inv[j, j]
        w[:, j + 1 :] -= np.outer(err, h_inv[j, j + 1 :])
        h_inv[j + 1 :, j + 1 :] -= np.outer(h_inv[j + 1 :, j], h_inv[j, j + 1 :]) / h_inv[j, j]
    return q


def _refine(group, q, p, wf, scales, sweeps):
    """Coordinate descent on the group loss tr(E P E^T), E = group - q, one column at a time.

    With the other columns fixed, the loss of each row is a parabola in q_j with its minimum at
    w_j + sum_{k != j} P_jk e_k / P_jj; the nearest representable value minimises it over the
    grid, so no step increases the loss. Stops after ``sweeps`` sweeps or a sweep without change.
    """
    q = q.copy()
    err = group - q
    for _ in range(sweeps):
        changed = False
        for j in range(q.shape[1]):
            pull = (err @ p[:, j] - err[:, j] * p[j, j]) / p[j, j]
            new = wf.round(group[:, j] + pull, scales)
            if np.any(new != q[:, j]):
                changed = True
                q[:, j] = new
                err[:, j] = group[:, j] - new
        if not changed:
            break
    return q


def _greedy_rows(w, h_inv, wf, scales):
    """Row grouping of :func:`athena` for one group: ``w`` (rows, in) and ``h_inv`` (in, in) are
    consumed; ``scales`` (rows, 1). Output float64 (rows, in) dequantized weights.

    The chosen column is swapped to the front of the remaining ones (in ``w``, ``h_inv`` and
    ``order``), so the remaining columns are always the contiguous tail ``t:``.
    """
    w = w.copy()
    order = np.arange(w.shape[1])
    for t in range(w.shape[1]):
        cand = wf.round(w[:, t:], scales)
        sq_err = (w[:, t:] - cand) ** 2
        beyond = sq_err > (wf.max_step * scales / 2) ** 2
        if beyond.any():
            p = t + int(np.argmax(np.where(beyond, sq_err, 0.0).max(axis=0)))
        else:
            p = t + int(np.argmin(sq_err.sum(axis=0) / np.diag(h_inv)[t:]))
        _swap(w, h_inv, order, t, p)
        q_t = cand[:, p - t]
        err = (w[:, t] - q_t) / h_inv[t, t]
        w[:, t] = q_t
        w[:, t + 1 :] -= np.outer(err, h_inv[t, t + 1 :])
        h_inv[t + 1 :, t + 1 :] -= np.outer(h_inv[t + 1 :, t], h_inv[t, t + 1 :]) / h_inv[t, t]
    result = np.empty_like(w)
    result[:, order] = w
    return result


def _swap(w, h_inv, order, a, b):
    """Exchange columns ``a`` and ``b`` of ``w``, rows and columns of ``h_inv``, entries of ``order``."""
    if a == b:
        return
    w[:, [a, b]] = w[:, [b, a]]
    h_inv[[a, b]] = h_inv[[b, a]]
    h_inv[:, [a, b]] = h_inv[:, [b, a]]
    order[[a, b]] = order[[b, a]]


def quantize_model(model, sentences, quantize_layer, *, sequential=True):
    """Quantize every linear layer of a :class:`~lowbit.golden_models.accuracy.minilm.MiniLM`.

    ``quantize_layer(name, w, x) -> w_q``: ``w`` float64 (out, in), ``x`` float64 (tokens, in)
    the layer's calibration inputs on ``sentences``. With ``sequential`` (as GPTQ), the inputs
    of each transformer layer come from the model whose earlier layers are already quantized;
    otherwise every layer sees the full-precision model's inputs.
    Output: dict name -> float64 (out, in), ready for ``MiniLM.encode(weights=...)``.
    """
    done = {}
    capture = {}
    model.encode(sentences, capture=capture)
    for name in model.linear_names:
        if sequential and done and name.endswith("attention.self.query"):
            capture = {}
            model.encode(sentences, weights=done, capture=capture)
        done[name] = quantize_layer(name, model.weight(name).astype(np.float64), capture[name].astype(np.float64))
    return done


# ----------------------------------------------------------------------------------- report

_REPORT_LAYERS = (
    "encoder.layer.0.attention.self.query",
    "encoder.layer.2.attention.output.dense",
    "encoder.layer.3.intermediate.dense",
    "encoder.layer.5.output.dense",
)


def _methods(args):
    """The report's layer quantizers: list of (label, f(w, h, wf) -> (w_q, scales))."""
    second_order = {
        "GPTQ": lambda damp: lambda w, h, wf: gptq(w, h, wf, damp=damp),
        "Athena-cols": lambda damp: lambda w, h, wf: athena(w, h, wf, grouping="columns", damp=damp),
        "Athena-rows": lambda damp: lambda w, h, wf: athena(
            w, h, wf, grouping="rows", group_size=args.row_group, damp=damp
        ),
    }
    methods = []
    for name in args.methods:
        if name == "RTN":
            methods.append(("RTN", lambda w, h, wf: rtn(w, wf)))
        else:
            methods += [(f"{name} damp={d:g}", second_order[name](d)) for d in args.damp]
    return methods


def _layer_report(model, sentences, formats, args, steps):
    """Relative output error ||X(W - W_q)^T|| / ||X W^T|| per layer, format and method, on the
    calibration inputs and on the held-out evaluation inputs."""
    calib, held = {}, {}
    model.encode(sentences["calibration"], capture=calib)
    model.encode([s for p in sentences["evaluation"] for s in (p["a"], p["b"])], capture=held)
    print("| layer (out x in) | format | method | calib rel. error | held-out rel. error | seconds |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for name in args.layers:
        w = model.weight(name).astype(np.float64)
        x_cal, x_held = calib[name].astype(np.float64), held[name].astype(np.float64)
        h = hessian(x_cal)
        ref_cal, ref_held = np.linalg.norm(x_cal @ w.T), np.linalg.norm(x_held @ w.T)
        short = name.replace("encoder.layer.", "L")
        for wf in formats:
            for label, f in _methods(args):
                t0 = time.perf_counter()
                w_q, _ = f(w, h, wf)
                dt = time.perf_counter() - t0
                e_cal = output_error(x_cal, w, w_q) / ref_cal
                e_held = output_error(x_held, w, w_q) / ref_held
                print(f"| {short} ({w.shape[0]}x{w.shape[1]}) | {wf.name} | {label} "
                      f"| {e_cal:.4f} | {e_held:.4f} | {dt:.2f} |")
                steps.step(f"{short} {wf.name} {label}", len(args.layers) * len(formats) * len(_methods(args)))


def _model_report(model, sentences, formats, args, steps):
    """With every linear layer quantized (sequentially, as GPTQ) from the calibration sentences:
    each evaluation sentence's embedding cosine to the unquantized model's, the retrieval top-1
    agreement (paraphrase queries against all second sentences), and the mean absolute change
    of the 30 pairs' cosine similarity."""
    from .minilm import cosine_rows, nearest

    pairs = sentences["evaluation"]
    texts = [p["a"] for p in pairs] + [p["b"] for p in pairs]
    n = len(pairs)
    queries = np.array([p["paraphrase"] for p in pairs])
    ref = model.encode(texts)
    ref_top = nearest(ref[:n][queries], ref[n:])
    ref_pairs = cosine_rows(ref[:n], ref[n:])
    print(f"| format | method | mean cosine to {model.dtype.name} | min cosine | retrieval top-1 agreement "
          "| mean abs. change of pair cosine | seconds |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for wf in formats:
        for label, f in _methods(args):
            t0 = time.perf_counter()

            def layer(name, w, x, f=f, wf=wf, label=label):
                w_q = f(w, hessian(x), wf)[0]
                steps.step(f"{wf.name} {label}: {name}", len(formats) * len(_methods(args)) * len(model.linear_names))
                return w_q

            weights = quantize_model(model, sentences["calibration"], layer)
            dt = time.perf_counter() - t0
            emb = model.encode(texts, weights=weights)
            cos = cosine_rows(ref, emb)
            agree = np.mean(nearest(emb[:n][queries], emb[n:]) == ref_top)
            pair_change = np.abs(cosine_rows(emb[:n], emb[n:]) - ref_pairs).mean()
            print(f"| {wf.name} | {label} | {cos.mean():.4f} | {cos.min():.4f} | {agree:.3f} "
                  f"| {pair_change:.4f} | {dt:.1f} |")


def add_arguments(parser):
    """The options of ``lowbit experiment ptq``."""
    parser.add_argument("--table", choices=("layers", "model"), default="layers",
                        help="per-layer output errors, or the whole model's embeddings")
    parser.add_argument("--methods", nargs="+", default=["RTN", "GPTQ"], help="layer quantizers (default RTN GPTQ)",
                        choices=("RTN", "GPTQ", "Athena-cols", "Athena-rows"))
    parser.add_argument("--damp", nargs="+", type=bounded(float, 0), default=[0.01],
                        help="damping values of the second-order methods")
    parser.add_argument("--layers", nargs="+", default=list(_REPORT_LAYERS), help="layers of the per-layer table")
    parser.add_argument("--row-group", type=COUNT, default=128, help="rows per group of Athena-rows (default 128)")


def run(args):
    from .minilm import MiniLM
    from .sentences import load_sentences

    model = MiniLM("float32")
    formats = [int_format(4), dint_format()]
    from .progress import Steps

    report = _layer_report if args.table == "layers" else _model_report
    report(model, load_sentences(), formats, args, Steps(1))
    return 0

