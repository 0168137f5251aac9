"""dINT4 format, the dINT and INT MAC golden models, and the weight quantizers."""

import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit.golden_models import dint
from lowbit.golden_models.abq import _AffineRounder
from lowbit.golden_models.dint import (
    DintFormat,
    LevelRounder,
    best_scales,
    dequantize,
    dequantize_int,
    exact_scale_search,
    exact_scales,
    nearest_level,
    quantize_dint,
    quantize_int,
)
from lowbit.golden_models.dint_mac import DintMac
from lowbit.golden_models.int_mac import IntMac
from lowbit.golden_models.pot import ApotFormat, PotFormat

VARIANTS = [(s, f) for s in ("half", "pm_half") for f in (1, 2)]


def value_of(special, frac_bits, code):
    """The spec's dINT4 value of a 4-bit code, as an exact Fraction."""
    special_value = Fraction(1, 2**frac_bits)
    if special == "half" and code == 8:
        return special_value
    if special == "pm_half" and code in (7, 8):
        return special_value if code == 7 else -special_value
    return Fraction(code - 16 if code >= 8 else code)


def min_signed_bits(lo, hi):
    return next(b for b in range(1, 65) if -(1 << (b - 1)) <= lo and hi < (1 << (b - 1)))


# ---------------------------------------------------------------------------------------- format


def test_codebook_half_quarter_by_hand():
    fmt = DintFormat("half", 2)
    assert fmt.scaled_values.tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 1, -28, -24, -20, -16, -12, -8, -4]


def test_codebook_pm_half_by_hand():
    fmt = DintFormat("pm_half", 1)
    assert fmt.values.tolist() == [0, 1, 2, 3, 4, 5, 6, 0.5, -0.5, -7, -6, -5, -4, -3, -2, -1]


@pytest.mark.parametrize("special, frac_bits", VARIANTS)
def test_codebook_tables(special, frac_bits):
    fmt = DintFormat(special, frac_bits)
    exact = [value_of(special, frac_bits, c) for c in range(16)]
    assert fmt.scaled_values.dtype == np.int64
    assert fmt.scaled_values.tolist() == [int(v * 2**frac_bits) for v in exact]
    assert fmt.values.tolist() == [float(v) for v in exact]
    assert fmt.decode(np.arange(16)).tolist() == [float(v) for v in exact]
    assert fmt.decode_scaled(np.arange(16)).tolist() == fmt.scaled_values.tolist()
    assert fmt.max_level == 7 == max(abs(v) for v in exact)
    assert len(set(exact)) == 16, "every code is used and distinct"


@pytest.mark.parametrize("special, frac_bits", VARIANTS)
def test_encode_inverts_decode(special, frac_bits):
    fmt = DintFormat(special, frac_bits)
    codes = fmt.encode(fmt.values)
    assert codes.dtype == np.uint8
    assert codes.tolist() == list(range(16))


@pytest.mark.parametrize(
    "special, frac_bits, x, value",
    [
        ("half", 1, 0.25, 0.0),  # tie 0 / 0.5 -> 0
        ("half", 1, 0.75, 0.5),  # tie 0.5 / 1 -> 0.5
        ("half", 1, -0.25, 0.0),  # no -1/2 in "half"
        ("half", 1, -0.5, 0.0),  # tie -1 / 0 -> 0
        ("half", 1, -0.51, -1.0),
        ("half", 1, 1.5, 1.0),
        ("half", 1, -1.5, -1.0),
        ("half", 1, 7.5, 7.0),
        ("half", 1, -100.0, -7.0),
        ("half", 2, 0.125, 0.0),  # tie 0 / 0.25
        ("half", 2, 0.625, 0.25),  # tie 0.25 / 1
        ("half", 2, 0.626, 1.0),
        ("pm_half", 1, -0.25, 0.0),  # tie -0.5 / 0 -> 0
        ("pm_half", 1, -0.75, -0.5),  # tie -1 / -0.5 -> -0.5
        ("pm_half", 1, 6.5, 6.0),  # no +7 in "pm_half"
        ("pm_half", 1, 100.0, 6.0),
        ("pm_half", 1, -6.5, -6.0),  # tie -7 / -6 -> -6
        ("pm_half", 1, -6.51, -7.0),
        ("pm_half", 2, -0.625, -0.25),
    ],
)
def test_encode_ties_go_to_the_smaller_magnitude(special, frac_bits, x, value):
    fmt = DintFormat(special, frac_bits)
    assert fmt.decode(fmt.encode([x]))[0] == value


def brute_nearest(x, values):
    """Nearest value by exhaustive comparison; ties to the smaller magnitude."""
    return min(values, key=lambda v: (abs(v - x), abs(v)))


@settings(max_examples=300, deadline=None)
@given(
    variant=st.sampled_from(VARIANTS),
    x=st.one_of(
        st.floats(-20, 20, allow_nan=False),
        st.integers(-80, 80).map(lambda k: k / 8),  # grid points: the ties live here
    ),
)
def test_encode_is_nearest(variant, x):
    fmt = DintFormat(*variant)
    assert fmt.decode(fmt.encode([x]))[0] == brute_nearest(x, fmt.values.tolist())


@settings(max_examples=100, deadline=None)
@given(bits=st.integers(2, 6), xs=st.lists(st.floats(-80, 80, allow_nan=False), min_size=1, max_size=30),
       ks=st.lists(st.integers(-160, 160), max_size=30))
def test_level_rounder_on_integer_levels(bits, xs, ks):
    q = (1 << (bits - 1)) - 1
    levels = np.arange(-q, q + 1, dtype=np.float64)
    x = np.array(xs + [k / 2 for k in ks])
    rounder = LevelRounder(levels, unit=1.0)
    expected = [brute_nearest(v, levels.tolist()) for v in x.tolist()]
    assert levels[rounder.indices(x)].tolist() == expected
    assert rounder.values(x).tolist() == expected
    assert levels[nearest_level(x, levels)].tolist() == expected


# ------------------------------------------------------------------------------------------- MACs


@pytest.mark.parametrize("special, frac_bits", VARIANTS)
def test_dint_product_table_exhaustive(special, frac_bits):
    mac = DintMac(special=special, frac_bits=frac_bits)
    codes, acts = np.meshgrid(np.arange(16), np.arange(-128, 128), indexing="ij")
    table = mac.product(codes, acts)
    expected = [[int(value_of(special, frac_bits, c) * 2**frac_bits * a) for a in range(-128, 128)] for c in range(16)]
    assert table.dtype == np.int64
    assert table.tolist() == expected
    assert mac.product_bits == min_signed_bits(table.min(), table.max())


@pytest.mark.parametrize("special, frac_bits", VARIANTS)
@pytest.mark.parametrize("act_bits", [2, 3, 5, 16])
def test_dint_product_bits_is_the_fewest(special, frac_bits, act_bits):
    mac = DintMac(special=special, frac_bits=frac_bits, act_bits=act_bits, acc_bits=64)
    acts = np.arange(-(1 << (act_bits - 1)), 1 << (act_bits - 1))
    table = mac.product(np.arange(16)[:, None], acts[None, :])
    assert mac.product_bits == min_signed_bits(table.min(), table.max())


def test_int8_product_table_exhaustive():
    mac = IntMac()
    w, a = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    table = mac.product(w, a)
    assert table.tolist() == [[x * y for y in range(-128, 128)] for x in range(-128, 128)]
    assert mac.product_bits == 16 == min_signed_bits(table.min(), table.max())


@pytest.mark.parametrize("weight_bits, act_bits", [(2, 2), (4, 8), (3, 7), (16, 16)])
def test_int_product_bits_is_the_fewest(weight_bits, act_bits):
    mac = IntMac(weight_bits=weight_bits, act_bits=act_bits, acc_bits=64)
    w_lo, a_lo = -(1 << (weight_bits - 1)), -(1 << (act_bits - 1))
    corners = [x * y for x in (w_lo, -w_lo - 1) for y in (a_lo, -a_lo - 1)]
    assert mac.product_bits == min_signed_bits(min(corners), max(corners))


def reference_acc(products, valid, clear, acc_bits, overflow):
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    acc, out = 0, []
    for p, v, c in zip(products, valid, clear):
        acc = (0 if c else acc) + (p if v else 0)
        acc = (acc - lo) % (1 << acc_bits) + lo if overflow == "wrap" else min(max(acc, lo), hi)
        out.append(acc)
    return out


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("special, frac_bits", VARIANTS)
def test_dint_mac_run(special, frac_bits, overflow):
    rng = np.random.default_rng(7)
    n = 5_000
    codes = rng.integers(0, 16, n)
    acts = rng.integers(-128, 128, n)
    valid, clear = rng.random(n) < 0.9, rng.random(n) < 0.01
    mac = DintMac(special=special, frac_bits=frac_bits, acc_bits=14, overflow=overflow)
    products = [int(value_of(special, frac_bits, c) * 2**frac_bits * a) for c, a in zip(codes.tolist(), acts.tolist())]
    expected = reference_acc(products, valid.tolist(), clear.tolist(), 14, overflow)
    assert mac.run(codes, acts, valid, clear).tolist() == expected


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_int_mac_run(overflow):
    rng = np.random.default_rng(8)
    n = 5_000
    w, a = rng.integers(-8, 8, n), rng.integers(-128, 128, n)
    valid, clear = rng.random(n) < 0.9, rng.random(n) < 0.01
    mac = IntMac(weight_bits=4, acc_bits=13, overflow=overflow)
    expected = reference_acc((w * a).tolist(), valid.tolist(), clear.tolist(), 13, overflow)
    assert mac.run(w, a, valid, clear).tolist() == expected


def test_dint_mac_output_has_f_fractional_bits():
    # 0.5 * 3 + 7 * (-2) + 0.5 * 1 = -12, i.e. -24 with one fractional bit.
    mac = DintMac(special="half", frac_bits=1)
    out = mac.run([8, 7, 8], [3, -2, 1], [1, 1, 1], [1, 0, 0])
    assert out.tolist() == [3, -25, -24]


# ------------------------------------------------------------------------------------ quantizers


def weights(kind, shape=(256, 384), seed=0):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal(shape)
    w = rng.laplace(size=shape)
    if kind == "laplace_outliers":  # a few large weights set the range; most are small
        w[rng.random(shape) < 0.005] *= 10
    return w


def mse(w, w_hat):
    return float(np.mean((w - w_hat) ** 2))


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
@pytest.mark.parametrize("special, frac_bits", VARIANTS)
def test_dint_search_beats_max_scale_rtn(kind, special, frac_bits):
    w, fmt = weights(kind), DintFormat(special, frac_bits)
    codes, scales = quantize_dint(w, fmt)
    assert codes.dtype == np.uint8 and codes.shape == w.shape
    assert codes.max() <= 15
    assert scales.shape == (w.shape[0],) and np.all(scales > 0)
    rtn = mse(w, dequantize(*quantize_dint(w, fmt, n_grid=1), fmt))
    assert mse(w, dequantize(codes, scales, fmt)) < rtn


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_int_search_beats_max_scale_rtn(kind):
    w = weights(kind)
    codes, scales = quantize_int(w, 4)
    assert codes.dtype == np.int64 and -7 <= codes.min() and codes.max() <= 7
    rtn = mse(w, dequantize_int(*quantize_int(w, 4, search=False)))
    assert mse(w, dequantize_int(codes, scales)) < rtn


def test_max_scale_rtn_by_hand():
    # Dyadic weights, so that w / scale is exact and the ties are real ties.
    w = np.array([[7, -2, 1, 0.5, -3.5, 0.25, -0.5], [0, 0, 0, 0, 0, 0, 0]]) / 8
    codes, scales = quantize_dint(w, DintFormat("half", 1), n_grid=1)
    # scale 7/8 / 7 = 1/8: units 7, -2, 1, 0.5, -3.5 -> -3, 0.25 -> 0, -0.5 -> 0 (ties to smaller)
    assert scales.tolist() == [0.125, 1.0]
    assert codes.tolist() == [[7, 14, 1, 8, 13, 0, 0], [0] * 7]
    int_codes, int_scales = quantize_int(w, 4, search=False)
    assert int_scales.tolist() == [0.125, 1.0]
    assert int_codes.tolist() == [[7, -2, 1, 0, -3, 0, 0], [0] * 7]


def test_search_finds_the_grid_minimum():
    """The vectorised search against a per-row loop over the same grid."""
    w, fmt, n_grid = weights("laplace", (12, 64), seed=3), DintFormat("pm_half", 2), 25
    codes, scales = quantize_dint(w, fmt, n_grid=n_grid)
    row_mse = np.mean((dequantize(codes, scales, fmt) - w) ** 2, axis=1)
    values = fmt.values.tolist()
    for i, row in enumerate(w):
        best = min(
            np.mean([(brute_nearest(x / s, values) * s - x) ** 2 for x in row])
            for s in (k / n_grid * np.abs(row).max() / 7 for k in range(1, n_grid + 1))
        )
        assert row_mse[i] == pytest.approx(best, rel=1e-12)


def search_cases():
    """Weight sets where a screen could go wrong: ties on every midpoint (dyadic weights on
    the codebook's grid), all-zero and constant rows, one or two columns, outliers, long rows."""
    rng = np.random.default_rng(21)
    tied = np.round(rng.standard_normal((24, 48)) * 8) / 8
    tied[3] = 0
    tied[4] = 0.75
    yield "gaussian", rng.standard_normal((40, 384))
    yield "laplace_outliers", weights("laplace_outliers", (30, 200), seed=4)
    yield "tied", tied
    yield "integers", rng.integers(-7, 8, (20, 32)).astype(float)
    yield "narrow", rng.standard_normal((16, 1))
    yield "two", rng.standard_normal((16, 2))
    yield "long", rng.standard_normal((3, 6000)) * 1e-3
    yield "one_outlier", np.concatenate([rng.standard_normal((8, 300)) * 1e-4, np.ones((8, 1))], axis=1)


def search_formats():
    for variant in VARIANTS:
        fmt = DintFormat(*variant)
        yield f"dint-{variant}", fmt.rounder, fmt.max_level
    for bits in (2, 3, 4, 8):
        q = (1 << (bits - 1)) - 1
        yield f"int{bits}", LevelRounder(np.arange(-q, q + 1, dtype=np.float64), unit=1.0), q
    for fmt in (PotFormat(4, True), PotFormat(3, False), ApotFormat()):
        yield repr(fmt), fmt.rounder, fmt.max_level
    for top in (3, 4, 15):   # ABQ's asymmetric grids: codes 0..top around a zero point
        for zero in sorted({0, 1, top // 2, top}):
            yield f"affine-{top}-{zero}", _AffineRounder(float(zero), top), top


@pytest.mark.parametrize("n_grid", [100, 1, 13])
def test_screened_search_equals_the_exhaustive_one(n_grid):
    """best_scales screens with per-level sums and checks only the candidates it cannot rule
    out: the scales must be exactly those of trying every candidate (the accuracy table's
    numbers depend on them bit for bit)."""
    ratios = np.arange(n_grid, 0, -1) / n_grid
    for case, w in search_cases():
        amax = np.abs(w).max(axis=1)
        for name, rounder, max_level in search_formats():
            limit = np.where(amax > 0, amax, float(max_level))
            found = best_scales(w, limit, ratios, rounder, max_level)
            expected = exact_scales(w, limit, ratios, rounder, max_level)
            assert np.array_equal(found, expected), (case, name)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_screened_search_on_dyadic_rows(data):
    """Small rows on a dyadic grid: many exact ties between candidates' errors and elements on
    midpoints, where only the exact check can pick the earliest ratio."""
    rows = np.array(data.draw(st.lists(st.lists(st.integers(-32, 32), min_size=3, max_size=3),
                                       min_size=1, max_size=4)), dtype=np.float64) / 4
    variant = data.draw(st.sampled_from(VARIANTS))
    fmt = DintFormat(*variant)
    n_grid = data.draw(st.integers(1, 40))
    ratios = np.arange(n_grid, 0, -1) / n_grid
    amax = np.abs(rows).max(axis=1)
    amax = np.where(amax > 0, amax, 7.0)
    assert np.array_equal(best_scales(rows, amax, ratios, fmt.rounder, 7),
                          exact_scales(rows, amax, ratios, fmt.rounder, 7))


def test_the_exact_search_switch_gives_the_same_scales_and_is_undone():
    """``exact_scale_search`` (what ``lowbit experiment eval-search`` times) routes every
    search through the definition: the same codes and scales, and the screen again after."""
    w, fmt = weights("laplace_outliers", (24, 96), seed=3), DintFormat()
    screened = quantize_dint(w, fmt)
    with exact_scale_search():
        assert dint._EXACT
        exact = quantize_dint(w, fmt)
    assert not dint._EXACT
    assert all(np.array_equal(a, b) for a, b in zip(screened, exact))


def test_axis_1_is_the_transpose():
    w, fmt = weights("gaussian", (40, 24)), DintFormat()
    codes, scales = quantize_dint(w.T, fmt, axis=1)
    codes0, scales0 = quantize_dint(w, fmt)
    assert np.array_equal(codes, codes0.T) and np.array_equal(scales, scales0)
    assert np.array_equal(dequantize(codes, scales, fmt, axis=1), dequantize(codes0, scales0, fmt).T)
    int_codes, int_scales = quantize_int(w.T, 4, axis=1)
    assert np.array_equal(dequantize_int(int_codes, int_scales, axis=1), dequantize_int(*quantize_int(w, 4)).T)


@pytest.mark.parametrize("special, frac_bits", VARIANTS)
def test_dint_beats_int4_on_laplace_with_outliers(special, frac_bits):
    w, fmt = weights("laplace_outliers"), DintFormat(special, frac_bits)
    dint_mse = mse(w, dequantize(*quantize_dint(w, fmt), fmt))
    int_mse = mse(w, dequantize_int(*quantize_int(w, 4)))
    # Measured (MSE, these seeds): INT4 0.286; dINT4 half 0.217 (1/2) 0.215 (1/4), pm_half 0.148 / 0.141.
    assert dint_mse < 0.8 * int_mse


def test_half_codebook_contains_int4_so_never_loses():
    # Same grid, a superset of INT4's levels at every scale: the error can only shrink.
    w = weights("gaussian", seed=11)
    fmt = DintFormat("half", 1)
    assert mse(w, dequantize(*quantize_dint(w, fmt), fmt)) <= mse(w, dequantize_int(*quantize_int(w, 4)))


def test_quantize_dint_is_fast_on_a_mlp_matrix():
    w = weights("laplace", (1536, 384))
    start = time.process_time()
    quantize_dint(w, DintFormat())
    assert time.process_time() - start < 2.0


# ---------------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DintFormat("quarter"), "^special='quarter' is not allowed"),
        (lambda: DintFormat("half", 3), r"^frac_bits=3 is out of range: frac_bits must be an integer in 1\.\.2$"),
        (lambda: DintMac(act_bits=1), r"^act_bits=1 is out of range: act_bits must be an integer in 2\.\.16$"),
        (lambda: DintMac(acc_bits=11), r"^acc_bits=11 is out of range: acc_bits must be an integer in 12\.\.64$"),
        (lambda: DintMac(frac_bits=2, acc_bits=12), r"^acc_bits=12 .* 13\.\.64$"),
        (lambda: DintMac(acc_bits=65), "^acc_bits=65 "),
        (lambda: DintMac(overflow="clip"), "^overflow='clip' "),
        (lambda: DintMac().product([16], [0]), r"^codes is out of range: must hold integers in 0\.\.15"),
        (lambda: DintMac().product([-1], [0]), "^codes is out of range"),
        (lambda: DintMac().product([1.0], [0]), "^codes must hold integers"),
        (lambda: DintMac().product([1], [128]), r"^acts is out of range: must hold integers in -128\.\.127"),
        (lambda: DintMac().run([1, 2], [3], [1, 1], [0, 0]), "^inputs must have one entry per cycle"),
        (lambda: IntMac(weight_bits=17), "^weight_bits=17 "),
        (lambda: IntMac(acc_bits=15), r"^acc_bits=15 .* 16\.\.64$"),
        (lambda: IntMac(weight_bits=4).product([8], [0]), r"^weights is out of range: must hold integers in -8\.\.7"),
        (lambda: DintFormat().encode([np.nan]), "^x must be finite"),
        (lambda: quantize_dint(np.ones((2, 3)), DintFormat(), n_grid=0), "^n_grid=0 "),
        (lambda: quantize_dint(np.ones(3), DintFormat()), "^w must be a non-empty 2-D"),
        (lambda: quantize_dint(np.full((2, 2), np.inf), DintFormat()), "^w must be finite"),
        (lambda: quantize_dint(np.ones((2, 3)), DintFormat(), axis=2), "^axis=2 "),
        (lambda: quantize_dint(np.ones((2, 3)), "half"), "^fmt must be a DintFormat"),
        (lambda: quantize_int(np.ones((2, 3)), bits=1), "^bits=1 "),
        (lambda: dequantize(np.zeros((2, 3), int), np.ones(3), DintFormat()), r"^scales must have shape \(2,\)"),
    ],
)
def test_bad_arguments_name_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()
