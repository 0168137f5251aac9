"""The accumulator golden model against a plain Python-int loop written from the spec."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lowbit.golden_models.accumulator import accumulate, wrap_signed

INT64_LO, INT64_HI = -(1 << 63), (1 << 63) - 1


def reference(products, valid, clear, acc_bits, overflow):
    """The spec's per-cycle rule on Python ints; also counts the cycles that overflowed."""
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    acc, out, overflows = 0, [], 0
    for p, v, c in zip(products, valid, clear):
        exact = (0 if c else acc) + (int(p) if v else 0)
        if overflow == "wrap":
            acc = (exact - lo) % (1 << acc_bits) + lo
        else:
            acc = min(max(exact, lo), hi)
        overflows += acc != exact
        out.append(acc)
    return out, overflows


def run(products, valid, clear, acc_bits, overflow):
    return accumulate(np.array(products, dtype=np.int64), valid, clear, acc_bits=acc_bits, overflow=overflow)


# t:          0  1  2    3  4   5   6  7  8
PRODUCTS = [5, 7, 100, 3, -9, 50, 1, 4, 4]
VALID = [1, 1, 0, 1, 1, 1, 0, 0, 1]
CLEAR = [0, 0, 0, 1, 0, 1, 1, 0, 0]
# 5, 12, hold, clear+valid loads 3, 3-9, clear+valid loads 50, clear alone -> 0, hold 0, 4
EXPECTED = [5, 12, 12, 3, -6, 50, 0, 0, 4]


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_hand_written_sequence(overflow):
    out = run(PRODUCTS, VALID, CLEAR, 8, overflow)
    assert out.dtype == np.int64
    assert out.tolist() == EXPECTED


def test_bool_flags_same_as_integer_flags():
    out = run(PRODUCTS, np.array(VALID, bool), np.array(CLEAR, bool), 8, "wrap")
    assert out.tolist() == EXPECTED


@pytest.mark.parametrize(
    "overflow, expected",
    [
        # 100, 200 -> -56, 44, -84, -212 -> 44, -84
        ("wrap", [100, -56, 44, -84, 44, -84]),
        ("saturate", [100, 127, 127, -1, -128, -128]),
    ],
)
def test_hand_written_overflow(overflow, expected):
    products = [100, 100, 100, -128, -128, -128]
    assert run(products, [1] * 6, [0] * 6, 8, overflow).tolist() == expected


def test_saturate_recovers_from_the_rail_at_once():
    # A clamped accumulator forgets the excess: 127 - 1 = 126, not 200 - 1.
    out = run([100, 100, -1], [1, 1, 1], [0, 0, 0], 8, "saturate")
    assert out.tolist() == [100, 127, 126]


def test_empty_input():
    out = accumulate(np.zeros(0, np.int64), [], [], acc_bits=16)
    assert out.dtype == np.int64 and out.shape == (0,)


def random_stream(rng, n, product_bits, p_clear=0.002):
    lo, hi = -(1 << (product_bits - 1)), (1 << (product_bits - 1)) - 1
    products = rng.integers(lo, hi, n, endpoint=True, dtype=np.int64)
    # A slowly switching bias makes long runs drift into both rails in saturate mode.
    bias = np.where((np.arange(n) // 500) % 2 == 0, hi // 4, lo // 4)
    products = np.clip(products + bias, lo, hi)
    valid = rng.random(n) < 0.8
    clear = rng.random(n) < p_clear
    return products, valid, clear


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("acc_bits, product_bits", [(12, 12), (16, 12), (20, 16), (32, 28), (48, 46)])
def test_long_random_sequences(overflow, acc_bits, product_bits):
    rng = np.random.default_rng([acc_bits, product_bits, overflow == "wrap"])
    products, valid, clear = random_stream(rng, 50_000, product_bits)
    expected, overflows = reference(products.tolist(), valid.tolist(), clear.tolist(), acc_bits, overflow)
    assert overflows > 200, "the stream must cross the accumulator's range many times"
    out = accumulate(products, valid, clear, acc_bits=acc_bits, overflow=overflow)
    assert out.tolist() == expected


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_acc_bits_64_with_products_at_the_int64_limits(overflow):
    rng = np.random.default_rng(64)
    n = 20_000
    extremes = np.array([INT64_LO, INT64_HI, INT64_LO + 1, INT64_HI - 1, -1, 1], dtype=np.int64)
    products = np.where(
        rng.random(n) < 0.5,
        extremes[rng.integers(0, extremes.size, n)],
        rng.integers(INT64_LO, INT64_HI, n, endpoint=True, dtype=np.int64),
    )
    valid = rng.random(n) < 0.9
    clear = rng.random(n) < 0.01
    expected, overflows = reference(products.tolist(), valid.tolist(), clear.tolist(), 64, overflow)
    assert overflows > 1000
    assert accumulate(products, valid, clear, acc_bits=64, overflow=overflow).tolist() == expected


def test_saturate_is_fast_enough_for_long_streams():
    rng = np.random.default_rng(5)
    products, valid, clear = random_stream(rng, 100_000, 16)
    start = time.process_time()
    accumulate(products, valid, clear, acc_bits=20, overflow="saturate")
    assert time.process_time() - start < 1.0


int64s = st.integers(INT64_LO, INT64_HI)


@settings(max_examples=300, deadline=None)
@given(
    acc_bits=st.integers(1, 64),
    overflow=st.sampled_from(["wrap", "saturate"]),
    cycles=st.lists(st.tuples(int64s, st.booleans(), st.booleans()), max_size=40),
)
def test_matches_reference_for_any_width(acc_bits, overflow, cycles):
    products = [p for p, _, _ in cycles]
    valid = [v for _, v, _ in cycles]
    clear = [c for _, _, c in cycles]
    expected, _ = reference(products, valid, clear, acc_bits, overflow)
    out = accumulate(np.array(products, dtype=np.int64), np.array(valid, bool), np.array(clear, bool),
                     acc_bits=acc_bits, overflow=overflow)
    assert out.tolist() == expected


@settings(max_examples=200, deadline=None)
@given(bits=st.integers(1, 64), values=st.lists(int64s, min_size=1, max_size=20))
def test_wrap_signed(bits, values):
    lo = -(1 << (bits - 1))
    expected = [(v - lo) % (1 << bits) + lo for v in values]
    assert wrap_signed(np.array(values, dtype=np.int64), bits).tolist() == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(acc_bits=0), "^acc_bits=0 is out of range: acc_bits must be an integer in 1..64$"),
        (dict(acc_bits=65), "^acc_bits=65 "),
        (dict(acc_bits=True), "^acc_bits=True "),
        (dict(acc_bits=16.0), "^acc_bits=16.0 "),
        (dict(overflow="clip"), "^overflow='clip' is not allowed: overflow must be one of wrap, saturate$"),
        (dict(products=[1.5, 2.0, 0.0]), "^products must hold integers"),
        (dict(valid=[0, 2, 1]), "^valid is out of range"),
        (dict(clear=[0.0, 1.0, 0.0]), "^clear must hold integers"),
        (dict(clear=[0, 1]), "^inputs must have one entry per cycle"),
        (dict(products=[[1, 2, 3]]), "^products must be 1-D"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, match):
    args = dict(products=[1, 2, 3], valid=[1, 1, 1], clear=[0, 0, 0], acc_bits=16, overflow="wrap") | kwargs
    with pytest.raises(ValueError, match=match):
        accumulate(args.pop("products"), args.pop("valid"), args.pop("clear"), **args)
