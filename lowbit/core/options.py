"""Range-checked numeric types for the command line's options (``type=`` of argparse), for
`lowbit` itself and every module that adds options to it (``lowbit block``, the study programs
of ``lowbit experiment`` in golden_models/accuracy/): in the ground layer, so that any layer
may use them, and not in lowbit.cli, which imports those modules."""

import argparse
import math

__all__ = ["bounded", "COUNT", "SEED"]


def bounded(kind, lo=None, hi=None, *, above=None):
    """An argparse ``type``: a number of ``kind`` (int or float) within ``lo..hi`` (either may
    be open; ``above``: strictly greater than it). A value outside is one error line naming the
    option and the range (exit 2). The function carries ``kind``, ``lo``, ``hi``, ``above``, so
    tests can list every option's range."""
    if above is not None:
        wanted = f"a number above {above:g}"
    elif hi is None:
        wanted = f"{'an integer' if kind is int else 'a number'} >= {lo}"
    else:
        wanted = f"{'an integer' if kind is int else 'a number'} in {lo}..{hi}"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}") from None
        if (isinstance(value, float) and not math.isfinite(value)
                or above is not None and not value > above
                or lo is not None and value < lo or hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{text} is out of range: give {wanted}")
        return value

    parse.__name__ = kind.__name__
    parse.kind, parse.lo, parse.hi, parse.above = kind, lo, hi, above
    return parse


COUNT = bounded(int, 1)           # jobs, cycles, grid points: at least one
SEED = bounded(int, 0, 2**32 - 1)  # cocotb's and NumPy's seeds are unsigned 32-bit
