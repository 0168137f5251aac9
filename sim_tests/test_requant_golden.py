"""The requant golden model (golden_models/requant.py) against the formula in Python integers:
exhaustive on a narrow corner, seeded random at full width, and the choice of (M, s)."""

import math

import numpy as np
import pytest

from lowbit.core.params import ParameterError
from lowbit.golden_models.requant import Requant, requant, requant_pair


def formula(a, m, s, bits):
    """clamp(floor((a M + 2**(s-1)) / 2**s)) as (2 a M + 2**s) // 2**(s+1): exact for s = 0 too."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return min(hi, max(lo, (2 * a * m + (1 << s)) // (1 << (s + 1))))


def test_exhaustive_narrow():
    a = np.arange(-128, 128)
    for s in range(0, 64):
        for m in range(0, 16):
            got = requant(a, m, s, 5)
            assert got.tolist() == [formula(int(v), m, s, 5) for v in a], (m, s)


@pytest.mark.parametrize("acc_bits, m_bits, out_bits", [(32, 16, 8), (48, 16, 12), (40, 24, 32), (2, 1, 2)])
def test_random_full_width(acc_bits, m_bits, out_bits):
    rng = np.random.default_rng(acc_bits * 100 + m_bits)
    n = 4000
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    a = rng.integers(lo, hi, n, endpoint=True)
    a[:4] = [lo, hi, 0, -1]
    m = rng.integers(0, (1 << m_bits) - 1, n, endpoint=True)
    m[:2] = (1 << m_bits) - 1
    s = rng.integers(0, 63, n, endpoint=True)
    got = Requant(acc_bits=acc_bits, m_bits=m_bits, out_bits=out_bits).requant(a, m, s)
    assert got.tolist() == [formula(int(x), int(y), int(z), out_bits) for x, y, z in zip(a, m, s)]


def test_round_half_up_and_saturation():
    assert requant([1, -1, 3, -3], 1, 1, 8).tolist() == [1, 0, 2, -1]     # halves go towards +inf
    assert requant([10**6, -10**6], 1 << 15, 10, 8).tolist() == [127, -128]


def test_per_channel_broadcast():
    a = np.arange(12).reshape(3, 4) - 6
    m = np.array([1, 2, 3, 4])
    s = np.array([0, 1, 2, 3])
    assert requant(a, m, s, 8).tolist() == [[formula(int(a[i, j]), int(m[j]), int(s[j]), 8) for j in range(4)]
                                            for i in range(3)]


@pytest.mark.parametrize("scale", [1e-7, 3.3e-4, 0.0123, 0.5, 0.999999, 1.0, 7.25, 1000.0])
def test_requant_pair_is_normalised_and_close(scale):
    m, s = requant_pair(scale, 16)
    assert 1 << 15 <= m < 1 << 16 and 0 <= s <= 63
    assert abs(m / 2**s - scale) <= 2.0**-16 * scale


def test_requant_pair_limits():
    assert requant_pair(2.0**-80, 16) == (0, 63)          # below what s = 63 reaches: M = 0
    assert requant_pair(2.0**20, 16) == ((1 << 16) - 1, 0)  # above 2**16 - 1: saturated
    m, s = requant_pair(math.nextafter(1.0, 0.0), 8)     # rounds up to 2**8: renormalised
    assert (m, s) == (128, 7)


@pytest.mark.parametrize("kwargs, word", [(dict(acc_bits=49), "acc_bits"), (dict(acc_bits=48, m_bits=17), "m_bits"),
                                          (dict(out_bits=1), "out_bits"), (dict(acc_bits=4, m_bits=2, out_bits=6), "out_bits")])
def test_bad_parameters(kwargs, word):
    with pytest.raises(ParameterError, match=word):
        Requant(**kwargs)


def test_bad_inputs():
    with pytest.raises(ParameterError, match="s is out of range"):
        requant([1], 1, 64, 8)
    with pytest.raises(ParameterError, match="acc"):
        Requant(acc_bits=8).requant([200], 1, 0)
    with pytest.raises(ParameterError, match="scale"):
        requant_pair(0.0)
