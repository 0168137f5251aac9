"""Power-of-two (PoT) weights: the code, APoT, and the two-step post-training quantizer.

A PoT code is an unsigned ``b``-bit integer (``b = bits`` in 2..5). Its MSB is the sign ``s``,
its low ``b - 1`` bits the exponent index ``e`` in 0..E, E = 2**(b-1) - 1, and its value in
units of the per-channel scale is ``(-1)**s x 2**-e``. With ``zero_code`` on, ``e = E`` (all
ones) means 0 whatever the sign bit, so the magnitudes are 2**0 .. 2**-(E-1) and 0; with it off
every code is a power of two. ``frac_bits`` f = E: every value times 2**f is an integer, the
table ``scaled_values`` that the MACs multiply by (for PoT4, ``a x 2**(7-e)``, i.e. ``a << (7-e)``).

The quantizers are floating point. ``quantize_pot_rtn`` maps each output channel's max|w| to
the value 1 (max-scale round to nearest); ``quantize_pot_two_step`` is the two-step PTQ:
(1) the per-channel scale minimising the weight MSE on a log grid of clipping ratios, then
(2) on a calibration set X, per channel, alternate nearest-code assignment and the
least-squares scale of the layer output ``X w``, keeping the best. ``quantize_apot`` runs the
same quantizer on an additive-PoT codebook (sums of two powers of two, :class:`ApotFormat`).
Reconstruct with :func:`lowbit.golden_models.dint.dequantize` (``value(code) x scale``), which
works for every format with a ``decode`` method.
"""

import numpy as np

from lowbit.core.unit_params import POT_BITS, ZERO_CODE

from ._checks import ParameterError, check_int, int_array
from .dint import LevelRounder, best_scales, finite_floats, weight_rows

__all__ = [
    "MIN_BITS",
    "MAX_BITS",
    "PotFormat",
    "ApotFormat",
    "pot_fields",
    "quantize_pot_rtn",
    "quantize_pot_two_step",
    "quantize_apot",
]

MIN_BITS, MAX_BITS = POT_BITS.lo, POT_BITS.hi   # declared once, in lowbit.core
MAX_TERM_BITS = 3
# Step 1 searches clipping ratios from 1 down to 2**-SEARCH_OCTAVES of max|w|. PoT levels are
# geometric, so the weight error repeats its shape in every octave of the scale except at the
# two ends of the codebook; two octaves leave room to clip the largest weights hard, which
# a 3-bit codebook (magnitudes 1, 1/2, 1/4) wants on Gaussian-like channels.
SEARCH_OCTAVES = 2


def pot_fields(codes, bits):
    """Sign and exponent index of PoT codes.

    Inputs: int64 array of codes 0 .. 2**bits - 1. Output: (``sign`` 0/1, ``e`` 0..E) int64.
    """
    return codes >> (bits - 1), codes & ((1 << (bits - 1)) - 1)


def _nearest_powers(mag, e_max):
    """The power of two 2**-e, e in 0..e_max, nearest to each ``mag`` (linear distance).

    Inputs: finite float64 array ``mag >= 0``; ``e_max`` the exponent of the smallest power.
    Output: float64 array of exact powers of two, shape of ``mag``. Ties go to the smaller
    magnitude. Clipping to [2**-e_max, 1] first keeps the result in range (the nearest power
    of anything outside is the end it was clipped to). Then, on the float64 bit pattern: for
    1.m x 2**p the neighbours are 2**p and 2**(p+1), with their midpoint at 1.m = 1.5, i.e.
    mantissa field 2**51; adding 2**51 - 1 carries into the exponent field exactly when the
    mantissa field exceeds 2**51, and clearing the mantissa leaves the nearest power.
    Exact, and several times faster than ``frexp`` or ``log2``.
    """
    bits = np.clip(mag, 2.0**-e_max, 1.0).view(np.int64)
    return ((bits + ((1 << 51) - 1)) & ~((1 << 52) - 1)).view(np.float64)


def _exponent_index(power):
    """``e`` of float64 powers of two 2**-e (0 <= e < 1023), read from the exponent field; int64."""
    return 1023 - (power.view(np.int64) >> 52)


class _Codebook:
    """Decoding and encoding shared by the PoT and APoT formats.

    A subclass sets ``n_codes``, ``scaled_values`` (int64, value x 2**frac_bits by code),
    ``values`` (float64 by code) and ``_codes(x)``, the nearest code of finite float64 ``x``
    (in units of the scale, any shape) without argument checks, for the quantizers' hot path.
    """

    def decode(self, codes):
        """Inputs: integer codes in 0 .. n_codes - 1, any shape. Output: float64 values, same shape."""
        return self.values[int_array("codes", codes, 0, self.n_codes - 1)]

    def decode_scaled(self, codes):
        """Inputs: integer codes in 0 .. n_codes - 1, any shape. Output: int64 value x 2**frac_bits."""
        return self.scaled_values[int_array("codes", codes, 0, self.n_codes - 1)]

    def encode(self, x):
        """Nearest value of ``x`` (units of the scale) by linear distance, ties to the smaller magnitude.

        Inputs: finite float array, any shape. Output: uint8 codes, same shape.
        """
        return self._codes(finite_floats("x", x)).astype(np.uint8)

    def _freeze(self):
        """Make the tables read-only: formats are shared, a stray write would corrupt every user."""
        for name in ("scaled_values", "values"):
            getattr(self, name).setflags(write=False)


class _PotRounder:
    """The ``values(x)`` method that :func:`lowbit.golden_models.dint.best_scales` calls.

    It computes the nearest values in floating point without forming codes: the search calls
    it on (ratios x out x in) arrays, where a lookup by code would cost an extra gather.
    """

    def __init__(self, fmt):
        self._fmt = fmt
        self.levels = np.unique(fmt.values)   # ascending, one 0: the screen of best_scales reads them
        self.levels.setflags(write=False)

    def values(self, x):
        """Inputs: finite float64 array. Output: float64 nearest values, shape of ``x``."""
        mag = np.abs(x)
        power = self._fmt._nearest_magnitudes(mag)
        return np.copysign(power, x, out=power)  # a zero may come out as -0.0: it is still 0


class PotFormat(_Codebook):
    """A PoT format: the code table, decoding and nearest-value encoding.

    Parameters: ``bits`` b in 2..5, ``zero_code`` True (default) or False (see the module).
    Attributes: ``n_codes`` = 2**b; ``exp_max`` E = 2**(b-1) - 1; ``frac_bits`` f = E;
    ``scaled_values`` int64[2**b] value x 2**f by code; ``values`` float64[2**b];
    ``max_level`` = 1.0, the largest magnitude, which max-scale RTN maps max|w| to;
    ``rounder`` the nearest-value search of the scale search.
    Encoding (:meth:`encode`): magnitudes above 1 saturate to 1. With ``zero_code``,
    |x| <= 2**-E gives the zero code with sign bit 0 (code E); without it, |x| below 2**-E
    gives ±2**-E, and x = 0 (either zero) gives +2**-E: its two nearest values are then
    equally far and equally large, and sign bit 0 is the plain choice.
    """

    max_level = 1.0

    def __init__(self, bits=4, zero_code=True):
        self.bits = POT_BITS.check(bits)
        self.zero_code = ZERO_CODE.check(zero_code)
        self.n_codes = 1 << self.bits
        self.exp_max = (1 << (self.bits - 1)) - 1
        self.frac_bits = self.exp_max
        sign, e = pot_fields(np.arange(self.n_codes, dtype=np.int64), self.bits)
        table = (1 - 2 * sign) << (self.frac_bits - e)
        if self.zero_code:
            table[e == self.exp_max] = 0
        self.scaled_values = table
        self.values = table / float(1 << self.frac_bits)  # exact: dyadic rationals
        self._freeze()
        self.rounder = _PotRounder(self)

    def __repr__(self):
        return f"PotFormat(bits={self.bits}, zero_code={self.zero_code})"

    def _nearest_magnitudes(self, mag):
        """Nearest value magnitudes (float64) of finite float64 ``mag >= 0``, any shape.

        With ``zero_code``, 0 and the smallest power 2**-(E-1) have their midpoint at 2**-E,
        and a tie goes to 0.
        """
        power = _nearest_powers(mag, self.exp_max - self.zero_code)
        if self.zero_code:
            power[mag <= 2.0**-self.exp_max] = 0.0
        return power

    def _codes(self, x):
        """Nearest codes of finite float64 ``x`` (any shape), int64, no checks."""
        x = np.asarray(x, dtype=np.float64)
        power = self._nearest_magnitudes(np.abs(x))
        # A zero magnitude has exponent field 0, so its index is 1023: clipped to E, the zero code.
        e = np.minimum(_exponent_index(power), self.exp_max)
        return np.where(power > 0, (x < 0).astype(np.int64) << (self.bits - 1), 0) | e


class ApotFormat(_Codebook):
    """Additive PoT: sign-magnitude codes whose magnitude is the sum of two power-of-two terms.

    Parameter ``bits_per_term`` = (b0, b1), each in 1..3: the code is ``s | k0 | k1`` (sign
    MSB, then a b0-bit and a b1-bit field), ``bits`` = 1 + b0 + b1. Term j's field k gives 0
    for k = 0 and 2**-(j + 2(k-1)) for k >= 1: term 0 takes the even exponents 0, 2, 4, ...,
    term 1 the odd ones 1, 3, 5, ..., so every sum of two terms is a distinct magnitude. The
    default (2, 1) is 4 bits: magnitudes {0, 1/16, 1/4, 1/2, 9/16, 3/4, 1, 3/2}.
    Attributes as :class:`PotFormat` (``frac_bits`` the largest exponent used; ``max_level``
    the largest sum), plus ``levels`` (the distinct values, ascending) and ``level_codes``
    (uint8, the code of each level; 0 gets the code with sign bit 0). Encoding: nearest
    value, ties to the smaller magnitude, saturating at ±max_level.
    """

    def __init__(self, bits_per_term=(2, 1)):
        terms = tuple(bits_per_term) if np.ndim(bits_per_term) == 1 else ()
        if len(terms) != 2:
            raise ParameterError(
                f"bits_per_term={bits_per_term!r} is not allowed: bits_per_term must be a pair (b0, b1) "
                f"of integers in 1..{MAX_TERM_BITS}"
            )
        self.bits_per_term = tuple(check_int("bits_per_term", b, 1, MAX_TERM_BITS) for b in terms)
        b0, b1 = self.bits_per_term
        self.bits = 1 + b0 + b1
        self.n_codes = 1 << self.bits
        self.frac_bits = max(j + 2 * ((1 << b) - 2) for j, b in enumerate(self.bits_per_term))
        code = np.arange(self.n_codes, dtype=np.int64)
        magnitude = self._term((code >> b1) & ((1 << b0) - 1), 0) + self._term(code & ((1 << b1) - 1), 1)
        self.scaled_values = np.where(code >> (b0 + b1) == 1, -magnitude, magnitude)
        self.values = self.scaled_values / float(1 << self.frac_bits)
        self._freeze()
        self.levels, first = np.unique(self.values, return_index=True)  # first code of 0 = sign bit 0
        self.level_codes = first.astype(np.uint8)
        self.max_level = float(self.levels[-1])
        self.rounder = LevelRounder(self.levels, unit=2.0**-self.frac_bits)

    def _term(self, k, j):
        """Term j for field values ``k`` (int64 array), as a multiple of 2**-frac_bits."""
        exponent = j + 2 * (k - 1)  # only used where k >= 1, where it is 0..frac_bits
        return np.where(k > 0, np.int64(1) << np.clip(self.frac_bits - exponent, 0, None), 0)

    def __repr__(self):
        return f"ApotFormat(bits_per_term={self.bits_per_term})"

    def _codes(self, x):
        """Nearest codes of finite float64 ``x`` (any shape), uint8, no checks."""
        return self.level_codes[self.rounder.indices(x)]


def _check_format(fmt):
    """Refuse anything but a PoT or APoT format: the quantizers need its rounder and max_level."""
    if not isinstance(fmt, (PotFormat, ApotFormat)):
        raise ParameterError(f"fmt must be a PotFormat or an ApotFormat, got {type(fmt).__name__}")
    return fmt


def _row_amax(rows, max_level):
    """max|w| per row (float64). An all-zero row gets ``max_level``, i.e. scale 1: any scale
    reconstructs it exactly, and 1 keeps later divisions by the scale finite."""
    amax = np.abs(rows).max(axis=1)
    return np.where(amax > 0, amax, max_level)


def _rtn_scales(rows, max_level):
    """Max-scale RTN scales: max|w| / max_level per row (float64)."""
    return _row_amax(rows, max_level) / max_level


def _caller_orientation(codes, axis):
    """Codes computed with output channels on rows, returned with them on ``axis``, as uint8."""
    codes = codes.astype(np.uint8)
    return codes if axis == 0 else codes.T


def quantize_pot_rtn(w, fmt, axis=0):
    """Max-scale round to nearest: scale = max|w| / max_level per output channel (the baseline).

    Inputs: ``w`` finite float (out, in) weights (``axis`` is the output-channel axis: 0, or 1
    for (in, out)); ``fmt`` a :class:`PotFormat` or :class:`ApotFormat`.
    Output: (``codes`` uint8, shape of ``w``; ``scales`` float64, one per output channel).
    """
    fmt = _check_format(fmt)
    rows, axis = weight_rows(w, axis)
    scales = _rtn_scales(rows, fmt.max_level)
    return _caller_orientation(fmt._codes(rows / scales[:, None]), axis), scales


def _log_grid_scales(rows, fmt, n_grid):
    """Step 1: per row, the scale minimising the weight MSE over ``n_grid`` log-spaced clipping ratios.

    The ratios are 2**(-SEARCH_OCTAVES k / n_grid), k = 0 .. n_grid - 1, times the RTN scale.
    k = 0 is max-scale RTN and wins ties, so the weight MSE never exceeds RTN's.
    Output: float64 (out,) scales.
    """
    amax = _row_amax(rows, fmt.max_level)
    ratios = 2.0 ** (-SEARCH_OCTAVES * np.arange(n_grid) / n_grid)
    return best_scales(rows, amax, ratios, fmt.rounder, fmt.max_level)


def _calibration_gram(X, n_in):
    """``X^T X`` (float64, n_in x n_in) of a finite calibration set ``X`` (n_samples, n_in)."""
    X = finite_floats("X", X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] != n_in:
        raise ParameterError(
            f"X must be a non-empty 2-D calibration set of shape (n_samples, {n_in}), got shape {X.shape}"
        )
    return X.T @ X


def _fit_scales(rows, v, gram, s):
    """Least-squares scale per row for fixed code values, and the output error it removes.

    Inputs: ``rows`` (out, in) weights, ``v`` (out, in) code values, ``gram`` H = X^T X,
    ``s`` (out,) the scale the codes came from. The error of a row at scale t is
    ``w^T H w - 2 t v^T H w + t**2 v^T H v``, minimal at t = (v^T H w) / (v^T H v); the
    returned ``gain`` = 2 t v^T H w - t**2 v^T H v is ``w^T H w`` minus that error, so rows'
    candidates are ranked without computing ``w^T H w``. A non-positive fit (all-zero codes,
    or a degenerate X) keeps ``s``. Output: (float64 (out,) scales, float64 (out,) gains).
    """
    vh = v @ gram
    num, den = np.einsum("ij,ij->i", vh, rows), np.einsum("ij,ij->i", vh, v)
    fit = (den > 0) & (num > 0)
    t = np.where(fit, num / np.where(fit, den, 1.0), s)
    return t, 2 * t * num - t * t * den


def _refine(rows, fmt, gram, scales, iters):
    """Step 2: per row, codes and scale minimising the layer output error ``||X (w - t v)||**2``.

    Candidates, each with its least-squares scale (:func:`_fit_scales`): the codes of the
    max-scale RTN scale, then ``iters`` alternations starting at the step-1 ``scales``
    (nearest codes of w / s, then s = the fitted scale of those codes), stopping early once
    the codes repeat. Each row keeps its best candidate, so on X the result is never worse
    than RTN's or step 1's codes (with their scales refitted). The returned codes are those
    the scale was fitted to, not necessarily the nearest codes of w / scale.
    Output: (integer codes (out, in), float64 scales (out,)).
    """
    best_gain = np.full(rows.shape[0], -np.inf)
    best_codes, best_scales = None, np.empty(rows.shape[0])
    s, previous = _rtn_scales(rows, fmt.max_level), None
    for step in range(iters + 1):
        codes = fmt._codes(rows / s[:, None])
        if previous is not None and np.array_equal(codes, previous):
            break  # same codes, same fit: the alternation has converged
        fitted, gain = _fit_scales(rows, fmt.values[codes], gram, s)
        better = gain > best_gain
        best_gain[better] = gain[better]
        best_scales[better] = fitted[better]
        best_codes = codes if best_codes is None else np.where(better[:, None], codes, best_codes)
        s, previous = (scales, None) if step == 0 else (fitted, codes)
    return best_codes, best_scales


def quantize_pot_two_step(w, fmt, X=None, *, n_grid=64, iters=8, axis=0):
    """The two-step PoT post-training quantizer (step 2 only when a calibration set is given).

    Inputs: ``w`` finite float (out, in) weights (``axis`` = the output-channel axis, as in
    :func:`quantize_pot_rtn`); ``fmt`` a :class:`PotFormat` or :class:`ApotFormat`; ``X``
    None or a finite float calibration set (n_samples, in), the layer computing ``X @ w.T``;
    ``n_grid`` in 1..10000, the log-grid points of step 1 (``n_grid=1``: max-scale RTN);
    ``iters`` in 1..100, the code assignments of step 2.
    Step 1 (:func:`_log_grid_scales`): the weight-MSE-optimal scale per output channel.
    Step 2 (:func:`_refine`): the codes and least-squares scales minimising the layer output
    error on X. Output: (``codes`` uint8, shape of ``w``; ``scales`` float64 per channel).
    """
    fmt = _check_format(fmt)
    rows, axis = weight_rows(w, axis)
    n_grid = check_int("n_grid", n_grid, 1, 10_000)
    iters = check_int("iters", iters, 1, 100)
    scales = _log_grid_scales(rows, fmt, n_grid)
    if X is None:
        codes = fmt._codes(rows / scales[:, None])
    else:
        codes, scales = _refine(rows, fmt, _calibration_gram(X, rows.shape[1]), scales, iters)
    return _caller_orientation(codes, axis), scales


def quantize_apot(w, bits_per_term=(2, 1), X=None, *, n_grid=64, iters=8, axis=0):
    """:func:`quantize_pot_two_step` on ``ApotFormat(bits_per_term)``; decode with that format.

    Output: (``codes`` uint8, shape of ``w``; ``scales`` float64 per output channel).
    """
    return quantize_pot_two_step(w, ApotFormat(bits_per_term), X, n_grid=n_grid, iters=iters, axis=axis)
