"""The attention block's power workload: one whole layer through the block's streams.

``lowbit power attention_block`` simulates the mapped netlist of the block on one layer, its
input streams driven as stream sources (valid while beats are left, each beat held until the
block takes it: the block's own back-pressure, ``lowbit.synth.power._testbench``), ``o`` always
ready, and the ``o`` beats checked against ``block_forward`` (the integer model) beat for beat.
The operation is the token: energy per token = the layer's energy / its tokens. The run is cut
into windows, one per stage of the sequencer (``AttentionBlock.phase_cycles``, exact when
the streams never stall), so each stage's energy per cycle is measured on its own
(``PowerResult.windows``); ``lowbit.report.block`` scales those to MiniLM's shape.

``minilm``: real data at the block's (reduced) shape. The layer input of MiniLM-L6's layer 0
is the embedding LayerNorm's output, which depends on each token alone, so the first
``max_tokens`` tokens of a real sentence are a real layer-0 input; the block's ``d_model``
channels are MiniLM's first ``d_model`` (with ``heads = d_model / 32``, MiniLM's first heads,
each of MiniLM's head_dim 32), the weights the top-left ``d_model x d_model`` corner of each
projection, quantized by the configuration's quantizer, with the biases, zero points and
requant pairs of those channels and the layer's score/context requant, clip and LUT, all as
``golden_models.block.minilm_inputs`` calibrates them for the full layer; the Q/K/V requant
scales times ``sqrt(384 / d_model)``, so that the projections' codes keep the full layer's
range (a sum over ``d_model`` of the 384 inputs has about ``sqrt(d_model / 384)`` of the
spread). The sentence is the
study set's evaluation sentence ``seed`` (mod 240) with at least ``max_tokens`` tokens.

``random``: ``golden_models.block.random_inputs`` at the block's shape (saturating every stage).
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from lowbit.core.errors import LowbitError

from . import Workload, built, to_signed

__all__ = ["StreamWorkload", "block_workload", "block_case", "pack_payload", "WINDOWS"]

# The stages of the sequencer as the power record's windows: (window, its phases).
WINDOWS = (("load", ("cfg", "load_x")), ("qkv", ("qkv",)), ("scores", ("scores",)),
           ("context", ("context",)), ("out", ("drain", "out", "out_tail")))
SLACK_CYCLES = 8          # idle cycles after the formula's last beat ("idle" window)
MINILM_HEAD_DIM = 32


@dataclass(frozen=True)
class StreamWorkload(Workload):
    """A :class:`~lowbit.synth.workloads.Workload` whose input streams are driven with
    back-pressure: ``streams`` ``{name: [payload ints]}``; ``windows`` ``[(name, first
    cycle)]`` of the measurement, in order."""
    streams: dict = None
    windows: tuple = ()


def pack_payload(layout, value):
    """One payload as an int from ``value``: a dict for a ``StructLayout``, a sequence for
    an ``ArrayLayout``, an int (two's complement) for a plain shape."""
    from amaranth.hdl import Shape
    from amaranth.lib import data
    if isinstance(layout, data.Layout) or isinstance(layout, (data.StructLayout,
                                                              data.ArrayLayout)):
        layout = data.Layout.cast(layout)
        word = 0
        for key, field in layout:
            item = value[key]
            word |= pack_payload(field.shape, item) << field.offset
        return word
    width = Shape.cast(layout).width
    return int(value) & ((1 << width) - 1)


def block_case(params, *, data, seed):
    """``(BlockParams, BlockInputs, description)`` of one layer at the block's ``params``."""
    from lowbit.golden_models.block import BlockParams, random_inputs
    shape = dict(d_model=params["d_model"], heads=params["heads"], tokens=params["max_tokens"],
                 max_tokens=params["max_tokens"], engine=params["engine"],
                 softmax=params["softmax"], in_bits=params["in_bits"],
                 in_frac=params["in_frac"], lut_frac=params["lut_frac"],
                 m_bits=params["m_bits"])
    if data == "random":
        block = BlockParams(**shape)
        return block, random_inputs(block, seed=seed), f"random inputs, seed {seed}"
    return _minilm_case(shape, seed)


def _minilm_case(shape, seed):
    from lowbit.golden_models.block import BlockInputs, minilm_inputs
    from lowbit.golden_models.block.minilm import _sentence_text, model
    d, t = shape["d_model"], shape["tokens"]
    m = model()
    for k in range(240):
        index = (seed + k) % 240
        if len(m.token_ids([_sentence_text(index, _study_set())])[0]) >= t:
            break
    else:
        raise LowbitError(f"no evaluation sentence has {t} tokens")
    fields = {k: v for k, v in shape.items()
              if k in ("in_bits", "in_frac", "lut_frac", "m_bits")}
    full_params, full, _ = minilm_inputs((shape["engine"], shape["softmax"]), index, **fields)
    channels = slice(0, d)
    inputs = BlockInputs(
        x=np.asarray(full.x)[:t, channels],
        weights={p: np.asarray(w)[channels, channels] for p, w in full.weights.items()},
        bias={p: np.asarray(b)[channels] for p, b in full.bias.items()},
        zero_points={p: np.asarray(z)[channels] for p, z in full.zero_points.items()},
        requant={n: (_rescaled(r, channels, math.sqrt(384 / d), shape["m_bits"])
                     if n in ("q", "k", "v") else r) for n, r in full.requant.items()},
        clip=full.clip, lut=full.lut, scales=getattr(full, "scales", None))
    block = dataclasses.replace(full_params, **shape)
    return block, inputs, (f"MiniLM layer 0, evaluation sentence {index}: its first {t} "
                           f"tokens, channels 0..{d - 1}")


def _rescaled(pair, channels, factor, m_bits):
    """The requant pairs of ``channels`` with the scale ``M / 2^s`` times ``factor``: a dot
    product over ``d`` of the 384 inputs has about ``sqrt(d / 384)`` of the full one's spread,
    so the projections' codes keep the full layer's range (their activity, not a smaller
    one). M stays below ``2^m_bits`` (then s drops by one per halving)."""
    from lowbit.golden_models.block import RequantPair
    m, s = [], []
    for mc, sc in zip(np.asarray(pair.m)[channels], np.asarray(pair.s)[channels]):
        value, shift = float(mc) * factor, int(sc)
        while value >= (1 << m_bits) and shift > 0:
            value, shift = value / 2, shift - 1
        m.append(min(int(round(value)), (1 << m_bits) - 1))
        s.append(shift)
    return RequantPair(np.array(m, dtype=np.int64), np.array(s, dtype=np.int64))


def _study_set():
    from lowbit.golden_models.block.minilm import STUDY_SET
    return STUDY_SET


def block_workload(unit, params, *, data, seed, cycles):
    """The layer workload of ``attention_block`` at ``params`` (``cycles`` is not used: the
    run is the layer's exact cycles plus :data:`SLACK_CYCLES`)."""
    from lowbit.golden_models.block import block_forward
    block = built(unit, params)   # its sub-units too: built() marks what the block holds
    case, inputs, _ = block_case(params, data=data, seed=seed)
    t, d, lanes = case.tokens, case.d_model, params["lanes"]
    layouts = {name: getattr(block, name).payload.shape() for name in ("cfg", "x", "w", "ch")}
    cfg = {"tokens": t, "m_s": int(inputs.requant["score"].m),
           "s_s": int(inputs.requant["score"].s), "m_x": int(inputs.requant["context"].m),
           "s_x": int(inputs.requant["context"].s)}
    if inputs.clip is not None:
        cfg.update(clip=int(inputs.clip), lut=[int(v) for v in inputs.lut])
    streams = {"cfg": [pack_payload(layouts["cfg"], cfg)],
               "x": [pack_payload(layouts["x"], [int(inputs.x[tok, b * lanes + k])
                                                 for k in range(lanes)])
                     for tok in range(t) for b in range(d // lanes)], "w": [], "ch": []}
    for p in ("q", "k", "v", "o"):
        codes = np.asarray(inputs.weights[p])
        pair = inputs.requant.get(p)
        for c in range(d):
            streams["w"] += [pack_payload(layouts["w"], [int(codes[c, b * lanes + k])
                                                         for k in range(lanes)])
                             for b in range(d // lanes)]
            fields = {"bias": int(inputs.bias[p][c]),
                      "m": int(pair.m[c]) if pair is not None else 0,
                      "s": int(pair.s[c]) if pair is not None else 0}
            if "zero_point" in dict(layouts["ch"]):
                fields["zero_point"] = int(inputs.zero_points[p][c])
            streams["ch"].append(pack_payload(layouts["ch"], fields))
    expected = np.asarray(block_forward(case, inputs).out).T.reshape(-1).astype(np.int64)
    phases = block.phase_cycles(t)
    n = sum(phases.values()) + SLACK_CYCLES
    windows, start = [], 0
    for name, members in WINDOWS:
        windows.append((name, start))
        start += sum(phases[k] for k in members)
    windows.append(("idle", start))
    out_bits = block.out_bits

    def check(outputs):
        valid = [k for k, v in enumerate(outputs["o__valid"][:n]) if v == 1]
        if len(valid) != len(expected):
            return f"{len(valid)} o beats in {n} cycles, expected {len(expected)}"
        raw = [outputs["o__payload"][k] for k in valid]
        if any(v is None for v in raw):
            return "undefined (x) o beats"
        got = to_signed(np.array([int(v) & ((1 << out_bits) - 1) for v in raw], dtype=object),
                        out_bits)
        bad = np.flatnonzero(got != expected)
        if len(bad):
            return (f"o beat {bad[0]}: got {got[bad[0]]}, expected {expected[bad[0]]} "
                    f"({len(bad)} of {len(expected)} differ)")
        return None

    return StreamWorkload(vectors={"o__ready": np.ones(n, dtype=np.int64)}, ops=t, op="token",
                          check=check, checked=len(expected), streams=streams,
                          windows=tuple(windows))
