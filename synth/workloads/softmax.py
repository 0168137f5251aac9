"""Workloads of the row softmax units (``lowbit.hdl.softmax_row.SoftmaxRow``: ``exaq_softmax``
and its baseline ``softmax_fixed``): rows of logits offered back to back, each EXAQ row with
its ``cfg`` word (the clip and the golden model's table of that clip), the output stream
always ready; ``ops`` = the elements of the rows fed.

``minilm``: MiniLM-L6's attention logit rows (``lowbit.golden_models.accuracy.exaq_minilm.
hardware_rows``: the first evaluation sentence, rows spread over every layer, in the MiniLM
study's fixed point, 12-bit logits with 4 fractional bits, rescaled to the unit's
``in_bits``/``in_frac`` if they differ) with the clips the fixed-point study calibrates for
``bits`` (the baseline reads the rows only). ``random``: rows of a length uniform in
1..max_len, logits uniform over the signed ``in_bits`` range, clips uniform over 1..2^in_bits.

The units take a row only when their stages are free, so the beats cannot simply be laid one
per cycle: the schedule (in which cycles each beat and ``cfg`` word is offered) is found by
running the unit's own RTL in Amaranth's simulator with the producer always valid; the
netlist then receives exactly those vectors. The check requires the netlist to take every
beat and word in the cycles the RTL took it (so the stream means the same to it) and every
output row to equal the golden model's, element for element, with its ``count`` and
``last``.
"""

import numpy as np

from lowbit.core.errors import LowbitError

from . import Workload, built, pack_fields

__all__ = ["softmax_workload", "MINILM_LAYERS"]

MINILM_LAYERS = (0, 1, 2, 3, 4, 5)
MINILM_ROWS = 48          # attention rows of the first evaluation sentence, 8 per layer
STUDY_IN_BITS, STUDY_IN_FRAC = 12, 4   # golden_models.accuracy.exaq_attention.EXAQ_FIXED


def _minilm_rows(params, bits):
    """``[(x int64 (L,), clip int)]`` of MiniLM attention rows in the unit's fixed point."""
    try:
        from lowbit.golden_models.accuracy.exaq_minilm import hardware_rows
        rows, _ = hardware_rows(MINILM_ROWS, bits, layers=MINILM_LAYERS)
    except ModuleNotFoundError as error:
        raise LowbitError(f"--data minilm needs the MiniLM model package: {error}") from None
    in_bits, in_frac = params["in_bits"], params["in_frac"]
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    scale = 2.0 ** (in_frac - STUDY_IN_FRAC)
    out = []
    for x, clip in rows:
        if (in_bits, in_frac) != (STUDY_IN_BITS, STUDY_IN_FRAC):
            x = np.clip(np.rint(x * scale), lo, hi).astype(np.int64)
            clip = int(min(max(round(clip * scale), 1), (1 << (in_bits + 1)) - 1))
        out.append((np.asarray(x, dtype=np.int64)[:params["max_len"]], int(clip)))
    return out


def _random_rows(params, rng, n):
    in_bits, max_len = params["in_bits"], params["max_len"]
    lo, hi = -(1 << (in_bits - 1)), (1 << (in_bits - 1)) - 1
    return [(rng.integers(lo, hi + 1, int(rng.integers(1, max_len + 1))),
             int(rng.integers(1, (1 << in_bits) + 1))) for _ in range(n)]


def _beats(rows, epc):
    """Every row cut into beats: ``(data (n, epc), count (n,), last (n,))``."""
    data, count, last = [], [], []
    for x, _ in rows:
        for start in range(0, len(x), epc):
            lanes = x[start:start + epc]
            data.append(np.pad(lanes, (0, epc - len(lanes))))
            count.append(len(lanes))
            last.append(int(start + epc >= len(x)))
    return np.array(data, dtype=np.int64).reshape(-1, epc), np.array(count), np.array(last)


def _schedule(unit, params, i_words, i_last, cfg_words, cycles, feed_cycles):
    """Run the RTL with the producer always valid (beats ``i_words`` with their ``last``
    bits ``i_last``, cfg words ``cfg_words`` or None) for ``cycles`` cycles, starting no new
    row after ``feed_cycles``. Returns per-cycle arrays: i payload, i valid, i taken, cfg
    payload, cfg valid, cfg taken, and the RTL's outputs as the netlist's are given
    (``rtl_outputs``: ``{port: values}``, for the workload's own test)."""
    from amaranth.hdl import Value
    from amaranth.sim import Simulator
    component = unit.build(params)
    record = {key: np.zeros(cycles, dtype=object) for key in
              ("i_payload", "i_valid", "i_taken", "cfg_payload", "cfg_valid", "cfg_taken",
               "i__ready", "cfg__ready", "o__valid", "o__payload")}
    i_payload = Value.cast(component.i.payload)
    cfg = getattr(component, "cfg", None)

    async def producer(ctx):
        beat, word, row_start = 0, 0, True
        ctx.set(component.o.ready, 1)
        for t in range(cycles):
            # A row starts only while the feed is open; once started it is offered whole.
            offer = beat < len(i_words) and (not row_start or t < feed_cycles)
            ctx.set(component.i.valid, int(offer))
            ctx.set(i_payload, int(i_words[beat]) if offer else 0)
            offer_cfg = cfg is not None and word < len(cfg_words)
            if cfg is not None:
                ctx.set(cfg.valid, int(offer_cfg))
                ctx.set(Value.cast(cfg.payload), int(cfg_words[word]) if offer_cfg else 0)
            taken = offer and ctx.get(component.i.ready)
            cfg_taken = offer_cfg and ctx.get(cfg.ready)
            record["i_payload"][t] = int(i_words[beat]) if offer else 0
            record["i_valid"][t], record["i_taken"][t] = int(offer), int(taken)
            if cfg is not None:
                record["cfg_payload"][t] = int(cfg_words[word]) if offer_cfg else 0
                record["cfg_valid"][t], record["cfg_taken"][t] = int(offer_cfg), int(cfg_taken)
            record["i__ready"][t] = ctx.get(component.i.ready)
            record["cfg__ready"][t] = ctx.get(cfg.ready) if cfg is not None else 0
            record["o__valid"][t] = ctx.get(component.o.valid)
            record["o__payload"][t] = ctx.get(Value.cast(component.o.payload))
            await ctx.tick()
            if taken:
                row_start = bool(i_last[beat])
                beat += 1
            if cfg_taken:
                word += 1

    simulator = Simulator(component)
    simulator.add_clock(1e-8)
    simulator.add_testbench(producer)
    simulator.run()
    return record


def softmax_workload(unit, params, *, data, seed, cycles):
    """Rows for a row softmax unit; ``ops`` = elements of the rows fed and checked."""
    from amaranth.hdl import Value
    rng = np.random.default_rng(seed)
    model = unit.golden_model(params)
    component = built(unit, params)
    epc, max_len = params["epc"], params["max_len"]
    has_cfg = hasattr(component, "cfg")
    bits = params.get("bits", 3)

    def drain(length):      # cycles after a row's first beat until its last output has left
        return component.row_latency(length) + component.cycles_per_row(length) + 8

    # Rows as long as the window lets one row in and out (max_len but in a short window).
    longest = max((n for n in range(1, max_len + 1) if drain(n) < cycles), default=None)
    if longest is None:
        raise LowbitError(f"cycles={cycles} is too short: a row of one element needs "
                          f"{drain(1)} cycles")
    feed_cycles = cycles - drain(longest)
    # More rows than the window can take; the schedule decides how many go in.
    need = feed_cycles // component.cycles_per_row(1) + 2
    if data == "random":
        rows = _random_rows(params | {"max_len": longest}, rng, need)
    else:
        minilm = _minilm_rows(params, bits)
        picks = rng.integers(0, len(minilm), need)
        rows = [(x[:longest], clip) for x, clip in (minilm[k] for k in picks)]
    lanes, count, last = _beats(rows, epc)
    i_words = pack_fields(component.i.payload.shape(),
                          {"data": lanes, "count": count, "last": last}, len(count))
    cfg_words = None
    if has_cfg:
        clips = np.array([c for _, c in rows], dtype=np.int64)
        cfg_words = pack_fields(component.cfg.payload.shape(),
                                {"clip": clips, "lut": model.lut(clips)}, len(rows))
    record = _schedule(unit, params, i_words, last, cfg_words, cycles, feed_cycles)
    taken_beats = int(sum(record["i_taken"]))
    fed_rows = int(np.sum(last[:taken_beats]))
    if fed_rows == 0 or taken_beats != int(np.flatnonzero(last)[fed_rows - 1]) + 1:
        raise LowbitError("the softmax workload's schedule fed no whole row")
    rows = rows[:fed_rows]
    expected = [model.softmax(x, clip) if has_cfg else model.softmax(x) for x, clip in rows]
    elements = sum(len(x) for x, _ in rows)

    vectors = {"i__payload": record["i_payload"], "i__valid": record["i_valid"],
               "o__ready": np.ones(cycles, dtype=np.int64)}
    if has_cfg:
        vectors.update({"cfg__payload": record["cfg_payload"], "cfg__valid": record["cfg_valid"]})
    y_bits = component.y_bits
    count_bits = len(Value.cast(component.o.payload.count))

    def check(outputs):
        for port, key in (("i__ready", "i"), ("cfg__ready", "cfg")):
            if key == "cfg" and not has_cfg:
                continue
            offered = np.flatnonzero(record[f"{key}_valid"] == 1)
            got = np.array([outputs[port][t] == 1 for t in offered])
            want = record[f"{key}_taken"][offered] == 1
            if (got != want).any():
                t = offered[np.flatnonzero(got != want)[0]]
                return f"{key}.ready differs from the RTL's schedule at cycle {t}"
        beats = [outputs["o__payload"][t] for t in range(cycles) if outputs["o__valid"][t] == 1]
        if any(b is None for b in beats):
            return "the gate-level netlist gave undefined (x) outputs on a valid beat"
        row, values, k = [], [], 0
        for word in beats:
            word = int(word)
            n = (word >> (y_bits * epc)) & ((1 << count_bits) - 1)
            row += [(word >> (y_bits * j)) & ((1 << y_bits) - 1) for j in range(n)]
            if any((word >> (y_bits * j)) & ((1 << y_bits) - 1) for j in range(n, epc)):
                return f"row {k}: a lane at or above count is not 0"
            if (word >> (y_bits * epc + count_bits)) & 1:
                values.append(row)
                row, k = [], k + 1
        if len(values) < fed_rows:
            return f"{len(values)} of the {fed_rows} rows fed came out in the window"
        for k, (got, want) in enumerate(zip(values, expected)):
            if len(got) != len(want) or list(want) != got:
                return f"row {k} (L = {len(want)}): got {got[:8]}..., expected {list(want[:8])}..."
        return None

    work = Workload(vectors=vectors, ops=elements, op="element", check=check, checked=elements)
    work.check.rtl_outputs = {k: record[k] for k in ("i__ready", "cfg__ready", "o__valid",
                                                     "o__payload")}
    return work
