"""Weight MSE of INT4 and dINT4 quantization on seeded synthetic weight matrices.

Run ``lowbit experiment dint-mse`` to print the Markdown table quoted in
``docs/dint.md``. The numbers are relative MSE, ``mean((w_hat - w)**2) / mean(w**2)``, so
that they do not depend on the scale of the synthetic weights.
"""

import time

import numpy as np

from lowbit.core.options import SEED, bounded

from .._checks import check_choice
from ..dint import SPECIALS, DintFormat, dequantize, dequantize_int, quantize_dint, quantize_int
from .progress import Steps

__all__ = ["DISTRIBUTIONS", "synthetic_weights", "relative_mse", "mse_rows"]

DISTRIBUTIONS = ("gaussian", "laplace", "laplace_outliers")


def synthetic_weights(kind, shape=(1536, 384), seed=0):
    """A seeded float64 weight matrix of the given ``shape``.

    ``gaussian``: N(0, 1). ``laplace``: Laplace(0, 1). ``laplace_outliers``: Laplace(0, 1)
    with 0.5% of the entries multiplied by 10, a stand-in for LLM weights whose few large
    values set the channel's range, so that most weights fall below half a quantization step.
    """
    kind = check_choice("kind", kind, DISTRIBUTIONS)
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal(shape)
    w = rng.laplace(size=shape)
    if kind == "laplace_outliers":
        w[rng.random(shape) < 0.005] *= 10
    return w


def relative_mse(w, w_hat):
    """``mean((w_hat - w)**2) / mean(w**2)`` as a Python float."""
    return float(np.mean((w_hat - w) ** 2) / np.mean(w**2))


def mse_rows(w, n_grid=100):
    """Relative MSE of each quantizer on ``w``, as ``[(name, rtn, searched), ...]``.

    ``rtn`` is max-scale round-to-nearest, ``searched`` the MSE-optimal clipping over
    ``n_grid`` ratios.
    """
    rows = []
    rtn = dequantize_int(*quantize_int(w, 4, search=False))
    searched = dequantize_int(*quantize_int(w, 4, n_grid=n_grid))
    rows.append(("INT4", relative_mse(w, rtn), relative_mse(w, searched)))
    for special in SPECIALS:
        for frac_bits in (1, 2):
            fmt = DintFormat(special, frac_bits)
            rtn = dequantize(*quantize_dint(w, fmt, n_grid=1), fmt)
            searched = dequantize(*quantize_dint(w, fmt, n_grid=n_grid), fmt)
            rows.append((f"dINT4 {special} 2^-{frac_bits}", relative_mse(w, rtn), relative_mse(w, searched)))
    return rows


def add_arguments(parser):
    """The options of ``lowbit experiment dint-mse``."""
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the synthetic weights (default 0)")
    parser.add_argument("--n-grid", type=bounded(int, 1, 10_000), default=100,
                        help="clipping ratios of the MSE search (default 100)")


def run(args):
    """Print one Markdown table per distribution and the search time of one dINT4 quantization."""
    steps = Steps(len(DISTRIBUTIONS) + 1)
    for kind in DISTRIBUTIONS:
        w = synthetic_weights(kind, seed=args.seed)
        print(f"\n{kind}, 1536x384, seed {args.seed}: relative weight MSE\n")
        print("| format | max-scale RTN | MSE search |")
        print("| --- | --- | --- |")
        for name, rtn, searched in mse_rows(w, args.n_grid):
            print(f"| {name} | {rtn:.5f} | {searched:.5f} |")
        steps.step(f"{kind} weights: table done")
    w = synthetic_weights("laplace", seed=args.seed)
    start = time.process_time()
    quantize_dint(w, DintFormat(), n_grid=args.n_grid)
    print(f"\nquantize_dint on 1536x384, n_grid={args.n_grid}: {time.process_time() - start:.2f} s CPU")
    steps.step("search time measured")

