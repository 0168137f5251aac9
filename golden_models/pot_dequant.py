"""Golden model of ``pot_dequant``: PoT code + FP16 scale -> FP16 weight, by exponent arithmetic.

The result is defined as NumPy float16 arithmetic, bit for bit:
``np.float16((-1)**s) * np.float16(2.0**-e) * scale`` for a power-of-two code, and
``np.float16(0.0) * scale`` for the zero code. ``(-1)**s x 2**-e`` is exact in FP16 (2**-15 is
a subnormal), so the result is the exact product rounded once to nearest, ties to even.

The model computes it as the hardware does, with no multiplier: the sign is ``s`` xor the
scale's sign, and multiplying by 2**-e subtracts e from the scale's exponent field. That is
exact while the field stays >= 1; below, the result is subnormal, and the significand (with
its hidden bit) is shifted right, rounding to nearest even, which may also give 0 or carry
back into the smallest normal. Scales that are themselves subnormal take the same path with
field 1 and no hidden bit. Special values, as NumPy (see
:mod:`lowbit.golden_models.int4_dequant`): a NaN scale gives ``scale | 0x0200``; an infinite
scale gives ±infinity, or the quiet NaN 0xFE00 for the zero code (0 x inf); a zero scale
gives a zero with the xor of the signs; the zero code gives a zero with the scale's sign.
"""

import numpy as np

from ._checks import int_array
from .fp16 import MANT_BITS, scales_array, shift_rne, significand, split_fp16, with_specials
from .pot import PotFormat, pot_fields

__all__ = ["PotDequant"]


class PotDequant:
    """Model of the PoT -> FP16 dequantizer.

    Parameters: ``bits`` and ``zero_code`` select the :class:`~lowbit.golden_models.pot.PotFormat`.
    Attribute: ``format``.
    """

    def __init__(self, *, bits=4, zero_code=True):
        self.format = PotFormat(bits, zero_code)

    def dequant(self, codes, scales_bits):
        """FP16 patterns of ``value(code) x scale``, equal to the NumPy float16 product bit for bit.

        Inputs: ``codes`` integers in 0 .. 2**bits - 1; ``scales_bits`` integers 0..65535, FP16
        patterns (broadcast against ``codes``). Output: uint16 FP16 patterns of the broadcast shape.
        """
        fmt = self.format
        codes = int_array("codes", codes, 0, fmt.n_codes - 1)
        scale_bits = scales_array(scales_bits)
        sign, e = pot_fields(codes, fmt.bits)
        is_zero = (e == fmt.exp_max) & fmt.zero_code
        scale_sign, exp_field, mant = split_fp16(scale_bits)
        m, _ = significand(exp_field, mant)
        field = np.maximum(exp_field, 1) - e  # the exponent field of the product, if >= 1
        # Normal: (field - 1) << 10 plus the significand with its hidden bit is the pattern
        # with exponent field `field`. Subnormal: the quantum is that of field 1, so the
        # significand moves right by 1 - field.
        finite = np.where(field >= 1, ((field - 1) << MANT_BITS) + m, shift_rne(m, 1 - field))
        finite = np.where(is_zero, 0, finite)
        return with_specials(finite, np.where(is_zero, 0, sign) ^ scale_sign, scale_bits, is_zero)
