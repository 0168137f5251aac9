"""EXAQ clipping analysis: the closed-form clip rules, the floating-point quantizer, the grid
search the rules approximate, the per-layer calibration, and the error measures.

Everything here is floating point (the bit-exact unit is
:mod:`lowbit.golden_models.exaq_softmax`). Logits ``z`` are real rows on the last axis with an
optional ``valid`` mask (masked positions are excluded everywhere, as attention masks are);
``d = z - max(z)`` is the stabilised input. Clips ``C`` are positive reals: the quantizer's
range is ``[lo, 0]``, ``lo = max(min(d), -C)``, split into ``2**b`` uniform levels that
include both ends.

- Closed forms (the EXAQ reference's rules): Gaussian fit, ``C = a sigma + c`` with ``sigma``
  the standard deviation of the row; Laplace fit, ``C = a b + c`` with ``b = mean|d - mean(d)|``.
- :func:`grid_search_clip`: the reference's numerical optimum, the best of 99 clips spread
  evenly over the range of d, by the MSE of the softmax output after quantization.
- :func:`reference_objective_clip`, :func:`reference_table`, :func:`table_clip`: the objective
  under which the reference's *table* of optimal C against sigma is optimal (**our reading**,
  reproduced within 5%): the MSE of the exponential e^d, not of the softmax, in an analytic
  (ACIQ-style) model: clipping error exact, rounding error Delta^2 / 12 with Delta = C / 2^b,
  and d the gap to the row maximum in rows of L = 256 i.i.d. Gaussian logits of standard
  deviation sigma. The rule ``table`` interpolates that table at each row's sigma, as the
  reference's ``use_optimal_clipping_values`` mode does.
- :class:`ClipCalibrator`: a layer's clip is the rule's value averaged over its first 25
  calls, then fixed.
- :func:`clip_check`: how far a rule's clip is from the grid optimum on seeded rows, in bits
  of RMS output error (one more quantization bit is worth about 1).

Run ``lowbit experiment exaq-clip`` to print the tables quoted in docs/exaq_softmax.md.
"""

import functools
import math
import time
from collections import namedtuple

import numpy as np

from lowbit.core.modes import ExaqTop
from lowbit.core.options import COUNT, SEED, bounded
from lowbit.core.unit_params import LUT_FRAC

from .._checks import ParameterError, check_choice, check_int
from ..dint import finite_floats
from ..exaq_softmax import BITS, ExaqSoftmax
from ..softmax_common import float_rows, softmax_float
from ..softmax_fixed import SoftmaxFixed
from .erf import erf
from .progress import Steps

__all__ = [
    "GAUSS_RULES",
    "LAPLACE_RULES",
    "TABULATED_OPTIMA",
    "GRID_POINTS",
    "CALIBRATION_CALLS",
    "RULES",
    "gaussian_clip",
    "laplace_clip",
    "exaq_quantize",
    "softmax_mse",
    "grid_search_clip",
    "REFERENCE_TABLE_LENGTH",
    "TABLE_SIGMAS",
    "TABLE_CANDIDATES",
    "gap_density",
    "exp_mse_objective",
    "reference_objective_clip",
    "reference_table",
    "table_clip",
    "ClipCalibrator",
    "max_abs_error",
    "kl_divergence",
    "rms_bits",
    "synthetic_rows",
    "ClipCheck",
    "clip_check",
    "ErrorRow",
    "measure_errors",
]

# C = a x statistic + c, by bit width (the EXAQ reference's fits).
GAUSS_RULES = {2: (1.66, 1.85), 3: (1.75, 2.06), 4: (1.83, 2.27)}
LAPLACE_RULES = {2: (4.01, 1.77), 4: (6.82, 0.15)}
# The reference's table of optimal C against sigma (SPEC.md), for 2/3/4 bits.
TABULATED_OPTIMA = {1.01: (3.183, 3.559, 3.910), 2.02: (4.311, 4.862, 5.414), 5.05: (5.038, 5.664, 6.291)}
GRID_POINTS = 99
CALIBRATION_CALLS = 25
RULES = ("gauss", "laplace", "grid", "table", "table-own-length")
# The reference's table (our reading): its std axis is linspace(0, 10, 100), its clips lie on
# the grid 10 k / 399 (every tabulated value is a multiple of 10/399 to 3 decimals), and its
# rows are REFERENCE_TABLE_LENGTH long (the length at which our model reproduces SPEC's rows).
REFERENCE_TABLE_LENGTH = 256
TABLE_SIGMAS = np.linspace(0.0, 10.0, 100)
TABLE_CANDIDATES = 10.0 * np.arange(399, 0, -1) / 399  # largest first: a tie keeps the larger clip
# Standardised gap u = (max - x) / sigma of a row element below the maximum: its grid.
_GAP_STEP = 0.005
_GAPS = np.arange(1, 3201) * _GAP_STEP   # u up to 16: beyond, the density is below 1e-40
_MAXIMA = np.linspace(-8.0, 8.0, 1601)   # the row maximum, in standard units
DISTRIBUTIONS = ("gauss", "laplace")


def _row_mean(a, valid):
    """Mean over the valid positions of each row (last axis); float64 (...,)."""
    return np.sum(a, axis=-1, where=valid) / valid.sum(axis=-1)


def _deviations(z, valid):
    """``z - mean(z)`` per row over the valid positions, with the checked mask."""
    z, valid = float_rows(z, valid)
    return z - _row_mean(z, valid)[..., None], valid


def gaussian_clip(z, bits, valid=None):
    """Gaussian-fit clip per row: ``C = a sigma + c`` (:data:`GAUSS_RULES`).

    ``sigma`` is the population standard deviation (1/n) over the row's valid positions; it does
    not change when the row max is subtracted, so ``z`` may be raw logits or ``d``.
    Inputs: ``z`` (..., L), ``bits`` in 2..4, ``valid`` as in
    :func:`~lowbit.golden_models.softmax_common.float_rows`. Output: float64 (...,).
    """
    a, c = GAUSS_RULES[check_choice("bits", bits, tuple(GAUSS_RULES))]
    dev, valid = _deviations(z, valid)
    return a * np.sqrt(_row_mean(dev * dev, valid)) + c


def laplace_clip(z, bits, valid=None):
    """Laplace-fit clip per row: ``C = a b + c`` with ``b = mean|d - mean(d)|`` (:data:`LAPLACE_RULES`).

    Defined for 2 and 4 bits only (the reference has no 3-bit fit). Inputs and output as
    :func:`gaussian_clip`.
    """
    a, c = LAPLACE_RULES[check_choice("bits", bits, tuple(LAPLACE_RULES))]
    dev, valid = _deviations(z, valid)
    return a * _row_mean(np.abs(dev), valid) + c


def _row_clips(clip, rows_shape):
    """Clips as float64 broadcast to one per row; each finite and >= 0."""
    clip = finite_floats("clip", clip)
    if np.any(clip < 0):
        raise ParameterError("clip must be >= 0")
    try:
        return np.broadcast_to(clip, rows_shape)
    except ValueError:
        raise ParameterError(f"clip must be one value or one per row {rows_shape}, got shape {clip.shape}") from None


def exaq_quantize(z, clip, bits, valid=None):
    """The floating-point EXAQ quantizer of the stabilised input ``d = z - max(z)``.

    Per row: ``lo = max(min(d), -C)``, ``step = -lo / N`` (N = 2**bits - 1), level index
    ``k = rint((max(d, lo) - lo) / step)`` counted from ``lo`` (ties to even, as the
    reference's ``round``), value ``(k - N) step``: N + 1 levels from lo to exactly 0. A
    clip of 0, or a row whose valid entries are all equal, gives 0 everywhere.
    Inputs: ``z`` (..., L); ``clip`` C >= 0, one value or one per row (...,); ``bits`` in
    2..4; ``valid`` as in :func:`gaussian_clip`. Output: float64 (..., L), -inf at masked positions.
    """
    n = (1 << check_choice("bits", bits, BITS)) - 1
    z, valid = float_rows(z, valid)
    d = z - np.max(z, axis=-1, where=valid, initial=-np.inf, keepdims=True)
    lo = np.maximum(np.min(d, axis=-1, where=valid, initial=0.0), -_row_clips(clip, z.shape[:-1]))[..., None]
    step = -lo / n
    k = np.rint((np.maximum(d, lo) - lo) / np.where(step > 0, step, 1.0))
    return np.where(valid, (k - n) * step, -np.inf)


def _quantized_mse(z, valid, ref, clip, bits):
    """Mean squared softmax error over the valid positions after quantizing with ``clip``."""
    err = softmax_float(exaq_quantize(z, clip, bits, valid), valid) - ref
    return float(np.mean(err[valid] ** 2))


def softmax_mse(z, clip, bits, valid=None):
    """MSE of the softmax after :func:`exaq_quantize` against the float softmax of ``z``.

    The mean runs over every valid position of every row (the objective of the grid search).
    Inputs as :func:`exaq_quantize`. Output: a float.
    """
    z, valid = float_rows(z, valid)
    return _quantized_mse(z, valid, softmax_float(z, valid), clip, bits)


def grid_search_clip(z, bits, valid=None, n_grid=GRID_POINTS):
    """The reference's numerical optimum: one clip for all rows of ``z`` (one call of a layer).

    Candidates ``C_j = r j / n_grid``, j = n_grid .. 1, with ``r = -min(d)`` over the whole
    batch (the candidates of ``linspace(min(d), 0, n_grid + 1)`` without 0); the one with the
    smallest :func:`softmax_mse` wins, and among equal ones the largest (the reference tries
    them from ``min(d)`` upwards and keeps the first minimum). A batch with no spread gives 0.
    Inputs as :func:`exaq_quantize`, plus ``n_grid`` in 1..10000. Output: a float.
    """
    n_grid = check_int("n_grid", n_grid, 1, 10_000)
    z, valid = float_rows(z, valid)
    ref = softmax_float(z, valid)
    d = z - np.max(z, axis=-1, where=valid, initial=-np.inf, keepdims=True)
    span = -float(np.min(d, where=valid, initial=0.0))
    best_clip, best_mse = 0.0, math.inf
    for clip in span * np.arange(n_grid, 0, -1) / n_grid:
        mse = _quantized_mse(z, valid, ref, clip, bits)
        if mse < best_mse:
            best_clip, best_mse = float(clip), mse
    return best_clip


@functools.lru_cache(maxsize=None)
def gap_density(length):
    """Expected number of a row's elements per unit of standardised gap below the row maximum.

    For a row of ``length`` i.i.d. standard normal logits, the density of u = max - x over the
    ``length - 1`` elements that are not the maximum: ``K(u) = L (L-1) integral Phi(m)^(L-2)
    phi(m) phi(m - u) dm`` (the maximum at m, another element at m - u). Its integral over u is
    L - 1. Output: float64 array on the gaps ``u = k * 0.005``, k = 1..3200 (read-only).
    """
    length = check_int("length", length, 2, 1 << 20)
    m = _MAXIMA
    phi = np.exp(-0.5 * m * m) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1.0 + erf(m / math.sqrt(2.0)))
    weight = length * (length - 1) * cdf ** (length - 2) * phi * (m[1] - m[0])
    k = np.exp(-0.5 * (m[None, :] - _GAPS[:, None]) ** 2) @ weight / math.sqrt(2 * math.pi)
    k.setflags(write=False)
    return k


def exp_mse_objective(sigma, bits, clips, length=REFERENCE_TABLE_LENGTH):
    """The reference table's objective (our reading): the expected squared error of e^d per row.

    d = -sigma u is an element's distance below its row maximum (u as in :func:`gap_density`).
    Elements beyond the clip (d < -C) become e^-C: that error is exact. Inside [-C, 0] the
    rounding error of e^d is modelled as an additive noise of d of variance Delta^2 / 12 with
    Delta = C / 2^b (the analytic, ACIQ-style model; exact rounding on a step of C / (2^b - 1)
    gives clips 5-10% smaller at 2 bits), weighted by (d e^d / d d)^2 = e^2d.
    Inputs: ``sigma`` >= 0, ``bits`` in 2..4, ``clips`` float array of C > 0, ``length`` L >= 2.
    Output: float64 array of the objective, one per clip.
    """
    n = 1 << check_choice("bits", bits, BITS)
    clips = np.asarray(clips, dtype=np.float64)
    d = -float(sigma) * _GAPS
    k = gap_density(length) * _GAP_STEP
    # Elements are ordered by gap, so "beyond the clip" is a suffix: suffix sums of k, k e^d and
    # k e^2d give the clipped term, prefix sums of k e^2d the rounding term, for every clip at once.
    e1, e2 = k * np.exp(d), k * np.exp(2 * d)
    zero = np.zeros(1)
    tail_k, tail_e1, tail_e2 = (np.concatenate([np.cumsum(a[::-1])[::-1], zero]) for a in (k, e1, e2))
    head_e2 = np.concatenate([zero, np.cumsum(e2)])
    first_beyond = np.searchsorted(d[::-1], -clips, side="left")  # in the reversed (ascending) d
    first_beyond = d.size - first_beyond                          # first index with d < -C
    c = np.exp(-clips)
    clipped = tail_e2[first_beyond] - 2 * c * tail_e1[first_beyond] + c * c * tail_k[first_beyond]
    return clipped + head_e2[first_beyond] * (clips / n) ** 2 / 12


def reference_objective_clip(sigma, bits, length=REFERENCE_TABLE_LENGTH):
    """The clip that minimises :func:`exp_mse_objective` over the reference's candidate grid
    (:data:`TABLE_CANDIDATES`, 10 k / 399): one table entry. ``sigma`` 0 gives 0. A float."""
    if sigma <= 0:
        return 0.0
    j = exp_mse_objective(sigma, bits, TABLE_CANDIDATES, length)
    return float(TABLE_CANDIDATES[int(np.argmin(j))])


@functools.lru_cache(maxsize=None)
def reference_table(bits, length=REFERENCE_TABLE_LENGTH):
    """The table of optimal C against sigma, as the reference tabulates it: one clip per
    :data:`TABLE_SIGMAS` entry (0 .. 10 in 100 steps). Output: float64 (100,), read-only."""
    table = np.array([reference_objective_clip(s, bits, length) for s in TABLE_SIGMAS])
    table.setflags(write=False)
    return table


def table_clip(z, bits, valid=None, length=REFERENCE_TABLE_LENGTH):
    """Per-row clip read off :func:`reference_table` at the row's sigma (linear interpolation,
    the end value beyond sigma 10), sigma as in :func:`gaussian_clip`.

    ``length`` the row length of the table's model: :data:`REFERENCE_TABLE_LENGTH` (the
    reference's table), or None for each row's own number of valid elements (one table per
    length; rows of one element get clip 0). Inputs otherwise as :func:`gaussian_clip`.
    Output: float64 (...,).
    """
    check_choice("bits", bits, BITS)
    dev, valid = _deviations(z, valid)
    sigma = np.sqrt(_row_mean(dev * dev, valid))
    if length is not None:
        return np.interp(sigma, TABLE_SIGMAS, reference_table(bits, check_int("length", length, 2, 1 << 20)))
    counts = valid.sum(axis=-1)
    clips = np.zeros(sigma.shape)
    for n in np.unique(counts):
        if n >= 2:
            rows = counts == n
            clips[rows] = np.interp(sigma[rows], TABLE_SIGMAS, reference_table(bits, int(n)))
    return clips


class ClipCalibrator:
    """A layer's clip: the rule's clip on each of its first ``calls`` calls, then their mean, fixed.

    Parameters: ``bits`` in 2..4 (2 or 4 for ``laplace``); ``rule`` in :data:`RULES`;
    ``calls`` in 1..10000 (25, as the reference). A call's clip is the mean over its rows of
    the per-row closed form (``gauss``, ``laplace``) or table value (``table``: the reference's
    table; ``table-own-length``: the same objective at each row's own length), or the grid
    optimum of all its rows together (``grid``). Calling the calibrator with a call's logits ``z`` (rows on the last
    axis) and optional ``valid`` mask returns the clip to use for that call, as a float.
    Attributes: ``clips`` (the calibration calls' clips so far), ``calibrated``.
    """

    def __init__(self, bits, rule="gauss", calls=CALIBRATION_CALLS):
        self.rule = check_choice("rule", rule, RULES)
        allowed = tuple(LAPLACE_RULES) if self.rule == "laplace" else tuple(GAUSS_RULES)
        self.bits = check_choice("bits", bits, allowed)
        self.calls = check_int("calls", calls, 1, 10_000)
        self.clips = []

    def __repr__(self):
        return f"ClipCalibrator(bits={self.bits}, rule={self.rule!r}, calls={self.calls})"

    @property
    def calibrated(self):
        return len(self.clips) >= self.calls

    def _call_clip(self, z, valid):
        if self.rule == "grid":
            return grid_search_clip(z, self.bits, valid)
        if self.rule in ("table", "table-own-length"):
            length = REFERENCE_TABLE_LENGTH if self.rule == "table" else None
            return float(np.mean(table_clip(z, self.bits, valid, length)))
        rule = gaussian_clip if self.rule == "gauss" else laplace_clip
        return float(np.mean(rule(z, self.bits, valid)))

    def __call__(self, z, valid=None):
        if self.calibrated:
            return float(np.mean(self.clips))
        clip = self._call_clip(z, valid)
        self.clips.append(clip)
        return clip


def max_abs_error(p, q):
    """``max_i |p_i - q_i|`` per row. Inputs: float arrays (..., L). Output: float64 (...,)."""
    return np.max(np.abs(np.asarray(p, dtype=np.float64) - q), axis=-1)


def kl_divergence(p, q):
    """``KL(p || q) = sum_i p_i ln(p_i / q_i)`` per row, in nats; terms with p_i = 0 are 0 and
    a q_i = 0 under p_i > 0 gives inf. Inputs: non-negative float arrays (..., L), each row of
    ``p`` a distribution (q need not sum exactly to 1). Output: float64 (...,)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):   # p = q = 0 terms: masked below
        terms = p * (np.log(np.where(p > 0, p, 1.0)) - np.log(q))
    return np.sum(np.where(p > 0, terms, 0.0), axis=-1)


def rms_bits(mse, best_mse):
    """How many bits of RMS error ``mse`` is above ``best_mse``: ``log2(sqrt(mse / best_mse))``."""
    return 0.5 * math.log2(mse / best_mse)


def synthetic_rows(kind, sigma, length, n_rows, seed):
    """Seeded logits: float64 (n_rows, length), Gaussian (``kind="gauss"``) or Laplace
    (``"laplace"``), mean 0, standard deviation ``sigma``."""
    kind = check_choice("kind", kind, DISTRIBUTIONS)
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        return rng.normal(0.0, sigma, (n_rows, length))
    return rng.laplace(0.0, sigma / math.sqrt(2), (n_rows, length))  # Laplace(b) has std b sqrt(2)


ClipCheck = namedtuple("ClipCheck", "kind sigma length bits grid rule rule_bits table table_bits")
ClipCheck.__doc__ = """A rule against the grid optimum on seeded rows: the clips (``grid``, the
closed-form ``rule`` averaged over the rows, the SPEC's tabulated optimum ``table`` or None)
and how many bits of RMS softmax error the rule's and the table's clips cost (``*_bits``)."""


def clip_check(kind, sigma, bits, *, length=256, n_rows=64, seed=0):
    """Compare the closed form of ``kind`` (its own distribution's rows) with the grid optimum.

    The rows are one batch, as one call of a layer: :func:`grid_search_clip` picks one clip
    for all of them, and the rule's clip is its per-row value averaged over the rows (what
    :class:`ClipCalibrator` does with one call). ``table`` is the SPEC's tabulated optimum
    for Gaussian rows whose ``sigma`` is one of :data:`TABULATED_OPTIMA`. Inputs: ``kind``
    "gauss" or "laplace"; ``sigma`` > 0 the rows' standard deviation; ``bits`` (2..4, or 2/4
    for Laplace); ``length`` L, ``n_rows`` and ``seed`` of :func:`synthetic_rows`.
    Output: a :class:`ClipCheck`.
    """
    z = synthetic_rows(kind, sigma, length, n_rows, seed)
    rule = gaussian_clip if kind == "gauss" else laplace_clip
    rule_clip = float(np.mean(rule(z, bits)))
    grid = grid_search_clip(z, bits)
    best = softmax_mse(z, grid, bits)
    table = TABULATED_OPTIMA[sigma][bits - 2] if kind == "gauss" and sigma in TABULATED_OPTIMA else None
    table_bits = None if table is None else rms_bits(softmax_mse(z, table, bits), best)
    return ClipCheck(kind, sigma, length, bits, grid, rule_clip, rms_bits(softmax_mse(z, rule_clip, bits), best),
                     table, table_bits)


ErrorRow = namedtuple("ErrorRow", "model bits clip max_abs kl kl_reverse")
ErrorRow.__doc__ = """One model against the float softmax p, over all rows: ``clip`` (real; None
for the baseline), the largest absolute output error, the mean KL(p || model) and the mean
KL(model || p). The first is infinite as soon as the model gives 0 to an element (the top code
with ``top="zero"``, the baseline's ROM entries that round to 0); the second stays finite."""


def _fixed_logits(z, in_bits, in_frac):
    """Real logits rounded to the unit's fixed point (ties to even) and saturated; int64."""
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    return np.clip(np.rint(np.ldexp(z, in_frac)), lo, hi).astype(np.int64)


def _error_row(model, bits, clip, p, y, q):
    """An :class:`ErrorRow` from outputs ``y`` (for the max error) and a distribution ``q`` (for the KL)."""
    return ErrorRow(model, bits, clip, float(np.max(max_abs_error(p, y))), float(np.mean(kl_divergence(p, q))),
                    float(np.mean(kl_divergence(q, p))))


def _calibrated_clip(bits, sigma, length, n_rows, seed, in_bits, in_frac):
    """The Gaussian rule's clip after :data:`CALIBRATION_CALLS` calls of seeded fixed-point rows
    (seeds ``seed + 1`` on, so that the measured rows are not among them); a float."""
    calibrator = ClipCalibrator(bits)
    for call in range(CALIBRATION_CALLS):
        z = synthetic_rows("gauss", sigma, length, n_rows, seed + 1 + call)
        calibrator(np.ldexp(_fixed_logits(z, in_bits, in_frac), -in_frac))
    return float(np.mean(calibrator.clips))


def measure_errors(sigma, *, length=256, n_rows=256, seed=0, in_bits=8, in_frac=4, lut_frac=10, out_frac=10):
    """Errors of the EXAQ unit (2/3/4 bits) and of the baseline on seeded Gaussian rows.

    The logits are rounded to the unit's fixed point first, and every model is compared with
    the float softmax of those fixed-point logits, so that the errors are the units' own. The
    clip is calibrated as in deployment (:func:`_calibrated_clip`), then made an integer by
    :meth:`ExaqSoftmax.fixed_clip`. Models: ``EXAQ float`` (:func:`exaq_quantize` at that
    clip), ``EXAQ fixed`` with ``top="exp"`` and ``top="zero"`` (the unit), ``baseline``
    (:class:`SoftmaxFixed`). A fixed-point model's max error is that of its outputs
    ``y / 2**out_frac``; its KL is that of its exact distribution ``e_i / S`` before the output
    rounding, which the rounding would otherwise swamp (outputs below half an LSB become 0).
    Output: list of :class:`ErrorRow`.
    """
    x = _fixed_logits(synthetic_rows("gauss", sigma, length, n_rows, seed), in_bits, in_frac)
    z = np.ldexp(x, -in_frac)
    p = softmax_float(z)
    params = dict(in_bits=in_bits, in_frac=in_frac, lut_frac=lut_frac, out_frac=out_frac, max_len=length)
    rows = []
    for bits in (2, 3, 4):
        clip = ExaqSoftmax(bits=bits, **params).fixed_clip(
            _calibrated_clip(bits, sigma, length, n_rows, seed, in_bits, in_frac)
        )
        real_clip = clip / (1 << in_frac)  # exact: the clip the unit applies, as a real
        q = softmax_float(exaq_quantize(z, real_clip, bits))
        rows.append(_error_row("EXAQ float", bits, real_clip, p, q, q))
        for top in ExaqTop:
            r = ExaqSoftmax(bits=bits, top=top, **params).row(x, clip)
            y = np.ldexp(r.y, -out_frac)
            rows.append(_error_row(f"EXAQ fixed, top={top}", bits, real_clip, p, y, r.e / r.S[:, None]))
    r = SoftmaxFixed(**params).row(x)
    rows.append(_error_row("baseline", None, None, p, np.ldexp(r.y, -out_frac), r.e / r.S[:, None]))
    return rows


def _print_clip_table(kind, sigmas, lengths, bits_list, n_rows, seed, steps):
    name = "Gaussian" if kind == "gauss" else "Laplace"
    print(f"\n{name} rows, {n_rows} rows per call, seed {seed}: clip C and the RMS softmax error it costs "
          "over the grid optimum (bits)\n")
    print("| sigma | L | bits | grid C | rule C | rule cost | table C | table cost |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for sigma in sigmas:
        for length in lengths:
            for bits in bits_list:
                c = clip_check(kind, sigma, bits, length=length, n_rows=n_rows, seed=seed)
                table = "- | -" if c.table is None else f"{c.table:.3f} | {c.table_bits:.2f}"
                print(f"| {sigma} | {length} | {bits} | {c.grid:.2f} | {c.rule:.2f} | {c.rule_bits:.2f} | {table} |")
                steps.step(f"{kind} clip: sigma {sigma}, L {length}, {bits} bits")


def add_arguments(parser):
    """The options of ``lowbit experiment exaq-clip``."""
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the random logit rows (default 0)")
    parser.add_argument("--rows", type=COUNT, default=128, help="rows per call in the clip tables (default 128)")
    parser.add_argument("--lut-frac", type=bounded(int, LUT_FRAC.lo, LUT_FRAC.hi), default=10,
                        help="lut_frac of the units in the error tables (default 10)")
    parser.add_argument("--only", choices=("clip", "errors"), help="print one kind of table")


def run(args):
    """Print the clip-rule tables and the error tables of docs/exaq_softmax.md."""
    start = time.process_time()
    clip_tables = [("gauss", (0.51, 1.01, 2.02, 5.05), (128, 1024), (2, 3, 4)),
                   ("laplace", (1.01, 2.02), (128, 1024), (2, 4))] if args.only != "errors" else []
    error_sigmas = (1.0, 2.0) if args.only != "clip" else ()
    steps = Steps(sum(len(s) * len(n) * len(b) for _, s, n, b in clip_tables) + len(error_sigmas))
    for kind, sigmas, lengths, bits_list in clip_tables:
        _print_clip_table(kind, sigmas, lengths, bits_list, args.rows, args.seed, steps)
    for sigma in error_sigmas:
        print(f"\nGaussian logits, sigma {sigma}, 256 rows of 256, seed {args.seed}; in_bits=8, in_frac=4, "
              f"lut_frac={args.lut_frac}, out_frac=10; errors against the float softmax of the fixed-point logits\n")
        print("| model | bits | clip C | max abs error | KL(float ‖ model) | KL(model ‖ float) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for r in measure_errors(sigma, seed=args.seed, lut_frac=args.lut_frac):
            bits, clip = ("-", "-") if r.bits is None else (r.bits, f"{r.clip:.4g}")
            print(f"| {r.model} | {bits} | {clip} | {r.max_abs:.2e} | {r.kl:.2e} | {r.kl_reverse:.2e} |")
        steps.step(f"error table: sigma {sigma}")
    print(f"\n{time.process_time() - start:.1f} s CPU")

