"""cocotb testbench for the N-lane dot-product units (stream ``i`` of weights and acts,
stream ``o`` of sums): exact sums, exact latency, full throughput, random stalls, reset.

With ``LOWBIT_DOT_BEATS`` naming a ``.npz`` file of ``weights`` and ``acts`` (beats x lanes,
e.g. a MiniLM layer's quantized weights and captured activations), one more test streams those
beats through with random stalls and checks every sum against the golden model."""

import os

import cocotb
import numpy as np

from .tb_support import Bench, expect_equal, full_rate_run, reset_rounds, soak, stalled_run


def random_beats(bench, rng, beats, extreme_share=0.3):
    """Seeded (weights, acts) of shape (beats, lanes); a share of lanes take extreme values."""
    lanes = bench.params["lanes"]
    weights_domain = bench.field_domain("i__payload", "weights")
    acts_domain = bench.field_domain("i__payload", "acts")
    weights = rng.choice(weights_domain, (beats, lanes))
    acts = rng.choice(acts_domain, (beats, lanes))
    extreme = rng.random((beats, lanes)) < extreme_share
    acts[extreme] = rng.choice(acts_domain[[0, -1]], np.count_nonzero(extreme))
    return weights, acts


def pack_beats(bench, weights, acts):
    lanes = weights.shape[1]
    return [bench.pack("i__payload", {**{f"i__payload.weights.{k}": w[k] for k in range(lanes)},
                                      **{f"i__payload.acts.{k}": a[k] for k in range(lanes)}})
            for w, a in zip(weights, acts)]


def sums_of(bench, words):
    return np.array([bench.unpack("o__payload", w)["o__payload"] for w in words], dtype=np.int64)


async def start(dut):
    bench = Bench(dut)
    await bench.start({"i__valid": 0, "i__payload": 0, "o__ready": 1})
    return bench


def check_sums(bench, got_words, weights, acts):
    """Compare the sums with the golden model; returns how many were compared."""
    return expect_equal("sums", sums_of(bench, got_words), bench.model.dot(weights, acts),
                        item="beat", weights=weights, acts=acts)


@cocotb.test()
async def exact_latency_and_full_throughput(dut):
    """Never stalled: the first sum leaves exactly `latency` cycles after the first beat,
    then one sum per cycle."""
    bench = await start(dut)
    weights, acts = random_beats(bench, bench.rng("throughput"), 64)
    await full_rate_run(bench, pack_beats(bench, weights, acts),
                        lambda got: check_sums(bench, got, weights, acts))


@cocotb.test()
async def random_stalls_on_both_streams(dut):
    """Random valid gaps and random back-pressure: every sum exact, in order, none lost or
    duplicated, and the output payload held while stalled."""
    bench = await start(dut)
    weights, acts = random_beats(bench, bench.rng("stalls"), soak(1500))
    await stalled_run(bench, pack_beats(bench, weights, acts),
                      lambda got: check_sums(bench, got, weights, acts))


@cocotb.test()
async def reset_drops_items_in_flight(dut):
    """Reset with beats in the pipeline and the output stalled (the pipeline filled to a
    random depth, each round): afterwards nothing comes out until new beats go in, and those
    come out exact, none lost or duplicated."""
    bench = await start(dut)
    rng = bench.rng("reset")

    def draw():
        weights, acts = random_beats(bench, rng, 40)
        return (pack_beats(bench, weights, acts),
                lambda got, k: check_sums(bench, got, weights[k:], acts[k:]))
    await reset_rounds(bench, rng, draw, rounds=soak(4))


@cocotb.test(skip="LOWBIT_DOT_BEATS" not in os.environ)
async def real_data_beats(dut):
    """The beats of the ``LOWBIT_DOT_BEATS`` file, with random valid gaps and back-pressure:
    every sum equals the golden model's."""
    bench = await start(dut)
    with np.load(os.environ["LOWBIT_DOT_BEATS"]) as beats:
        weights, acts = beats["weights"].astype(np.int64), beats["acts"].astype(np.int64)
    await stalled_run(bench, pack_beats(bench, weights, acts),
                      lambda got: check_sums(bench, got, weights, acts), test="real_data_beats",
                      seed="real-data-run", p_valid=0.8, p_ready=0.7,
                      max_cycles=10 * len(weights) + 100)
