"""Binary tensor core array, INT8 array and the WpAq quantizer, against formulas written from the spec."""

from fractions import Fraction

import numpy as np
import pytest

from lowbit.golden_models.abq import (
    QuantizedTensor,
    dequantize,
    quantize_activations,
    quantize_weights,
    quantized_linear,
)
from lowbit.golden_models.accumulator import wrap_signed
from lowbit.golden_models.btc_array import (
    BtcArray,
    bitplanes,
    passes,
    plane_weights,
    recombine,
    zero_point_correction,
)
from lowbit.golden_models.int_array import IntArray

SIGNS = [(False, False), (False, True), (True, False), (True, True)]


def code_range(bits, signed):
    """The spec's code range: two's complement (top plane -2**(bits-1)) or unsigned."""
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def random_operands(rng, rows, cols, K, w_range, a_range):
    """Random W (rows, K), A (K, cols), with W's first two rows and A's first two columns at the
    range ends, so the four extreme products all appear (rows, cols >= 2)."""
    W = rng.integers(w_range[0], w_range[1] + 1, (rows, K))
    A = rng.integers(a_range[0], a_range[1] + 1, (K, cols))
    W[0], W[1] = w_range
    A[:, 0], A[:, 1] = a_range
    return W, A


def mse(a, b):
    return float(np.mean((a - b) ** 2) / np.mean(b**2))


# ------------------------------------------------------------------------------------ bit planes


def test_bitplanes_by_hand():
    assert bitplanes([-2, -1, 0, 1], 2, True).tolist() == [[0, 1, 0, 1], [1, 1, 0, 0]]
    assert bitplanes([[5]], 3, False).tolist() == [[[1]], [[0]], [[1]]]
    # p = 1 signed: the single plane is the sign plane, so the codes are 0 and -1.
    assert bitplanes([0, -1], 1, True).tolist() == [[0, 1]]
    assert recombine([[0, 1]], True).tolist() == [0, -1]
    assert bitplanes([3], 2, False).dtype == np.uint8


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("bits", range(1, 9))
def test_bitplanes_exhaustive(bits, signed):
    lo, hi = code_range(bits, signed)
    codes = np.arange(lo, hi + 1)
    planes = bitplanes(codes, bits, signed)
    patterns = [format(c % 2**bits, f"0{bits}b")[::-1] for c in codes.tolist()]  # bit i at index i
    assert planes.shape == (bits, codes.size)
    assert planes.T.tolist() == [[int(b) for b in s] for s in patterns]
    assert recombine(planes, signed).tolist() == codes.tolist()


def test_plane_weights_by_hand():
    assert plane_weights(2, 2, True, True).tolist() == [[1, -2], [-2, 4]]
    assert plane_weights(2, 3, False, True).tolist() == [[1, 2, -4], [2, 4, -8]]
    assert plane_weights(1, 1, True, False).tolist() == [[-1]]
    assert plane_weights(3, 1, False, False).tolist() == [[1], [2], [4]]


# ---------------------------------------------------------------------------------------- array


def test_popcounts_against_loops():
    """Each cell's count per (weight plane, activation plane, slice), by Python loops; a 12-bit
    slice is not a whole number of bytes."""
    rng = np.random.default_rng(1)
    arr = BtcArray(rows=3, cols=2, k_slice=12, p_max=3, q_max=2)
    W, A = random_operands(rng, 3, 2, 36, code_range(3, True), code_range(2, False))
    counts = arr.popcounts(W, A, p=3, q=2, w_signed=True, a_signed=False)
    Wl, Al = (W % 8).tolist(), A.tolist()
    expected = [
        [
            [
                [
                    [sum((Wl[r][k] >> i) & (Al[k][c] >> j) & 1 for k in range(12 * s, 12 * s + 12)) for c in range(2)]
                    for r in range(3)
                ]
                for s in range(3)
            ]
            for j in range(2)
        ]
        for i in range(3)
    ]
    assert counts.dtype == np.int64 and counts.tolist() == expected


@pytest.mark.parametrize("w_signed, a_signed", SIGNS)
def test_matmul_every_precision(w_signed, a_signed):
    """p, q in 1..8, against NumPy's integer matmul; a non-square array catches transpositions."""
    rng = np.random.default_rng(2 * w_signed + a_signed)
    arr = BtcArray(rows=3, cols=5, k_slice=32)
    for p in range(1, 9):
        for q in range(1, 9):
            W, A = random_operands(rng, 3, 5, 96, code_range(p, w_signed), code_range(q, a_signed))
            out = arr.matmul(W, A, p=p, q=q, w_signed=w_signed, a_signed=a_signed)
            assert out.dtype == np.int64 and out.shape == (3, 5)
            assert np.array_equal(out, W @ A), (p, q)


def test_matmul_by_hand():
    # W2 signed (-2..1) x A2 unsigned (0..3), K = 2: [-2, 1] . [3, 2] = -4; [1, -1] . [3, 2] = 1.
    arr = BtcArray(rows=2, cols=1, k_slice=2, p_max=2, q_max=2)
    assert arr.matmul([[-2, 1], [1, -1]], [[3], [2]], p=2, q=2, w_signed=True, a_signed=False).tolist() == [[-4], [1]]


@pytest.mark.parametrize("w_signed, a_signed", SIGNS)
def test_matmul_wraps_to_acc_bits(w_signed, a_signed):
    rng = np.random.default_rng(3)
    arr = BtcArray(rows=4, cols=4, k_slice=16, acc_bits=17)  # the narrowest for 8 x 8 planes
    W, A = random_operands(rng, 4, 4, 256, code_range(8, w_signed), code_range(8, a_signed))
    out = arr.matmul(W, A, p=8, q=8, w_signed=w_signed, a_signed=a_signed)
    assert np.array_equal(out, wrap_signed(W @ A, 17))
    assert np.any(out != W @ A), "the extreme rows and columns overflow 17 bits"


def test_max_exact_k_by_hand():
    arr = BtcArray()  # acc_bits = 32
    assert arr.max_exact_k(8, 8, False, False) == (2**31 - 1) // (255 * 255) == 33025
    assert arr.max_exact_k(8, 8, True, True) == (2**31 - 1) // 2**14 == 131071
    assert arr.max_exact_k(2, 8, False, False) == (2**31 - 1) // (3 * 255)
    assert arr.max_exact_k(8, 8, True, False) == 2**31 // (128 * 255)  # the negative end binds


@pytest.mark.parametrize("w_signed, a_signed", SIGNS)
@pytest.mark.parametrize("p, q", [(1, 1), (2, 8), (3, 5), (8, 8)])
def test_max_exact_k_is_tight(p, q, w_signed, a_signed):
    """At max_exact_k no corner product sum wraps; one k deeper, one does."""
    arr = BtcArray(rows=2, cols=2, k_slice=1, acc_bits=18)
    (w_lo, w_hi), (a_lo, a_hi) = code_range(p, w_signed), code_range(q, a_signed)
    k_max = arr.max_exact_k(p, q, w_signed, a_signed)
    for K, exact in ((k_max, True), (k_max + 1, False)):
        W = np.array([[w_lo] * K, [w_hi] * K])
        A = np.array([[a_lo, a_hi]] * K)  # the four corners: (w_lo|w_hi) x (a_lo|a_hi)
        out = arr.matmul(W, A, p=p, q=q, w_signed=w_signed, a_signed=a_signed)
        assert np.array_equal(out, W @ A) == exact, K


def test_min_acc_bits():
    assert BtcArray().min_acc_bits == 17  # 255 x 255 = 65025 needs 17 signed bits
    assert BtcArray(p_max=4, q_max=8).min_acc_bits == 13  # 15 x 255 = 3825; -8 x 255 = -2040
    assert BtcArray(p_max=1, q_max=1).min_acc_bits == 2  # products -1..1


def test_passes_and_throughput():
    arr = BtcArray()  # 4 x 4, k_slice 64
    assert arr.passes(2, 8, 4096) == 2 * 8 * 64 == passes(2, 8, 4096, 64)
    assert arr.passes(1, 1, 64) == 1 and arr.passes(8, 8, 64) == 64
    assert arr.macs_per_cycle(2, 8) == 4 * 4 * 64 / 16 == 64
    assert arr.macs_per_cycle(1, 1) == 1024 and arr.macs_per_cycle(8, 8) == 16
    assert arr.macs_per_cycle(3, 8) == Fraction(128, 3)  # 4 x 4 x 64 / 24, kept exact
    assert IntArray().passes(4096) == 4096 and IntArray().macs_per_cycle() == 16


def test_zero_point_correction_is_the_centred_product():
    rng = np.random.default_rng(4)
    for p, q, K in [(2, 8, 128), (4, 4, 64), (8, 8, 256), (1, 3, 64)]:
        W, A = rng.integers(0, 2**p, (4, K)), rng.integers(0, 2**q, (K, 4))
        zw, za = rng.integers(0, 2**p, 4), rng.integers(0, 2**q, 4)
        raw = BtcArray(k_slice=64).matmul(W, A, p=p, q=q, w_signed=False, a_signed=False)
        out = zero_point_correction(raw, W, A, zw, za)
        assert out.dtype == np.int64
        assert np.array_equal(out, (W - zw[:, None]) @ (A - za[None, :]))


# -------------------------------------------------------------------------------- INT8 baseline


def test_int_array_against_np_matmul():
    rng = np.random.default_rng(5)
    W, A = random_operands(rng, 3, 6, 200, (-128, 127), (-128, 127))
    out = IntArray(rows=3, cols=6).matmul(W, A)
    assert out.dtype == np.int64 and np.array_equal(out, W @ A)


def test_int_array_wraps():
    # Two (-128) x (-128) products: 32768 wraps to -32768 at 16 bits.
    out = IntArray(rows=1, cols=1, acc_bits=16).matmul([[-128, -128]], [[-128], [-128]])
    assert out.tolist() == [[-32768]]


# ------------------------------------------------------------------------------------- quantizer


def gaussian(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def test_quantizer_by_hand():
    # Range [-1, 2], p = 2: scale 3/3 = 1, zero point rint(1 * 3 / 3) = 1; 0.5 rounds to even (0).
    q = quantize_weights([[-1.0, 0.0, 0.5, 2.0]], 2, n_grid=1)
    assert q.codes.tolist() == [[0, 1, 1, 3]]
    assert q.scales.tolist() == [[1.0]] and q.zeros.tolist() == [[1]] and q.code_bits == 2
    # A row without negative values still holds 0: range [0, 3], zero point 0.
    q = quantize_activations([[1.0, 3.0]], 2)
    assert q.codes.tolist() == [[1, 3]] and q.zeros.tolist() == [[0]] and q.scales.tolist() == [[1.0]]
    z = quantize_weights(np.zeros((1, 4)), 3)
    assert z.scales.tolist() == [[1.0]] and z.zeros.tolist() == [[0]] and z.codes.tolist() == [[0] * 4]


def test_weight_error_decreases_with_bits_and_search_helps():
    w = gaussian((128, 256))
    errors = [mse(dequantize(*quantize_weights(w, p)[:3]), w) for p in range(1, 9)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    for p in (2, 4):
        rtn = mse(dequantize(*quantize_weights(w, p, n_grid=1)[:3]), w)
        assert errors[p - 1] <= rtn
    grouped = quantize_weights(w, 4, group_size=32)
    assert grouped.scales.shape == grouped.zeros.shape == (128, 8)
    assert mse(dequantize(*grouped[:3]), w) < errors[3]


def test_activation_error_decreases_with_bits():
    x = gaussian((32, 256), seed=1) * np.exp(gaussian(256, seed=2))  # channels of different spread
    errors = [mse(dequantize(*quantize_activations(x, q)[:3]), x) for q in range(1, 9)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    xq = quantize_activations(x, 8)
    assert xq.scales.shape == xq.zeros.shape == (32, 1) and xq.codes.max() <= 255


@pytest.mark.parametrize("p", [1, 2, 3])
def test_bit_balance_is_a_symmetric_grid(p):
    half = np.abs(gaussian((16, 64), seed=3))
    w = np.hstack([half, -half])  # every row's range is [-m, m]
    q = quantize_weights(w, p, balanced=True, n_grid=1)
    assert q.code_bits == p + 1 and q.codes.max() == 2**p
    assert np.all(q.zeros == 2 ** (p - 1))  # the middle code: levels -2**(p-1) .. 2**(p-1)
    levels = set((q.codes - q.zeros).ravel().tolist())
    assert levels == set(range(-(2 ** (p - 1)), 2 ** (p - 1) + 1))


def test_bit_balance_beats_plain_two_bit():
    # Measured (128 x 256 Gaussian): W2 0.145, W2* 0.082, W3 0.039 relative MSE.
    w = gaussian((128, 256))
    plain, balanced, three = (
        mse(dequantize(*quantize_weights(w, p, balanced=b)[:3]), w) for p, b in ((2, False), (2, True), (3, False))
    )
    assert three < balanced < 0.7 * plain


def test_quantized_linear_is_the_dequantized_product():
    x, w = gaussian((8, 128), seed=4), gaussian((16, 128), seed=5)
    xq, wq = quantize_activations(x, 8), quantize_weights(w, 2, group_size=32, balanced=True)
    out = quantized_linear(xq, wq)
    assert out.raw.shape == out.centred.shape == (4, 16, 8) and out.raw.dtype == np.int64
    np.testing.assert_allclose(out.y, dequantize(*xq[:3]) @ dequantize(*wq[:3]).T, rtol=1e-12, atol=1e-12)
    for g in range(4):
        cols = slice(32 * g, 32 * g + 32)
        Wc, Ac = wq.codes[:, cols], xq.codes[:, cols].T
        assert np.array_equal(out.raw[g], Wc @ Ac)
        centred = (Wc - wq.zeros[:, g : g + 1]) @ (Ac - xq.zeros[:, 0][None, :])
        assert np.array_equal(out.centred[g], centred)


def test_raw_product_is_a_btc_job():
    """Tiles of the quantizer's raw product through the array: W2* codes take 3 planes."""
    x, w = gaussian((8, 128), seed=6), gaussian((8, 128), seed=7)
    xq, wq = quantize_activations(x, 8), quantize_weights(w, 2, balanced=True)
    raw = quantized_linear(xq, wq).raw[0]
    arr = BtcArray(rows=4, cols=4, k_slice=64)
    for r in (0, 4):
        for c in (0, 4):
            tile = arr.matmul(wq.codes[r : r + 4], xq.codes[c : c + 4].T, p=3, q=8, w_signed=False, a_signed=False)
            assert np.array_equal(tile, raw[r : r + 4, c : c + 4])


def test_output_error_decreases_with_weight_bits():
    x, w = gaussian((64, 256), seed=8), gaussian((96, 256), seed=9)
    exact = x @ w.T
    xq = quantize_activations(x, 8)

    def err(p, balanced=False):
        return mse(quantized_linear(xq, quantize_weights(w, p, balanced=balanced)).y, exact)

    errors = [err(p) for p in (2, 3, 4, 8)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert err(2, balanced=True) < errors[0]


# ---------------------------------------------------------------------------------- bad arguments


def job(W=None, A=None, arr=None, **kw):
    """One BtcArray job on a default 4 x 4 array: zero operands with K = 64, W2A2 unsigned
    unless ``kw`` says otherwise."""
    W = np.zeros((4, 64), int) if W is None else W
    A = np.zeros((64, 4), int) if A is None else A
    return (arr or BtcArray()).matmul(W, A, **{"p": 2, "q": 2, "w_signed": False, "a_signed": False, **kw})


def _tensor(codes, scales, zeros, bits=8):
    return QuantizedTensor(np.array(codes), np.array(scales), np.array(zeros), bits)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: BtcArray(rows=0), r"^rows=0 is out of range: rows must be an integer in 1\.\.256$"),
        (lambda: BtcArray(cols=257), "^cols=257 "),
        (lambda: BtcArray(k_slice=0), r"^k_slice=0 is out of range: k_slice must be an integer in 1\.\.4096$"),
        (lambda: BtcArray(p_max=17), "^p_max=17 "),
        (lambda: BtcArray(q_max=0), "^q_max=0 "),
        (lambda: BtcArray(acc_bits=16), r"^acc_bits=16 is out of range: .* 17\.\.64 \(one 8 x 8-bit product\)$"),
        (lambda: BtcArray(acc_bits=True), "^acc_bits=True is not an integer"),
        (lambda: job(arr=BtcArray(p_max=4), p=5, q=8), r"^p=5 is out of range: .* 1\.\.4$"),
        (lambda: job(q=9), "^q=9 "),
        (lambda: job(w_signed="yes"), "^w_signed='yes' is not allowed"),
        (lambda: job(np.full((4, 64), 2), w_signed=True), r"^W is out of range: must hold integers in -2\.\.1"),
        (lambda: job(A=np.full((64, 4), -1)), r"^A is out of range: must hold integers in 0\.\.3"),
        (lambda: job(np.zeros((4, 64))), "^W must hold integers"),
        (lambda: job(np.zeros((3, 64), int)), r"^W must have shape \(4, K\)"),
        (lambda: job(A=np.zeros((64, 5), int)), r"^A must have shape \(K, 4\)"),
        (lambda: job(A=np.zeros((32, 4), int)), "^W and A must share K"),
        (lambda: job(np.zeros((4, 96), int), np.zeros((96, 4), int)), r"^K=96 .* multiple of k_slice=64$"),
        (lambda: BtcArray().passes(2, 2, 100), r"^K=100 .* multiple of k_slice=64$"),
        (lambda: BtcArray().passes(0, 2, 64), "^p=0 "),
        (lambda: passes(2, 2, 0, 64), r"^K=0 is out of range: K must be an integer in 1\.\."),
        (lambda: passes(2, 2, 64, 0), "^k_slice=0 "),
        (lambda: BtcArray().max_exact_k(2, 2, False, 2), "^a_signed=2 is not allowed"),
        (lambda: bitplanes([4], 2, False), r"^x is out of range: must hold integers in 0\.\.3"),
        (lambda: bitplanes([0], 0, False), "^bits=0 "),
        (lambda: recombine([[2]], False), r"^planes is out of range: must hold integers in 0\.\.1"),
        (lambda: recombine(np.zeros((17, 2), int), False), r"^planes must have shape \(bits, \.\.\.\)"),
        (lambda: plane_weights(0, 1, False, False), "^p=0 "),
        (lambda: zero_point_correction(np.zeros((2, 2), int), np.zeros((2, 3), int), np.zeros((4, 2), int),
                                       [0, 0], [0, 0]), "^W .* and A .* must share K"),
        (lambda: zero_point_correction(np.zeros((2, 2), int), np.zeros((2, 3), int), np.zeros((3, 2), int),
                                       [0, 0, 0], [0, 0]), r"^zw must have shape \(2,\)"),
        (lambda: zero_point_correction(np.zeros((2, 2), int), np.full((2, 3), -1), np.zeros((3, 2), int),
                                       [0, 0], [0, 0]), "^W is out of range"),
        (lambda: IntArray(acc_bits=15), r"^acc_bits=15 is out of range: .* 16\.\.64 \(one INT8 x INT8 product\)$"),
        (lambda: IntArray().matmul(np.full((4, 2), 128), np.zeros((2, 4), int)), r"^W is out of range: .* -128\.\.127"),
        (lambda: IntArray().matmul(np.zeros((4, 0), int), np.zeros((0, 4), int)),
         r"^W must have shape \(4, K\) with K >= 1"),
        (lambda: IntArray().passes(0), "^K=0 "),
        (lambda: quantize_weights(np.ones((2, 4)), 0), r"^bits=0 is out of range: bits must be an integer in 1\.\.8$"),
        (lambda: quantize_weights(np.ones((2, 4)), 9), "^bits=9 "),
        (lambda: quantize_weights(np.ones((2, 6)), 4, group_size=4), "^group_size=4 is not allowed: .* divide in=6$"),
        (lambda: quantize_weights(np.ones((2, 6)), 4, group_size=0), "^group_size=0 "),
        (lambda: quantize_weights(np.ones((2, 6)), 4, n_grid=0), "^n_grid=0 "),
        (lambda: quantize_weights(np.ones((2, 6)), 4, balanced="no"), "^balanced='no' is not allowed"),
        (lambda: quantize_weights(np.ones(6), 4), "^w must be a non-empty 2-D matrix"),
        (lambda: quantize_weights(np.full((2, 2), np.nan), 4), "^w must be finite"),
        (lambda: quantize_activations(np.ones((2, 4)), 9), "^bits=9 "),
        (lambda: quantize_activations(np.ones((0, 4)), 8), "^x must be a non-empty 2-D matrix"),
        (lambda: dequantize([[0, 1]], [[1.0], [1.0]], [[0], [0]]), r"^dequantize: scales and zeros must have shape"),
        (lambda: dequantize([[0, 1, 2]], [[1.0, 1.0]], [[0, 0]]), "^dequantize: .* n_groups dividing cols"),
        (lambda: dequantize([[0, 257]], [[1.0]], [[0]]), r"^codes is out of range: must hold integers in 0\.\.256"),
        (lambda: quantized_linear(_tensor([[0, 1]], [[1.0, 1.0]], [[0, 0]]), _tensor([[0, 1]], [[1.0]], [[0]])),
         "^xq must have one scale per token"),
        (lambda: quantized_linear(_tensor([[0, 1]], [[1.0]], [[0]]), _tensor([[0, 1, 2]], [[1.0]], [[0]])),
         "^xq and wq must share in"),
    ],
)
def test_bad_arguments_name_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ------------------------------------------------------------------ plane packing (the hardware's operand layout)

from lowbit.golden_models.btc_array import acc_bits_for, job_beats, pack_planes, unpack_planes  # noqa: E402


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("k_slice", [8, 13, 32])
def test_pack_planes_round_trip_and_layout(bits, signed, k_slice):
    rng = np.random.default_rng(bits * 100 + k_slice)
    lo, hi = code_range(bits, signed)
    x = rng.integers(lo, hi + 1, (3, 2 * k_slice))
    x[0, :2] = lo, hi  # both ends of the range
    words = pack_planes(x, bits, signed, k_slice)
    assert np.array_equal(unpack_planes(words, signed, k_slice), x)
    # The layout, spelled out: bit t of words[s][b][r] is bit b of code x[r, s * k_slice + t].
    for s in range(2):
        for b in range(bits):
            for r in range(3):
                want = sum(((int(x[r, s * k_slice + t]) >> b) & 1) << t for t in range(k_slice))
                assert words[s][b][r] == want


def test_pack_planes_by_hand():
    # Signed 2-bit codes (-2, 1, -1, 0): plane 0 = bits (0, 1, 1, 0), plane 1 = (1, 0, 1, 0).
    assert pack_planes([[-2, 1, -1, 0]], 2, True, 4) == [[[0b0110], [0b0101]]]
    with pytest.raises(ValueError, match="x is out of range"):
        pack_planes([[4]], 2, False, 1)
    with pytest.raises(ValueError, match="multiple of k_slice"):
        pack_planes([[1, 0, 1]], 1, False, 2)


@pytest.mark.parametrize("p, q", [(1, 1), (2, 8), (3, 5), (5, 3), (8, 2)])
def test_job_beats_carry_every_plane_once(p, q):
    rng = np.random.default_rng(p * 10 + q)
    ks, S = 16, 3
    W = rng.integers(-(2 ** (p - 1)), 2 ** (p - 1), (2, ks * S))
    A = rng.integers(0, 2**q, (ks * S, 3))
    beats = job_beats(W, A, p=p, q=q, w_signed=True, a_signed=False, k_slice=ks)
    n = max(p, q)
    assert len(beats) == n * S and [b["last"] for b in beats] == [0] * (n * S - 1) + [1]
    w_words, a_words = pack_planes(W, p, True, ks), pack_planes(A.T, q, False, ks)
    for k, beat in enumerate(beats):
        s, b = divmod(k, n)
        assert beat["w"] == (w_words[s][b] if b < p else [0, 0])
        assert beat["a"] == (a_words[s][b] if b < q else [0, 0, 0])
        assert (beat["p"], beat["q"], beat["w_signed"], beat["a_signed"]) == (p, q, 1, 0)


@pytest.mark.parametrize("k_max, p, q", [(512, 8, 8), (64, 3, 5), (256, 1, 1), (2048, 2, 8)])
def test_acc_bits_for_is_tight(k_max, p, q):
    bits = acc_bits_for(k_max, p, q)
    ends = [e * k_max for ws in (0, 1) for as_ in (0, 1)
            for e in (min(code_range(p, ws)[i] * code_range(q, as_)[j] for i in (0, 1) for j in (0, 1)),
                      max(code_range(p, ws)[i] * code_range(q, as_)[j] for i in (0, 1) for j in (0, 1)))]
    assert -(2 ** (bits - 1)) <= min(ends) and max(ends) <= 2 ** (bits - 1) - 1
    assert min(ends) < -(2 ** (bits - 2)) or max(ends) > 2 ** (bits - 2) - 1  # one bit fewer fails


def test_model_with_max_slices_derives_acc_bits_and_bounds_k():
    model = BtcArray(rows=2, cols=2, k_slice=32, p_max=8, q_max=8, max_slices=16)
    assert model.k_max == 512 and model.acc_bits == acc_bits_for(512, 8, 8) == 26
    W, A = np.full((2, 512), 255), np.full((512, 2), 255)
    assert np.array_equal(model.matmul(W, A, p=8, q=8, w_signed=False, a_signed=False), W @ A)
    with pytest.raises(ValueError, match="at most max_slices x k_slice = 512"):
        model.matmul(np.zeros((2, 544), int), np.zeros((544, 2), int), p=1, q=1, w_signed=False, a_signed=False)
