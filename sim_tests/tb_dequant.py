"""cocotb testbench for the weight dequantizers (stream of (code, FP16 scale), stream of FP16):
every code against a wide set of scales, bit-exact to the golden model (NumPy float16); random
stalls; reset with weights inside."""

import cocotb
import numpy as np

from .tb_support import Bench, StreamRun, expect_equal, reset_with_items_inside, soak

IDLE = {"i__valid": 0, "i__payload": 0, "o__ready": 1}


def scale_patterns(rng, n_random=1500):
    """binary16 patterns that reach every path: both signs of zero, every subnormal exponent
    edge, the normal exponents where a shift by 0..15 leaves the normal range, the largest
    finite values, infinities, quiet and signalling NaNs, plus seeded random patterns."""
    mantissas = np.array([0, 1, 2, 3, 0x1FF, 0x200, 0x201, 0x2AA, 0x355, 0x3FE, 0x3FF])
    exponents = np.array([0, 1, 2, 3, 5, 8, 12, 15, 16, 17, 29, 30, 31])
    grid = (exponents[:, None] << 10 | mantissas[None, :]).ravel()
    patterns = np.concatenate([grid, grid | 0x8000, rng.integers(0, 1 << 16, n_random)])
    return np.unique(patterns).astype(np.int64)


def pack(bench, codes, scales):
    return [bench.pack("i__payload", {"i__payload.code": c, "i__payload.scale": s})
            for c, s in zip(codes, scales)]


async def check(bench, codes, scales, run):
    """Stream ``codes`` and ``scales`` through ``run``, then a few quiet cycles in which a
    duplicate would show; compare every weight. Returns how many were compared."""
    words = pack(bench, codes, scales)
    await run.run(words, expect=len(words), max_cycles=30 * len(words) + 50)
    await run.drain(bench.latency + 3)
    expected = np.asarray(bench.model.dequant(codes, scales), dtype=np.int64)
    return expect_equal("weights", run.outputs, expected, item="weight", fmt=_hex,
                        code=codes, scale=[_hex(s) for s in scales])


def _hex(pattern):
    return f"{int(pattern):#06x}"


@cocotb.test()
async def every_code_times_every_scale_class(dut):
    """Every code with every scale pattern, back to back: exact weights, one per cycle, with
    the documented latency."""
    bench = Bench(dut)
    await bench.start(IDLE)
    scales = scale_patterns(bench.rng("scales"))
    codes_domain = bench.field_domain_scalar("i__payload.code")
    codes = np.repeat(codes_domain, len(scales))
    tiled = np.tile(scales, len(codes_domain))
    run = StreamRun(bench, bench.rng("full-rate"))
    await check(bench, codes, tiled, run)
    assert run.delivered == [c + bench.latency for c in run.accepted]
    assert run.accepted == list(range(len(codes))), "the input was not ready every cycle"
    bench.record("every_code_times_every_scale_class", len(codes), scales=len(scales))


@cocotb.test()
async def random_stalls(dut):
    """Random codes and scales with random valid gaps and back-pressure."""
    bench = Bench(dut)
    await bench.start(IDLE)
    rng = bench.rng("stalls")
    n = soak(2000)
    codes = rng.choice(bench.field_domain_scalar("i__payload.code"), n)
    scales = rng.choice(scale_patterns(rng), n)
    run = StreamRun(bench, rng, p_valid=0.6, p_ready=0.5)
    checked = await check(bench, codes, scales, run)
    bench.record_counts("random_stalls", n, sent=len(run.accepted), received=len(run.outputs),
                        checked=checked)


@cocotb.test()
async def reset_with_weights_inside(dut):
    """Reset while weights wait inside behind a stalled output: nothing comes out afterwards
    until new inputs go in, and those come out exact, none lost or duplicated."""
    bench = Bench(dut)
    await bench.start(IDLE)
    rng = bench.rng("reset")
    code_domain, scales = bench.field_domain_scalar("i__payload.code"), scale_patterns(rng)
    rounds, sent, received, checked = soak(4), 0, 0, 0
    for _ in range(rounds):
        await reset_with_items_inside(bench, rng, pack(bench, rng.choice(code_domain, 8),
                                                        rng.choice(scales, 8)),
                                      cycles=int(rng.integers(1, 6)),
                                      quiet_cycles=bench.latency + 3)
        codes, after_scales = rng.choice(code_domain, 50), rng.choice(scales, 50)
        run = StreamRun(bench, rng, p_valid=0.8, p_ready=0.7)
        checked += await check(bench, codes, after_scales, run)
        sent, received = sent + len(run.accepted), received + len(run.outputs)
    bench.record_counts("reset_with_weights_inside", checked, sent=sent, received=received,
                        checked=checked, rounds=rounds)
