"""cocotb testbench of ``requant`` (stream ``i`` of ``lanes`` accumulators with one (M, s),
stream ``o`` of the scaled, rounded, saturated codes): every result against the golden model,
exact latency, full throughput, random stalls, reset with beats in flight, and the corners
(exact halves, every shift 0..63, M at 0 / 1 / its maximum, accumulators at their extremes,
saturation both ways)."""

import cocotb
import numpy as np

from .tb_support import Bench, StreamRun, expect_equal, full_rate_run, reset_rounds, soak, stalled_run


def random_beats(bench, rng, beats):
    """Seeded (acc (beats, lanes), m (beats,), s (beats,)), a mix of four kinds of beat:
    uniform codes; shifts in the band where the result neither saturates nor vanishes;
    exact halves (M a power of two, acc a multiple of 2^(s-1-j) by an odd number), which
    only round half up tells from the other roundings; extremes of every field."""
    p = bench.params
    lanes, acc_bits, m_bits, out_bits = p["lanes"], p["acc_bits"], p["m_bits"], p["out_bits"]
    a_lo, a_hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    m_hi = (1 << m_bits) - 1
    product_bits = acc_bits + m_bits
    acc = rng.integers(a_lo, a_hi, (beats, lanes), endpoint=True)
    m = rng.integers(0, m_hi, beats, endpoint=True)
    s = rng.integers(0, 63, beats, endpoint=True)
    kind = rng.integers(0, 4, beats)
    band = kind == 1            # the useful band: about out_bits bits of the product survive
    centre = max(0, product_bits - out_bits)
    s[band] = np.clip(centre + rng.integers(-4, 3, int(band.sum())), 0, 63)
    halves = np.flatnonzero(kind == 2)
    for b in halves:
        j = int(rng.integers(0, m_bits))
        m[b] = 1 << j
        s[b] = int(rng.integers(1, min(63, j + acc_bits - 1) + 1))
        shift = max(0, int(s[b]) - 1 - j)
        odd_max = max(0, (a_hi >> shift) - 1) // 2
        odd = 2 * rng.integers(-odd_max - 1, odd_max, lanes, endpoint=True) + 1
        acc[b] = np.clip(odd << shift, a_lo, a_hi)
    extremes = kind == 3
    n_ext = int(extremes.sum())
    acc[extremes] = rng.choice([a_lo, a_hi, 0, -1, 1], (n_ext, lanes))
    m[extremes] = rng.choice([0, 1, m_hi], n_ext)
    s[extremes] = rng.choice([0, 1, 62, 63, centre], n_ext)
    return acc, m, s


def pack_beats(bench, acc, m, s):
    lanes = acc.shape[1]
    return [bench.pack("i__payload", {**{f"i__payload.acc.{k}": a[k] for k in range(lanes)},
                                      "i__payload.m": mm, "i__payload.s": ss})
            for a, mm, ss in zip(acc, m, s)]


def results_of(bench, words):
    lanes = bench.params["lanes"]
    return np.array([[bench.unpack("o__payload", w)[f"o__payload.{k}"] for k in range(lanes)]
                     for w in words], dtype=np.int64).reshape(len(words), lanes)


async def start(dut):
    bench = Bench(dut)
    await bench.start({"i__valid": 0, "i__payload": 0, "o__ready": 1})
    return bench


def check_results(bench, got_words, acc, m, s):
    """Compare with the golden model; returns how many beats were compared."""
    expected = bench.model.requant(acc, m[:, None], s[:, None])
    return expect_equal("results", results_of(bench, got_words), expected, item="beat", acc=acc, m=m, s=s)


@cocotb.test()
async def exact_latency_and_full_throughput(dut):
    """Never stalled: the first result leaves exactly `latency` cycles after the first beat,
    then one per cycle."""
    bench = await start(dut)
    acc, m, s = random_beats(bench, bench.rng("throughput"), 64)
    await full_rate_run(bench, pack_beats(bench, acc, m, s),
                        lambda got: check_results(bench, got, acc, m, s))


@cocotb.test()
async def every_shift_and_corner(dut):
    """Each shift 0..63 with M at 0, 1, its maximum and a random value, and accumulators at
    both extremes, 0, +-1 and random: every result exact (saturation both ways included)."""
    bench = await start(dut)
    p = bench.params
    rng = bench.rng("corners")
    a_lo, a_hi = -(1 << (p["acc_bits"] - 1)), (1 << (p["acc_bits"] - 1)) - 1
    m_hi = (1 << p["m_bits"]) - 1
    rows = []
    for s in range(64):
        for mm in (0, 1, m_hi, int(rng.integers(0, m_hi, endpoint=True))):
            for a in (a_lo, a_hi, 0, -1, 1, int(rng.integers(a_lo, a_hi, endpoint=True))):
                rows.append((a, mm, s))
    acc = np.array([[r[0]] * p["lanes"] for r in rows], dtype=np.int64)
    acc[:, 1:] = rng.integers(a_lo, a_hi, (len(rows), p["lanes"] - 1), endpoint=True)
    m = np.array([r[1] for r in rows], dtype=np.int64)
    s = np.array([r[2] for r in rows], dtype=np.int64)
    run = StreamRun(bench, rng, p_valid=0.9, p_ready=0.9)
    await run.run(pack_beats(bench, acc, m, s), expect=len(rows), max_cycles=20 * len(rows))
    await run.drain(bench.latency + 2)
    checked = check_results(bench, run.outputs, acc, m, s)
    bench.record_counts("every_shift_and_corner", len(rows), sent=len(run.accepted),
                        received=len(run.outputs), checked=checked)


@cocotb.test()
async def random_stalls_on_both_streams(dut):
    """Random valid gaps and back-pressure: every result exact, in order, none lost or
    duplicated, the output payload held while stalled (the stream monitor)."""
    bench = await start(dut)
    acc, m, s = random_beats(bench, bench.rng("stalls"), soak(1500))
    await stalled_run(bench, pack_beats(bench, acc, m, s),
                      lambda got: check_results(bench, got, acc, m, s))


@cocotb.test()
async def reset_drops_items_in_flight(dut):
    """Reset with beats in the pipeline and the output stalled: afterwards nothing comes out
    until new beats go in, and those come out exact."""
    bench = await start(dut)
    rng = bench.rng("reset")

    def draw():
        acc, m, s = random_beats(bench, rng, 40)
        return (pack_beats(bench, acc, m, s),
                lambda got, k: check_results(bench, got, acc[k:], m[k:], s[k:]))
    await reset_rounds(bench, rng, draw, rounds=soak(4))
