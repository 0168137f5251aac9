"""Golden model of the accumulator shared by every MAC.

Per cycle ``t``, with product ``p[t]``, valid ``v[t]`` and clear ``c[t]``::

    acc[t] = overflow_op((0 if c[t] else acc[t-1]) + (p[t] if v[t] else 0)),   acc[-1] = 0

``overflow_op`` is ``wrap`` (two's complement wrap to ``acc_bits``) or ``saturate`` (clamp to
the signed ``acc_bits`` range, applied on every cycle). The model returns ``acc[t]`` for
every cycle, i.e. the register's value after the clock edge of cycle ``t``.
"""

import numpy as np

from lowbit.core.widths import signed_range

from lowbit.core.modes import Overflow
from lowbit.core.unit_params import OVERFLOW

from ._checks import check_int, flag_array, int_array, same_length

__all__ = ["MAX_ACC_BITS", "wrap_signed", "accumulate"]

MAX_ACC_BITS = 64

_INT64_LO, _INT64_HI = signed_range(64)


def _wrap_u64(u, bits):
    """Map uint64 residues mod 2**64 to their int64 representative mod 2**bits in the signed range.

    Reducing mod 2**64 first and mod 2**bits second is exact because 2**bits divides 2**64.
    """
    if bits == 64:
        return u.view(np.int64)
    low = (u & np.uint64((1 << bits) - 1)).view(np.int64)  # in 0 .. 2**bits - 1 < 2**63
    sign = np.int64(1 << (bits - 1))
    # Flipping the sign bit and subtracting its weight sign-extends from `bits` bits.
    return (low ^ sign) - sign


def wrap_signed(values, bits):
    """Wrap integers to a ``bits``-wide two's complement register.

    Inputs: ``values`` an integer array (int64 range), ``bits`` in 1..64.
    Output: int64 array of the same shape, each entry congruent to its input mod 2**bits and
    inside ``signed_range(bits)``.
    """
    bits = check_int("bits", bits, 1, MAX_ACC_BITS)
    v = int_array("values", values, _INT64_LO, _INT64_HI)
    return _wrap_u64(v.view(np.uint64), bits)


def _accumulate_wrap(terms, clear, bits):
    """Vectorised wrap mode: a segmented prefix sum, computed mod 2**64 in uint64.

    Inside a segment that starts at the last clear ``s <= t`` (or at 0), ``acc[t]`` is the sum
    of ``terms[s..t]`` mod 2**bits; wrapping commutes with addition, so the difference of two
    prefix sums taken mod 2**64 (uint64 arithmetic wraps by definition) is exact.
    """
    n = terms.shape[0]
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(terms.view(np.uint64), out=prefix[1:])
    start = np.maximum.accumulate(np.where(clear, np.arange(n), 0))
    return _wrap_u64(prefix[1:] - prefix[start], bits)


def _accumulate_saturate(terms, clear, bits):
    """Saturate mode: clamping does not commute with addition, so step cycle by cycle.

    The loop runs on Python ints (no int64 overflow in ``acc + term``) from ``tolist()``,
    which keeps 10**5 cycles well under a second.
    """
    lo, hi = signed_range(bits)
    acc = 0
    out = []
    for term, clr in zip(terms.tolist(), clear.tolist()):
        acc = min(max((0 if clr else acc) + term, lo), hi)
        out.append(acc)
    return np.array(out, dtype=np.int64)


def accumulate(products, valid, clear, *, acc_bits, overflow=Overflow.WRAP):
    """The accumulator register after each cycle.

    Inputs (one entry per cycle, all 1-D of the same length):
      ``products``: integer array in the int64 range (the MAC's product for that cycle);
      ``valid``: bools or 0/1, the product is added only when set;
      ``clear``: bools or 0/1, the register restarts from 0 on that cycle (before the add).
    ``acc_bits`` in 1..64; ``overflow`` one of :class:`~lowbit.core.modes.Overflow`.
    Output: int64 array, ``acc[t]`` in ``signed_range(acc_bits)``.
    """
    acc_bits = check_int("acc_bits", acc_bits, 1, MAX_ACC_BITS)
    overflow = OVERFLOW.check(overflow)
    products = int_array("products", products, _INT64_LO, _INT64_HI)
    valid = flag_array("valid", valid)
    clear = flag_array("clear", clear)
    same_length(products=products, valid=valid, clear=clear)
    terms = np.where(valid, products, np.int64(0))
    if overflow == Overflow.WRAP:
        return _accumulate_wrap(terms, clear, acc_bits)
    return _accumulate_saturate(terms, clear, acc_bits)
