"""dINT4: 4-bit integers with a special small-magnitude code, and the weight quantizers.

A dINT4 code is the 4-bit pattern 0..15. Its value, in units of the per-channel scale, is
(``f = frac_bits``, the special magnitude is ``2**-f``, 1/2 or 1/4):

==========  ==================  ======================
code        ``special="half"``  ``special="pm_half"``
==========  ==================  ======================
0 .. 6      0 .. 6              0 .. 6
7           7                   +2**-f
8 (1000)    +2**-f              -2**-f
9 .. 15     -7 .. -1            -7 .. -1
==========  ==================  ======================

Codes 0..6 and 9..15 are plain 4-bit two's complement in both variants; only 7 and 8 differ.
:class:`DintFormat` holds the codebook; ``scaled_values`` (value x 2**f) is the exact integer
table the MAC multiplies by. Everything else here is floating point: the quantizers choose one
scale per output channel by a grid search over the clipping ratio that minimises the weight MSE.
"""

import contextlib
import math

import numpy as np

from lowbit.core.modes import DintCodebook
from lowbit.core.unit_params import DINT_FRAC_BITS, DINT_SPECIAL

from ._checks import ParameterError, check_int, int_array

__all__ = [
    "SPECIALS",
    "dint_scaled_codebook",
    "nearest_level",
    "LevelRounder",
    "DintFormat",
    "quantize_dint",
    "dequantize",
    "quantize_int",
    "dequantize_int",
    "best_scales",
    "exact_scales",
    "exact_scale_search",
]

SPECIALS = tuple(DintCodebook)   # the codebooks, declared once in lowbit.core.modes
N_CODES = 16
MAX_INT_BITS = 16

# Size of the (ratios x rows x in) blocks where a search evaluates every element at every
# candidate (the exact errors of the scale search, ABQ's range search): small enough that the
# few float64 temporaries stay in cache (2**20-element blocks measured about 2x slower), large
# enough that the per-call overhead of NumPy is negligible.
BLOCK_ELEMENTS = 1 << 17
# Rows per block of the scale search's screen: its (rows x ratios x levels) tables stay near
# this many elements.
SCREEN_ELEMENTS = 1 << 19
# The screen's error bound, in units of (n + places) * eps * (sum x^2 + s sum|v| sum|x|) per
# row (see _screen_bound): the rounding it covers is at most about 4 such units; the rest is margin.
SCREEN_MARGIN = 32


def dint_scaled_codebook(special, frac_bits):
    """The dINT4 codebook as value x 2**frac_bits, indexed by code.

    Inputs: ``special`` in ``SPECIALS``, ``frac_bits`` in 1..2.
    Output: int64 array of 16 entries (exact integers: the MAC's weight operand).
    """
    special = DINT_SPECIAL.check(special)
    frac_bits = DINT_FRAC_BITS.check(frac_bits)
    one = 1 << frac_bits
    table = np.empty(N_CODES, dtype=np.int64)
    table[0:8] = np.arange(0, 8) * one
    table[9:16] = np.arange(-7, 0) * one  # bit patterns 1001..1111 as two's complement
    if special == DintCodebook.HALF:
        table[8] = 1  # 1000 would be -8 in two's complement: it becomes +2**-f instead
    else:
        table[7], table[8] = 1, -1
    return table


def nearest_level(x, levels):
    """Index of the level nearest to each ``x``; a tie goes to the level of smaller magnitude.

    Inputs: ``x`` float array (finite); ``levels`` strictly increasing float64 array holding 0.
    Output: intp array of indices into ``levels``, shape of ``x``.
    Because 0 is a level, two neighbours never straddle 0, so "smaller magnitude" means
    "the lower one" for x >= 0 and "the upper one" for x < 0.
    """
    x = np.asarray(x, dtype=np.float64)
    mids = (levels[:-1] + levels[1:]) / 2
    idx = np.searchsorted(mids, x, side="left")  # x on a midpoint -> the lower neighbour
    on_mid = (x < 0) & (mids[np.minimum(idx, mids.size - 1)] == x)
    return idx + on_mid


class LevelRounder:
    """Fast :func:`nearest_level` for levels on a power-of-two grid, by one table lookup.

    If every level is a multiple of ``unit`` (a power of two), every midpoint is a multiple of
    ``h = unit / 2``, so the answer is constant on each open interval ((c-1)h, ch) and only
    grid points can be ties. ``floor(x/h) + ceil(x/h)`` numbers grid points (even) and open
    intervals (odd) alike, and a table built with :func:`nearest_level` maps that number to
    the answer. ``x/h`` is exact (power-of-two ``h``), so ties are detected exactly.
    This is about 3x faster than ``searchsorted``. ``levels`` (read-only float64) holds the
    levels, which the scale search's screen reads (:func:`best_scales`).
    """

    def __init__(self, levels, unit):
        levels = np.asarray(levels, dtype=np.float64)
        if math.frexp(unit)[0] != 0.5:
            raise ParameterError(f"unit={unit!r} is not supported: must be a power of two")
        if levels.ndim != 1 or levels.size < 2 or np.any(np.diff(levels) <= 0) or 0.0 not in levels:
            raise ParameterError("levels must be a strictly increasing 1-D array holding 0")
        if np.any(levels / unit != np.round(levels / unit)):
            raise ParameterError(f"levels must be integer multiples of unit={unit!r}")
        self.levels = levels.copy()   # read by the scale search's screen (best_scales)
        self.levels.setflags(write=False)
        self._inv_h = 2.0 / unit
        # One grid step beyond each end level: every x further out clips onto it.
        self._lo = float(levels[0] * self._inv_h - 1)
        self._hi = float(levels[-1] * self._inv_h + 1)
        numbers = np.arange(2 * self._lo, 2 * self._hi + 1)
        self._offset = -numbers[0]
        self._index_table = nearest_level(numbers / (2 * self._inv_h), levels)
        self._value_table = levels[self._index_table]

    def _table_positions(self, x):
        """Row of each ``x`` in the tables: floor(x/h) + ceil(x/h), shifted to start at 0."""
        y = np.empty(np.shape(x))  # an array even for a scalar x, so the ops below run in place
        np.multiply(x, self._inv_h, out=y)
        np.clip(y, self._lo, self._hi, out=y)
        position = np.floor(y)
        position += np.ceil(y)
        position += self._offset
        return position.astype(np.intp)

    def indices(self, x):
        """Inputs: finite float array ``x``. Output: intp indices into the levels, shape of ``x``."""
        return self._index_table.take(self._table_positions(x))

    def values(self, x):
        """Inputs: finite float array ``x``. Output: float64 nearest levels, shape of ``x``.

        Same as ``levels[indices(x)]`` with one gather instead of two (the search's hot path).
        """
        return self._value_table.take(self._table_positions(x))


class DintFormat:
    """A dINT4 format: the codebook, decoding and nearest-value encoding.

    Parameters: ``special`` in ``SPECIALS`` (see the module table), ``frac_bits`` f in 1..2
    (special magnitude 2**-f).
    Attributes: ``scaled_values`` int64[16] (value x 2**f by code), ``values`` float64[16],
    ``levels`` the distinct values sorted ascending with ``level_codes`` (uint8) their codes,
    ``max_level`` = 7, the largest magnitude, which the quantizer maps to the clipping point.
    """

    max_level = 7

    def __init__(self, special=DintCodebook.HALF, frac_bits=1):
        self.special = DINT_SPECIAL.check(special)
        self.frac_bits = DINT_FRAC_BITS.check(frac_bits)
        self.scaled_values = dint_scaled_codebook(self.special, self.frac_bits)
        self.values = self.scaled_values / float(1 << self.frac_bits)  # exact: dyadic rationals
        order = np.argsort(self.values)
        self.level_codes = order.astype(np.uint8)
        self.levels = self.values[order]
        for a in (self.scaled_values, self.values, self.level_codes, self.levels):
            a.setflags(write=False)
        self.rounder = LevelRounder(self.levels, unit=2.0**-self.frac_bits)

    def __repr__(self):
        return f"DintFormat(special={str(self.special)!r}, frac_bits={self.frac_bits})"

    def decode(self, codes):
        """Inputs: integer codes in 0..15, any shape. Output: float64 values, same shape."""
        return self.values[int_array("codes", codes, 0, N_CODES - 1)]

    def decode_scaled(self, codes):
        """Inputs: integer codes in 0..15, any shape. Output: int64 value x 2**f, same shape."""
        return self.scaled_values[int_array("codes", codes, 0, N_CODES - 1)]

    def encode(self, x):
        """Nearest codebook value of ``x`` (in units of the scale); ties to the smaller magnitude.

        Inputs: finite float array, any shape. Output: uint8 codes in 0..15, same shape.
        Values beyond the codebook saturate to its end values.
        """
        x = finite_floats("x", x)
        return self.level_codes[self.rounder.indices(x)]


def finite_floats(name, values):
    """``values`` as a float64 array, refusing NaN and infinities (they have no nearest level)."""
    a = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{name} must be finite (no NaN or inf)")
    return a


def weight_rows(w, axis):
    """The weight matrix as float64 with output channels on rows, and the normalised axis."""
    w = finite_floats("w", w)
    if w.ndim != 2 or w.size == 0:
        raise ParameterError(f"w must be a non-empty 2-D weight matrix, got shape {w.shape}")
    axis = check_int("axis", axis, -2, 1) % 2
    return (w if axis == 0 else np.ascontiguousarray(w.T)), axis  # contiguous rows: cache-friendly search


def _channel_sse(rows, scales, rounder):
    """Squared reconstruction error summed over each row, for a block of candidate scales.

    Inputs: ``rows`` float64 (out, in); ``scales`` float64 (k, out); ``rounder`` a
    :class:`LevelRounder` of the codebook (values in units of the scale). Output: float64 (k, out).
    This is the error the scale search minimises, element by element; the same row at the same
    scale gives the same float64 sum in any block (each row's sum runs over its own elements).
    """
    s = scales[:, :, None]
    err = rounder.values(rows / s) * s
    err -= rows
    return np.einsum("kij,kij->ki", err, err)


def _screen(rows, amax, ratios, max_level, levels):
    """Every candidate's squared error from per-level sums, without rounding each element.

    Inputs: ``rows`` float64 (m, n); ``amax`` float64 (m,) and ``ratios`` float64 (k,) give
    the candidate scales s = ratio * amax / max_level; ``levels`` the codebook's levels,
    ascending. At scale s the elements between two neighbouring midpoints (x / s in a
    level's interval; beyond the end midpoints, the end level) all round to that level v, so
    a level's error is ``S2 - 2 v s S1 + (v s)**2 N`` over its elements (count N, sums S1 of
    x and S2 of x^2), and the S2 terms add up to the row's sum of x^2. The interval ends are
    x = mid x ratio x amax / max_level: in units of amax / max_level, one table of
    ``mid x ratio`` for every row. Each element is placed once in that sorted table (binary
    search); counting and summing the elements per place, then accumulating, gives N and S1
    below every interval end of every candidate: O(n log(k levels) + k levels) per row
    instead of O(k n). An element within a few ulps of a midpoint may fall on the other side
    than the rounder puts it: it is (nearly) equally far from both levels, which
    :func:`_screen_bound` allows for. Output: (float64 (m, k) errors, float64 (m,) bounds).
    """
    m, n = rows.shape
    keys = (ratios[:, None] * ((levels[:-1] + levels[1:]) / 2)).ravel()   # (k x (levels - 1))
    order = np.argsort(keys)
    width = keys.size + 1
    # place = the number of interval ends at or below the element: it is below every later one.
    # Each row sorted first (its elements in any order give the same counts and sums, and
    # ascending needles make the search about twice as fast); amax / max_level > 0 keeps the order.
    sorted_rows = np.sort(rows, axis=1)
    place = np.searchsorted(keys[order], sorted_rows * (max_level / amax)[:, None], side="right")
    place += (np.arange(m) * width)[:, None]
    counts = np.bincount(place.ravel(), minlength=m * width).reshape(m, width).astype(np.float64)
    sums = np.bincount(place.ravel(), weights=sorted_rows.ravel(),
                       minlength=m * width).reshape(m, width)
    # Summed over the levels by parts: sum_L v_L (B_L - B_(L-1)) = v_top B_all - sum_j B_j dv_j,
    # B_j the count (or sum) of the elements below interval end j (the places up to end j's,
    # added up), dv_j the step between its two levels (of v, or of v^2).
    rank = np.empty(keys.size, dtype=np.intp)
    rank[order] = np.arange(keys.size)
    shape = (m, ratios.size, levels.size - 1)
    below = np.take(np.cumsum(counts, axis=1), rank, axis=1).reshape(shape)
    count_term = levels[-1] ** 2 * n - np.einsum("ikj,j->ik", below, np.diff(levels * levels))
    below = np.take(np.cumsum(sums, axis=1), rank, axis=1).reshape(shape)
    sum_term = levels[-1] * sums.sum(axis=1, keepdims=True) - np.einsum("ikj,j->ik", below,
                                                                        np.diff(levels))
    s = (ratios[:, None] * amax / max_level).T                          # (m, k): the scales
    total = np.einsum("ij,ij->i", rows, rows)
    sse = total[:, None] - 2 * s * sum_term + s * s * count_term
    return sse, _screen_bound(rows, total, s.max(axis=1), levels, width)


def _screen_bound(rows, total, s_max, levels, width):
    """Bound on the difference between :func:`_screen`'s errors and the exact ones, per row.

    The screen's sums run over the n elements and then along ``width`` places, so each
    carries at most about (n + width) eps times the sum of |x| (or of the counts, exact
    integers); its sums of x are multiplied by v s (|v| s at most ``s_max`` x the largest
    |v|, the steps of v add up to its range), which adds at most about 4 (n + width) eps
    s_max sum|v| sum|x|; the row's sum of x^2 (``total``) and the count term (at most n amax^2
    <= n total) carry about n eps total; an element within a few ulps of a midpoint changes
    its term by at most about 8 eps |x| times the two levels' gap x s, less again.
    ``SCREEN_MARGIN`` units of (n + width) eps (sum x^2 + s_max sum|v| sum|x|) cover them
    with room, and the rounding of the exact errors themselves (n eps times the error).
    """
    n = rows.shape[1]
    spread = s_max * np.abs(levels).sum() * np.abs(rows).sum(axis=1)
    return SCREEN_MARGIN * (n + width) * np.finfo(np.float64).eps * (total + spread)


def best_scales(rows, amax, ratios, rounder, max_level):
    """Per row, the candidate scale ``ratio * amax / max_level`` with the least squared error.

    The error is :func:`_channel_sse`'s, element by element; among equal errors the earliest
    ratio wins (the first minimum, in the order given). Inputs: ``rows`` float64 (m, n);
    ``amax`` float64 (m,); ``ratios`` float64 (k,); ``rounder`` with ``values(x)`` and
    ``levels`` (ascending: the values ``values`` rounds to, by nearest distance).
    Output: float64 (m,) scales.

    Rather than round every element at every candidate (O(k n) per row), a screen
    (:func:`_screen`: per-level counts and sums, O(n log(k levels) + k levels)) gives every
    candidate's error within a proven bound; only the candidates that the bound cannot rule
    out (those within twice the bound of the screen's minimum: nearly always one or two per
    row) get the exact error of :func:`_channel_sse`, and the first exact minimum among them
    is the answer, the same scale as evaluating every candidate exactly.
    """
    if ratios.size == 1:   # one candidate: nothing to compare
        return ratios[0] * amax / max_level
    if _EXACT:
        return exact_scales(rows, amax, ratios, rounder, max_level)
    levels = np.asarray(rounder.levels, dtype=np.float64)
    m, n = rows.shape
    best = np.empty(m)
    block = max(1, SCREEN_ELEMENTS // (ratios.size * (levels.size + 1)))
    for r0 in range(0, m, block):
        part = rows[r0 : r0 + block]
        scales = ratios[:, None] * amax[r0 : r0 + block] / max_level    # (k, rows)
        sse, bound = _screen(part, amax[r0 : r0 + block], ratios, max_level, levels)
        near = sse - sse.min(axis=1, keepdims=True) <= 2 * bound[:, None]
        row, k = np.nonzero(near)                    # row-major: each row's ratios in order
        exact = np.empty(row.size)
        step = max(1, BLOCK_ELEMENTS // n)
        for p0 in range(0, row.size, step):
            pair = slice(p0, p0 + step)
            exact[pair] = _channel_sse(part[row[pair]], scales[k[pair], row[pair]][None, :],
                                       rounder)[0]
        least = np.full(part.shape[0], np.inf)
        np.minimum.at(least, row, exact)
        hits = np.flatnonzero(exact == least[row])
        first = hits[np.unique(row[hits], return_index=True)[1]]   # the earliest ratio per row
        best[r0 : r0 + block] = scales[k[first], row[first]]
    return best


def exact_scales(rows, amax, ratios, rounder, max_level):
    """:func:`best_scales` by its definition: every candidate's error element by element
    (:func:`_channel_sse`, in blocks of rows), the first (earliest ratio) minimum of each row.
    The reference the screened search is tested and timed against."""
    best = np.empty(rows.shape[0])
    step = max(1, BLOCK_ELEMENTS // (ratios.size * max(1, rows.shape[1])))
    for r0 in range(0, rows.shape[0], step):
        part = rows[r0 : r0 + step]
        scales = ratios[:, None] * amax[r0 : r0 + step] / max_level    # (k, rows)
        sse = _channel_sse(part, scales, rounder)
        best[r0 : r0 + step] = scales[sse.argmin(axis=0), np.arange(part.shape[0])]
    return best


_EXACT = False


@contextlib.contextmanager
def exact_scale_search():
    """Within the block every scale search (INT, dINT, PoT, ABQ's ranges: every caller of
    :func:`best_scales`) evaluates every candidate exactly, as :func:`exact_scales`: the same
    scales, several times the CPU (``lowbit experiment eval-search`` times both)."""
    global _EXACT
    before, _EXACT = _EXACT, True
    try:
        yield
    finally:
        _EXACT = before


def _search_scales(rows, rounder, max_level, n_grid):
    """Per-row scale minimising the reconstruction MSE over clipping ratios r = k/n_grid.

    The candidate scale is ``r * max|row| / max_level``, so r = 1 is max-scale RTN. Ratios are
    tried from 1 downwards and a tie keeps the larger scale, so ``n_grid = 1`` is exactly RTN
    and the searched MSE never exceeds RTN's. An all-zero row gets scale 1: any scale
    reconstructs it exactly, and 1 keeps later divisions by the scale finite.
    Output: (intp (out, in) indices into the rounder's levels, float64 (out,) scales).
    """
    amax = np.abs(rows).max(axis=1)
    amax = np.where(amax > 0, amax, float(max_level))
    ratios = np.arange(n_grid, 0, -1) / n_grid
    scales = best_scales(rows, amax, ratios, rounder, max_level)
    return rounder.indices(rows / scales[:, None]), scales


def quantize_dint(w, fmt, *, n_grid=100, axis=0):
    """Per-output-channel dINT4 quantization with an MSE-optimal clipping scale.

    Inputs: ``w`` finite float (out, in) weights (or (in, out) with ``axis=1``: ``axis`` is the
    output-channel axis); ``fmt`` a :class:`DintFormat`; ``n_grid`` >= 1 clipping ratios
    r = n_grid/n_grid .. 1/n_grid of max|w| are tried (``n_grid=1``: max-scale RTN).
    Output: (``codes`` uint8 in 0..15, shape of ``w``; ``scales`` float64, one per channel).
    Reconstruct with :func:`dequantize`.
    """
    if not isinstance(fmt, DintFormat):
        raise ParameterError(f"fmt must be a DintFormat, got {type(fmt).__name__}")
    rows, axis = weight_rows(w, axis)
    n_grid = check_int("n_grid", n_grid, 1, 10_000)
    idx, scales = _search_scales(rows, fmt.rounder, fmt.max_level, n_grid)
    codes = fmt.level_codes[idx]
    return (codes if axis == 0 else codes.T), scales


def _broadcast_scales(scales, shape, axis):
    """Per-channel scales as float64, shaped to broadcast along ``axis`` of a 2-D ``shape``."""
    axis = check_int("axis", axis, -2, 1) % 2
    scales = finite_floats("scales", scales)
    if scales.shape != (shape[axis],):
        raise ParameterError(f"scales must have shape ({shape[axis]},) for codes of shape {shape}, axis={axis}")
    return scales[:, None] if axis == 0 else scales[None, :]


def dequantize(codes, scales, fmt, *, axis=0):
    """dINT4 reconstruction ``value(code) * scale``.

    Inputs: ``codes`` 2-D integers in 0..15; ``scales`` float (n_channels,) for ``axis``;
    ``fmt`` a :class:`DintFormat`. Output: float64, shape of ``codes``.
    """
    values = fmt.decode(codes)
    if values.ndim != 2:
        raise ParameterError(f"codes must be 2-D, got shape {values.shape}")
    return values * _broadcast_scales(scales, values.shape, axis)


def quantize_int(w, bits=4, *, search=True, n_grid=100, axis=0):
    """Symmetric per-output-channel INT quantization, the baseline of dINT4.

    Levels are -(2**(bits-1) - 1) .. 2**(bits-1) - 1 (the code -2**(bits-1) is unused, as in
    symmetric RTN), rounding to nearest with ties to the smaller magnitude. ``search=True``
    runs the same clipping-ratio search as :func:`quantize_dint`; ``search=False`` is
    max-scale RTN. ``bits`` in 2..16; ``w``, ``axis``, ``n_grid`` as in :func:`quantize_dint`.
    Output: (``codes`` int64 signed integers, shape of ``w``; ``scales`` float64 per channel).
    """
    bits = check_int("bits", bits, 2, MAX_INT_BITS)
    rows, axis = weight_rows(w, axis)
    n_grid = check_int("n_grid", n_grid, 1, 10_000) if search else 1
    q = (1 << (bits - 1)) - 1
    levels = np.arange(-q, q + 1, dtype=np.float64)
    idx, scales = _search_scales(rows, LevelRounder(levels, unit=1.0), q, n_grid)
    codes = idx.astype(np.int64) - q
    return (codes if axis == 0 else codes.T), scales


def dequantize_int(codes, scales, *, axis=0):
    """INT reconstruction ``code * scale``: ``codes`` 2-D signed integers, output float64."""
    codes = int_array("codes", codes, -(1 << (MAX_INT_BITS - 1)), (1 << (MAX_INT_BITS - 1)) - 1)
    if codes.ndim != 2:
        raise ParameterError(f"codes must be 2-D, got shape {codes.shape}")
    return codes * _broadcast_scales(scales, codes.shape, axis)
