"""Golden model of ``int4_dequant``: INT4 code x FP16 scale -> FP16 weight, and the FP16 helpers.

The result is defined as NumPy's ``np.float16(code) * scale``: the exact product rounded once
to FP16, to nearest with ties to even (a float16 product of two float16 values has at most 22
significant bits, so NumPy's multiply through float32 is exact before its one rounding). The
model computes it with integer arithmetic only, as the baseline dequantizer of ``pot_dequant``
does in hardware: int-to-float conversion of the code, an 11 x 4-bit significand product,
normalisation, round to nearest even (subnormal results included), overflow to infinity.

FP16 bit patterns travel as integers 0..65535 (sign bit 15, exponent field bits 14..10 with
bias 15, mantissa bits 9..0). The helpers below (field split, rounding shift, special values)
are shared with :mod:`lowbit.golden_models.pot_dequant`.

Special values follow NumPy on x86-64, checked exhaustively by the tests:

- a NaN scale gives the same NaN made quiet: ``scale | 0x0200`` (sign and payload kept);
- 0 x infinity is the invalid operation; it gives ``DEFAULT_NAN`` = 0xFE00, the x86 "real
  indefinite" quiet NaN with the sign bit set (other CPUs may give 0x7E00; we fix 0xFE00);
- otherwise the sign is the xor of both signs, zeros and infinities included.
"""

import numpy as np

from ._checks import int_array
from .fp16 import (BIAS, DEFAULT_NAN, EXP_FIELD_MAX, INF, MANT_BITS, QUIET_BIT, SIGN_SHIFT,
                   scales_array, shift_rne, significand, split_fp16, with_specials)

__all__ = [
    "MANT_BITS",
    "SIGN_SHIFT",
    "EXP_FIELD_MAX",
    "INF",
    "QUIET_BIT",
    "DEFAULT_NAN",
    "split_fp16",
    "significand",
    "shift_rne",
    "scales_array",
    "with_specials",
    "Int4Dequant",
]

def _bit_length(x):
    """Bits needed for each non-negative int64 below 2**53 (0 for 0), exactly, via frexp."""
    return np.frexp(x.astype(np.float64))[1].astype(np.int64)


def _round_to_fp16(p, k):
    """The FP16 magnitude pattern of ``p x 2**k``, rounded to nearest even.

    Inputs: int64 arrays, ``p`` in 0 .. 2**16 - 1, ``k`` any exponent. Output: int64 patterns
    0..0x7C00 (0x7C00 = infinity on overflow).
    The result's exponent field is that of the leading bit of p, or 1 if that is below the
    normal range (a subnormal result); its quantum is then 2**(field - 25), so p is shifted
    by field - 25 - k. Adding (field - 1) << 10 to the rounded significand q (1024..2048 for
    a normal result, 0..1024 for a subnormal one) gives the pattern, and a carry of the
    rounding (q = 2048, or 1024 from a subnormal) correctly bumps the exponent field.
    """
    field = np.maximum(_bit_length(p) + k + (BIAS - 1), 1)
    q = shift_rne(p, field - (BIAS + MANT_BITS) - k)
    bits = np.minimum(((field - 1) << MANT_BITS) + q, INF)  # beyond the largest finite: infinity
    return np.where(p == 0, 0, bits)


class Int4Dequant:
    """Model of the INT4 -> FP16 dequantizer (the baseline of ``pot_dequant``); no parameters."""

    def dequant(self, codes, scales_bits):
        """FP16 patterns of ``code x scale``, equal to ``np.float16(code) * scale`` bit for bit.

        Inputs: ``codes`` integers 0..15, the 4-bit two's complement patterns of -8..7;
        ``scales_bits`` integers 0..65535, FP16 patterns (broadcast against ``codes``).
        Output: uint16 FP16 patterns of the broadcast shape.
        The int-to-float conversion of -8..7 is exact, so its significand is the code's
        magnitude up to a power of two; the 4 x 11-bit product below is the product of the
        two significands, and normalising it is part of the final rounding.
        """
        codes = int_array("codes", codes, 0, 15)
        scale_bits = scales_array(scales_bits)
        value = np.where(codes >= 8, codes - 16, codes)
        scale_sign, exp_field, mant = split_fp16(scale_bits)
        m, k = significand(exp_field, mant)
        finite = _round_to_fp16(np.abs(value) * m, k)
        return with_specials(finite, (value < 0) ^ scale_sign, scale_bits, value == 0)
