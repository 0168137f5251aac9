"""cocotb testbench for every multiply-accumulate unit (ports weight, act, valid, clear, acc).

The golden model (``unit.golden_model``) supplies ``product(weights, acts)`` and
``run(weights, acts, valid, clear)`` (the accumulator after each cycle); everything here is
compared with it bit for bit.
"""

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge

from lowbit.core.widths import signed_range

from .tb_support import Bench, expect_equal, soak

# Above this many (weight, activation) pairs the product check samples instead of
# enumerating; INT8 x INT8 (65,536 pairs) and every dINT4 configuration stay exhaustive.
EXHAUSTIVE_LIMIT = 1 << 17
IDLE = {"weight": 0, "act": 0, "valid": 0, "clear": 0}


async def run_beats(bench, weights, acts, valid, clear):
    """Drive one beat per cycle and return ``acc`` as seen ``latency`` cycles after each beat."""
    dut, n, latency = bench.dut, len(weights), bench.latency
    samples = np.zeros(n, dtype=np.int64)
    for k in range(n + latency):
        await FallingEdge(dut.clk)
        if k >= latency:
            samples[k - latency] = bench.read_signed("acc")
        if k < n:
            bench.drive({"weight": weights[k], "act": acts[k], "valid": valid[k],
                         "clear": clear[k]})
        else:
            bench.drive(IDLE)
    return samples


def all_pairs(bench, rng):
    """Every (weight, act) pair, or a seeded sample with the extreme corners if too many."""
    weights, acts = bench.domain("weight"), bench.domain("act")
    if len(weights) * len(acts) <= EXHAUSTIVE_LIMIT:
        w, a = np.meshgrid(weights, acts, indexing="ij")
        return w.ravel(), a.ravel(), True
    corners_w = np.repeat(weights[[0, 0, -1, -1]], 1)
    corners_a = acts[[0, -1, 0, -1]]
    w = np.concatenate([corners_w, rng.choice(weights, EXHAUSTIVE_LIMIT)])
    a = np.concatenate([corners_a, rng.choice(acts, EXHAUSTIVE_LIMIT)])
    return w, a, False


@cocotb.test()
async def reset_state_and_exact_latency(dut):
    """After reset acc is 0; one product appears exactly `latency` cycles after its beat."""
    bench = Bench(dut)
    await bench.start(IDLE)
    weights, acts, _ = all_pairs(bench, bench.rng("latency"))
    largest = np.argmax(np.abs(bench.model.product(weights, acts)))  # a non-zero product
    w, a = weights[largest], acts[largest]
    expected = int(bench.model.product(np.array([w]), np.array([a]))[0])
    trace = []
    for k in range(bench.latency + 3):
        await FallingEdge(dut.clk)
        trace.append(bench.read_signed("acc"))
        bench.drive({"weight": w, "act": a, "valid": 1, "clear": 1} if k == 0 else IDLE)
    # trace[k] is sampled before driving at edge k; the beat is driven at edge 0.
    want = [0] * bench.latency + [expected] * 3
    assert trace == want, f"acc over cycles {trace}, expected {want} (latency {bench.latency})"
    bench.record("reset_state_and_exact_latency", 1, latency=bench.latency)


@cocotb.test()
async def every_product(dut):
    """Each (weight, act) pair loaded with clear & valid: acc equals the golden product."""
    bench = Bench(dut)
    await bench.start(IDLE)
    weights, acts, exhaustive = all_pairs(bench, bench.rng("every_product"))
    ones = np.ones(len(weights), dtype=np.int64)
    got = await run_beats(bench, weights, acts, ones, ones)
    expect_equal("product", got, bench.model.product(weights, acts), item="beat",
                 weight=weights, act=acts)
    bench.record("every_product", len(weights), exhaustive=exhaustive)


def biased_sequence(bench, rng, n, run_length=64):
    """Beats whose products keep one sign for runs of ``run_length``, so that a narrow
    accumulator crosses its range again and again; valid and clear are random."""
    weights, acts, _ = all_pairs(bench, rng)
    products = bench.model.product(weights, acts)
    up, down = np.flatnonzero(products >= 0), np.flatnonzero(products <= 0)
    picks = []
    for start in range(0, n, run_length):
        pool = up if (start // run_length) % 2 == 0 else down
        picks.append(rng.choice(pool, min(run_length, n - start)))
    picks = np.concatenate(picks)
    valid = (rng.random(n) < 0.9).astype(np.int64)
    clear = (rng.random(n) < 0.01).astype(np.int64)
    return weights[picks], acts[picks], valid, clear


def count_overflows(bench, products, valid, clear, acc):
    """How many beats left the accumulator's range (wrapped or saturated), per the model."""
    lo, hi = signed_range(bench.params["acc_bits"])
    before = np.concatenate([[0], acc[:-1]])
    exact = np.where(clear == 1, 0, before) + np.where(valid == 1, products, 0)
    return int(np.count_nonzero((exact < lo) | (exact > hi)))


@cocotb.test()
async def random_accumulation(dut):
    """Seeded random beats with random valid and clear, against the golden accumulator."""
    bench = Bench(dut)
    await bench.start(IDLE)
    n = soak(6000)
    weights, acts, valid, clear = biased_sequence(bench, bench.rng("random_accumulation"), n)
    expected = bench.model.run(weights, acts, valid, clear)
    got = await run_beats(bench, weights, acts, valid, clear)
    expect_equal("acc", got, expected, item="beat", weight=weights, act=acts, valid=valid,
                 clear=clear)
    overflows = count_overflows(bench, bench.model.product(weights, acts), valid, clear, expected)
    bench.record_counts("random_accumulation", n, sent=n, received=len(got),
                        checked=len(expected), overflows=overflows,
                        skipped=int(n - valid.sum()))


@cocotb.test()
async def reset_in_the_middle_of_a_sum(dut):
    """Reset during accumulation (with beats in the pipeline) empties acc and the pipeline;
    each round resets after a random number of beats and checks the sum that follows."""
    bench = Bench(dut)
    await bench.start(IDLE)
    rng = bench.rng("reset_in_the_middle_of_a_sum")
    rounds, sent, received, checked = soak(1), 0, 0, 0
    for _ in range(rounds):
        weights, acts, valid, clear = biased_sequence(bench, rng, 200)
        valid[:] = 1
        cut = int(rng.integers(1, 150))
        await run_beats(bench, weights[:cut], acts[:cut], valid[:cut], clear[:cut])
        # Beats in flight when reset rises must not reach the accumulator afterwards.
        bench.drive({"weight": weights[cut], "act": acts[cut], "valid": 1, "clear": 0})
        await bench.reset()
        bench.drive(IDLE)
        got = await run_beats(bench, weights[cut:], acts[cut:], valid[cut:], clear[cut:])
        expected = bench.model.run(weights[cut:], acts[cut:], valid[cut:], clear[cut:])
        expect_equal("acc after reset", got, expected, item="beat", weight=weights[cut:],
                     act=acts[cut:])
        sent, received, checked = sent + len(weights) - cut, received + len(got), \
            checked + len(expected)
    # vectors: every beat driven, before and after the resets
    bench.record_counts("reset_in_the_middle_of_a_sum", 200 * rounds, sent=sent,
                        received=received, checked=checked, rounds=rounds)
