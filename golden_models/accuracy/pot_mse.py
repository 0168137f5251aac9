"""Weight MSE and layer-output error of PoT, APoT and INT4 quantization on seeded synthetic layers.

Run ``lowbit experiment pot-mse`` to print the Markdown tables quoted in
``docs/pot.md``. The weights are those of :mod:`lowbit.golden_models.accuracy.dint_mse` (1536 x 384);
the layer computes ``X @ w.T``. Numbers are relative: weight MSE
``mean((w_hat - w)**2) / mean(w**2)``, output error ``||X (w_hat - w)^T||**2 / ||X w^T||**2``,
on the calibration set that step 2 fits (``calib``) and on a held-out set (``test``) drawn
from the same distribution.
"""

import time

import numpy as np

from lowbit.core.options import COUNT, SEED

from ..dint import dequantize, dequantize_int, quantize_int
from .dint_mse import DISTRIBUTIONS, relative_mse, synthetic_weights
from .progress import Steps
from ..pot import ApotFormat, PotFormat, quantize_pot_rtn, quantize_pot_two_step

__all__ = ["synthetic_activations", "relative_output_error", "error_rows", "minilm_rows"]

# The gains of the input features, fixed across seeds: calibration and test sets are two
# samples of one distribution, as calibration text and evaluation text are for a real layer.
_GAIN_SEED = 1234


def synthetic_activations(n_samples, n_in, seed):
    """A seeded float64 (n_samples, n_in) input set: Gaussian rows times fixed per-feature gains.

    The gains are log-normal (exp of N(0, 1)), so a few input features are several times
    larger than the rest, like the outlier features of LLM activations; this is what makes
    the layer output error differ from the weight error.
    """
    gains = np.exp(np.random.default_rng(_GAIN_SEED).standard_normal(n_in))
    return np.random.default_rng(seed).standard_normal((n_samples, n_in)) * gains


def relative_output_error(X, w, w_hat):
    """``||X (w_hat - w)^T||**2 / ||X w^T||**2`` as a Python float."""
    return float(np.sum((X @ (w_hat - w).T) ** 2) / np.sum((X @ w.T) ** 2))


def _quantizers():
    """(format name, quantizer name, function of (w, X_calib) -> w_hat) for every table row."""
    rows = [
        ("INT4", "max-scale RTN", lambda w, X: dequantize_int(*quantize_int(w, 4, search=False))),
        ("INT4", "MSE search", lambda w, X: dequantize_int(*quantize_int(w, 4))),
    ]
    formats = [("PoT3", PotFormat(3)), ("PoT4", PotFormat(4)), ("PoT4 no zero", PotFormat(4, zero_code=False)),
               ("APoT4 (2,1)", ApotFormat((2, 1)))]
    for name, fmt in formats:
        rows += [
            (name, "max-scale RTN", lambda w, X, fmt=fmt: dequantize(*quantize_pot_rtn(w, fmt), fmt)),
            (name, "step 1 (log-grid MSE)", lambda w, X, fmt=fmt: dequantize(*quantize_pot_two_step(w, fmt), fmt)),
            (name, "two-step", lambda w, X, fmt=fmt: dequantize(*quantize_pot_two_step(w, fmt, X), fmt)),
        ]
    return rows


def error_rows(w, X_calib, X_test):
    """``[(format, quantizer, weight MSE, output error on X_calib, on X_test), ...]`` for ``w``."""
    out = []
    for fmt_name, quantizer, run in _quantizers():
        w_hat = run(w, X_calib)
        out.append((fmt_name, quantizer, relative_mse(w, w_hat), relative_output_error(X_calib, w, w_hat),
                    relative_output_error(X_test, w, w_hat)))
    return out


def minilm_rows(layers=None, progress=None):
    """The table rows averaged over MiniLM's linear layers (all 36 unless ``layers`` names some).

    Each layer's own inputs, captured in the float model, are the activations: calibration
    sentences for step 2 and the output error ``calib`` column, the evaluation sentences (which
    the sentence file keeps disjoint) for the ``test`` column. ``progress(name, n_layers)`` is
    called after each layer.
    """
    from .minilm import MiniLM
    from .sentences import load_sentences
    model = MiniLM(dtype="float64")
    sentences = load_sentences()
    calib, test = {}, {}
    model.encode(sentences["calibration"], capture=calib)
    model.encode([s for pair in sentences["evaluation"] for s in (pair["a"], pair["b"])],
                 capture=test)
    names = layers or model.linear_names
    sums = {}
    for name in names:
        for fmt_name, quantizer, *errors in error_rows(model.weight(name), calib[name], test[name]):
            acc = sums.setdefault((fmt_name, quantizer), np.zeros(3))
            acc += errors
        if progress:
            progress(name, len(names))
    return [(f, q, *(acc / len(names))) for (f, q), acc in sums.items()], len(names)


def add_arguments(parser):
    """The options of ``lowbit experiment pot-mse``."""
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the synthetic layers (default 0)")
    parser.add_argument("--calib", type=COUNT, default=128, help="calibration samples (default 128)")
    parser.add_argument("--test", type=COUNT, default=1024, help="held-out samples (default 1024)")
    parser.add_argument("--minilm", action="store_true",
                        help="average over MiniLM's 36 linear layers with their real inputs "
                             "instead of synthetic layers")


def run(args):
    """Print one Markdown table per weight distribution and the time of one two-step quantization."""
    if args.minilm:
        steps = Steps(1)
        rows, n = minilm_rows(progress=lambda name, total: steps.step(f"{name} done", total))
        print(f"\nall-MiniLM-L6-v2, mean over {n} linear layers; calibration = the calibration "
              "sentences' layer inputs, test = the evaluation sentences'\n")
        print("| format | quantizer | weight MSE | output error, calib | output error, test |")
        print("| --- | --- | ---: | ---: | ---: |")
        for fmt_name, quantizer, w_mse, calib, test in rows:
            print(f"| {fmt_name} | {quantizer} | {w_mse:.5f} | {calib:.5f} | {test:.5f} |")
        return
    X_calib = synthetic_activations(args.calib, 384, seed=args.seed + 1)
    X_test = synthetic_activations(args.test, 384, seed=args.seed + 2)
    steps = Steps(len(DISTRIBUTIONS) + 1)
    for kind in DISTRIBUTIONS:
        w = synthetic_weights(kind, seed=args.seed)
        print(f"\n{kind}, 1536x384, seed {args.seed}, {args.calib} calibration / {args.test} test samples\n")
        print("| format | quantizer | weight MSE | output error, calib | output error, test |")
        print("| --- | --- | ---: | ---: | ---: |")
        for fmt_name, quantizer, w_mse, calib, test in error_rows(w, X_calib, X_test):
            print(f"| {fmt_name} | {quantizer} | {w_mse:.5f} | {calib:.5f} | {test:.5f} |")
        steps.step(f"{kind} weights: table done")
    w = synthetic_weights("laplace", seed=args.seed)
    start = time.process_time()
    quantize_pot_two_step(w, PotFormat(4), X_calib)
    seconds = time.process_time() - start
    print(f"\nquantize_pot_two_step(PoT4) on 1536x384 with {args.calib} samples: {seconds:.2f} s CPU")
    steps.step("two-step time measured")

