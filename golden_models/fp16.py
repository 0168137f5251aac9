"""binary16 bit-pattern helpers shared by the dequantizer golden models.

Integer arithmetic on the 16-bit patterns only; the special values follow NumPy's float16
multiplication (see docs/pot.md).
"""

import numpy as np

from ._checks import int_array

__all__ = ["MANT_BITS", "BIAS", "SIGN_SHIFT", "EXP_FIELD_MAX", "INF", "QUIET_BIT",
           "DEFAULT_NAN", "split_fp16", "significand", "shift_rne", "scales_array",
           "with_specials"]

MANT_BITS = 10
BIAS = 15
SIGN_SHIFT = 15  # the sign is bit 15
EXP_FIELD_MAX = 31  # all ones: infinity (mantissa 0) or NaN
INF = EXP_FIELD_MAX << MANT_BITS  # 0x7C00, the magnitude bits of infinity
QUIET_BIT = 1 << (MANT_BITS - 1)  # 0x0200, the top mantissa bit marks a quiet NaN
DEFAULT_NAN = 0xFE00
# A shift this long already sends every significand (< 2**16 here) to 0 with the round bit 0;
# capping it keeps NumPy's shifts inside the int64 width, where they are defined.
_MAX_SHIFT = 40


def split_fp16(bits):
    """Fields of FP16 bit patterns.

    Inputs: int64 array of patterns 0..65535. Output: (``sign`` 0/1, ``exp_field`` 0..31,
    ``mant`` 0..1023), int64 arrays of the input's shape.
    """
    return bits >> SIGN_SHIFT, (bits >> MANT_BITS) & EXP_FIELD_MAX, bits & ((1 << MANT_BITS) - 1)


def significand(exp_field, mant):
    """The integer significand ``M`` and the exponent ``k`` with value ``M x 2**k`` (finite inputs).

    A normal number (field 1..30) gets its hidden bit: M = 1024 + mant, k = field - 25; a
    subnormal or zero (field 0) has no hidden bit and the exponent of field 1: M = mant,
    k = -24. Inputs and outputs: int64 arrays.
    """
    normal = exp_field > 0
    return mant + (normal.astype(np.int64) << MANT_BITS), np.maximum(exp_field, 1) - (BIAS + MANT_BITS)


def shift_rne(x, n):
    """``x x 2**-n`` rounded to the nearest integer, ties to even.

    Inputs: ``x`` non-negative int64 array below 2**20; ``n`` int64 array (broadcast with ``x``),
    any sign: ``n <= 0`` is an exact left shift. Output: int64 array.
    """
    right = np.clip(n, 0, _MAX_SHIFT)
    q = x >> right
    twice_rem = (x - (q << right)) << 1
    half_ulp = np.int64(1) << right  # twice the remainder against 2**n: no fraction for n = 0
    round_up = (twice_rem > half_ulp) | ((twice_rem == half_ulp) & (q & 1 == 1))
    return np.where(n < 0, x << np.clip(-n, 0, _MAX_SHIFT), q + round_up)


def scales_array(scales_bits):
    """FP16 scale patterns as an int64 array, refusing anything but integers in 0..65535."""
    return int_array("scales_bits", scales_bits, 0, (1 << 16) - 1)


def with_specials(finite_bits, sign, scale_bits, weight_is_zero):
    """Attach the sign and override the results of an infinite or NaN scale.

    Inputs (int64 / bool arrays, broadcast): ``finite_bits`` the magnitude pattern computed
    as if the scale were finite, ``sign`` 0/1 the xor of both signs, ``scale_bits`` the scale
    patterns, ``weight_is_zero`` where the weight is 0. Output: uint16 FP16 patterns.
    """
    _, exp_field, mant = split_fp16(scale_bits)
    special = exp_field == EXP_FIELD_MAX
    out = (sign << SIGN_SHIFT) | finite_bits
    infinite = np.where(weight_is_zero, DEFAULT_NAN, (sign << SIGN_SHIFT) | INF)
    out = np.where(special, np.where(mant == 0, infinite, scale_bits | QUIET_BIT), out)
    return out.astype(np.uint16)
