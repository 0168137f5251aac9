"""cocotb testbench of btc_array: the matrix tests both arrays share (tb_matrix.py), plus
btc_array's own: back-to-back jobs of one shape at exactly p x q x K / k_slice cycles apart,
and real (MiniLM) jobs from a file."""

import os

import cocotb
import numpy as np

from .tb_matrix import (Jobs, btc_timeline, check, precision_grid_cycle_exact,  # noqa: F401
                        random_jobs_with_stalls, reset_in_the_middle_of_a_job,
                        short_and_full_jobs_against_back_pressure, start)
from .tb_support import StreamRun

__all__ = ["precision_grid_cycle_exact", "random_jobs_with_stalls",
           "short_and_full_jobs_against_back_pressure", "reset_in_the_middle_of_a_job",
           "back_to_back_jobs_take_p_q_slices_cycles", "real_data_jobs"]


@cocotb.test()
async def back_to_back_jobs_take_p_q_slices_cycles(dut):
    """btc_array: runs of jobs of one shape, offered back to back with the output always
    ready: after the first job, every result follows the one before by exactly p x q x
    K / k_slice cycles (the loads hide behind the compute), at W1A1, W2A8, the array's
    largest p x q and W1A(q_max); and every beat and result at the cycle btc_timeline says."""
    bench = await start(dut)
    jobs = Jobs(bench, bench.rng("back-to-back"))
    p_max, q_max = bench.params["p_max"], bench.params["q_max"]
    for p, q, slices in [(1, 1, 2), (2, 8, 2), (p_max, q_max, 1), (1, q_max, 3)]:
        specs = [jobs.make(slices, p, q, bool(n % 2), True) for n in range(4)]
        p, q = specs[0][2]["p"], specs[0][2]["q"]
        slices = jobs.slices(specs[0][0])
        run = StreamRun(bench, jobs.rng)
        await run.run([w for spec in specs for w in jobs.beats(*spec)], expect=len(specs),
                      max_cycles=len(specs) * (p * q * slices + 60) + 100)
        check(jobs, run.outputs, [jobs.expected(*spec) for spec in specs])
        gaps = [b - a for a, b in zip(run.delivered, run.delivered[1:])]
        assert gaps == [p * q * slices] * (len(specs) - 1), f"W{p}A{q}: results {gaps} apart"
        accepted, delivered = btc_timeline([(p, q, slices)] * len(specs), bench.latency)
        assert (run.accepted, run.delivered) == (accepted, delivered)
        await run.drain(bench.latency + 4)
    bench.record("back_to_back_jobs_take_p_q_slices_cycles", 16 * bench.params["rows"] *
                 bench.params["cols"])


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
