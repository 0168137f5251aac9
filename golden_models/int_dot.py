"""Golden model of ``int_dot``: an N-lane signed weight x signed activation dot product per beat.

It is the baseline of ``pot_dot``; :class:`LaneDot` holds what the two share: the lane and
activation parameters, the widths, and the exact lane sums.
"""

import numpy as np

from lowbit.core.unit_params import ACT_BITS, MODEL_LANES, WEIGHT_BITS
from lowbit.core.widths import signed_bits_for, signed_range, sum_bits

from ._checks import ParameterError, int_array

__all__ = ["MAX_LANES", "product_range", "LaneDot", "IntDot"]

MAX_LANES = MODEL_LANES.hi   # the model's lanes (lowbit.core.unit_params), wider than the hardware's


def product_range(w_lo, w_hi, act_bits):
    """The closed range ``(lo, hi)`` of ``w * a`` over weights ``w_lo..w_hi`` and signed ``act_bits`` ``a``.

    A product of two intervals reaches its extremes at their end points, so four products
    bound it exactly.
    """
    a_lo, a_hi = signed_range(act_bits)
    corners = [w * a for w in (w_lo, w_hi) for a in (a_lo, a_hi)]
    return min(corners), max(corners)


def _beats(name, values, lanes):
    """Check that ``values`` (an int64 array) has shape (beats, lanes)."""
    if values.ndim != 2 or values.shape[1] != lanes:
        raise ParameterError(f"{name} must have shape (beats, {lanes}), got shape {values.shape}")
    return values


class LaneDot:
    """The part of the N-lane dot-product models that does not depend on the weight format.

    Parameters: ``lanes`` in 1..1024, ``act_bits`` in 2..16 (two's complement activations),
    ``w_lo``..``w_hi`` the integer weight operands the lanes multiply by.
    Attributes: ``lanes``, ``act_bits``, ``product_bits`` (fewest signed bits of one lane's
    product) and ``sum_bits`` (fewest signed bits holding any sum of ``lanes`` products; the
    bound is reached, with every lane at the same extreme product).
    """

    def __init__(self, lanes, act_bits, w_lo, w_hi):
        self.lanes = MODEL_LANES.check(lanes)
        self.act_bits = ACT_BITS.check(act_bits)
        lo, hi = product_range(w_lo, w_hi, self.act_bits)
        self.product_bits = signed_bits_for(lo, hi)
        self.sum_bits = sum_bits(lo, hi, self.lanes)

    def lane_sums(self, name, weights, acts):
        """Exact per-beat sums of ``weights * acts`` over the lanes.

        Inputs: ``weights`` int64 (beats, lanes), already range-checked (``name`` is the
        caller's argument name, for errors); ``acts`` integers (beats, lanes) in the signed
        ``act_bits`` range. Output: int64 (beats,), each in ``signed_range(sum_bits)``.
        """
        acts = _beats("acts", int_array("acts", acts, *signed_range(self.act_bits)), self.lanes)
        weights = _beats(name, weights, self.lanes)
        if weights.shape != acts.shape:
            raise ParameterError(f"{name} and acts must have the same shape, got {weights.shape} and {acts.shape}")
        return np.einsum("ij,ij->i", weights, acts)  # int64: |sum| < 2**43, no overflow


class IntDot(LaneDot):
    """Model of the INT x INT dot product: ``lanes`` signed weights times signed activations per beat.

    Parameters: ``lanes`` in 1..1024; ``weight_bits``, ``act_bits`` in 2..16. Weights are
    given as signed values. Attributes: ``product_bits``, ``sum_bits`` (see :class:`LaneDot`).
    """

    def __init__(self, *, lanes=8, weight_bits=4, act_bits=8):
        self.weight_bits = WEIGHT_BITS.check(weight_bits)
        super().__init__(lanes, act_bits, *signed_range(self.weight_bits))

    def dot(self, weights, acts):
        """Inputs: ``weights`` integers (beats, lanes) in the signed ``weight_bits`` range;
        ``acts`` integers (beats, lanes) in the signed ``act_bits`` range.
        Output: int64 (beats,), the exact dot product of each beat."""
        return self.lane_sums("weights", int_array("weights", weights, *signed_range(self.weight_bits)), acts)
