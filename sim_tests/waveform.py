"""One transaction of a unit in Amaranth's Python simulator, drawn as a waveform (SVG).

    python -m lowbit.sim_tests.waveform UNIT [-o FILE]   # default docs/waves/UNIT.svg
    python -m lowbit.sim_tests.waveform --all            # every unit in SCENARIOS

Each unit has a scenario: small parameters that keep the picture readable, the input beats of
one transaction, and the signals to show. The testbench samples every shown signal once per
clock cycle (the value it holds between two rising edges, after the testbench has set the
inputs), then checks the transaction's result against the unit's golden model: the figure is
of a verified answer. The drawing is matplotlib's SVG with text kept as text, so a figure is a
few kilobytes; 1-bit signals are drawn as levels, buses as value segments. Run it from the
repository root (the default output folder is relative).
"""

import argparse
import io
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lowbit.units import UNITS

from . import stream_sim

__all__ = ["SCENARIOS", "Probe", "Trace", "record", "run_scenario", "draw", "write", "main"]


@dataclass
class Probe:
    """A shown signal: ``label``, the value to sample, how to print a sample (buses), and for
    a stream's payload the label of its ``valid`` (the payload is drawn only while it is
    high)."""
    label: str
    value: object
    text: object = str
    bit: bool = False
    valid: str = None


class Trace:
    """The samples of each probe, one per clock cycle."""

    def __init__(self, probes):
        self.probes = probes
        self.samples = {probe.label: [] for probe in probes}
        self.cycles = 0

    def column(self, label):
        return self.samples[label]


def record(unit, params, drive, probes, *, max_cycles=400):
    """Simulate ``unit`` at ``params``; ``drive(ctx, dut, step)`` sets inputs and calls
    ``await step()`` once per cycle (``step`` samples every probe, then ticks the clock).
    ``probes(dut)`` lists the :class:`Probe` objects. Returns ``(dut, trace)``."""
    from amaranth.sim import Simulator

    dut = UNITS[unit].build(params)
    trace = Trace(probes(dut))

    async def testbench(ctx):
        async def step():
            if trace.cycles >= max_cycles:
                raise RuntimeError(f"{unit}: the transaction took over {max_cycles} cycles")
            for probe in trace.probes:
                trace.samples[probe.label].append(ctx.get(probe.value))
            trace.cycles += 1
            await ctx.tick()
        await drive(ctx, dut, step)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return dut, trace


async def _send(ctx, step, *streams):
    """Offer each ``(port, beats)`` stream's payloads back to back, every probe sampled each
    cycle (:func:`lowbit.sim_tests.stream_sim.send`)."""
    await stream_sim.send(ctx, streams, tick=step)


def _expect(unit, what, got, expected):
    """Stop (no figure) unless the simulated ``got`` equals the golden model's ``expected``."""
    if got != expected:
        raise RuntimeError(f"{unit}: {what} {got} differ from the golden model's {expected}")


def _taken(trace, valid, ready, payload):
    """Payload samples of the cycles in which a stream transferred a beat."""
    return [p for v, r, p in zip(trace.column(valid), trace.column(ready),
                                 trace.column(payload)) if v and r]


# --------------------------------------------------------------------------- scenarios


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
        model = UNITS[unit].golden_model(params)
        valid = trace.column("valid")
        expected = model.run(trace.column("weight"), trace.column("act"), valid,
                             trace.column("clear"))
        got = trace.column("acc")[dut.latency:]
        _expect(unit, "acc", list(got), list(expected[:len(got)]))
        _expect(unit, "acc before the first product", trace.column("acc")[:dut.latency],
                [0] * dut.latency)

    return dict(params=params, drive=drive, probes=probes, check=check, note=note)


def _dint_mac():
    params = UNITS["dint_mac"].resolve({"acc_bits": 16})
    # codes: 3 -> 3, 8 -> +1/2 (the denormal code), 13 -> -3, 1 -> 1; acc counts halves
    return _mac("dint_mac", params, [3, 8, 13, 1], [10, -20, 7, 100],
                "dINT4 codes 3, 8 (= +1/2), 13 (= -3), 1 times INT8 activations; acc in "
                "units of 2^-1 (f = 1); clear starts a new sum; latency pipeline + 1 = 2")


def _pot_mac():
    params = UNITS["pot_mac"].resolve({"acc_bits": 24})
    # code = sign << 3 | e, value (-1)^s 2^-e; e = 7 is the zero code
    return _mac("pot_mac", params, [0, 9, 2, 15], [10, -20, 7, 100],
                "PoT4 codes 0 (= +1), 9 (= -1/2), 2 (= +1/4), 15 (= 0) times INT8 "
                "activations; acc in units of 2^-7; latency pipeline + 1 = 2")


def _stream_probes(dut, payload_probes, out_text=str):
    return [Probe("i.valid", dut.i.valid, bit=True), Probe("i.ready", dut.i.ready, bit=True),
            *payload_probes,
            Probe("o.valid", dut.o.valid, bit=True), Probe("o.ready", dut.o.ready, bit=True),
            Probe("o.payload", dut.o.payload, text=out_text, valid="o.valid")]


def _lanes(view):
    return "[" + ",".join(str(int(x)) for x in view) + "]"


def _pot_dot():
    params = UNITS["pot_dot"].resolve({"lanes": 4})
    weights = [[0, 9, 2, 15], [1, 1, 8, 3]]
    acts = [[10, -20, 7, 100], [-128, 127, 5, -3]]

    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await _send(ctx, step, (dut.i, [{"weights": w, "acts": a}
                                        for w, a in zip(weights, acts)]))
        for _ in range(dut.latency + 1):
            await step()

    def probes(dut):
        return _stream_probes(dut, [
            Probe("i.payload.weights", dut.i.payload.weights, text=_lanes, valid="i.valid"),
            Probe("i.payload.acts", dut.i.payload.acts, text=_lanes, valid="i.valid")])

    def check(dut, trace):
        got = _taken(trace, "o.valid", "o.ready", "o.payload")
        _expect("pot_dot", "sums", got,
                list(UNITS["pot_dot"].golden_model(params).dot(weights, acts)))
        first_in = trace.column("i.valid").index(1)
        _expect("pot_dot", "first output cycle", trace.column("o.valid").index(1),
                first_in + dut.latency)

    return dict(params=params, drive=drive, probes=probes, check=check,
                note="4 lanes of PoT4 codes x INT8 activations per beat, two beats; the sum "
                     "in units of 2^-7; latency 2 + log2(lanes) = 4, one beat per cycle")


def _pot_dequant():
    params = UNITS["pot_dequant"].resolve({})
    codes = [0, 9, 3, 15]
    scales = [0x3C00, 0x4200, 0x0400, 0x3C00]  # 1.0, 3.0, 2^-14 (smallest normal), 1.0

    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await _send(ctx, step, (dut.i, [{"code": c, "scale": s}
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
        got = _taken(trace, "o.valid", "o.ready", "o.payload")
        expected = UNITS["pot_dequant"].golden_model(params).dequant(codes, scales)
        _expect("pot_dequant", "weights", got, [int(x) for x in expected])

    return dict(params=params, drive=drive, probes=probes, check=check,
                note="PoT4 code + FP16 scale (hex) -> FP16 weight (hex): 1.0 x 1 = 3c00, "
                     "3.0 x -1/2 = be00, 2^-14 x 1/8 (subnormal) = 0080, code 15 = 0; "
                     "latency 1")


def _btc_array():
    params = UNITS["btc_array"].resolve({"rows": 2, "cols": 2, "k_slice": 8, "p_max": 2,
                                         "q_max": 2, "acc_bits": 16})
    rng = np.random.default_rng(7)
    k, p, q = 16, 2, 2
    W = rng.integers(-2, 2, (2, k))   # signed 2-bit codes, one row per output channel
    A = rng.integers(-2, 2, (k, 2))   # signed 2-bit codes, one column per token
    mask = (1 << 2) - 1

    def beats():
        for s in range(k // 8):
            yield {"w": [[int(W[r, s * 8 + j]) & mask for j in range(8)] for r in range(2)],
                   "a": [[int(A[s * 8 + j, c]) & mask for j in range(8)] for c in range(2)],
                   "p": p, "q": q, "w_signed": 1, "a_signed": 1, "last": int(s == k // 8 - 1)}

    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await _send(ctx, step, (dut.i, list(beats())))
        for _ in range(dut.latency + 1):
            await step()

    def matrix(v):
        return "[" + " ".join(_lanes(row) for row in v) + "]"

    def probes(dut):
        return _stream_probes(dut, [
            Probe("i.payload.w", dut.i.payload.w.as_value(), text=lambda v: f"{int(v):08x}",
                  valid="i.valid"),
            Probe("i.payload.a", dut.i.payload.a.as_value(), text=lambda v: f"{int(v):08x}",
                  valid="i.valid"),
            Probe("i.payload.p", dut.i.payload.p, valid="i.valid"),
            Probe("i.payload.q", dut.i.payload.q, valid="i.valid"),
            Probe("i.payload.last", dut.i.payload.last, bit=True, valid="i.valid")],
            out_text=matrix)

    def check(dut, trace):
        got = [[[int(x) for x in row] for row in m]
               for m in _taken(trace, "o.valid", "o.ready", "o.payload")]
        model = UNITS["btc_array"].golden_model(params)
        expected = model.matmul(W, A, p=p, q=q, w_signed=True, a_signed=True)
        _expect("btc_array", "result", got, [expected.tolist()])
        _expect("btc_array", "golden model against W @ A", expected.tolist(), (W @ A).tolist())

    return dict(params=params, drive=drive, probes=probes, check=check,
                note="2 x 2 array, k_slice 8: a W2A2 job (signed) of K = 16 in two beats "
                     "(w, a: packed codes, hex); each beat is held p x q = 4 cycles, one per "
                     "pair of bit planes; O = W @ A 4 cycles after the last beat is taken")


def _exaq_softmax():
    params = UNITS["exaq_softmax"].resolve({"bits": 2, "max_len": 8})
    x = [40, 16, 36, -30]   # logits with in_frac = 4 fractional bits: 2.5, 1.0, 2.25, -1.875
    clip = 48               # C = 3.0 in the logits' fixed point
    model = UNITS["exaq_softmax"].golden_model(params)
    table = [int(v) for v in model.lut(clip)]

    async def drive(ctx, dut, step):
        ctx.set(dut.o.ready, 1)
        await step()
        await _send(ctx, step, (dut.cfg, [{"clip": clip, "lut": table}]),
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
        got = [int(v.data[0]) for v in _taken(trace, "o.valid", "o.ready", "o.payload")]
        _expect("exaq_softmax", "outputs", got, [int(v) for v in model.softmax(np.array(x), clip)])

    return dict(params=params, drive=drive, probes=probes, check=check,
                note="one row of 4 logits (in_frac 4) with clip C = 3.0 and its 2-bit table on "
                     "cfg; outputs y with 10 fractional bits (sum 1024 = 1.0) after the max, "
                     "count and normalise passes")


SCENARIOS = {"dint_mac": _dint_mac, "pot_mac": _pot_mac, "pot_dot": _pot_dot,
             "pot_dequant": _pot_dequant, "btc_array": _btc_array,
             "exaq_softmax": _exaq_softmax}


def run_scenario(unit):
    """Simulate and check ``unit``'s scenario; returns ``(scenario, trace)``."""
    scenario = SCENARIOS[unit]()
    dut, trace = record(unit, scenario["params"], scenario["drive"], scenario["probes"])
    scenario["check"](dut, trace)
    return scenario, trace


# --------------------------------------------------------------------------- drawing

_ROW = 1.0      # vertical pitch of a signal
_HIGH = 0.6     # height of a level / bus
_SLANT = 0.12   # half-width of a bus transition, in cycles
_CHARS_PER_COLUMN = 6.5  # 6-point monospace characters in one cycle's width


def _cells(trace):
    """``{label: [per-cycle text, or None for a bus whose stream is not valid]}``."""
    cells = {}
    for probe in trace.probes:
        values = trace.column(probe.label)
        text = (lambda v: str(int(v))) if probe.bit else probe.text
        valid = trace.column(probe.valid) if probe.valid else [1] * trace.cycles
        cells[probe.label] = [text(v) if ok else None for v, ok in zip(values, valid)]
    return cells


def _columns(cells, n, *, keep=2, longest=8):
    """What to draw, left to right: cycle numbers, and ``-k`` for a gap standing for ``k``
    cycles in which nothing shown changes (runs longer than ``longest`` keep their first and
    last ``keep`` cycles)."""
    state = [tuple(column[c] for column in cells.values()) for c in range(n)]
    columns, c = [], 0
    while c < n:
        run = c
        while run + 1 < n and state[run + 1] == state[c]:
            run += 1
        if run - c + 1 > longest:
            columns += [*range(c, c + keep), -(run - c + 1 - 2 * keep),
                        *range(run - keep + 1, run + 1)]
        else:
            columns += range(c, run + 1)
        c = run + 1
    return columns


def draw(trace, path, title, note=""):
    """Draw ``trace`` as an SVG at ``path`` (another suffix: a preview in that format): the
    clock, then each probe; long stretches where nothing shown changes become one gap."""
    import matplotlib
    from matplotlib.figure import Figure

    cells = _cells(trace)
    columns = _columns(cells, trace.cycles)
    n = len(columns)
    labels = ["clk"] + [probe.label for probe in trace.probes]
    width = max(1.9 + 0.42 * n, 7.0)
    chars = int((width - 1.8) * 15)  # of the 7-point note per line
    note = textwrap.wrap(f"clock cycle{': ' + note if note else ''}", chars)
    title = textwrap.wrap(title, chars)
    margin_top, margin_bottom = 0.2 + 0.13 * len(title), 0.35 + 0.13 * len(note)
    height = 0.32 * len(labels) + margin_top + margin_bottom
    figure = Figure(figsize=(width, height))
    ax = figure.add_axes((1.7 / width, margin_bottom / height, 1 - 1.8 / width,
                          1 - (margin_top + margin_bottom) / height))
    ink, faint = "#1f3b73", "#bbbbbb"
    top, bottom = _HIGH + 0.3, -(len(labels) - 1) * _ROW - 0.2
    ax.plot([x for c in range(n + 1) for x in (c, c, np.nan)],  # one path: a small file
            [y for _ in range(n + 1) for y in (bottom, top, np.nan)],
            color="#dddddd", linewidth=0.5, zorder=0)
    for row, label in enumerate(labels):
        y = -row * _ROW
        ax.text(-0.25, y + _HIGH / 2, label, ha="right", va="center", fontsize=7,
                family="monospace")
        if label == "clk":
            xs, ys = [], []
            for j, cycle in enumerate(columns):
                if cycle < 0:  # the gap: no edges drawn
                    xs += [j, j + 1, np.nan]
                    ys += [y + _HIGH / 2] * 2 + [np.nan]
                else:
                    xs += [j, j, j + 0.5, j + 0.5, j + 1, np.nan]
                    ys += [y, y + _HIGH, y + _HIGH, y, y, np.nan]
            ax.plot(xs, ys, color="black", linewidth=0.8)
            continue
        texts = [cells[label][c if c >= 0 else columns[j - 1]] for j, c in enumerate(columns)]
        if next(p for p in trace.probes if p.label == label).bit:
            level, idle = ([], []), ([], [])
            for j, text in enumerate(texts):
                if text is None:  # not valid: a grey middle line, as for a bus
                    idle[0].extend([j, j + 1, np.nan])
                    idle[1].extend([y + _HIGH / 2] * 2 + [np.nan])
                    level[0].append(np.nan)
                    level[1].append(np.nan)
                else:             # joined to the previous cycle's level unless that was idle
                    level[0].extend([j, j + 1])
                    level[1].extend([y + _HIGH * int(text)] * 2)
            ax.plot(*level, color=ink, linewidth=0.9)
            ax.plot(*idle, color=faint, linewidth=0.8)
            continue
        segments, start = [], 0
        for j in range(1, n + 1):
            if j == n or texts[j] != texts[start]:
                segments.append((start, j, texts[start]))
                start = j
        outline, idle = ([], []), ([], [])
        for k, (x0, x1, text) in enumerate(segments):
            if text is None:  # the stream carries nothing: a grey middle line
                idle[0].extend([x0, x1, np.nan])
                idle[1].extend([y + _HIGH / 2] * 2 + [np.nan])
                continue
            after = segments[k + 1] if k + 1 < len(segments) else None
            spare = after[1] - after[0] if after and after[2] is None else 0
            _bus_segment(ax, outline, x0, x1, y, text, spare)
        ax.plot(*outline, color=ink, linewidth=0.8)
        ax.plot(*idle, color=faint, linewidth=0.8)
    ax.set_xlim(-0.05, n + 0.05)
    ax.set_ylim(bottom, top)
    every = 1 if trace.cycles <= 24 else 5
    ticks = [(j, str(c) if c >= 0 else f"+{-c}") for j, c in enumerate(columns)
             if c < 0 or c % every == 0]
    ax.set_xticks([j + 0.5 for j, _ in ticks], [t for _, t in ticks], fontsize=6)
    ax.tick_params(axis="x", length=0)
    ax.set_xlabel("\n".join(note), fontsize=7, loc="left")
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title("\n".join(title), fontsize=8, loc="left")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".svg":  # a preview in another format
        figure.savefig(path, dpi=150)
        return path
    short_fonts = {"svg.fonttype": "none", "svg.hashsalt": "lowbit",
                   "font.sans-serif": ["DejaVu Sans"], "font.monospace": ["DejaVu Sans Mono"]}
    with matplotlib.rc_context(short_fonts):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    path.write_text(_compact_svg(buffer.getvalue()))
    return path


def _compact_svg(text):
    """matplotlib's SVG without its metadata block, with coordinates to 0.1 pt, one line per
    path and each distinct style once (a CSS class): the same picture in a third of the
    bytes."""
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"(\d+\.\d)\d+", r"\1", text)
    text = re.sub(r' transform="rotate\(-0 [\d. ]+\)"', "", text)
    text = re.sub(r" \n(?=[LMz])", " ", text)
    styles = {}  # each distinct style attribute once, as a CSS class

    def to_class(match):
        name = styles.setdefault(match.group(1), f"s{len(styles)}")
        return f'class="{name}"'
    text = re.sub(r'style="([^"]*)"', to_class, text)
    css = "".join(f".{name}{{{style}}}" for style, name in styles.items())
    return text.replace("</style>", css + "</style>", 1)


def _bus_segment(ax, outline, x0, x1, y, text, spare=0):
    """A bus value held from column ``x0`` to ``x1``: a hexagon (added to ``outline``, the
    signal's one path) with the value inside; a value too long for it runs on into ``spare``
    columns of idle bus after it."""
    s = min(_SLANT, (x1 - x0) / 2)
    outline[0].extend([x0, x0 + s, x1 - s, x1, x1 - s, x0 + s, x0, np.nan])
    outline[1].extend([y + _HIGH / 2, y + _HIGH, y + _HIGH, y + _HIGH / 2, y, y, y + _HIGH / 2,
                       np.nan])
    room = int((x1 - x0) * _CHARS_PER_COLUMN)
    if len(text) <= room:
        ax.text((x0 + x1) / 2, y + _HIGH / 2, text, ha="center", va="center", fontsize=6,
                family="monospace")
        return
    room = int((x1 - x0 + spare) * _CHARS_PER_COLUMN) - 1
    shown = text if len(text) <= room else text[:max(room - 1, 1)] + "…"
    ax.text(x0 + s + 0.05, y + _HIGH / 2, shown, ha="left", va="center", fontsize=6,
            family="monospace", bbox=dict(facecolor="white", edgecolor="none", pad=0.3)
            if len(shown) * 1.0 / _CHARS_PER_COLUMN > x1 - x0 else None)


def write(unit, out=None):
    """Simulate, check and draw ``unit``'s transaction; returns the SVG's path."""
    scenario, trace = run_scenario(unit)
    changed = {k: v for k, v in scenario["params"].items()
               if UNITS[unit].defaults().get(k) != v}
    shown = ", ".join(f"{k}={v}" for k, v in changed.items()) or "defaults"
    return draw(trace, out or Path("docs") / "waves" / f"{unit}.svg",
                f"{unit} ({shown}): one transaction, checked against the golden model",
                scenario["note"])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lowbit.sim_tests.waveform",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("unit", nargs="?", choices=list(SCENARIOS))
    parser.add_argument("--all", action="store_true", help="every unit, into docs/waves/")
    parser.add_argument("-o", "--output", type=Path, help="SVG file (one unit only)")
    args = parser.parse_args(argv)
    if not args.all and not args.unit:
        parser.error("name a unit or give --all")
    for unit in (SCENARIOS if args.all else [args.unit]):
        path = write(unit, None if args.all else args.output)
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
