"""Workloads of the matrix arrays: ``btc_array`` (W2A8 jobs, ABQ-LLM's headline precision) and
its baseline ``int_array`` (INT8 x INT8), the output stream always ready.

Jobs are tiles of one MiniLM-L6 layer (``minilm``: the query projection of layer 0, ``rows``
output channels x K inputs against ``cols`` tokens' captured activations) or uniform random
codes (``random``), picked by the seed:

- ``btc_array``: weights quantized by the ABQ quantizer (``golden_models.abq``) to 2-bit
  unsigned codes per channel, activations to 8-bit unsigned codes per token (zero points stay
  outside the array), K = the largest multiple of ``k_slice`` up to 384 (MiniLM's width) that
  the plane buffers hold. Each job's ``max(p, q) x slices`` plane beats are offered at the
  start of its ``p x q x slices`` compute cycles, so the loads hide behind the compute and the
  array is busy every cycle; a job counts ``rows x cols x K`` MACs.
- ``int_array``: symmetric per-channel INT8 weights and per-token INT8 activations (the
  workloads' shared quantizers), one k per beat, K = 384, each job followed by the idle cycles
  the array takes to hand its result on.

The check: ``i.ready`` high on every cycle a beat is offered, and the results (``o.valid``
cycles, in order) equal the golden model's for the jobs that finished in the window.
"""

import numpy as np

from lowbit.core.errors import LowbitError

from . import Workload, act_codes_per_token, built, minilm_layer, pack_fields, to_signed, \
    weight_codes

__all__ = ["matrix_workload", "BTC_JOB", "MINILM_K"]

BTC_JOB = dict(p=2, q=8, w_signed=False, a_signed=False)     # W2A8, ABQ-LLM's unsigned codes
MINILM_K = 384


def _tiles(w, x, rows, cols, k, n, rng):
    """``n`` (W (rows, k), A (k, cols)) tiles of ``w`` (out, in) and ``x`` (tokens, in)."""
    tiles = []
    for _ in range(n):
        r0 = int(rng.integers(0, w.shape[0] - rows + 1))
        c0 = int(rng.integers(0, x.shape[0] - cols + 1))
        k0 = int(rng.integers(0, w.shape[1] - k + 1))
        tiles.append((w[r0:r0 + rows, k0:k0 + k], x[c0:c0 + cols, k0:k0 + k].T))
    return tiles


def _btc_jobs(unit, params, component, data, rng, n_jobs, cycles):
    from lowbit.golden_models.abq import quantize_activations, quantize_weights
    from lowbit.golden_models.btc_array import code_range
    rows, cols, ks = params["rows"], params["cols"], params["k_slice"]
    p, q = min(BTC_JOB["p"], params["p_max"]), min(BTC_JOB["q"], params["q_max"])
    # at least four jobs in the window (shorter jobs in a short window)
    slices = max(1, min(params["max_slices"], MINILM_K // ks, cycles // (4 * p * q)))
    k = slices * ks
    if data == "random":
        w_lo, w_hi = code_range(p, False)
        a_lo, a_hi = code_range(q, False)
        return [(rng.integers(w_lo, w_hi + 1, (rows, k)), rng.integers(a_lo, a_hi + 1, (k, cols)))
                for _ in range(n_jobs)], p, q, k
    w, x = minilm_layer()
    wq = quantize_weights(w, p).codes
    xq = quantize_activations(x, q).codes
    return _tiles(wq, xq, rows, cols, k, n_jobs, rng), p, q, k


def matrix_workload(unit, params, *, data, seed, cycles):
    """The workload of ``btc_array`` or ``int_array`` (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    component = built(unit, params)
    model = unit.golden_model(params)
    binary = unit.variant == "binary"
    rows, cols = params["rows"], params["cols"]
    layout = component.i.payload.shape()
    beats, offered, expected, macs = [], [], [], []
    if binary:
        from lowbit.golden_models.btc_array import job_beats
        probe, p, q, k = _btc_jobs(unit, params, component, data, rng, 1, cycles)
        period = p * q * (k // params["k_slice"])     # one job every period cycles
        n_jobs = max(1, -(-cycles // period))
        jobs = probe + _btc_jobs(unit, params, component, data, rng, n_jobs - 1, cycles)[0]
        load = max(p, q) * (k // params["k_slice"])
        settings = dict(BTC_JOB, p=p, q=q)
        for W, A in jobs:
            job = job_beats(W, A, k_slice=params["k_slice"], **settings)
            words = pack_fields(layout, {key: np.array([b[key] for b in job], dtype=object)
                                         for key in job[0]}, len(job))
            beats += list(words) + [0] * (period - len(job))
            offered += [1] * len(job) + [0] * (period - len(job))
            expected.append(model.matmul(W, A, **settings))
            macs.append(rows * cols * k)
    else:
        gap = component.latency + 2                   # the array hands its result on
        k = max(1, min(MINILM_K, cycles // 4 - gap))  # at least four jobs in the window
        load = k
        n_jobs = max(1, -(-cycles // (k + gap)))
        if data == "random":
            jobs = [(rng.integers(-128, 128, (rows, k)), rng.integers(-128, 128, (k, cols)))
                    for _ in range(n_jobs)]
        else:
            w, x = minilm_layer()
            codes, _ = weight_codes(None, {"weight_bits": 8}, w)
            xq = act_codes_per_token(x, 8)
            jobs = _tiles(codes, xq, rows, cols, k, n_jobs, rng)
        for W, A in jobs:
            words = pack_fields(layout, {"w": W.T, "a": A,
                                         "last": (np.arange(k) == k - 1).astype(np.int64)}, k)
            beats += list(words) + [0] * gap
            offered += [1] * k + [0] * gap
            expected.append(model.matmul(W, A))
            macs.append(rows * cols * k)
    if len(beats) < cycles:
        raise LowbitError(f"the {unit.name} workload made {len(beats)} of {cycles} cycles")
    beats, offered = beats[:cycles], np.array(offered[:cycles], dtype=np.int64)
    vectors = {"i__payload": np.array(beats, dtype=object), "i__valid": offered,
               "o__ready": np.ones(cycles, dtype=np.int64)}
    # Jobs whose result is out inside the window: the last beat plus the compute and latency.
    from amaranth.hdl import Shape
    elem_bits = Shape.cast(component.o.payload.shape().elem_shape.elem_shape).width

    def check(outputs):
        on = np.flatnonzero(offered == 1)
        stalled = [t for t in on if outputs["i__ready"][t] != 1]
        if stalled:
            return f"the array refused a beat at cycle {stalled[0]} ({len(stalled)} refused)"
        valid = [t for t in range(cycles) if outputs["o__valid"][t] == 1]
        if not valid:
            return "no result came out in the window"
        if not out_by_end <= len(valid) <= len(expected):
            return (f"{len(valid)} results in the window, expected {out_by_end} to "
                    f"{len(expected)}")
        for n, t in enumerate(valid):
            word = outputs["o__payload"][t]
            if word is None:
                return f"result {n}: undefined (x) bits"
            word = int(word)
            mask = (1 << elem_bits) - 1
            got = to_signed([(word >> (elem_bits * (r * cols + c))) & mask
                             for r in range(rows) for c in range(cols)], elem_bits)
            want = np.asarray(expected[n], dtype=np.int64).reshape(-1)
            if not np.array_equal(got, want):
                i = int(np.flatnonzero(got != want)[0])
                return (f"result {n}, cell ({i // cols}, {i % cols}): got {got[i]}, expected "
                        f"{want[i]}")
        check.results = len(valid)
        return None

    # Work: the MACs of the jobs whose every beat is offered inside the window (the power
    # flow divides the window's energy by it); checked: the results certainly out by its end
    # (a job's result at most its load, one period per job before it and its own, and the
    # latency after the window's start).
    step = period if binary else k + gap
    ends = [(n + 1) * step for n in range(len(expected))]
    done = sum(m for m, end in zip(macs, ends) if end <= cycles)
    out_by_end = sum(1 for n in range(len(expected))
                     if load + (n + 1) * step + component.latency + 2 <= cycles)
    return Workload(vectors=vectors, ops=done, op="MAC", check=check,
                    checked=out_by_end * rows * cols,
                    mode=f"W{p}A{q}" if binary else None)
