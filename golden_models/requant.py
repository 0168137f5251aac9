"""Golden model of ``requant``: scale an integer by ``M / 2**s``, round half up, saturate.

The scale-and-round step between the stages of a quantized layer (docs/requant.md): an
accumulator ``a`` (signed, ``acc_bits`` wide) with a real scale ``r`` becomes a signed
``out_bits`` code by ``r ~ M / 2**s``, ``M`` an unsigned ``m_bits`` integer, ``s`` in 0..63:

    requant(a, M, s) = clamp(floor((a M + 2**(s-1)) / 2**s), -2**(out_bits-1), 2**(out_bits-1) - 1)

Round half up (towards +infinity) and saturating: our choice (docs/requant.md says why). For
``s = 0`` the formula is ``a M`` exactly (``2**-1`` added to an integer never reaches the next
one). It is computed as ``floor(floor(a M / 2**(s-1)) + 1) / 2)``, the same value (nested
floor divisions by powers of two), so that ``2**(s-1)`` is never added to a 64-bit product:
with ``acc_bits + m_bits <= 64`` every intermediate fits in int64.

:func:`requant_pair` chooses ``(M, s)`` for a real scale: ``M`` normalised to
``2**(m_bits-1) <= M < 2**m_bits`` where ``s`` allows it.
"""

import math

import numpy as np

from lowbit.core.unit_params import M_BITS, REQUANT_ACC_BITS, REQUANT_OUT_BITS, requant_widths
from lowbit.core.widths import signed_range, unsigned_range

from ._checks import ParameterError, check_int, int_array

__all__ = ["MAX_SHIFT", "SHIFT_BITS", "requant", "requant_pair", "Requant"]

SHIFT_BITS = 6
MAX_SHIFT = (1 << SHIFT_BITS) - 1   # s in 0..63
MAX_ACC_BITS, MAX_M_BITS, MAX_OUT_BITS = REQUANT_ACC_BITS.hi, M_BITS.hi, REQUANT_OUT_BITS.hi


def requant(a, m, s, out_bits):
    """``clamp(floor((a M + 2**(s-1)) / 2**s))`` to signed ``out_bits``, elementwise.

    Inputs: ``a`` integers (any shape); ``m`` unsigned integers and ``s`` integers in 0..63,
    each broadcast against ``a`` (one per element, per channel or one for all); ``out_bits``
    in 2..32. ``|a| M`` must stay below 2**63 (``acc_bits + m_bits <= 64``).
    Output: int64, the broadcast shape, in ``signed_range(out_bits)``.
    """
    out_bits = REQUANT_OUT_BITS.check(out_bits)
    a = int_array("a", a, *signed_range(MAX_ACC_BITS))
    m = int_array("m", m, *unsigned_range(MAX_M_BITS))
    s = int_array("s", s, 0, MAX_SHIFT)
    try:
        a, m, s = np.broadcast_arrays(a, m, s)
    except ValueError:
        raise ParameterError(f"a, m and s must broadcast together, got shapes {a.shape}, {m.shape}, {s.shape}") from None
    big = np.abs(a).astype(np.float64) * m.astype(np.float64)
    if a.size and big.max() >= 2.0**63:
        raise ParameterError("a * m must stay below 2**63 in magnitude (acc_bits + m_bits <= 64)")
    product = a * m
    # floor(x / 2**(s-1)) for s >= 1; for s = 0 the product itself, doubled so that the
    # common "+1 then halve" step below returns it unchanged.
    halved = np.where(s >= 1, product >> np.maximum(s - 1, 0), 0)
    y = np.where(s >= 1, (halved + 1) >> 1, product)
    lo, hi = signed_range(out_bits)
    return np.clip(y, lo, hi).astype(np.int64)


def requant_pair(scale, m_bits=16, max_shift=MAX_SHIFT):
    """The pair ``(M, s)`` with ``M / 2**s`` nearest to a real ``scale > 0``.

    ``M`` is normalised to ``2**(m_bits-1) <= M <= 2**m_bits - 1`` (``m_bits`` significant
    bits) and ``s = m_bits - 1 - floor(log2 scale)``; where that ``s`` leaves 0..max_shift, it
    is limited and ``M`` rounded at that ``s`` (a scale too small gives ``M = 0``, one too
    large saturates ``M``). ``M`` is ``round(scale 2**s)``, ties to even; a rounding up to
    ``2**m_bits`` moves to ``(2**(m_bits-1), s-1)``. Output: (int M, int s).
    """
    m_bits = M_BITS.check(m_bits)
    max_shift = check_int("max_shift", max_shift, 0, MAX_SHIFT)
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ParameterError(f"scale={scale!r} is out of range: a requant scale must be a finite real > 0")
    _, e = math.frexp(scale)               # scale = f 2**e, 0.5 <= f < 1
    s = m_bits - e
    s = min(max(s, 0), max_shift)
    m = round(math.ldexp(scale, s))
    if m >= 1 << m_bits:
        if s > 0 and m == 1 << m_bits:
            m, s = 1 << (m_bits - 1), s - 1
        else:
            m = (1 << m_bits) - 1
    return int(m), int(s)


class Requant:
    """Model of the ``requant`` unit: ``lanes`` accumulators scaled by one ``(M, s)`` per beat.

    Parameters: ``acc_bits`` in 2..48 (signed inputs), ``m_bits`` in 1..32 (unsigned M),
    ``acc_bits + m_bits <= 64``; ``out_bits`` in 2..32, below ``acc_bits + m_bits``.
    ``s`` is always 6 bits (0..63).
    """

    def __init__(self, *, acc_bits=32, m_bits=16, out_bits=8):
        self.acc_bits, self.m_bits, self.product_bits, self.out_bits = requant_widths(
            acc_bits, m_bits, out_bits)

    def __repr__(self):
        return f"Requant(acc_bits={self.acc_bits}, m_bits={self.m_bits}, out_bits={self.out_bits})"

    def requant(self, acc, m, s):
        """Inputs: ``acc`` integers (beats, lanes) or any shape in the signed ``acc_bits`` range;
        ``m`` in 0..2**m_bits - 1 and ``s`` in 0..63, broadcast against ``acc`` (one per beat:
        shape (beats, 1)). Output: int64, signed ``out_bits`` codes."""
        acc = int_array("acc", acc, *signed_range(self.acc_bits))
        m = int_array("m", m, *unsigned_range(self.m_bits))
        return requant(acc, m, s, self.out_bits)
