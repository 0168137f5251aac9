"""EXAQ softmax, its baseline and the clipping analysis, against formulas written from the spec."""

import math
from fractions import Fraction

import numpy as np
import pytest

from lowbit.golden_models.accuracy.exaq import (
    CALIBRATION_CALLS,
    REFERENCE_TABLE_LENGTH,
    TABLE_CANDIDATES,
    TABLE_SIGMAS,
    TABULATED_OPTIMA,
    ClipCalibrator,
    clip_check,
    exp_mse_objective,
    exaq_quantize,
    gap_density,
    gaussian_clip,
    grid_search_clip,
    kl_divergence,
    laplace_clip,
    max_abs_error,
    measure_errors,
    reference_objective_clip,
    reference_table,
    softmax_mse,
    synthetic_rows,
    table_clip,
)
from lowbit.golden_models.exaq_softmax import ExaqSoftmax, exaq_lut
from lowbit.golden_models.softmax_common import norm_shift, normalise, reciprocal, softmax_float
from lowbit.golden_models.softmax_fixed import SoftmaxFixed, exp_rom

# ------------------------------------------------------------------------ the spec, in Python ints


def spec_code(nd, clip, bits):
    """Round half up of nd / step, step = C / N, saturated to N: exact, with Fractions."""
    n = 2**bits - 1
    return min(n, math.floor(Fraction(nd * n, clip) + Fraction(1, 2)))


def threshold_code(nd, clip, bits):
    """The hardware's view: how many thresholds (2k + 1) C, k = 0..N-1, 2 N nd reaches."""
    n = 2**bits - 1
    return sum(2 * n * nd >= (2 * k + 1) * clip for k in range(n))


def spec_lut(clip, bits, in_frac, lut_frac, top):
    n = 2**bits - 1
    lut = [math.floor(2**lut_frac * math.exp(-k * clip / (n * 2**in_frac)) + 0.5) for k in range(n + 1)]
    if top == "zero":
        lut[n] = 0
    return lut


def spec_normalise(e, s, lut_frac, out_frac, max_len):
    """(R, y) of one row from its exponentials e (list) and sum s, in Python ints."""
    q = out_frac + lut_frac + math.ceil(math.log2(max_len)) + 2
    r = 2**q // s
    return r, [(v * r + 2 ** (q - out_frac - 1)) >> (q - out_frac) for v in e]


def spec_exaq_row(x, clip, bits, in_frac, lut_frac, out_frac, max_len, top):
    m = max(x)
    codes = [spec_code(m - v, clip, bits) for v in x]
    lut = spec_lut(clip, bits, in_frac, lut_frac, top)
    counts = [codes.count(k) for k in range(2**bits)]
    s = sum(n * v for n, v in zip(counts, lut))
    r, y = spec_normalise([lut[c] for c in codes], s, lut_frac, out_frac, max_len)
    return m, codes, counts, s, r, y


def assert_row_matches_spec(unit, x, clips, top="exp"):
    rows = unit.row(x, clips)
    for i, (row, clip) in enumerate(zip(x.tolist(), clips.tolist())):
        m, codes, counts, s, r, y = spec_exaq_row(
            row, clip, unit.bits, unit.in_frac, unit.lut_frac, unit.out_frac, unit.max_len, top
        )
        assert (rows.max[i], rows.S[i], rows.R[i]) == (m, s, r)
        assert rows.codes[i].tolist() == codes and rows.counts[i].tolist() == counts and rows.y[i].tolist() == y


# ------------------------------------------------------------------------------------ codes


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_codes_exhaustive_against_thresholds_and_closed_form(bits):
    """Every distance of 6-bit logits against every clip 1..127."""
    unit = ExaqSoftmax(in_bits=6, in_frac=2, bits=bits, max_len=2)
    nd = np.arange(64)
    clips = np.arange(1, unit.max_clip + 1)
    nd_grid, clip_grid = np.meshgrid(nd, clips, indexing="ij")
    x = np.stack([np.full(nd_grid.size, 31), 31 - nd_grid.ravel()], axis=1)  # max 31, then 31 - nd
    codes = unit.codes(x, clip_grid.ravel())[:, 1]
    expected = [threshold_code(a, c, bits) for a, c in zip(nd_grid.ravel().tolist(), clip_grid.ravel().tolist())]
    assert codes.tolist() == expected
    assert expected == [spec_code(a, c, bits) for a, c in zip(nd_grid.ravel().tolist(), clip_grid.ravel().tolist())]


def test_codes_round_half_up_by_hand():
    # 2 bits, C = 6 (in 1/4 units: 1.5): step 2 units; 1 -> 0.5 -> 1, 3 -> 1.5 -> 2, 5 -> 2.5 -> 3.
    unit = ExaqSoftmax(in_bits=8, in_frac=2, bits=2)
    assert unit.codes([10, 9, 8, 7, 6, 5, 4, -100], 6).tolist() == [0, 1, 1, 2, 2, 3, 3, 3]


# ------------------------------------------------------------------------------------ tables


def test_lut_by_hand():
    # C = 48 with 4 fractional bits is 3.0; 2 bits: step 1.0, LUT = round(1024 e^-k).
    assert ExaqSoftmax(bits=2).lut(48).tolist() == [1024, 377, 139, 51]
    assert ExaqSoftmax(bits=2, top="zero").lut(48).tolist() == [1024, 377, 139, 0]
    assert exaq_lut([48, 16], 2, 4, 10).shape == (2, 4)


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("top", ["exp", "zero"])
def test_lut_against_math_exp(bits, top):
    unit = ExaqSoftmax(in_bits=10, in_frac=5, bits=bits, lut_frac=12, top=top)
    clips = np.arange(1, unit.max_clip + 1, 7)
    luts = unit.lut(clips)
    assert luts.dtype == np.int64 and luts.shape == (clips.size, 2**bits)
    assert luts.tolist() == [spec_lut(c, bits, 5, 12, top) for c in clips.tolist()]
    assert np.all(luts[:, 0] == 2**12) and np.all(np.diff(luts, axis=1) <= 0)


def test_exp_rom_by_hand_and_against_math_exp():
    rom = exp_rom(10, 4)
    assert rom.shape == (256,) and rom[0] == 1024 and rom[16] == 377 and rom[255] == 0
    for f, g in [(4, 0), (10, 5), (16, 15)]:
        assert exp_rom(f, g).tolist() == [math.floor(2**f * math.exp(-j / 2**g) + 0.5) for j in range(256)]


# --------------------------------------------------------------------------- whole rows, EXAQ


def test_small_rows_exhaustive_against_spec():
    """All 4096 rows of three 4-bit logits, at clips from 1 to the maximum, both tops."""
    x = np.array(np.meshgrid(*[np.arange(-8, 8)] * 3, indexing="ij")).reshape(3, -1).T
    for top in ("exp", "zero"):
        unit = ExaqSoftmax(in_bits=4, in_frac=2, bits=2, lut_frac=4, out_frac=4, max_len=3, top=top)
        for clip in (1, 5, 12, 31):
            assert_row_matches_spec(unit, x, np.full(len(x), clip), top)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_random_rows_against_spec(bits):
    rng = np.random.default_rng(bits)
    unit = ExaqSoftmax(bits=bits, max_len=100)
    x = np.clip(np.rint(rng.normal(0, 24, (40, 100))), -128, 127).astype(np.int64)
    assert_row_matches_spec(unit, x, rng.integers(1, unit.max_clip + 1, 40))


def test_counts_sum_equals_per_element_sum():
    rng = np.random.default_rng(1)
    unit = ExaqSoftmax(bits=3, max_len=512)
    x = rng.integers(-128, 128, (20, 512))
    r = unit.row(x, rng.integers(1, 512, 20))
    assert np.array_equal(r.S, r.e.sum(axis=1))
    assert np.array_equal(r.counts.sum(axis=1), np.full(20, 512))
    assert np.all(r.S >= 2**unit.lut_frac)


def test_one_row_and_batch_agree():
    unit = ExaqSoftmax()
    x = np.random.default_rng(2).integers(-128, 128, (3, 50))
    batch = unit.row(x, [40, 50, 60])
    for i, clip in enumerate((40, 50, 60)):
        one = unit.row(x[i], clip)
        assert np.isscalar(one.S) and one.codes.shape == (50,)
        for name in ("max", "codes", "e", "counts", "S", "R", "y"):
            assert np.array_equal(getattr(one, name), getattr(batch, name)[i]), name
    assert np.array_equal(unit.softmax(x, 50), unit.row(x, 50).y)


def test_length_one_row():
    for unit in (ExaqSoftmax(max_len=1), ExaqSoftmax(top="zero"), SoftmaxFixed(max_len=4096)):
        r = unit.row([-77], 33) if isinstance(unit, ExaqSoftmax) else unit.row([-77])
        assert r.S == 2**unit.lut_frac and r.R == 2 ** (unit.q - unit.lut_frac) and r.y.tolist() == [2**unit.out_frac]
        assert r.R.item().bit_length() == unit.recip_bits and r.y[0].item().bit_length() == unit.out_bits


@pytest.mark.parametrize("max_len", [1000, 1024])
def test_all_equal_rows(max_len):
    """Every code 0, S = L 2**F; y is 2**O / L rounded half up for every L (the truncation of R is
    below 1/(4L), less than the distance from 2**O / L to a half-integer)."""
    unit = ExaqSoftmax(max_len=max_len)
    for length in range(1, max_len + 1):
        r = unit.row(np.full(length, 5), 20)
        assert r.codes.max() == 0 and r.S == length * 2**unit.lut_frac
        assert r.y.tolist() == [(2 ** (unit.out_frac + 1) + length) // (2 * length)] * length
    assert (max_len * 2**unit.lut_frac).bit_length() == unit.sum_bits


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_all_but_one_clipped(bits):
    unit = ExaqSoftmax(bits=bits, max_len=64)
    zero = ExaqSoftmax(bits=bits, max_len=64, top="zero")
    x = np.array([100] + [100 - 50] * 63)  # distance 50 (3.125) >= C = 40 (2.5): the top code
    r, rz = unit.row(x, 40), zero.row(x, 40)
    top = 2**bits - 1
    assert r.codes[1:].tolist() == [top] * 63 and r.counts[top] == 63
    assert r.S == 1024 + 63 * unit.lut(40)[top]
    assert r.y[0] == round(Fraction(2**10 * 1024, r.S))
    assert rz.S == 1024 and rz.y.tolist() == [1024] + [0] * 63


# ------------------------------------------------------------------------------ normalisation


@pytest.mark.parametrize("lut_frac, out_frac, max_len", [(4, 4, 1), (4, 4, 3), (4, 5, 8), (5, 4, 13), (6, 6, 16)])
def test_normalisation_bound_exhaustive(lut_frac, out_frac, max_len):
    """Every sum 2**F <= S <= max_len 2**F and every e <= min(S, 2**F):
    |y - 2**O e / S| < 3/4 (so <= 1), y <= 2**O, and the reciprocal's truncation costs the row
    less than 1/4 unit: 0 <= 2**O - S R / 2**(Q-O) < 1/4."""
    q = norm_shift(lut_frac, out_frac, max_len)
    s = np.arange(2**lut_frac, max_len * 2**lut_frac + 1)
    e = np.arange(2**lut_frac + 1)
    s_grid, e_grid = np.meshgrid(s, e, indexing="ij")
    keep = e_grid <= s_grid
    s_grid, e_grid = s_grid[keep], e_grid[keep]
    r = reciprocal(s_grid, q)
    y = normalise(e_grid, r, q, out_frac)
    err = y * s_grid - 2**out_frac * e_grid  # (y - 2**O e / S) S, exact
    assert np.all(4 * np.abs(err) < 3 * s_grid)
    assert np.all(y <= 2**out_frac)
    bias = 2**q - s * reciprocal(s, q)  # (2**O - S R / 2**(Q-O)) 2**(Q-O)
    assert np.all(bias >= 0) and np.all(4 * bias < 2 ** (q - out_frac))


def test_output_bound_on_real_rows():
    """|y_i - 2**O LUT[code_i] / S| <= 1 on random rows (the tighter < 3/4 in exact arithmetic)."""
    rng = np.random.default_rng(3)
    for bits in (2, 3, 4):
        unit = ExaqSoftmax(bits=bits, out_frac=6, lut_frac=8, max_len=300)
        r = unit.row(rng.integers(-128, 128, (50, 300)), rng.integers(1, 200, 50))
        assert np.all(4 * np.abs(r.y * r.S[:, None] - 2**6 * r.e) < 3 * r.S[:, None])


# ---------------------------------------------------------------------------------- baseline


def spec_baseline_row(x, in_frac, g, lut_frac, out_frac, max_len):
    m = max(x)
    index = [min(255, (m - v) >> (in_frac - g)) for v in x]
    e = [math.floor(2**lut_frac * math.exp(-j / 2**g) + 0.5) for j in index]
    r, y = spec_normalise(e, sum(e), lut_frac, out_frac, max_len)
    return m, index, e, sum(e), r, y


@pytest.mark.parametrize(
    "in_bits, in_frac, g", [(8, 4, None), (8, 4, 0), (8, 6, 2), (12, 8, 8), (16, 15, 5), (4, 0, 0)]
)
def test_baseline_rows_against_spec(in_bits, in_frac, g):
    rng = np.random.default_rng(in_bits + in_frac)
    unit = SoftmaxFixed(in_bits=in_bits, in_frac=in_frac, max_len=64, exp_index_frac=g)
    assert unit.exp_index_frac == (min(in_frac, 5) if g is None else g)
    x = rng.integers(-(2 ** (in_bits - 1)), 2 ** (in_bits - 1), (30, 64))
    r = unit.row(x)
    for i, row in enumerate(x.tolist()):
        m, index, e, s, rr, y = spec_baseline_row(row, in_frac, unit.exp_index_frac, 10, 10, 64)
        assert (r.max[i], r.S[i], r.R[i]) == (m, s, rr)
        assert r.index[i].tolist() == index and r.e[i].tolist() == e and r.y[i].tolist() == y
    assert np.array_equal(unit.softmax(x), r.y)


def test_baseline_index_by_hand():
    # in_frac 4, G 2: the distance loses its 2 low bits; 300 (= 1200 >> 2) saturates at 255.
    unit = SoftmaxFixed(in_bits=12, in_frac=4, exp_index_frac=2)
    assert unit.row([1000, 993, 992, -200]).index.tolist() == [0, 1, 2, 255]


# ------------------------------------------------------------------- float quantizer and rules


def test_quantizer_by_hand():
    d = np.array([0.0, -0.4, -0.5, -1.0, -5.0])
    # C = 3, 2 bits: levels 0, -1, -2, -3; -0.5 is a tie: rint(2.5) from lo = -3 is 2, i.e. -1.
    assert exaq_quantize(d, 3.0, 2).tolist() == [0.0, 0.0, -1.0, -1.0, -3.0]
    # C = 10 beyond the row's min -5: the range is the row's own, step 5/3.
    assert exaq_quantize(d + 7, 10.0, 2).tolist() == pytest.approx([0, 0, 0, -5 / 3, -5])
    assert exaq_quantize([[2.0, 2.0]], 1.0, 3).tolist() == [[0.0, 0.0]]
    assert exaq_quantize(d, 0.0, 2).tolist() == [0.0] * 5
    masked = exaq_quantize([0.0, -1.0, 7.0], 3.0, 2, valid=[1, 1, 0])
    assert masked.tolist() == [0.0, -1.0, -np.inf]


def test_fixed_point_codes_match_float_quantizer_with_reference_clip():
    """With the per-row clip min(C, row range), the unit's codes are the float quantizer's levels
    (except at exact ties, which the float rint sends to even and the unit rounds up)."""
    rng = np.random.default_rng(4)
    for bits in (2, 3, 4):
        unit = ExaqSoftmax(bits=bits, max_len=40)
        n = 2**bits - 1
        spans = rng.integers(1, 100, (200, 1))  # rows narrower and wider than the clip 64
        x = (rng.random((200, 40)) * spans).astype(np.int64) - 50
        clips = unit.reference_clip(x, 64)
        codes = unit.codes(x, clips)
        q = exaq_quantize(x / 16, 64 / 16, bits)
        step = clips[:, None] / (16 * n)
        float_codes = np.rint(-q / step).astype(np.int64)
        nd = x.max(axis=1, keepdims=True) - x
        tie = (2 * n * nd - clips[:, None]) % (2 * clips[:, None]) == 0
        assert np.array_equal(codes[~tie], float_codes[~tie])
        assert np.all(codes[tie] - float_codes[tie] <= 1) and np.any(clips < 64) and np.any(clips == 64)
    assert ExaqSoftmax().reference_clip([3, 3, 3], 50) == 1


def test_closed_forms_by_hand_and_masking():
    row = np.array([[0.0, -2.0, 9.0]])
    valid = np.array([[True, True, False]])
    # std of (0, -2) is 1; mean |d - mean| is 1.
    assert gaussian_clip(row, 2, valid).tolist() == pytest.approx([1.66 + 1.85])
    assert gaussian_clip(row[:, :2], 3).tolist() == pytest.approx([1.75 + 2.06])
    assert gaussian_clip([[1.0, 1.0]], 4).tolist() == pytest.approx([2.27])
    assert laplace_clip(row, 2, valid).tolist() == pytest.approx([4.01 + 1.77])
    assert laplace_clip(np.array([0.0, -4.0]), 4) == pytest.approx(6.82 * 2 + 0.15)
    z = synthetic_rows("gauss", 1.0, 50, 3, seed=5)
    padded = np.concatenate([z, np.full((3, 10), -np.inf)], axis=1)
    mask = np.arange(60) < 50
    mask = np.broadcast_to(mask, (3, 60))
    assert gaussian_clip(padded, 3, mask) == pytest.approx(gaussian_clip(z, 3), rel=1e-12)
    assert grid_search_clip(padded, 2, mask) == grid_search_clip(z, 2)


def test_grid_search_is_the_best_of_99_candidates():
    z = synthetic_rows("gauss", 1.5, 40, 8, seed=6)
    span = float(-(z - z.max(axis=1, keepdims=True)).min())
    candidates = [span * j / 99 for j in range(99, 0, -1)]  # the reference's order: from min(d) up
    mse = [softmax_mse(z, c, 3) for c in candidates]
    assert grid_search_clip(z, 3) == pytest.approx(candidates[int(np.argmin(mse))], rel=1e-12)
    assert grid_search_clip(np.zeros((2, 5)), 2) == 0.0


def test_calibrator_averages_the_first_calls_then_stays_fixed():
    for rule, bits in (("gauss", 3), ("laplace", 4), ("grid", 2)):
        calibrator = ClipCalibrator(bits, rule, calls=3)
        calls = [synthetic_rows("gauss", s, 30, 4, seed=7) for s in (0.5, 1.0, 2.0, 4.0)]
        clips = [calibrator(z) for z in calls]
        assert calibrator.calibrated and len(calibrator.clips) == 3
        assert clips[3] == pytest.approx(np.mean(clips[:3]))
        assert calibrator(calls[0]) == clips[3]
        if rule == "gauss":
            assert clips[0] == pytest.approx(np.mean(gaussian_clip(calls[0], 3)))
    assert ClipCalibrator(2).calls == CALIBRATION_CALLS


def test_error_measures_by_hand():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.5, 0.25])
    assert kl_divergence(p, q) == pytest.approx(0.5 * math.log(2))
    assert kl_divergence(q, p) == np.inf
    assert max_abs_error(p, q) == 0.25
    assert softmax_float([[0.0, math.log(3.0)]])[0].tolist() == pytest.approx([0.25, 0.75])
    assert softmax_float([0.0, 5.0], valid=[1, 0]).tolist() == [1.0, 0.0]


# -------------------------------------------------------------- clipping rules vs grid search
#
# Tolerance: a clip agrees with the grid optimum when the RMS softmax error it gives is within
# a quarter of a bit of the optimum's, 0.5 log2(MSE / MSE_opt) < 0.25 (RMS error within 19%).
# One more code bit is worth about one bit (0.96 and 0.93, checked below), so that is a quarter of
# what a code bit buys; seed to seed, the cost of a fixed clip moves by about 0.1 bit at sigma = 1.


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_rules_and_table_agree_with_grid_at_unit_sigma(bits):
    c = clip_check("gauss", 1.01, bits, length=128, n_rows=128, seed=0)
    assert c.rule_bits < 0.25 and c.table_bits < 0.25
    assert c.table == TABULATED_OPTIMA[1.01][bits - 2]
    assert abs(c.grid - c.table) < 0.3  # measured 2.94 / 3.61 / 3.99 vs 3.183 / 3.559 / 3.910


def test_one_code_bit_is_worth_about_one_bit_of_rms_error():
    z = synthetic_rows("gauss", 1.01, 128, 128, seed=0)
    best = [softmax_mse(z, grid_search_clip(z, b), b) for b in (2, 3, 4)]
    for coarse, fine in zip(best, best[1:]):
        assert 0.75 < 0.5 * math.log2(coarse / fine) < 1.25


def test_two_bit_rule_agrees_at_sigma_two():
    assert clip_check("gauss", 2.02, 2, length=128, n_rows=128, seed=0).rule_bits < 0.25


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_table_saturates_below_the_softmax_optimum_at_large_sigma(bits):
    """docs/exaq_softmax.md: at sigma = 5 the tabulated clip (about 5-6) is far below the
    grid optimum (7-9 at L = 128) and costs more than half a bit."""
    c = clip_check("gauss", 5.05, bits, length=128, n_rows=128, seed=0)
    assert c.grid > c.table + 1 and c.table_bits > 0.5


@pytest.mark.parametrize("bits", (2, 3, 4))
@pytest.mark.parametrize("sigma", sorted(TABULATED_OPTIMA))
def test_reference_objective_reproduces_the_spec_table(sigma, bits):
    """Our reading of the reference's table: MSE of e^d, analytic rounding term (Delta = C/2^b),
    rows of 256 Gaussian logits. SPEC's three rows come out within 5% at every width."""
    assert reference_objective_clip(sigma, bits) == pytest.approx(TABULATED_OPTIMA[sigma][bits - 2], rel=0.05)


@pytest.mark.parametrize("bits", (2, 3, 4))
def test_reference_table_saturates_and_the_closed_form_does_not(bits):
    table = reference_table(bits)
    assert np.all(np.diff(table) >= -1e-12)                      # never decreasing in sigma
    assert table[-1] - np.interp(5.05, TABLE_SIGMAS, table) < 0.5   # levels off (5 -> 10: < 0.5)
    assert gaussian_clip(synthetic_rows("gauss", 10.0, 256, 8, 0), bits).mean() > 2 * table[-1]


def test_gap_density_counts_the_elements_below_the_maximum():
    for length in (2, 16, REFERENCE_TABLE_LENGTH):
        assert gap_density(length).sum() * 0.005 == pytest.approx(length - 1, rel=3e-3)  # the grid starts at 0.005
    # Two elements: the gap of two standard normals is half-normal with sigma sqrt(2): K(u) = 2 phi_sqrt2(u).
    u = 0.005 * np.arange(1, 3201)
    expected = 2 * np.exp(-u * u / 4) / math.sqrt(4 * math.pi)
    np.testing.assert_allclose(gap_density(2), expected, atol=1e-9)


def test_exp_objective_by_hand_and_the_table_is_its_grid_minimum():
    # sigma so small that every element lies within a clip of 10: no clipping term, pure rounding.
    j = exp_mse_objective(1e-3, 2, np.array([10.0]), 4)
    k = gap_density(4) * 0.005
    u = 0.005 * np.arange(1, 3201)
    assert j[0] == pytest.approx(np.sum(k * np.exp(-2e-3 * u)) * (10 / 4) ** 2 / 12, rel=1e-12)
    all_j = exp_mse_objective(2.02, 3, TABLE_CANDIDATES)
    assert reference_objective_clip(2.02, 3) == TABLE_CANDIDATES[np.argmin(all_j)]
    assert reference_objective_clip(0.0, 3) == 0.0


def test_table_clip_interpolates_per_row_and_at_the_row_length():
    z = synthetic_rows("gauss", 2.02, 256, 4, 3)
    sigma = z.std(axis=1)
    np.testing.assert_allclose(table_clip(z, 2), np.interp(sigma, TABLE_SIGMAS, reference_table(2)))
    valid = np.ones(z.shape, dtype=bool)
    valid[0, 10:] = False    # a row of 10 elements: its own table
    own = table_clip(z, 2, valid, length=None)
    assert own[0] == pytest.approx(np.interp(z[0, :10].std(), TABLE_SIGMAS, reference_table(2, 10)))
    assert own[0] < table_clip(z[:1, :10], 2)[0]    # short rows want a smaller clip
    calibrator = ClipCalibrator(2, "table", calls=1)
    assert calibrator(z) == pytest.approx(table_clip(z, 2).mean())


def test_measured_errors_order():
    """The unit's KL tracks the float quantizer's (closely once the table has 14 fractional bits);
    more bits, less error; the baseline is the most accurate."""
    for lut_frac, rel in ((10, 0.1), (14, 0.02)):
        rows = {(r.model, r.bits): r for r in measure_errors(2.0, length=64, n_rows=32, lut_frac=lut_frac)}
        for bits in (2, 3, 4):
            fixed, flt = rows[("EXAQ fixed, top=exp", bits)], rows[("EXAQ float", bits)]
            assert fixed.kl == pytest.approx(flt.kl, rel=rel)
            assert fixed.kl_reverse == pytest.approx(flt.kl_reverse, rel=rel)
            assert rows[("EXAQ fixed, top=zero", bits)].kl == np.inf
        kl = [rows[("EXAQ fixed, top=exp", bits)].kl for bits in (2, 3, 4)]
        assert kl[0] > kl[1] > kl[2]
        assert rows[("baseline", None)].kl_reverse < 0.1 * rows[("EXAQ fixed, top=exp", 4)].kl_reverse


# ------------------------------------------------------------------------------ bad arguments


@pytest.mark.parametrize(
    "make, match",
    [
        # the registry's line for bits (EXAQ_BITS.check, the one declaration of its range)
        (lambda: ExaqSoftmax(bits=5), r"^bits=5 is out of range: bits must be an integer in 2\.\.4$"),
        (lambda: exaq_lut(10, 1, 4, 10), r"^bits=1 is out of range: bits must be an integer in 2\.\.4$"),
        (lambda: ExaqSoftmax(in_bits=3), r"^in_bits=3 is out of range: in_bits must be an integer in 4\.\.16$"),
        (lambda: ExaqSoftmax(in_bits=8, in_frac=8), r"^in_frac=8 is out of range: .* 0\.\.7 \(in_bits=8\)$"),
        (lambda: ExaqSoftmax(lut_frac=17), "^lut_frac=17 "),
        (lambda: ExaqSoftmax(out_frac=3), "^out_frac=3 "),
        (lambda: ExaqSoftmax(max_len=4097), r"^max_len=4097 is out of range: .* 1\.\.4096$"),
        (lambda: ExaqSoftmax(top="one"), "^top='one' is not allowed"),
        (lambda: ExaqSoftmax().row([1, 2], 0), r"^clip is out of range: must hold integers in 1\.\.511"),
        (lambda: ExaqSoftmax().row([1, 2], 512), "^clip is out of range"),
        (lambda: ExaqSoftmax().row([1, 2], 2.5), "^clip must hold integers"),
        (lambda: ExaqSoftmax().row(np.zeros((2, 3), int), [1, 2, 3]), r"^clip must be one integer or one per row"),
        (lambda: ExaqSoftmax(max_len=4).row([1, 2, 3, 4, 5], 9), r"^x rows must have 1\.\.4 elements \(max_len=4\)"),
        (lambda: ExaqSoftmax().row([], 9), "^x rows must have"),
        (lambda: ExaqSoftmax().row([128], 9), r"^x is out of range: must hold integers in -128\.\.127"),
        (lambda: ExaqSoftmax().codes([1.5], 9), "^x must hold integers"),
        (lambda: ExaqSoftmax().codes(np.zeros((1, 1, 1), int), 9), r"^x must be one row \(L,\) or a batch"),
        (lambda: ExaqSoftmax().lut(0), "^clip is out of range"),
        (lambda: ExaqSoftmax().fixed_clip(-1.0), "^clip=-1.0 is out of range"),
        (lambda: ExaqSoftmax().fixed_clip(np.nan), "^clip must be finite"),
        (lambda: exaq_lut(10, 2, 4, 10, top="inf"), "^top='inf' "),
        (lambda: SoftmaxFixed(exp_index_frac=5), r"^exp_index_frac=5 is out of range: .* 0\.\.4 \(in_frac=4\)"),
        (lambda: SoftmaxFixed(max_len=0), "^max_len=0 "),
        (lambda: SoftmaxFixed(max_len=2).row([1, 2, 3]), "^x rows must have"),
        (lambda: laplace_clip([0.0, -1.0], 3), r"^bits=3 is not allowed: bits must be one of 2, 4$"),
        (lambda: gaussian_clip([0.0, -1.0], 1), "^bits=1 "),
        (lambda: gaussian_clip([0.0, np.nan], 2), "^z must be finite at valid positions"),
        (lambda: gaussian_clip([[0.0, 1.0]], 2, valid=[[0, 0]]), "^valid must leave at least one position"),
        (lambda: gaussian_clip([[0.0, 1.0]], 2, valid=[1, 1, 1]), "^valid must have the shape"),
        (lambda: exaq_quantize([0.0, -1.0], -1.0, 2), "^clip must be >= 0"),
        (lambda: exaq_quantize(np.zeros((2, 3)), [1.0, 2.0, 3.0], 2), "^clip must be one value or one per row"),
        (lambda: grid_search_clip([0.0, -1.0], 2, n_grid=0), "^n_grid=0 "),
        (lambda: ClipCalibrator(3, rule="laplace"), "^bits=3 is not allowed"),
        (lambda: ClipCalibrator(2, rule="avg"), "^rule='avg' is not allowed"),
        (lambda: ClipCalibrator(2, calls=0), "^calls=0 "),
        (lambda: synthetic_rows("uniform", 1.0, 4, 4, 0), "^kind='uniform' "),
    ],
)
def test_bad_arguments_name_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()
