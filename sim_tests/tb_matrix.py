"""cocotb testbench for the matrix units (btc_array, int_array): jobs O = W @ A streamed in,
result matrices streamed out, compared bit for bit with the golden model.

btc_array beats are K-slices carrying codes and the job's precision; int_array beats are single
k columns. Both are driven through the same job/stream machinery (tb_support.StreamRun).
"""

import os

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge

from .tb_support import Bench, StreamRun


class Jobs:
    """Random jobs for the unit under test and their beats."""

    def __init__(self, bench, rng):
        self.bench, self.rng = bench, rng
        self.binary = "i__payload.p" in {f[0] for f in bench.fields["i__payload"]}
        self.rows, self.cols = bench.params["rows"], bench.params["cols"]

    def make(self, slices, p=8, q=8, w_signed=True, a_signed=True):
        """A job: ``(W, A, settings)`` with K = ``slices`` x k_slice (x 1 for int_array)."""
        from lowbit.golden_models.btc_array import code_range
        k = slices * (self.bench.params["k_slice"] if self.binary else 1)
        if not self.binary:  # the INT8 array has one format: signed 8-bit codes
            p, q, w_signed, a_signed = 8, 8, True, True
        else:                # the listed precisions, within what this array supports
            p, q = min(p, self.bench.params["p_max"]), min(q, self.bench.params["q_max"])
        w_lo, w_hi = code_range(p, w_signed)
        a_lo, a_hi = code_range(q, a_signed)
        W = self.rng.integers(w_lo, w_hi + 1, (self.rows, k))
        A = self.rng.integers(a_lo, a_hi + 1, (k, self.cols))
        # Extreme codes in a share of the entries: they carry the largest products.
        W[self.rng.random(W.shape) < 0.2] = w_lo
        A[self.rng.random(A.shape) < 0.2] = a_lo if a_signed else a_hi
        return W, A, dict(p=p, q=q, w_signed=w_signed, a_signed=a_signed)

    def expected(self, W, A, settings):
        if self.binary:
            return self.bench.model.matmul(W, A, **settings)
        return self.bench.model.matmul(W, A)

    def beats(self, W, A, settings):
        """The input words of one job."""
        if not self.binary:
            return [self.bench.pack("i__payload", {
                **{f"i__payload.w.{r}": W[r, k] for r in range(self.rows)},
                **{f"i__payload.a.{c}": A[k, c] for c in range(self.cols)},
                "i__payload.last": int(k == W.shape[1] - 1)}) for k in range(W.shape[1])]
        ks, p, q = self.bench.params["k_slice"], settings["p"], settings["q"]
        p_max, q_max = self.bench.params["p_max"], self.bench.params["q_max"]
        # The unit must ignore the bits above p (q): fill them with noise.
        w_noise = self.rng.integers(0, 1 << p_max, W.shape) & ~((1 << p) - 1)
        a_noise = self.rng.integers(0, 1 << q_max, A.shape) & ~((1 << q) - 1)
        w_codes = (W & ((1 << p) - 1)) | w_noise
        a_codes = (A & ((1 << q) - 1)) | a_noise
        n_slices = W.shape[1] // ks
        words = []
        for s in range(n_slices):
            fields = {"i__payload.p": p, "i__payload.q": q,
                      "i__payload.w_signed": int(settings["w_signed"]),
                      "i__payload.a_signed": int(settings["a_signed"]),
                      "i__payload.last": int(s == n_slices - 1)}
            for r in range(self.rows):
                for k in range(ks):
                    fields[f"i__payload.w.{r}.{k}"] = w_codes[r, s * ks + k]
            for c in range(self.cols):
                for k in range(ks):
                    fields[f"i__payload.a.{c}.{k}"] = a_codes[s * ks + k, c]
            words.append(self.bench.pack("i__payload", fields))
        return words

    def cycles_per_beat(self, settings):
        return settings["p"] * settings["q"] if self.binary else 1

    def result(self, word):
        values = self.bench.unpack("o__payload", word)
        return np.array([[values[f"o__payload.{r}.{c}"] for c in range(self.cols)]
                         for r in range(self.rows)], dtype=np.int64)


def check(jobs, got_words, expected):
    assert len(got_words) == len(expected), f"{len(got_words)} results for {len(expected)} jobs"
    for n, (word, want) in enumerate(zip(got_words, expected)):
        got = jobs.result(word)
        assert np.array_equal(got, want), f"job {n}: got\n{got}\nexpected\n{want}"


async def start(dut):
    bench = Bench(dut)
    await bench.start({"i__valid": 0, "i__payload": 0, "o__ready": 1})
    return bench


PRECISIONS = [(1, 1, False, False), (2, 8, True, False), (4, 4, True, True),
              (8, 8, True, True), (3, 5, False, True), (8, 2, False, False), (1, 8, True, True)]


@cocotb.test()
async def precision_grid_cycle_exact(dut):
    """Back-to-back jobs of every listed (p, q, signedness), never stalled: exact results,
    each beat taken after exactly p x q cycles, each result `latency` cycles after the last
    beat."""
    bench = await start(dut)
    jobs = Jobs(bench, bench.rng("grid"))
    grid = PRECISIONS if jobs.binary else PRECISIONS[:1]
    specs = [jobs.make(3, *(dict(zip(("p", "q", "w_signed", "a_signed"), g)).values()))
             for g in grid]
    words, beat_jobs = [], []
    for n, (W, A, settings) in enumerate(specs):
        job_words = jobs.beats(W, A, settings)
        words += job_words
        beat_jobs += [n] * len(job_words)
    run = StreamRun(bench, bench.rng("grid-run"))
    got = await run.run(words, expect=len(specs), max_cycles=200 * len(words) + 100)
    check(jobs, got, [jobs.expected(*spec) for spec in specs])
    # Cycle accounting: beat n is taken cycles_per_beat - 1 cycles after it is first offered.
    expected_cycles, cycle = [], 0
    for n, job in enumerate(beat_jobs):
        if jobs.binary:
            cycle += jobs.cycles_per_beat(specs[job][2])
            expected_cycles.append(cycle - 1)
        elif n and beat_jobs[n - 1] != job:
            cycle = run.delivered[beat_jobs[n - 1]] + 1  # int_array waits for the result
            expected_cycles.append(cycle)
            cycle += 1
        else:
            expected_cycles.append(cycle)
            cycle += 1
    assert run.accepted == expected_cycles, f"beats taken at {run.accepted}, expected {expected_cycles}"
    last_beats = [max(k for k, j in enumerate(beat_jobs) if j == n) for n in range(len(specs))]
    assert run.delivered == [run.accepted[k] + bench.latency for k in last_beats]
    bench.record("precision_grid_cycle_exact", len(specs) * bench.params["rows"] *
                 bench.params["cols"], cycles=run.cycle)


@cocotb.test()
async def random_jobs_with_stalls(dut):
    """Random precisions and lengths, random valid gaps and back-pressure."""
    bench = await start(dut)
    rng = bench.rng("stalls")
    jobs = Jobs(bench, rng)
    specs = []
    for _ in range(6):
        p = int(rng.integers(1, bench.params.get("p_max", 8) + 1))
        q = int(rng.integers(1, bench.params.get("q_max", 8) + 1))
        specs.append(jobs.make(int(rng.integers(1, 4)), p, q, bool(rng.integers(2)),
                               bool(rng.integers(2))))
    words = [w for spec in specs for w in jobs.beats(*spec)]
    run = StreamRun(bench, rng, p_valid=0.6, p_ready=0.4)
    got = await run.run(words, expect=len(specs), max_cycles=400 * len(words) + 500)
    check(jobs, got, [jobs.expected(*spec) for spec in specs])
    bench.record("random_jobs_with_stalls", len(specs) * bench.params["rows"] *
                 bench.params["cols"], cycles=run.cycle)


@cocotb.test()
async def reset_in_the_middle_of_a_job(dut):
    """Reset with a job half done: the next job starts clean."""
    bench = await start(dut)
    rng = bench.rng("reset")
    jobs = Jobs(bench, rng)
    first = jobs.make(4, 3, 3)
    words = jobs.beats(*first)
    await StreamRun(bench, rng).run(words[:2], expect=1, max_cycles=12)
    await FallingEdge(dut.clk)
    await bench.reset()
    second = jobs.make(2, 2, 4, False, True)
    got = await StreamRun(bench, rng, p_valid=0.8, p_ready=0.8).run(
        jobs.beats(*second), expect=1, max_cycles=2000)
    check(jobs, got, [jobs.expected(*second)])
    bench.record("reset_in_the_middle_of_a_job", bench.params["rows"] * bench.params["cols"])


@cocotb.test(skip="LOWBIT_JOBS" not in os.environ)
async def real_data_jobs(dut):
    """Jobs from the file named by LOWBIT_JOBS (an .npz of W_n, A_n and settings_n arrays,
    e.g. quantized MiniLM weights and activations): exact results, back to back."""
    bench = await start(dut)
    jobs = Jobs(bench, bench.rng("real"))
    stored = np.load(os.environ["LOWBIT_JOBS"])
    specs = []
    for n in range(int(stored["count"])):
        p, q, w_signed, a_signed = (int(v) for v in stored[f"settings_{n}"])
        specs.append((stored[f"W_{n}"].astype(np.int64), stored[f"A_{n}"].astype(np.int64),
                      dict(p=p, q=q, w_signed=bool(w_signed), a_signed=bool(a_signed))))
    words = [w for spec in specs for w in jobs.beats(*spec)]
    got = await StreamRun(bench, jobs.rng).run(words, expect=len(specs),
                                               max_cycles=100 * len(words) + 100)
    check(jobs, got, [jobs.expected(*spec) for spec in specs])
    # ... and those results are NumPy's plain integer matrix products (nothing wraps here).
    for W, A, settings in specs:
        assert np.array_equal(jobs.expected(W, A, settings), W @ A)
    bench.record("real_data_jobs", len(specs) * bench.params["rows"] * bench.params["cols"],
                 jobs=len(specs))
