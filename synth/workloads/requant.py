"""Workload of ``requant``: one beat of ``lanes`` accumulators with their (M, s) per cycle,
the output stream always ready.

``minilm``: the query projection's accumulators of MiniLM's layer 0 on the first evaluation
sentence, from the attention block's integer model (INT8 weights and activations,
``golden_models/block``), each output channel's tokens in turn (``lanes`` tokens a beat) with
that channel's pair, recomputed at the unit's ``m_bits`` from the real scales; channels
picked by the seed. ``random``: accumulators uniform over the signed ``acc_bits`` range, M
uniform over its ``m_bits``, s uniform over 0..63.
"""

import numpy as np

from lowbit.core.errors import LowbitError

from . import pipelined, stream_workload

__all__ = ["requant_workload"]


def _minilm_beats(params, rng, n):
    from lowbit.golden_models.block import block_forward, minilm_inputs
    from lowbit.golden_models.requant import requant_pair

    block, inputs, _ = minilm_inputs("int8-fixed", 0)
    acc = block_forward(block, inputs).acc["q"]            # (T, D)
    lanes, tokens = params["lanes"], acc.shape[0]
    limit = 1 << (params["acc_bits"] - 1)
    if np.abs(acc).max() >= limit:
        raise LowbitError(f"acc_bits={params['acc_bits']} is too narrow for MiniLM's accumulators "
                          f"(|acc| up to {int(np.abs(acc).max())})")
    s = inputs.scales
    pairs = [requant_pair(s["x"] * s["w_q"][c] / s["q"], params["m_bits"]) for c in range(acc.shape[1])]
    per_channel = -(-tokens // lanes)
    beats_acc, beats_m, beats_s = [], [], []
    while len(beats_acc) < n:
        c = int(rng.integers(0, acc.shape[1]))
        column = np.pad(acc[:, c], (0, per_channel * lanes - tokens))
        for b in range(per_channel):
            beats_acc.append(column[b * lanes:(b + 1) * lanes])
            beats_m.append(pairs[c][0])
            beats_s.append(pairs[c][1])
    return np.array(beats_acc[:n]), np.array(beats_m[:n]), np.array(beats_s[:n])


def requant_workload(unit, params, *, data, seed, cycles):
    """Beats of accumulators for the requant unit; ``ops`` = elements (accumulators)."""
    rng = np.random.default_rng(seed)
    component, model, n = pipelined(unit, params, cycles)
    lanes = params["lanes"]
    if lanes * params["out_bits"] > 62:   # the shared check compares whole payloads as int64
        raise LowbitError(f"lanes x out_bits = {lanes * params['out_bits']}: the requant workload "
                          "needs at most 62 output bits per beat")
    if data == "random":
        lo, hi = -(1 << (params["acc_bits"] - 1)), (1 << (params["acc_bits"] - 1)) - 1
        acc = rng.integers(lo, hi, (n, lanes), endpoint=True)
        m = rng.integers(0, (1 << params["m_bits"]) - 1, n, endpoint=True)
        s = rng.integers(0, 63, n, endpoint=True)
    else:
        acc, m, s = _minilm_beats(params, rng, n)
    results = model.requant(acc, m[:, None], s[:, None])
    bits = params["out_bits"]
    packed = np.zeros(n, dtype=object)
    for k in range(lanes):    # the output payload as one unsigned word, lane 0 lowest
        packed = packed + ((results[:, k].astype(object) & ((1 << bits) - 1)) << (k * bits))
    expected = packed.astype(np.int64) if lanes > 1 else results[:, 0]
    return stream_workload(component, {"acc": acc, "m": m, "s": s}, expected, ops=n * lanes,
                           op="element", signed_output=lanes == 1)
