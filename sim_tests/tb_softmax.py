"""cocotb testbench for the row softmax units (``exaq_softmax`` and its baseline
``softmax_fixed``): stream ``i`` of logit beats, for EXAQ a per-row stream ``cfg`` of (clip,
table), stream ``o`` of output beats. Every output is compared bit for bit with the golden
model; the cycles per row are checked exactly against the circuit's formulas."""

import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly

from lowbit.golden_models.exaq_softmax import exaq_codes

from .tb_support import Bench, StreamFeeder, StreamRun, expect_equal, soak


# The cycle formulas the registry entry's testbench_meta tabulates (lowbit.units._row_formulas).
FORMULAS = ("beats", "row_latency", "cycles_per_row")
# The registry entries' variants: EXAQ, with the per-row cfg stream, and the fixed-point baseline.
VARIANTS = ("exaq", "fixed")


class Formulas:
    """The unit's cycle formulas per row length, read from the facts the runner passes
    (``bench.meta``: ``beats``, ``row_latency``, ``cycles_per_row`` tabulated for L =
    1..max_len), so the testbench never builds the component a second time."""

    def __init__(self, bench):
        missing = [name for name in FORMULAS if name not in bench.meta]
        if missing:
            raise KeyError(f"{bench.unit_name}: the runner passed no {', '.join(missing)} "
                           "(the registry entry's testbench_meta tabulates them)")
        self._tables = {name: bench.meta[name] for name in FORMULAS}

    def _get(self, name, length):
        return int(self._tables[name][length])

    def beats(self, length):
        return self._get("beats", length)

    def row_latency(self, length):
        return self._get("row_latency", length)

    def cycles_per_row(self, length):
        return self._get("cycles_per_row", length)


class Rows:
    """Rows for the unit under test, their stream words and what the golden model says."""

    def __init__(self, bench):
        self.bench = bench
        p = bench.params
        self.epc, self.max_len = p["epc"], p["max_len"]
        self.in_bits, self.in_frac = p["in_bits"], p["in_frac"]
        self.lo, self.hi = -(1 << (self.in_bits - 1)), (1 << (self.in_bits - 1)) - 1
        if bench.variant not in VARIANTS:
            raise KeyError(f"{bench.unit_name}: testbench variant {bench.variant!r}, not one of "
                           f"{', '.join(VARIANTS)} (the registry entry's variant)")
        self.exaq = bench.variant == "exaq"
        self.max_clip = (1 << (self.in_bits + 1)) - 1
        self.circuit = Formulas(bench)

    # Rows of logits.

    def length(self, rng):
        """A row length: often short, sometimes a multiple of epc plus one, sometimes full."""
        pick = rng.random()
        if pick < 0.1:
            return 1
        if pick < 0.2:
            return self.max_len
        if pick < 0.3:
            return min(self.max_len, self.epc + 1)
        return int(rng.integers(1, self.max_len + 1))

    def logits(self, rng, length, kind):
        if kind == "equal":
            return np.full(length, rng.integers(self.lo, self.hi + 1), dtype=np.int64)
        if kind == "one_survivor":   # all but one element as far below the max as possible
            x = np.full(length, self.lo, dtype=np.int64)
            x[rng.integers(length)] = self.hi
            return x
        if kind == "uniform":
            return rng.integers(self.lo, self.hi + 1, length).astype(np.int64)
        sigma = {"narrow": 0.25, "unit": 1.0, "wide": 4.0, "huge": 64.0}[kind]
        x = np.round(rng.normal(rng.normal(0, 2), sigma, length) * (1 << self.in_frac))
        return np.clip(x, self.lo, self.hi).astype(np.int64)

    def clip(self, rng, x):
        """A clip for EXAQ (None for the baseline): the EXAQ 3-bit rule on the row's spread
        mostly, sometimes the extremes 1 and max_clip or any value."""
        if not self.exaq:
            return None
        pick = rng.random()
        if pick < 0.1:
            return 1
        if pick < 0.2:
            return self.max_clip
        if pick < 0.35:
            return int(rng.integers(1, self.max_clip + 1))
        sigma = float(np.std(x)) / (1 << self.in_frac)
        return self.bench.model.fixed_clip(1.75 * sigma + 2.06)

    def random(self, rng, n, kinds=("narrow", "unit", "wide", "huge", "uniform", "equal",
                                     "one_survivor")):
        rows = []
        for k in range(n):
            kind = kinds[k % len(kinds)]
            x = self.logits(rng, self.length(rng), kind)
            clip = self.clip(rng, x)
            if kind == "one_survivor" and self.exaq:   # a clip the others are beyond
                clip = int(rng.integers(1, 1 << self.in_bits))
            rows.append((x, clip))
        return rows

    def tie_rows(self, rng, n, tries=40):
        """Up to ``n`` rows whose outputs include an exact rounding tie
        (``e R mod 2^(Q-O) = 2^(Q-O-1)``, rounded up), which random rows practically never
        give: ``n0`` elements at the max and ``n1`` at one other distance, searched over
        (n0, n1) for random clips and distances."""
        model, rows = self.bench.model, []
        lut_frac, q = model.lut_frac, model.q
        shift = q - model.out_frac
        half, mask = 1 << (shift - 1), (1 << shift) - 1
        n0 = np.arange(1, self.max_len + 1)[:, None]
        n1 = np.arange(0, self.max_len)[None, :]
        for _ in range(n * tries):
            if len(rows) == n:
                break
            if self.exaq:
                clip = int(rng.integers(1, self.max_clip + 1))
                table = model.lut(clip)
                k = int(rng.integers(1, len(table)))
                codes = exaq_codes(np.arange(1 << self.in_bits), clip, model.bits)
                distances = np.flatnonzero(codes == k)
                if not len(distances):
                    continue
                nd, value = int(distances[0]), int(table[k])
            else:
                clip = None
                step = self.in_frac - model.exp_index_frac
                j = int(rng.integers(1, min(256, (((1 << self.in_bits) - 1) >> step) + 1)))
                nd, value = j << step, int(model.rom[j])
            r = (1 << q) // (n0 * (1 << lut_frac) + n1 * value)
            tie = ((((1 << lut_frac) * r) & mask) == half) | \
                ((((value * r) & mask) == half) & (n1 > 0))
            found = np.argwhere(tie & (n0 + n1 <= self.max_len))
            if len(found):
                a, b = found[rng.integers(len(found))]
                x = np.array([self.hi] * int(n0[a, 0]) + [self.hi - nd] * int(n1[0, b]))
                rows.append((rng.permutation(x).astype(np.int64), clip))
        return rows

    def table_distances(self, rng, most=16):
        """A random clip (None for the baseline) and ``{table value: a distance to the max
        that reads it}`` for the values other than 0 and the max's own 2^F (the baseline: at
        most ``most`` random ROM entries)."""
        model = self.bench.model
        if self.exaq:
            clip = int(rng.integers(1, self.max_clip + 1))
            table = model.lut(clip)
            codes = exaq_codes(np.arange(1 << self.in_bits), clip, model.bits)
            found = {int(table[k]): int(np.flatnonzero(codes == k)[0])
                     for k in range(1, len(table)) if (codes == k).any()}
        else:
            clip = None
            step = self.in_frac - model.exp_index_frac
            reachable = min(256, (((1 << self.in_bits) - 1) >> step) + 1)
            picks = rng.permutation(np.arange(1, reachable))[:most]
            found = {int(model.rom[j]): int(j) << step for j in picks}
        return clip, {v: d for v, d in found.items() if 0 < v < (1 << model.lut_frac)}

    def power_of_two_rows(self, rng, n, tries=20):
        """Up to ``n`` rows whose sum S is a power of two 2^k and whose outputs include an
        exact rounding tie: the one case where ``R = 2^Q / S`` is exact, so that a reciprocal
        one too small (a restoring divider's comparison off by one) changes an output. With
        ``n0`` elements at the max, ``n1`` at a table value ``v = odd x 2^(k-O-1)`` (whose
        output is then a tie) and ``n2`` at another value ``u``, solved for ``n0``."""
        model, rows = self.bench.model, []
        lut_frac, out_frac = model.lut_frac, model.out_frac
        span = min(self.max_len, 256)
        n1 = np.arange(1, span)[:, None]
        n2 = np.arange(0, span)[None, :]
        for _ in range(n * tries if self.max_len > 1 else 0):
            if len(rows) == n:
                break
            clip, distances = self.table_distances(rng)
            hits = []
            for v in distances:
                k = out_frac + 1 + ((v & -v).bit_length() - 1)
                if not (1 << lut_frac) < (1 << k) <= self.max_len << lut_frac:
                    continue
                for u in [0, *distances]:
                    rest = (1 << k) - n1 * v - n2 * u
                    n0 = rest >> lut_frac
                    ok = ((rest & ((1 << lut_frac) - 1)) == 0) & (n0 >= 1) & \
                        (n0 + n1 + n2 <= self.max_len) & ((n2 == 0) | (u > 0))
                    hits += [(v, u, int(n0[a, b]), int(n1[a, 0]), int(n2[0, b]))
                             for a, b in np.argwhere(ok)[:4]]
            if hits:
                v, u, a, b, c = hits[rng.integers(len(hits))]
                x = [self.hi] * a + [self.hi - distances[v]] * b + \
                    ([self.hi - distances[u]] * c if c else [])
                rows.append((rng.permutation(np.array(x)).astype(np.int64), clip))
        return rows

    # Stream words.

    def beats(self, rows):
        words = []
        for x, _ in rows:
            for start in range(0, len(x), self.epc):
                chunk = x[start:start + self.epc]
                values = {f"i__payload.data.{k}": (chunk[k] if k < len(chunk) else 0)
                          for k in range(self.epc)}
                values.update({"i__payload.count": len(chunk),
                               "i__payload.last": int(start + self.epc >= len(x))})
                words.append(self.bench.pack("i__payload", values))
        return words

    def feeder(self, rng, rows, p_valid=1.0):
        """The ``cfg`` words of ``rows`` (EXAQ), as a feeder; ``()`` for the baseline."""
        if not self.exaq:
            return ()
        words = []
        for _, clip in rows:
            lut = self.bench.model.lut(clip)
            values = {"cfg__payload.clip": clip,
                      **{f"cfg__payload.lut.{k}": int(v) for k, v in enumerate(lut)}}
            words.append(self.bench.pack("cfg__payload", values))
        return (StreamFeeder(self.bench, rng, "cfg", words, p_valid=p_valid),)

    def output_beats(self, rows):
        return sum(self.circuit.beats(len(x)) for x, _ in rows)

    def expected(self, x, clip):
        model = self.bench.model
        return model.softmax(x, clip) if self.exaq else model.softmax(x)

    def check(self, rows, words):
        """Split the output beats into rows and compare them with the golden model: values,
        ``count`` (full beats but the last), ``last``, and 0 in the lanes past ``count``."""
        assert len(words) == self.output_beats(rows), (
            f"{len(words)} output beats for {self.output_beats(rows)} input beats")
        position = 0
        for n, (x, clip) in enumerate(rows):
            beats = self.circuit.beats(len(x))
            got = []
            for b in range(beats):
                fields = self.bench.unpack("o__payload", words[position + b])
                count = min(self.epc, len(x) - b * self.epc)
                assert fields["o__payload.count"] == count and \
                    fields["o__payload.last"] == int(b == beats - 1), (
                        f"row {n} beat {b}: count {fields['o__payload.count']}, last "
                        f"{fields['o__payload.last']}; expected {count}, {int(b == beats - 1)}")
                lanes = [fields[f"o__payload.data.{k}"] for k in range(self.epc)]
                assert not any(lanes[count:]), f"row {n} beat {b}: lanes past count not 0"
                got += lanes[:count]
            position += beats
            expected = self.expected(x, clip)
            expect_equal(f"row {n} (L={len(x)}, clip={clip})", got, expected, item="element",
                         x=x)
        return sum(len(x) for x, _ in rows)


async def start(dut):
    bench = Bench(dut)
    idle = {"i__valid": 0, "i__payload": 0, "o__ready": 1}
    if "cfg__payload" in bench.fields:
        idle.update({"cfg__valid": 0, "cfg__payload": 0})
    await bench.start(idle)
    return bench, Rows(bench)


async def stream(bench, rows_tool, rng, rows, *, p_valid=1.0, p_ready=1.0, p_cfg=1.0,
                 max_cycles=None, drain=0):
    """Run ``rows`` through the unit; returns (the StreamRun, the output words). When every
    output came, every ``cfg`` word must have been taken too (one per row). ``drain`` quiet
    cycles follow, in which any further output beat (a duplicate) joins the words."""
    run = StreamRun(bench, rng, p_valid=p_valid, p_ready=p_ready)
    feeders = rows_tool.feeder(rng, rows, p_cfg)
    beats = rows_tool.output_beats(rows)
    if max_cycles is None:
        slowest = min(p_valid, p_ready, p_cfg)
        max_cycles = int(sum(rows_tool.circuit.row_latency(len(x)) for x, _ in rows)
                         / slowest * 3) + 100
    words = await run.run(rows_tool.beats(rows), expect=beats, max_cycles=max_cycles,
                          feeders=feeders)
    if len(words) == beats:
        assert all(not feeder.pending for feeder in feeders), (
            "the rows came out but not every cfg word was taken")
    if drain:
        await run.drain(drain, feeders)
    return run, run.outputs


def drain_cycles(rows_tool, rows):
    """Quiet cycles after a run in which a duplicated row would have come out."""
    return rows_tool.circuit.row_latency(max(len(x) for x, _ in rows)) + 4


@cocotb.test()
async def exact_cycles_per_row(dut):
    """Never stalled: a row alone goes from its first input beat to its last output beat in
    exactly ``row_latency(L)`` cycles, taking one beat per cycle; rows back to back (each
    with its own clip) leave exactly ``cycles_per_row(L)`` cycles apart."""
    bench, rows_tool = await start(dut)
    rng = bench.rng("cycles")
    circuit, max_len = rows_tool.circuit, rows_tool.max_len
    vectors = 0
    for length in sorted({1, min(max_len, rows_tool.epc + 1), max_len}):
        x = rows_tool.logits(rng, length, "unit")
        rows = [(x, rows_tool.clip(rng, x))]
        run, words = await stream(bench, rows_tool, rng, rows)
        vectors += rows_tool.check(rows, words)
        beats = circuit.beats(length)
        first = run.accepted[0]
        assert run.accepted == list(range(first, first + beats)), (
            f"L={length}: input beats taken at {run.accepted}, not one per cycle")
        latency = run.delivered[-1] - first
        assert latency == circuit.row_latency(length), (
            f"L={length}: last output {latency} cycles after the first input, formula "
            f"{circuit.row_latency(length)}")
        assert run.delivered == list(range(run.delivered[0], run.delivered[0] + beats)), (
            f"L={length}: output beats left at {run.delivered}, not one per cycle")

    length = max_len if max_len <= 256 else max_len // 4 + 1
    rows = [(x, rows_tool.clip(rng, x)) for x in
            (rows_tool.logits(rng, length, kind) for kind in ("unit", "wide", "narrow", "huge"))]
    run, words = await stream(bench, rows_tool, rng, rows)
    vectors += rows_tool.check(rows, words)
    beats = circuit.beats(length)
    ends = [run.delivered[(k + 1) * beats - 1] for k in range(len(rows))]
    gaps = np.diff(ends).tolist()
    assert gaps == [circuit.cycles_per_row(length)] * (len(rows) - 1), (
        f"L={length}: rows left {gaps} cycles apart, formula {circuit.cycles_per_row(length)}")
    bench.record("exact_cycles_per_row", vectors, row_latency=circuit.row_latency(max_len),
                 cycles_per_row=circuit.cycles_per_row(length), length=length)


@cocotb.test()
async def random_rows_random_stalls(dut):
    """Rows of every kind (several scales, L = 1, all equal, all but one element clipped, L
    not a multiple of epc, L = max_len), each with its own clip, with random gaps on the
    input and configuration streams and random back-pressure on the output."""
    bench, rows_tool = await start(dut)
    rng = bench.rng("stalls")
    n_rows = soak(int(np.clip(8000 * rows_tool.epc // rows_tool.max_len, 8, 80)))
    rows = rows_tool.random(rng, n_rows)
    ties = rows_tool.tie_rows(rng, soak(3))
    exact = rows_tool.power_of_two_rows(rng, soak(2))
    rows += ties + exact
    order = rng.permutation(len(rows))
    rows = [rows[k] for k in order]
    run, words = await stream(bench, rows_tool, rng, rows, p_valid=0.6, p_ready=0.5, p_cfg=0.5,
                              drain=drain_cycles(rows_tool, rows))
    vectors = rows_tool.check(rows, words)
    # Beats: one output beat per input beat (rows_tool.check compared each of them).
    bench.record_counts("random_rows_random_stalls", vectors, sent=len(run.accepted),
                        received=len(words), checked=rows_tool.output_beats(rows),
                        rows=len(rows), tie_rows=len(ties), power_of_two_rows=len(exact),
                        cycles=run.cycle)


@cocotb.test()
async def reset_mid_row(dut):
    """Reset with one row half loaded and earlier rows inside the unit, the output stalled:
    afterwards nothing comes out until new rows go in, and those come out exact, none lost
    or duplicated. Later rounds (soak) reset at a random cycle of the same run."""
    bench, rows_tool = await start(dut)
    rng = bench.rng("reset")
    rounds, vectors, sent, received, checked = soak(1), 0, 0, 0, 0
    for n in range(rounds):
        length = max(1, min(rows_tool.max_len, 4 * rows_tool.epc + 1))
        rows = [(x, rows_tool.clip(rng, x)) for x in
                (rows_tool.logits(rng, length, "wide") for _ in range(3))]
        beats = rows_tool.circuit.beats(length)
        # With the output stalled, the first row waits in stage C (its first beats in the
        # output pipeline), the second moves on through B and R, and the third loads from
        # one cycle after the second entered B: stop half-way through it.
        cycles = beats + rows_tool.circuit.cycles_per_row(length) + 1 + (beats + 1) // 2
        if n:
            cycles = int(rng.integers(1, cycles + 1))
        await stream(bench, rows_tool, rng, rows, p_ready=0.0, max_cycles=cycles)
        await FallingEdge(dut.clk)  # leave the ReadOnly phase the run ended in
        dut.i__valid.value = 0
        if rows_tool.exaq:
            dut.cfg__valid.value = 0
        await bench.reset()
        quiet = StreamRun(bench, rng)
        quiet.idle()
        for _ in range(rows_tool.circuit.row_latency(length) + 4):
            await FallingEdge(dut.clk)
            await ReadOnly()
            assert not dut.o__valid.value, "an output survived the reset"
        await FallingEdge(dut.clk)
        after = rows_tool.random(rng, 4)
        run, words = await stream(bench, rows_tool, rng, after, p_valid=0.8, p_ready=0.8,
                                  p_cfg=0.8, drain=drain_cycles(rows_tool, after))
        vectors += rows_tool.check(after, words)
        sent, received = sent + len(run.accepted), received + len(words)
        checked += rows_tool.output_beats(after)
    bench.record_counts("reset_mid_row", vectors, sent=sent, received=received,
                        checked=checked, rounds=rounds)


@cocotb.test(skip="LOWBIT_ROWS" not in os.environ)
async def real_rows(dut):
    """Rows from the file named by LOWBIT_ROWS (an .npz of ``x_n`` logit rows and ``clip_n``
    clips, -1 for the baseline; e.g. MiniLM attention rows), back to back with stalls."""
    bench, rows_tool = await start(dut)
    rng = bench.rng("real")
    stored = np.load(os.environ["LOWBIT_ROWS"])
    rows = [(stored[f"x_{n}"].astype(np.int64),
             int(stored[f"clip_{n}"]) if rows_tool.exaq else None)
            for n in range(int(stored["count"]))]
    _, words = await stream(bench, rows_tool, rng, rows, p_valid=0.8, p_ready=0.7, p_cfg=0.8)
    vectors = rows_tool.check(rows, words)
    bench.record("real_rows", vectors, rows=len(rows))
