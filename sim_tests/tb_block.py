"""cocotb testbench of ``attention_block`` (hdl/attention_block.py, docs/block.md): one
self-attention layer fed through its four input streams, every output compared bit for bit
with the integer model (golden_models/block, ``block_forward``).

The inputs are a file named by ``LOWBIT_BLOCK_CASE`` (an ``.npz`` written by :func:`save_case`:
a real sentence from ``minilm_inputs``, as ``lowbit block`` and the slow tests use), or else the
model's ``random_inputs`` at ``LOWBIT_BLOCK_TOKENS`` tokens (default: ``max_tokens``).

Tests:

* ``layer_bit_exact``: every stream always valid and ``o`` always ready: the layer's output
  equals the model's, and its cycles equal the block's formula (``AttentionBlock.cycles``,
  passed in the metadata);
* ``layer_under_stalls``: random gaps on every input stream and back-pressure on ``o``;
* ``reset_in_flight`` (these two skipped with ``LOWBIT_BLOCK_ONLY=exact``): reset at a random cycle inside a layer (stalled), then a whole layer
  again under stalls: no output survives the reset and the new layer is exact.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from lowbit.core.modes import BlockEngine
from lowbit.golden_models.block import BlockInputs, BlockParams, RequantPair, block_forward
from lowbit.golden_models.block import random_inputs

from .streams import random_pauses
from .tb_support import Bench, expect_equal, soak

PROJECTIONS = ("q", "k", "v", "o")
# LOWBIT_BLOCK_ONLY=exact runs layer_bit_exact alone (``lowbit block``: one long layer).
_ONLY_EXACT = os.environ.get("LOWBIT_BLOCK_ONLY") == "exact"
INPUTS = ("cfg", "x", "w", "ch")


def save_case(path, params, inputs):
    """Write ``params`` and ``inputs`` (a BlockInputs) to ``path`` (.npz) for the testbench."""
    arrays = {"params": np.array(json.dumps(params.__dict__)), "x": inputs.x}
    for p in PROJECTIONS:
        arrays[f"w_{p}"] = inputs.weights[p]
        arrays[f"b_{p}"] = inputs.bias[p]
        arrays[f"z_{p}"] = inputs.zero_points[p]
    for name, pair in inputs.requant.items():
        arrays[f"m_{name}"], arrays[f"s_{name}"] = pair.m, pair.s
    if inputs.clip is not None:
        arrays["clip"], arrays["lut"] = np.array(inputs.clip), inputs.lut
    np.savez(path, **arrays)


def load_case(path):
    """``(BlockParams, BlockInputs)`` from a file of :func:`save_case`."""
    f = np.load(path)
    params = BlockParams(**json.loads(str(f["params"])))
    names = [k[2:] for k in f.files if k.startswith("m_")]
    inputs = BlockInputs(
        x=f["x"], weights={p: f[f"w_{p}"] for p in PROJECTIONS},
        bias={p: f[f"b_{p}"] for p in PROJECTIONS},
        zero_points={p: f[f"z_{p}"] for p in PROJECTIONS},
        requant={n: RequantPair(f[f"m_{n}"], f[f"s_{n}"]) for n in names},
        clip=int(f["clip"]) if "clip" in f.files else None,
        lut=f["lut"] if "lut" in f.files else None)
    return params, inputs


def the_case(bench, tokens=None):
    """The run's inputs: the case file, or the model's random inputs (at ``tokens``, default
    ``LOWBIT_BLOCK_TOKENS`` or ``max_tokens``)."""
    path = os.environ.get("LOWBIT_BLOCK_CASE")
    if path and tokens is None:
        return load_case(path)
    p = bench.params
    if tokens is None:
        tokens = int(os.environ.get("LOWBIT_BLOCK_TOKENS", p["max_tokens"]))
    params = BlockParams(d_model=p["d_model"], heads=p["heads"], tokens=tokens,
                         max_tokens=p["max_tokens"], engine=p["engine"], softmax=p["softmax"],
                         in_bits=p["in_bits"], in_frac=p["in_frac"], lut_frac=p["lut_frac"],
                         m_bits=p["m_bits"])
    return params, random_inputs(params, seed=int(os.environ.get("LOWBIT_BLOCK_SEED", "1")))


def words(bench, params, inputs):
    """The payload words of each input stream for one layer, and the expected ``o`` values
    in the order the block gives them (channel-major: beat c * T + t)."""
    lanes, d, t = bench.params["lanes"], params.d_model, params.tokens
    pack = bench.pack
    cfg = {"cfg__payload.tokens": t,
           "cfg__payload.m_s": inputs.requant["score"].m, "cfg__payload.s_s": inputs.requant["score"].s,
           "cfg__payload.m_x": inputs.requant["context"].m,
           "cfg__payload.s_x": inputs.requant["context"].s}
    if inputs.clip is not None:
        cfg["cfg__payload.clip"] = inputs.clip
        cfg.update({f"cfg__payload.lut.{k}": v for k, v in enumerate(inputs.lut)})
    x = [pack("x__payload", {f"x__payload.{k}": inputs.x[tok, b * lanes + k] for k in range(lanes)})
         for tok in range(t) for b in range(d // lanes)]
    w, ch = [], []
    for p in PROJECTIONS:
        codes = np.asarray(inputs.weights[p])
        pair = inputs.requant.get(p)
        for c in range(d):
            w += [pack("w__payload", {f"w__payload.{k}": codes[c, b * lanes + k]
                                      for k in range(lanes)}) for b in range(d // lanes)]
            fields = {"ch__payload.bias": inputs.bias[p][c],
                      "ch__payload.m": pair.m[c] if pair is not None else 0,
                      "ch__payload.s": pair.s[c] if pair is not None else 0}
            if params.engine == BlockEngine.BITPLANE:   # the ABQ zero point of the channel
                fields["ch__payload.zero_point"] = inputs.zero_points[p][c]
            ch.append(pack("ch__payload", fields))
    expected = block_forward(params, inputs).out.T.reshape(-1)
    return {"cfg": [pack("cfg__payload", cfg)], "x": x, "w": w, "ch": ch}, expected


def out_values(bench, got):
    """The ``data`` field of each ``o`` word, and the index of each ``last``."""
    fields = [bench.unpack("o__payload", word) for word in got]
    return ([f["o__payload.data"] for f in fields],
            [k for k, f in enumerate(fields) if f["o__payload.last"]])


async def start(bench):
    await bench.start({})
    for port in INPUTS:
        bench.source(port)
    bench.sink("o")


def set_pauses(bench, rng, p_valid, p_ready):
    for port in INPUTS:
        source = bench.source(port)
        source.set_pause_generator(random_pauses(rng, 1 - p_valid))
        source.pause = False
    sink = bench.sink("o")
    sink.set_pause_generator(random_pauses(rng, 1 - p_ready))
    sink.pause = False


async def run_layer(bench, streams, count, max_cycles):
    """Queue one layer's words and wait for ``count`` outputs; returns (words, cycle of the
    cfg handshake, cycle of the last output's handshake) in cycles since the call."""
    clk, o = bench.dut.clk, bench.monitor("o")
    cfg = bench.monitor("cfg")
    first_o, first_cfg = len(o), len(cfg)
    await FallingEdge(clk)
    for port in INPUTS:
        for word in streams[port]:
            bench.source(port).send_nowait(word)
    cycles = 0
    while len(o) - first_o < count and cycles < max_cycles:
        await FallingEdge(clk)
        cycles += 1
    assert len(o) - first_o == count, (
        f"{len(o) - first_o} of {count} outputs after {cycles} cycles")
    layer_cycles = round((o.times[-1] - cfg.times[first_cfg]) / 10) + 1
    return o.words[first_o:], layer_cycles


def check_layer(bench, got, expected, what):
    values, lasts = out_values(bench, got)
    checked = expect_equal(what, values, list(expected), item="o beat (c * T + t)")
    assert lasts == [len(expected) - 1], f"{what}: last on beats {lasts}, expected only the final one"
    return checked


# Short layers run after the main one (random inputs): rows of 1 and 3 scores are shorter
# than the softmax's row time, so the sequencer paces them and the context waits for its P
# rows (the formula's two max terms), and the formula must hold there too; the layer also
# follows another without a reset.
SHORT_TOKENS = (1, 3)


@cocotb.test()
async def layer_bit_exact(dut):
    """One layer, nothing stalled: bit-exact, and its cycles equal the formula; then (unless
    the run is one long layer of ``lowbit block``) layers of :data:`SHORT_TOKENS` tokens."""
    bench = Bench(dut)
    params, inputs = the_case(bench)
    await start(bench)
    set_pauses(bench, bench.rng("exact"), 1.0, 1.0)
    short = [] if _ONLY_EXACT else [t for t in SHORT_TOKENS
                                    if t != params.tokens and t <= bench.params["max_tokens"]]
    checked = sent = received = 0
    runs = []
    for case in [(params, inputs)] + [the_case(bench, t) for t in short]:
        streams, expected = words(bench, *case)
        tokens = case[0].tokens
        formula = bench.meta["cycles"][tokens]
        got, cycles = await run_layer(bench, streams, len(expected), 40 * formula + 1000)
        checked += check_layer(bench, got, expected, f"layer output ({tokens} tokens)")
        assert cycles == formula, (f"{cycles} cycles for the layer of {tokens} tokens, the "
                                   f"formula says {formula}")
        sent, received = sent + len(expected), received + len(got)
        runs.append({"tokens": tokens, "cycles": cycles, "formula": formula})
    bench.record("layer_bit_exact", checked, sent=sent, received=received, checked=checked,
                 **runs[0], layers=runs)


@cocotb.test(skip=_ONLY_EXACT)
async def layer_under_stalls(dut):
    """One layer with random gaps on every input and back-pressure on ``o``."""
    bench = Bench(dut)
    params, inputs = the_case(bench)
    streams, expected = words(bench, params, inputs)
    await start(bench)
    rng = bench.rng("stalls")
    set_pauses(bench, rng, 0.7, 0.6)
    formula = bench.meta["cycles"][params.tokens]
    got, cycles = await run_layer(bench, streams, len(expected), 40 * formula + 1000)
    checked = check_layer(bench, got, expected, "layer output under stalls")
    bench.record("layer_under_stalls", checked, sent=len(expected), received=len(got),
                 checked=checked, cycles=cycles)


@cocotb.test(skip=_ONLY_EXACT)
async def reset_in_flight(dut):
    """Reset at a random cycle of a stalled layer; then a whole layer again, exact."""
    bench = Bench(dut)
    params, inputs = the_case(bench)
    streams, expected = words(bench, params, inputs)
    await start(bench)
    rng = bench.rng("reset")
    formula = bench.meta["cycles"][params.tokens]
    checked = 0
    for _ in range(soak(1)):
        set_pauses(bench, rng, 0.8, 0.5)
        for port in INPUTS:
            for word in streams[port]:
                bench.source(port).send_nowait(word)
        for _ in range(int(rng.integers(1, formula))):
            await FallingEdge(dut.clk)
        await bench.reset()
        for port in INPUTS:
            bench.source(port).clear()
        bench.sink("o").clear()
        for cycle in range(8):
            await RisingEdge(dut.clk)
            assert not dut.o__valid.value, f"an output {cycle} cycles after the reset"
        set_pauses(bench, rng, 0.7, 0.6)
        got, _ = await run_layer(bench, streams, len(expected), 40 * formula + 1000)
        checked += check_layer(bench, got, expected, "layer output after a reset")
    bench.record("reset_in_flight", checked, sent=checked, received=checked, checked=checked)
