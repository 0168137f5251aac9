"""The SVG renderer of a :class:`~.trace.Trace`: the clock, then each probe, 1-bit signals as
levels and buses as value segments, long stretches in which nothing shown changes folded into
one gap. The drawing is matplotlib's SVG with text kept as text and the markup compacted, so a
figure is a few kilobytes."""

import io
import re
import textwrap
from pathlib import Path

import numpy as np

__all__ = ["draw"]

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
