"""Golden model of ``btc_array``: a WpAq integer matmul rebuilt from binary (1-bit) products (ABQ-LLM).

A p-bit weight code and a q-bit activation code are split into bit planes,
``W = sum_i 2**i W_i`` and ``A = sum_j 2**j A_j`` with ``W_i, A_j`` in {0, 1}; for two's
complement codes the top plane weighs ``-2**(p-1)`` (``-2**(q-1)``) instead. Then

    O = W @ A = sum_i sum_j s_ij 2**(i+j) popcount(W_i AND A_j)     (popcount over k)

with ``s_ij = -1`` when exactly one of the two planes is a sign plane. The array has
``rows x cols`` cells; per cycle each cell ANDs a ``k_slice``-bit slice of one weight plane
with the same slice of one activation plane and counts the ones, so a job takes
``p * q * K / k_slice`` cycles (:func:`passes`). The model computes its result through exactly
that decomposition (:meth:`BtcArray.popcounts`, :func:`plane_weights`), never by an integer
multiply, and wraps it to ``acc_bits`` two's complement like the hardware's accumulators.
"""

from fractions import Fraction

import numpy as np

from lowbit.core.unit_params import (MODEL_COLS, MODEL_K_SLICE, MODEL_MAX_SLICES, MODEL_P_MAX,
                                     MODEL_Q_MAX, MODEL_ROWS)
from lowbit.core.widths import signed_bits_for, signed_range, unsigned_range

from ._checks import ParameterError, check_choice, check_int, int_array
from .accumulator import MAX_ACC_BITS, wrap_signed
from .int_array import matmul_operands

__all__ = [
    "MAX_PLANES",
    "MAX_K_SLICE",
    "code_range",
    "product_range",
    "bitplanes",
    "recombine",
    "plane_weights",
    "passes",
    "zero_point_correction",
    "pack_planes",
    "unpack_planes",
    "job_beats",
    "acc_bits_for",
    "BtcArray",
]

# The model's bounds (lowbit.core.unit_params), wider than the hardware's: a job's p, q and a
# code's bits go up to the widest p_max, a slice up to the widest k_slice.
MAX_PLANES = MODEL_P_MAX.hi
MAX_K_SLICE = MODEL_K_SLICE.hi
MAX_UNSIGNED_CODE = (1 << MAX_PLANES) - 1
FLAGS = (False, True)


def code_range(bits, signed):
    """The closed range ``(lo, hi)`` of ``bits``-bit codes: two's complement if ``signed``, else
    unsigned. A 1-bit signed code is its sign plane alone: -1 or 0."""
    return signed_range(bits) if signed else unsigned_range(bits)


def product_range(p, q, w_signed, a_signed):
    """The closed range ``(lo, hi)`` of one product of a p-bit weight code and a q-bit
    activation code (the four corners of the two code ranges bound it exactly)."""
    w_lo, w_hi = code_range(p, w_signed)
    a_lo, a_hi = code_range(q, a_signed)
    corners = [w * a for w in (w_lo, w_hi) for a in (a_lo, a_hi)]
    return min(corners), max(corners)


def _flag(name, value):
    """A signedness flag as a Python bool (True, False, or 1/0)."""
    return bool(check_choice(name, value, FLAGS))


def bitplanes(x, bits, signed):
    """Bit planes of integer codes.

    Inputs: ``x`` integers, any shape, in ``code_range(bits, signed)``; ``bits`` in 1..16;
    ``signed`` a bool. Output: uint8 array (bits, *x.shape) of 0/1, plane i holding bit i of
    each code's ``bits``-bit pattern (two's complement for signed codes).
    """
    bits = check_int("bits", bits, 1, MAX_PLANES)
    x = int_array("x", x, *code_range(bits, _flag("signed", signed)))
    shifts = np.arange(bits).reshape((bits,) + (1,) * x.ndim)
    return ((x[None] >> shifts) & 1).astype(np.uint8)  # int64 >> is arithmetic: bit i of the pattern


def recombine(planes, signed):
    """Integer codes from their bit planes: the inverse of :func:`bitplanes`.

    Inputs: ``planes`` 0/1 integers (bits, ...) with bits in 1..16; ``signed`` a bool (the top
    plane then weighs ``-2**(bits-1)``). Output: int64 array of shape ``planes.shape[1:]``.
    """
    planes = int_array("planes", planes, 0, 1)
    if planes.ndim == 0 or not 1 <= planes.shape[0] <= MAX_PLANES:
        raise ParameterError(f"planes must have shape (bits, ...) with bits in 1..{MAX_PLANES}, got {planes.shape}")
    bits = planes.shape[0]
    weights = np.int64(1) << np.arange(bits, dtype=np.int64)
    if _flag("signed", signed):
        weights[-1] = -weights[-1]
    return np.tensordot(weights, planes, axes=1)


def plane_weights(p, q, w_signed, a_signed):
    """Weight ``s_ij 2**(i+j)`` of the popcount of weight plane i AND activation plane j.

    ``s_ij = -1`` when exactly one of (i = p-1 and ``w_signed``), (j = q-1 and ``a_signed``)
    holds: the product of the two planes' signs. Inputs: ``p``, ``q`` in 1..16; the two flags
    bools. Output: int64 (p, q).
    """
    p = check_int("p", p, 1, MAX_PLANES)
    q = check_int("q", q, 1, MAX_PLANES)
    w_signed, a_signed = _flag("w_signed", w_signed), _flag("a_signed", a_signed)
    w = np.int64(1) << np.arange(p, dtype=np.int64)
    a = np.int64(1) << np.arange(q, dtype=np.int64)
    if w_signed:
        w[-1] = -w[-1]
    if a_signed:
        a[-1] = -a[-1]
    return np.outer(w, a)


def _slices(K, k_slice):
    """The number of ``k_slice``-bit slices of a depth ``K``, which must be a positive multiple."""
    if K < 1 or K % k_slice:
        raise ParameterError(f"K={K} is not allowed: K must be a positive multiple of k_slice={k_slice}")
    return K // k_slice


def passes(p, q, K, k_slice):
    """Cycles of the array for one job: every (weight plane, activation plane, K-slice) triple
    is one cycle of every cell, so ``p * q * K / k_slice``.

    Inputs: ``p``, ``q`` in 1..16; ``k_slice`` in 1..4096; ``K`` a positive multiple of ``k_slice``.
    """
    p = check_int("p", p, 1, MAX_PLANES)
    q = check_int("q", q, 1, MAX_PLANES)
    k_slice = MODEL_K_SLICE.check(k_slice)
    return p * q * _slices(check_int("K", K, 1, 1 << 48), k_slice)


def pack_planes(x, bits, signed, k_slice):
    """Bit planes of a matrix of codes, packed into ``k_slice``-bit words: the operand layout of
    the array's plane buffers.

    Inputs: ``x`` integer codes (n, K) in ``code_range(bits, signed)``, one row per weight row
    (for activations pass ``A.T``: one row per token); ``bits`` in 1..16; ``k_slice`` in
    1..4096, K a positive multiple of it. Output: nested lists of Python ints
    ``words[s][b][r]`` (K / k_slice slices, ``bits`` planes, n rows): bit t of ``words[s][b][r]``
    is bit b of the ``bits``-bit pattern of ``x[r, s * k_slice + t]`` (two's complement when
    signed), so bit 0 is the slice's first k. :func:`unpack_planes` inverts it.
    """
    k_slice = MODEL_K_SLICE.check(k_slice)
    bits = check_int("bits", bits, 1, MAX_PLANES)
    x = int_array("x", x, *code_range(bits, _flag("signed", signed)))
    if x.ndim != 2:
        raise ParameterError(f"x must have shape (n, K), got shape {x.shape}")
    n, K = x.shape
    S = _slices(K, k_slice)
    planes = bitplanes(x, bits, signed).reshape(bits, n, S, k_slice)  # (b, r, s, t)
    packed = np.packbits(planes, axis=-1, bitorder="little")          # bit t of byte t // 8
    return [[[int.from_bytes(packed[b, r, s].tobytes(), "little") for r in range(n)]
             for b in range(bits)] for s in range(S)]


def unpack_planes(words, signed, k_slice):
    """Integer codes (n, K) from ``words[s][b][r]`` as :func:`pack_planes` lays them out: the
    planes recombined with the top one weighing ``-2**(bits-1)`` when ``signed``. Bits of a
    word at or above ``k_slice`` must be 0."""
    k_slice = MODEL_K_SLICE.check(k_slice)
    S, bits, n = len(words), len(words[0]), len(words[0][0])
    planes = np.zeros((bits, n, S, k_slice), dtype=np.uint8)
    for s in range(S):
        for b in range(bits):
            for r in range(n):
                word = int(words[s][b][r])
                if word < 0 or word >> k_slice:
                    raise ParameterError(f"word [{s}][{b}][{r}] must be a {k_slice}-bit unsigned integer, got {word}")
                raw = np.frombuffer(word.to_bytes((k_slice + 7) // 8, "little"), dtype=np.uint8)
                planes[b, r, s] = np.unpackbits(raw, bitorder="little")[:k_slice]
    return recombine(planes.reshape(bits, n, S * k_slice), signed)


def job_beats(W, A, *, p, q, w_signed, a_signed, k_slice):
    """The input beats of one job ``W @ A`` for the hardware array, in the order it takes them.

    Every K-slice s of the job (in order) is ``max(p, q)`` beats; beat b of a slice carries
    weight plane b of every row (``w``: one ``k_slice``-bit word per row, zeros when b >= p)
    and activation plane b of every token (``a``: one word per column, zeros when b >= q),
    as :func:`pack_planes` packs them, so each plane of a job crosses the input exactly once.
    Every beat repeats the job's ``p``, ``q`` and signedness; ``last`` marks the job's final
    beat. Output: a list of dicts with keys ``w``, ``a``, ``p``, ``q``, ``w_signed``,
    ``a_signed``, ``last``.
    """
    p, q = check_int("p", p, 1, MAX_PLANES), check_int("q", q, 1, MAX_PLANES)
    W = int_array("W", W, *code_range(p, _flag("w_signed", w_signed)))
    A = int_array("A", A, *code_range(q, _flag("a_signed", a_signed)))
    if W.ndim != 2 or A.ndim != 2 or W.shape[1] != A.shape[0]:
        raise ParameterError(f"W (R, K) and A (K, C) must share K, got shapes {W.shape} and {A.shape}")
    w_words = pack_planes(W, p, w_signed, k_slice)
    a_words = pack_planes(A.T, q, a_signed, k_slice)
    n, S = max(p, q), len(w_words)
    zeros_w, zeros_a = [0] * W.shape[0], [0] * A.shape[1]
    return [dict(w=w_words[s][b] if b < p else zeros_w, a=a_words[s][b] if b < q else zeros_a,
                 p=p, q=q, w_signed=int(bool(w_signed)), a_signed=int(bool(a_signed)),
                 last=int(s == S - 1 and b == n - 1))
            for s in range(S) for b in range(n)]


def acc_bits_for(k_max, p_max, q_max):
    """Signed bits that hold every result of a job of depth up to ``k_max`` at any p <= p_max,
    q <= q_max and signedness: ``k_max`` products all at one end of the widest product range."""
    ends = [e * k_max for ws in FLAGS for as_ in FLAGS for e in product_range(p_max, q_max, ws, as_)]
    return signed_bits_for(min(ends), max(ends))


def zero_point_correction(raw, W, A, zw, za):
    """The product of centred codes, ``(W - zw) @ (A - za)``, from the raw code product.

    ``(W - zw)(A - za) = raw - za * rowsum(W) - zw * colsum(A) + K * zw * za``, per element
    (r, c): the correction terms need only one sum per row of W and per column of A.
    Inputs: ``raw`` integers (R, C), the exact ``W @ A``; ``W`` unsigned codes (R, K); ``A``
    unsigned codes (K, C); ``zw`` integer zero points (R,), one per weight row; ``za`` integer
    zero points (C,), one per activation column. Codes and zero points are in 0..65535.
    Output: int64 (R, C), exact whenever the result fits in int64 (|result| <= K * 2**32, so
    for K < 2**31): int64 arithmetic is modulo 2**64, so an intermediate term that wraps
    cannot change a final value that fits.
    """
    W = int_array("W", W, 0, MAX_UNSIGNED_CODE)
    A = int_array("A", A, 0, MAX_UNSIGNED_CODE)
    if W.ndim != 2 or A.ndim != 2 or W.shape[1] != A.shape[0]:
        raise ParameterError(f"W (R, K) and A (K, C) must share K, got shapes {W.shape} and {A.shape}")
    R, K, C = W.shape[0], W.shape[1], A.shape[1]
    raw = int_array("raw", raw, *signed_range(64))
    zw = int_array("zw", zw, 0, MAX_UNSIGNED_CODE)
    za = int_array("za", za, 0, MAX_UNSIGNED_CODE)
    for name, a, shape in (("raw", raw, (R, C)), ("zw", zw, (R,)), ("za", za, (C,))):
        if a.shape != shape:
            raise ParameterError(f"{name} must have shape {shape} for W {W.shape} and A {A.shape}, got {a.shape}")
    row_sums = W.sum(axis=1)
    col_sums = A.sum(axis=0)
    return raw - za[None, :] * row_sums[:, None] - zw[:, None] * col_sums[None, :] + K * zw[:, None] * za[None, :]


class BtcArray:
    """Model of the R x C binary tensor core array with run-time weight / activation precision.

    Parameters: ``rows``, ``cols`` in 1..256; ``k_slice`` in 1..4096, the bits of K each cell
    ANDs and counts per cycle; ``p_max``, ``q_max`` in 1..16, the most weight / activation
    planes a job may use; ``max_slices`` (optional), the most K-slices of a job (the depth of
    the hardware's plane buffers), so K <= ``k_max`` = ``max_slices * k_slice``; ``acc_bits``
    from the bits of one full-precision product (``min_acc_bits``, 17 for 8 x 8 planes) to 64,
    by default :func:`acc_bits_for` ``k_max`` (nothing wraps) or 32 without ``max_slices``.
    Results wrap at ``acc_bits`` (two's complement); :meth:`max_exact_k` says up to which
    depth they cannot.
    """

    def __init__(self, *, rows=4, cols=4, k_slice=64, p_max=8, q_max=8, acc_bits=None,
                 max_slices=None):
        self.rows = MODEL_ROWS.check(rows)
        self.cols = MODEL_COLS.check(cols)
        self.k_slice = MODEL_K_SLICE.check(k_slice)
        self.p_max = MODEL_P_MAX.check(p_max)
        self.q_max = MODEL_Q_MAX.check(q_max)
        # The hardware's plane buffers hold at most `max_slices` slices of a job, so its depth
        # K is at most k_max, and its accumulators are exactly as wide as such a job needs.
        self.max_slices = None if max_slices is None else MODEL_MAX_SLICES.check(max_slices)
        self.k_max = None if max_slices is None else self.max_slices * self.k_slice
        # Both ranges grow with p and q, so the widest job is at (p_max, q_max).
        self.min_acc_bits = acc_bits_for(1, self.p_max, self.q_max)
        if acc_bits is None:
            acc_bits = 32 if self.k_max is None else acc_bits_for(self.k_max, self.p_max, self.q_max)
        self.acc_bits = check_int(
            "acc_bits", acc_bits, self.min_acc_bits, MAX_ACC_BITS, f"one {self.p_max} x {self.q_max}-bit product"
        )

    def _job(self, p, q, w_signed, a_signed):
        """Check a job's precision and signedness; return them as (int, int, bool, bool)."""
        return (
            check_int("p", p, 1, self.p_max),
            check_int("q", q, 1, self.q_max),
            _flag("w_signed", w_signed),
            _flag("a_signed", a_signed),
        )

    def _sliced_bits(self, planes):
        """Bit planes (n, m, K) packed per K-slice: uint8 (n, m, K / k_slice, ceil(k_slice / 8)).

        A slice shorter than a whole number of bytes is padded with zero bits, which AND to 0.
        """
        n, m, K = planes.shape
        return np.packbits(planes.reshape(n, m, K // self.k_slice, self.k_slice), axis=-1)

    def popcounts(self, W, A, *, p, q, w_signed, a_signed):
        """What every cell counts in every pass of a job.

        Inputs: ``W`` integer codes (rows, K) in ``code_range(p, w_signed)``, one row per output
        channel; ``A`` integer codes (K, cols) in ``code_range(q, a_signed)``, one column per
        token; K a positive multiple of ``k_slice``; ``p`` in 1..p_max, ``q`` in 1..q_max.
        Output: int64 (p, q, K / k_slice, rows, cols): entry [i, j, s, r, c] is
        ``popcount(W_i[r, slice s] AND A_j[slice s, c])``, in 0..k_slice. The order in which
        the hardware visits the (i, j, s) passes does not change the wrapped result.
        """
        p, q, w_signed, a_signed = self._job(p, q, w_signed, a_signed)
        W, A, K = matmul_operands(W, A, self.rows, self.cols, code_range(p, w_signed), code_range(q, a_signed))
        _slices(K, self.k_slice)
        if self.k_max is not None and K > self.k_max:
            raise ParameterError(f"K={K} is not allowed: at most max_slices x k_slice = {self.k_max}")
        w_bits = self._sliced_bits(bitplanes(W, p, w_signed))  # (p, rows, S, bytes)
        a_bits = self._sliced_bits(bitplanes(A.T, q, a_signed))  # (q, cols, S, bytes): a column per token
        both = w_bits[:, None, :, None] & a_bits[None, :, None, :]  # (p, q, rows, cols, S, bytes)
        counts = np.bitwise_count(both).sum(axis=-1, dtype=np.int64)
        return counts.transpose(0, 1, 4, 2, 3)

    def matmul(self, W, A, *, p, q, w_signed, a_signed):
        """The array's result for one WpAq job, computed through the bit planes.

        Inputs as in :meth:`popcounts`. Output: int64 (rows, cols), the shift-accumulated
        popcounts ``sum_ijs s_ij 2**(i+j) popcount[i, j, s]`` = ``W @ A``, wrapped to
        ``acc_bits`` two's complement (exact when K <= :meth:`max_exact_k`).
        """
        counts = self.popcounts(W, A, p=p, q=q, w_signed=w_signed, a_signed=a_signed)
        weights = plane_weights(counts.shape[0], counts.shape[1], w_signed, a_signed)
        # int64 is exact before the wrap: |O| <= K * 2**(p+q) < 2**63 for any K that fits in memory.
        # Wrapping the exact sum once equals wrapping after every add, as addition mod 2**acc_bits commutes.
        return wrap_signed(np.einsum("ij,ijsrc->rc", weights, counts), self.acc_bits)

    def passes(self, p, q, K):
        """Cycles of the array for a WpAq job of depth ``K`` (a positive multiple of ``k_slice``):
        ``p * q * K / k_slice``."""
        p, q, _, _ = self._job(p, q, False, False)
        return passes(p, q, K, self.k_slice)

    def macs_per_cycle(self, p, q):
        """Effective p x q-bit MACs per cycle: ``rows * cols * k_slice / (p * q)`` (a Fraction)."""
        p, q, _, _ = self._job(p, q, False, False)
        return Fraction(self.rows * self.cols * self.k_slice, p * q)

    def max_exact_k(self, p, q, w_signed, a_signed):
        """The largest depth K for which no result of a (p, q, signedness) job can wrap.

        Every product lies in ``product_range``, and all K products of a dot product can sit at
        the same end (all-extreme codes), so the bound is tight: K = max_exact_k + 1 wraps for
        some W, A. Not rounded to a multiple of ``k_slice``.
        """
        p, q, w_signed, a_signed = self._job(p, q, w_signed, a_signed)
        lo, hi = product_range(p, q, w_signed, a_signed)
        acc_lo, acc_hi = signed_range(self.acc_bits)
        limits = [acc_hi // hi] if hi > 0 else []
        if lo < 0:
            limits.append(acc_lo // lo)  # both negative: floor of |acc_lo| / |lo|
        return min(limits)
