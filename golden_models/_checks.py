"""Array argument checks shared by the golden models.

Every failure raises :class:`~lowbit.core.params.ParameterError` with one line that names the
argument and what is allowed, so that a bad call from a testbench or from the CLI reads the
same. Scalar parameters use :func:`lowbit.core.params.check_int` and ``check_choice``.
"""

import numpy as np

from lowbit.core.params import ParameterError, check_choice, check_int

__all__ = ["ParameterError", "check_int", "check_choice", "int_array", "flag_array", "same_length"]


def int_array(name, values, lo, hi):
    """Return ``values`` as an int64 array after checking that it holds integers in ``lo..hi``.

    Float and bool arrays are refused rather than cast: a silently truncated float would make
    a bit-exact model lie. ``lo..hi`` must lie inside the int64 range.
    """
    a = np.asarray(values)
    if a.size == 0:  # `np.asarray([])` is float64, but there is nothing to truncate
        return a.astype(np.int64)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise ParameterError(f"{name} must hold integers in {lo}..{hi}, got dtype {a.dtype}")
    if a.min() < lo or a.max() > hi:
        raise ParameterError(f"{name} is out of range: must hold integers in {lo}..{hi}, got {a.min()}..{a.max()}")
    return a.astype(np.int64)


def flag_array(name, values):
    """Return ``values`` as a bool array; accepted inputs are bools or the integers 0 and 1."""
    a = np.asarray(values)
    if a.dtype == np.bool_:
        return a
    return int_array(name, a, 0, 1).astype(np.bool_)


def same_length(**arrays):
    """Check that every keyword argument is a 1-D array and that all have the same length."""
    lengths = {}
    for name, a in arrays.items():
        if a.ndim != 1:
            raise ParameterError(f"{name} must be 1-D (one entry per cycle), got shape {a.shape}")
        lengths[name] = a.shape[0]
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{n}={k}" for n, k in lengths.items())
        raise ParameterError(f"inputs must have one entry per cycle, got lengths {listed}")
