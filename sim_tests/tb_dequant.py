"""cocotb testbench for the weight dequantizers (stream of (code, FP16 scale), stream of FP16):
every code against a wide set of scales, bit-exact to the golden model (NumPy float16)."""

import cocotb
import numpy as np

from .tb_support import Bench, StreamRun


def scale_patterns(rng, n_random=1500):
    """binary16 patterns that reach every path: both signs of zero, every subnormal exponent
    edge, the normal exponents where a shift by 0..15 leaves the normal range, the largest
    finite values, infinities, quiet and signalling NaNs, plus seeded random patterns."""
    mantissas = np.array([0, 1, 2, 3, 0x1FF, 0x200, 0x201, 0x2AA, 0x355, 0x3FE, 0x3FF])
    exponents = np.array([0, 1, 2, 3, 5, 8, 12, 15, 16, 17, 29, 30, 31])
    grid = (exponents[:, None] << 10 | mantissas[None, :]).ravel()
    patterns = np.concatenate([grid, grid | 0x8000, rng.integers(0, 1 << 16, n_random)])
    return np.unique(patterns).astype(np.int64)


async def check(bench, codes, scales, run):
    words = [bench.pack("i__payload", {"i__payload.code": c, "i__payload.scale": s})
             for c, s in zip(codes, scales)]
    got = np.array(await run.run(words, expect=len(words), max_cycles=30 * len(words) + 50),
                   dtype=np.int64)
    expected = np.asarray(bench.model.dequant(codes, scales), dtype=np.int64)
    assert len(got) == len(expected), f"{len(got)} weights for {len(expected)} inputs"
    bad = np.flatnonzero(got != expected)
    assert not len(bad), (f"{len(bad)} wrong weights; first: code {codes[bad[0]]}, scale "
                          f"{scales[bad[0]]:#06x}: got {got[bad[0]]:#06x}, expected "
                          f"{expected[bad[0]]:#06x}")


@cocotb.test()
async def every_code_times_every_scale_class(dut):
    """Every code with every scale pattern, back to back: exact weights, one per cycle, with
    the documented latency."""
    bench = Bench(dut)
    await bench.start({"i__valid": 0, "i__payload": 0, "o__ready": 1})
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
    await bench.start({"i__valid": 0, "i__payload": 0, "o__ready": 1})
    rng = bench.rng("stalls")
    n = 2000
    codes = rng.choice(bench.field_domain_scalar("i__payload.code"), n)
    scales = rng.choice(scale_patterns(rng), n)
    await check(bench, codes, scales, StreamRun(bench, rng, p_valid=0.6, p_ready=0.5))
    bench.record("random_stalls", n)
