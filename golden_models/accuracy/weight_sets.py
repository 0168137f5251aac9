"""Builders of the table's quantized weight sets: each maps a key to a function of the
evaluation context that returns name -> dequantized float64 weights for MiniLM's 36 layers."""

from ..abq import dequantize as abq_dequantize
from ..abq import quantize_weights
from ..dint import DintFormat, dequantize
from ..pot import PotFormat, quantize_pot_rtn, quantize_pot_two_step
from .ptq import athena, dint_format, gptq, hessian, int_format, rtn
from .aqas import aqas_scales
from .distribution import correct_distribution
from .rows import DINT_VARIANTS, SLAC_LENGTHS

__all__ = ["WEIGHT_SETS"]


def _ptq_set(fmt, method):
    """Builder of a weight set: a :class:`~.ptq.WeightFormat` maker and "rtn", "gptq" or "athena"."""

    def build(ctx, label):
        wf = fmt(ctx.n_grid)
        if method == "rtn":
            return ctx.per_layer(label, lambda name, w: rtn(w, wf, scales=ctx.layer_scales(wf, name))[0])
        second_order = gptq if method == "gptq" else lambda w, h, wf, **kw: athena(w, h, wf, grouping="columns", **kw)
        return ctx.calibrated(
            label, lambda name, w, x: second_order(w, hessian(x), wf, damp=ctx.damp, scales=ctx.layer_scales(wf, name))[0]
        )

    return build


def _calibrated_set(fmt, method, *, aqas=False, length="sentence"):
    """Builder of a calibrated INT4/dINT4 set: GPTQ or RTN, with the format's MSE scales or AQAS
    scales (activation-aware, for the row's INT8 activations), on calibration texts of
    ``length`` (SLAC: "sentence", the target length; an int: packed groups of that many tokens)."""

    def build(ctx, label):
        wf = fmt(ctx.n_grid)
        a8 = ctx.activation_quantizer("a8")

        def layer(name, w, x):
            scales = ctx.layer_scales(wf, name)
            if aqas:
                scales = aqas_scales(w, x, wf, lambda v: a8(name, v), base_scales=scales)
            if method == "rtn":
                return rtn(w, wf, scales=scales)[0]
            return gptq(w, hessian(x), wf, damp=ctx.damp, scales=scales)[0]

        return ctx.calibrated(label, layer, length)

    return build


def _pot_set(two_step):
    fmt = PotFormat(4)

    def build(ctx, label):
        if not two_step:
            return ctx.per_layer(label, lambda name, w: dequantize(*quantize_pot_rtn(w, fmt), fmt))
        return ctx.calibrated(label, lambda name, w, x: dequantize(*quantize_pot_two_step(w, fmt, x), fmt))

    return build


def _abq_set(bits, balanced):
    def build(ctx, label):
        return ctx.per_layer(
            label, lambda name, w: abq_dequantize(*quantize_weights(w, bits, balanced=balanced, n_grid=ctx.n_grid)[:3])
        )

    return build


def _dc_set(bits, act_bits, balanced):
    """ABQ weights after the block-wise distribution correction (:mod:`.distribution`)."""

    def build(ctx, label):
        weights, factors = correct_distribution(ctx.model, ctx.calibration, bits, act_bits, balanced=balanced,
                                                n_grid=ctx.n_grid,
                                                progress=lambda name: ctx.progress.step(f"{label}: {name[14:]}"))
        ctx.notes[label] = {"dc_factors": factors}
        return weights

    return build


def _weight_sets():
    sets = {
        "int8-rtn": _ptq_set(lambda n: int_format(8, n_grid=1), "rtn"),  # max scale: the usual INT8
        "pot4-rtn": _pot_set(False),
        "pot4-2step": _pot_set(True),
        "abq-w2": _abq_set(2, False),
        "abq-w2bal": _abq_set(2, True),
        "abq-w4": _abq_set(4, False),
        "abq-w2-dc": _dc_set(2, 8, False),
        "abq-w2bal-dc": _dc_set(2, 8, True),
        "abq-w4-dc": _dc_set(4, 4, False),
    }
    formats = {"int4": lambda n: int_format(4, n_grid=n), "dint4": lambda n: dint_format(n_grid=n)}
    for variant, (special, f) in DINT_VARIANTS.items():
        formats[f"dint4{variant}"] = lambda n, s=special, f=f: dint_format(DintFormat(s, f), n_grid=n)
    for name, fmt in formats.items():
        for method in ("rtn", "gptq", "athena"):
            sets[f"{name}-{method}"] = _ptq_set(fmt, method)
    for name in ("int4", "dint4"):
        fmt = formats[name]
        for method in ("rtn", "gptq"):
            sets[f"{name}-aqas-{method}"] = _calibrated_set(fmt, method, aqas=True)
            for length in SLAC_LENGTHS:
                sets[f"{name}-aqas-{method}-p{length}"] = _calibrated_set(fmt, method, aqas=True, length=length)
        for length in SLAC_LENGTHS:
            sets[f"{name}-gptq-p{length}"] = _calibrated_set(fmt, "gptq", length=length)
    return sets


WEIGHT_SETS = _weight_sets()
