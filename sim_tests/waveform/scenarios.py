"""The waveform scenario of each unit that has one (its registry entry names it:
``scenario="lowbit.sim_tests.waveform.scenarios:<unit>"``): small parameters that keep the
picture readable, the input beats of one transaction, the signals to show, and a check of the
transaction's result against the unit's golden model, so the figure is of a verified answer.

A scenario is a function of the unit's registry entry returning ``dict(params=..., drive=...,
probes=..., check=..., note=...)``: ``drive(ctx, dut, step)`` sets the inputs and calls ``await
step()`` once per cycle; ``probes(dut)`` lists the :class:`~.trace.Probe` objects;
``check(dut, trace)`` raises unless the result equals the golden model's; ``note`` is the
figure's caption.
"""

import numpy as np

from lowbit.golden_models.btc_array import job_beats

from .trace import Probe, expect, send, taken

__all__ = ["dint_mac", "pot_mac", "pot_dot", "dint_dot", "pot_dequant", "btc_array",
           "exaq_softmax"]


def _mac(unit, params, weights, acts, note):
    """A MAC: one idle cycle, a dot product of ``len(weights)`` beats (``clear`` on the first),
    then idle until the last sum shows."""
    async def drive(ctx, dut, step):
        await step()
        for k, (w, a) in enumerate(zip(weights, acts)):
            ctx.set(dut.weight, w)
            ctx.set(dut.act, a)
            ctx.set(dut.valid, 1)
            ctx.set(dut.clear, k == 0)
            await step()
        ctx.set(dut.valid, 0)
        ctx.set(dut.clear, 0)
        for _ in range(dut.latency + 1):
            await step()

    def probes(dut):
        return [Probe("valid", dut.valid, bit=True), Probe("clear", dut.clear, bit=True),
                Probe("weight", dut.weight, valid="valid"),
                Probe("act", dut.act, valid="valid"), Probe("acc", dut.acc)]

    def check(dut, trace):
        model = unit.golden_model(params)
        valid = trace.column("valid")
        expected = model.run(trace.column("weight"), trace.column("act"), valid,
                             trace.column("clear"))
        got = trace.column("acc")[dut.latency:]
        expect(unit.name, "acc", list(got), list(expected[:len(got)]))
        expect(unit.name, "acc before the first product", trace.column("acc")[:dut.latency],
                [0] * dut.latency)

    return dict(params=params, drive=drive, probes=probes, check=check, note=note)


def dint_mac(unit):
    params = unit.resolve({"acc_bits": 16})
    # codes: 3 -> 3, 8 -> +1/2 (the denormal code), 13 -> -3, 1 -> 1; acc counts halves
    return _mac(unit, params, [3, 8, 13, 1], [10, -20, 7, 100],
                "dINT4 codes 3, 8 (= +1/2), 13 (= -3), 1 times INT8 activations; acc in "
                "units of 2^-1 (f = 1); clear starts a new sum; latency pipeline + 1 = 2")


def pot_mac(unit):
    params = unit.resolve({"acc_bits": 24})
    # code = sign << 3 | e, value (-1)^s 2^-e; e = 7 is the zero code
    return _mac(unit, params, [0, 9, 2, 15], [10, -20, 7, 100],
                "PoT4 codes 0 (= +1), 9 (= -1/2), 2 (= +1/4), 15 (= 0) times INT8 "
                "activations; acc in units of 2^-7; latency pipeline + 1 = 2")


def _stream_probes(dut, payload_probes, out_text=str):
    return [Probe("i.valid", dut.i.valid, bit=True), Probe("i.ready", dut.i.ready, bit=True),
            *payload_probes,
            Probe("o.valid", dut.o.valid, bit=True), Probe("o.ready", dut.o.ready, bit=True),
            Probe("o.payload", dut.o.payload, text=out_text, valid="o.valid")]


def _lanes(view):
    return "[" + ",".join(str(int(x)) for x in view) + "]"


def _dot(unit, params, weights, acts, note):
    """A dot product: two beats of ``weights`` and ``acts`` back to back, the output always
    ready; the sums must equal the golden model's and leave ``latency`` cycles after."""
    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await send(ctx, step, (dut.i, [{"weights": w, "acts": a}
                                        for w, a in zip(weights, acts)]))
        for _ in range(dut.latency + 1):
            await step()

    def probes(dut):
        return _stream_probes(dut, [
            Probe("i.payload.weights", dut.i.payload.weights, text=_lanes, valid="i.valid"),
            Probe("i.payload.acts", dut.i.payload.acts, text=_lanes, valid="i.valid")])

    def check(dut, trace):
        got = taken(trace, "o.valid", "o.ready", "o.payload")
        expect(unit.name, "sums", got, list(unit.golden_model(params).dot(weights, acts)))
        first_in = trace.column("i.valid").index(1)
        expect(unit.name, "first output cycle", trace.column("o.valid").index(1),
               first_in + dut.latency)

    return dict(params=params, drive=drive, probes=probes, check=check, note=note)


def pot_dot(unit):
    return _dot(unit, unit.resolve({"lanes": 4}), [[0, 9, 2, 15], [1, 1, 8, 3]],
                [[10, -20, 7, 100], [-128, 127, 5, -3]],
                "4 lanes of PoT4 codes x INT8 activations per beat, two beats; the sum "
                "in units of 2^-7; latency 2 + log2(lanes) = 4, one beat per cycle")


def dint_dot(unit):
    return _dot(unit, unit.resolve({"lanes": 4}), [[1, 8, 9, 15], [7, 3, 0, 12]],
                [[10, -20, 7, 100], [-128, 127, 5, -3]],
                "4 lanes of dINT4 codes (half: 1 = +1, 8 = +1/2, 9 = -7, 15 = -1) x INT8 "
                "activations per beat, two beats; the sum in units of 2^-1; latency "
                "1 + log2(lanes) = 3, one beat per cycle")


def pot_dequant(unit):
    params = unit.resolve({})
    codes = [0, 9, 3, 15]
    scales = [0x3C00, 0x4200, 0x0400, 0x3C00]  # 1.0, 3.0, 2^-14 (smallest normal), 1.0

    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await send(ctx, step, (dut.i, [{"code": c, "scale": s}
                                        for c, s in zip(codes, scales)]))
        for _ in range(dut.latency + 1):
            await step()

    def probes(dut):
        return _stream_probes(dut, [
            Probe("i.payload.code", dut.i.payload.code, valid="i.valid"),
            Probe("i.payload.scale", dut.i.payload.scale, text=lambda v: f"{int(v):04x}",
                  valid="i.valid")],
            out_text=lambda v: f"{int(v):04x}")

    def check(dut, trace):
        got = taken(trace, "o.valid", "o.ready", "o.payload")
        expected = unit.golden_model(params).dequant(codes, scales)
        expect("pot_dequant", "weights", got, [int(x) for x in expected])

    return dict(params=params, drive=drive, probes=probes, check=check,
                note="PoT4 code + FP16 scale (hex) -> FP16 weight (hex): 1.0 x 1 = 3c00, "
                     "3.0 x -1/2 = be00, 2^-14 x 1/8 (subnormal) = 0080, code 15 = 0; "
                     "latency 1")


def btc_array(unit):
    params = unit.resolve({"rows": 2, "cols": 2, "k_slice": 8, "p_max": 2, "q_max": 2,
                           "max_slices": 2})
    rng = np.random.default_rng(7)
    k, p, q = 16, 2, 2
    W = rng.integers(-2, 2, (2, k))   # signed 2-bit codes, one row per output channel
    A = rng.integers(-2, 2, (k, 2))   # signed 2-bit codes, one column per token
    beats = job_beats(W, A, p=p, q=q, w_signed=True, a_signed=True, k_slice=8)

    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await send(ctx, step, (dut.i, beats))
        while not ctx.get(dut.o.valid):
            await step()
        await step()
        await step()

    def matrix(v):
        return "[" + " ".join(_lanes(row) for row in v) + "]"

    def probes(dut):
        return _stream_probes(dut, [
            Probe("i.payload.w", dut.i.payload.w.as_value(), text=lambda v: f"{int(v):04x}",
                  valid="i.valid"),
            Probe("i.payload.a", dut.i.payload.a.as_value(), text=lambda v: f"{int(v):04x}",
                  valid="i.valid"),
            Probe("i.payload.p", dut.i.payload.p, valid="i.valid"),
            Probe("i.payload.q", dut.i.payload.q, valid="i.valid"),
            Probe("i.payload.last", dut.i.payload.last, bit=True, valid="i.valid")],
            out_text=matrix)

    def check(dut, trace):
        got = [[[int(x) for x in row] for row in m]
               for m in taken(trace, "o.valid", "o.ready", "o.payload")]
        model = unit.golden_model(params)
        expected = model.matmul(W, A, p=p, q=q, w_signed=True, a_signed=True)
        expect("btc_array", "result", got, [expected.tolist()])
        expect("btc_array", "golden model against W @ A", expected.tolist(), (W @ A).tolist())

    return dict(params=params, drive=drive, probes=probes, check=check,
                note="2 x 2 array, k_slice 8: a W2A2 job (signed) of K = 16, two K-slices of "
                     "two beats, one per bit plane (w, a: that plane of every row and column, "
                     "hex); the array computes the p x q plane pairs of each slice, and "
                     "O = W @ A leaves after the last plane pair")


def exaq_softmax(unit):
    params = unit.resolve({"bits": 2, "max_len": 8})
    x = [40, 16, 36, -30]   # logits with in_frac = 4 fractional bits: 2.5, 1.0, 2.25, -1.875
    clip = 48               # C = 3.0 in the logits' fixed point
    model = unit.golden_model(params)
    table = [int(v) for v in model.lut(clip)]

    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await send(ctx, step, (dut.cfg, [{"clip": clip, "lut": table}]),
                    (dut.i, [{"data": [v], "count": 1, "last": int(n == len(x) - 1)}
                             for n, v in enumerate(x)]))
        while not (ctx.get(dut.o.valid) and ctx.get(dut.o.payload.last)):
            await step()
        await step()
        await step()

    def probes(dut):
        return [Probe("cfg.valid", dut.cfg.valid, bit=True),
                Probe("cfg.ready", dut.cfg.ready, bit=True),
                Probe("cfg.payload.clip", dut.cfg.payload.clip, valid="cfg.valid"),
                *_stream_probes(dut, [
                    Probe("i.payload.data", dut.i.payload.data[0], valid="i.valid"),
                    Probe("i.payload.last", dut.i.payload.last, bit=True, valid="i.valid")],
                    out_text=lambda v: str(int(v.data[0]))),
                Probe("o.payload.last", dut.o.payload.last, bit=True, valid="o.valid")]

    def check(dut, trace):
        got = [int(v.data[0]) for v in taken(trace, "o.valid", "o.ready", "o.payload")]
        expect("exaq_softmax", "outputs", got, [int(v) for v in model.softmax(np.array(x), clip)])

    return dict(params=params, drive=drive, probes=probes, check=check,
                note="one row of 4 logits (in_frac 4) with clip C = 3.0 and its 2-bit table on "
                     "cfg; outputs y with 10 fractional bits (sum 1024 = 1.0) after the max, "
                     "count and normalise passes")


def requant(unit):
    params = unit.resolve({"lanes": 2})
    beats = [([5, -5], 1, 1), ([1000, -1000], 3, 2), ([300, -77], 20000, 16)]

    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await send(ctx, step, (dut.i, [{"acc": a, "m": m, "s": s} for a, m, s in beats]))
        for _ in range(dut.latency + 1):
            await step()

    def probes(dut):
        return _stream_probes(dut, [
            Probe("i.payload.acc", dut.i.payload.acc, text=_lanes, valid="i.valid"),
            Probe("i.payload.m", dut.i.payload.m, valid="i.valid"),
            Probe("i.payload.s", dut.i.payload.s, valid="i.valid")], out_text=_lanes)

    def check(dut, trace):
        got = [list(map(int, v)) for v in taken(trace, "o.valid", "o.ready", "o.payload")]
        model = unit.golden_model(params)
        expected = [model.requant(np.array([a]), m, s)[0].tolist() for a, m, s in beats]
        expect("requant", "codes", got, expected)
        first_in = trace.column("i.valid").index(1)
        expect("requant", "first output cycle", trace.column("o.valid").index(1), first_in + dut.latency)

    return dict(params=params, drive=drive, probes=probes, check=check,
                note="2 accumulators per beat with one (M, s): (5, -5) x 1 / 2 rounds half up to "
                     "(3, -2); (1000, -1000) x 3 / 4 saturates to (127, -128); (300, -77) x 20000 / "
                     "2^16 = (91.55, -23.50) gives (92, -23); latency 3, one beat per cycle")
