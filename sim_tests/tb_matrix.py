"""cocotb testbench for the matrix units (btc_array, int_array): jobs O = W @ A streamed in,
result matrices streamed out, compared bit for bit with the golden model. These are the tests
both arrays share; btc_array's own (tb_btc.py) import them.

btc_array beats are K-slices carrying codes and the job's precision; int_array beats are single
k columns. Both are driven through the same job/stream machinery (tb_support.StreamRun).
"""

import cocotb
import numpy as np

from .tb_support import Bench, StreamRun, expect_equal, reset_with_items_inside, soak


class Jobs:
    """Random jobs for the unit under test and their beats."""

    def __init__(self, bench, rng):
        self.bench, self.rng = bench, rng
        self.binary = bench.variant == "binary"      # btc_array; int_array is "int"
        self.rows, self.cols = bench.params["rows"], bench.params["cols"]

    def make(self, slices, p=8, q=8, w_signed=True, a_signed=True):
        """A job: ``(W, A, settings)`` with K = ``slices`` x k_slice (x 1 for int_array)."""
        from lowbit.golden_models.btc_array import code_range
        if self.binary:  # at most what the plane buffers hold
            slices = min(slices, self.bench.params["max_slices"])
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

    def full(self, slices, p=8, q=8, w_signed=True, a_signed=True):
        """A job whose codes have every bit set (btc_array: every bit plane is all ones, so
        every cell's popcount reaches its largest value, k_slice) or, for int_array, the most
        negative codes (the largest products)."""
        W, A, settings = self.make(slices, p, q, w_signed, a_signed)
        if self.binary:
            W[:] = -1 if settings["w_signed"] else (1 << settings["p"]) - 1
            A[:] = -1 if settings["a_signed"] else (1 << settings["q"]) - 1
        else:
            W[:], A[:] = -128, -128
        return W, A, settings

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
        from lowbit.golden_models.btc_array import job_beats
        ks, p, q = self.bench.params["k_slice"], settings["p"], settings["q"]
        words = []
        for n, beat in enumerate(job_beats(W, A, k_slice=ks, **settings)):
            plane = n % max(p, q)
            # A beat's plane fields beyond p (q) carry no plane: the unit must ignore them,
            # so they hold noise here.
            w = beat["w"] if plane < p else [self.noise(ks) for _ in range(self.rows)]
            a = beat["a"] if plane < q else [self.noise(ks) for _ in range(self.cols)]
            fields = {f"i__payload.{key}": beat[key]
                      for key in ("p", "q", "w_signed", "a_signed", "last")}
            fields.update({f"i__payload.w.{r}": w[r] for r in range(self.rows)})
            fields.update({f"i__payload.a.{c}": a[c] for c in range(self.cols)})
            words.append(self.bench.pack("i__payload", fields))
        return words

    def noise(self, bits):
        return int.from_bytes(self.rng.bytes((bits + 7) // 8), "little") & ((1 << bits) - 1)

    def slices(self, W):
        return W.shape[1] // (self.bench.params["k_slice"] if self.binary else 1)

    def result(self, word):
        values = self.bench.unpack("o__payload", word)
        return np.array([[values[f"o__payload.{r}.{c}"] for c in range(self.cols)]
                         for r in range(self.rows)], dtype=np.int64)


BANKS = 3   # hdl/btc_array.py: plane buffer banks


def btc_timeline(plan, latency):
    """When btc_array takes each beat and delivers each result, cycle by cycle, for jobs
    ``plan`` = [(p, q, slices)] offered back to back with the output always ready: a mirror
    of its loader (``max(p, q)`` beats a slice into the free bank after the last) and its
    sequencer (a job starts the cycle after its bank is full and the job before has issued
    its last pass, then issues ``p q slices`` passes; its result comes ``latency`` cycles
    after the last). Returns (beat cycles, result cycles)."""
    beats = [(n, k == max(p, q) * slices - 1) for n, (p, q, slices) in enumerate(plan)
             for k in range(max(p, q) * slices)]
    full, owner = [False] * BANKS, [None] * BANKS
    load_bank, bank, active, remaining, job = 0, 0, False, 0, None
    accepted, delivered, t, k = [], {}, 0, 0
    while len(delivered) < len(plan):
        set_bank = clear_bank = None
        if k < len(beats) and not full[load_bank]:
            accepted.append(t)
            if beats[k][1]:
                set_bank, owner[load_bank] = load_bank, beats[k][0]
                load_bank = (load_bank + 1) % BANKS
            k += 1
        last_pass = active and remaining == 1
        next_bank = (bank + 1) % BANKS if active else bank
        if last_pass:
            delivered[job] = t + latency
            clear_bank = bank
        if (not active or last_pass) and full[next_bank]:
            active, bank, job = True, next_bank, owner[next_bank]
            p, q, slices = plan[job]
            remaining = p * q * slices
        elif last_pass:
            active, bank = False, (bank + 1) % BANKS
        elif active:
            remaining -= 1
        if clear_bank is not None:
            full[clear_bank] = False
        if set_bank is not None:
            full[set_bank] = True
        t += 1
    return accepted, [delivered[n] for n in range(len(plan))]


def check(jobs, got_words, expected):
    """Compare the result matrices with the golden model's; returns how many were compared."""
    return expect_equal("result matrices", [jobs.result(word) for word in got_words],
                        list(expected), item="job")


def jobs_sent(run, job_beats):
    """How many jobs went in whole: every beat of them taken, in order."""
    taken, whole = len(run.accepted), 0
    for beats in job_beats:
        if taken < beats:
            break
        taken, whole = taken - beats, whole + 1
    return whole


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
    # The listed precisions and each array's own largest, where a plane index is widest.
    grid = PRECISIONS + [(bench.params.get("p_max", 8), bench.params.get("q_max", 8), True, False),
                         (bench.params.get("p_max", 8), 1, False, True)]
    grid = grid if jobs.binary else PRECISIONS[:1]
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
    if jobs.binary:
        plan = [(st["p"], st["q"], jobs.slices(W)) for W, A, st in specs]
        accepted, delivered = btc_timeline(plan, bench.latency)
    else:
        accepted, delivered, cycle = [], [], 0
        for n, job in enumerate(beat_jobs):
            if n and beat_jobs[n - 1] != job:
                cycle = run.delivered[beat_jobs[n - 1]] + 1  # int_array waits for the result
            accepted.append(cycle)
            cycle += 1
        last_beats = [max(k for k, j in enumerate(beat_jobs) if j == n) for n in range(len(specs))]
        delivered = [accepted[k] + bench.latency for k in last_beats]
    assert run.accepted == accepted, f"beats taken at {run.accepted}, expected {accepted}"
    assert run.delivered == delivered, f"results at {run.delivered}, expected {delivered}"
    bench.record("precision_grid_cycle_exact", len(specs) * bench.params["rows"] *
                 bench.params["cols"], cycles=run.cycle)


@cocotb.test()
async def random_jobs_with_stalls(dut):
    """Random precisions and lengths, random valid gaps and back-pressure: every result
    exact, none lost or duplicated."""
    bench = await start(dut)
    rng = bench.rng("stalls")
    jobs = Jobs(bench, rng)
    specs = []
    for _ in range(soak(6)):
        p = int(rng.integers(1, bench.params.get("p_max", 8) + 1))
        q = int(rng.integers(1, bench.params.get("q_max", 8) + 1))
        specs.append(jobs.make(int(rng.integers(1, 4)), p, q, bool(rng.integers(2)),
                               bool(rng.integers(2))))
    job_words = [jobs.beats(*spec) for spec in specs]
    words = [w for beats in job_words for w in beats]
    run = StreamRun(bench, rng, p_valid=0.6, p_ready=0.4)
    await run.run(words, expect=len(specs), max_cycles=400 * len(words) + 500)
    await run.drain(bench.latency + 4)    # a duplicate result would come out now
    checked = check(jobs, run.outputs, [jobs.expected(*spec) for spec in specs])
    bench.record_counts("random_jobs_with_stalls", len(specs) * bench.params["rows"] *
                        bench.params["cols"], sent=jobs_sent(run, map(len, job_words)),
                        received=len(run.outputs), checked=checked, cycles=run.cycle)


@cocotb.test()
async def short_and_full_jobs_against_back_pressure(dut):
    """One-slice jobs at W1A1..W2A2, whose beats are done in one to four passes, often while
    the previous result still waits at the stalled output (the array must not take a beat
    then), under heavy back-pressure; every other job has all code bits set (Jobs.full)."""
    bench = await start(dut)
    rng = bench.rng("short")
    jobs = Jobs(bench, rng)
    specs = []
    for n in range(soak(24)):
        settings = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), bool(rng.integers(2)),
                    bool(rng.integers(2)))
        specs.append((jobs.full if n % 2 else jobs.make)(1, *settings))
    job_words = [jobs.beats(*spec) for spec in specs]
    run = StreamRun(bench, rng, p_valid=0.9, p_ready=0.25)
    await run.run([w for beats in job_words for w in beats], expect=len(specs),
                  max_cycles=200 * len(specs) + 500)
    await run.drain(bench.latency + 4)
    checked = check(jobs, run.outputs, [jobs.expected(*spec) for spec in specs])
    bench.record_counts("short_and_full_jobs_against_back_pressure", len(specs) *
                        bench.params["rows"] * bench.params["cols"],
                        sent=jobs_sent(run, map(len, job_words)), received=len(run.outputs),
                        checked=checked, cycles=run.cycle)


@cocotb.test()
async def reset_in_the_middle_of_a_job(dut):
    """Reset with a job half done or its result waiting at the stalled output (a random
    point each round): no result comes out afterwards, and the next job starts clean."""
    bench = await start(dut)
    rng = bench.rng("reset")
    jobs = Jobs(bench, rng)
    rounds, sent, received, checked = soak(3), 0, 0, 0
    for n in range(rounds):
        first = jobs.make(4, 3, 3)
        words = jobs.beats(*first)
        job_cycles = (len(words) + first[2]["p"] * first[2]["q"] * jobs.slices(first[0])
                      + bench.latency if jobs.binary else len(words) + bench.latency)
        # The first round stops half-way through the job; later rounds anywhere up to the
        # result waiting at the output.
        cycles = job_cycles // 2 if n == 0 else int(rng.integers(1, job_cycles + 4))
        await reset_with_items_inside(bench, rng, words, cycles=cycles,
                                      quiet_cycles=job_cycles)
        second = jobs.make(2, 2, 4, False, True)
        run = StreamRun(bench, rng, p_valid=0.8, p_ready=0.8)
        second_words = jobs.beats(*second)
        await run.run(second_words, expect=1, max_cycles=2000)
        await run.drain(bench.latency + 4)
        checked += check(jobs, run.outputs, [jobs.expected(*second)])
        sent += jobs_sent(run, [len(second_words)])
        received += len(run.outputs)
    bench.record_counts("reset_in_the_middle_of_a_job", checked * bench.params["rows"] *
                        bench.params["cols"], sent=sent, received=received, checked=checked,
                        rounds=rounds)
