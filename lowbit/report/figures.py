"""The report's figures, as PNG files (matplotlib's Agg canvas through the object-oriented API:
no display, no global pyplot state).

Sweep figures, written next to the sweep's ``results.csv``:

* ``area_vs_bits.png``: area against the weight (or code) width, one panel per unit that has a
  baseline and a width, per target, with the baseline beside it (a series when the baseline
  has a width too, else a dashed line);
* ``fmax_vs_size.png``: Fmax against area in LUTs, every placed-and-routed point, per FPGA
  target;
* ``throughput_per_lut.png``: units of work per cycle per LUT (per gate equivalent on
  ``generic``) against the precision mode, for the units that declare several modes (the
  binary tensor-core array, one line per configuration) against single-mode units (the INT8
  MAC array, which runs every precision at its INT8 rate);
* ``accuracy_vs_area.png`` (when an accuracy table from ``lowbit eval`` is given): each format
  as the unit that computes it, its MiniLM embedding cosine to FP32 against its area per MAC
  per cycle, with the Pareto front.

Main-job figures (``build/figures/``): ``area_ratio.png`` (each unit's area per unit of work
against its baseline's) and ``fmax_vs_size.png``.
"""

import json
from pathlib import Path

from ..core.errors import LowbitError
from ..metrics import area_of
from ..units import UNITS
from .accuracy import accuracy_points, pareto_front
from .rows import area_label as _area_label
from .rows import baseline_point as _baseline_point
from .rows import bits_param as _bits_param
from .rows import code_bits, flow_rows
from .rows import key as _key
from .rows import label as _label
from .rows import ok as _ok
from .rows import targets as _targets
from .rows import unit_order as _unit_order
from .rows import varying as _varying

__all__ = ["CAPTIONS", "plot_area_vs_bits", "plot_fmax_vs_size", "plot_throughput_per_lut",
           "plot_accuracy_vs_area", "plot_area_ratio", "sweep_figures", "flow_figures",
           "load_json"]

_DPI = 110


def _plain_log(axis):
    """Plain numbers (1000, 2000) rather than powers of ten on a log axis."""
    from matplotlib.ticker import FuncFormatter
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    # minor ticks: label only 2x and 5x, or they collide
    axis.set_minor_formatter(FuncFormatter(
        lambda value, _: f"{value:g}" if f"{value:g}"[0] in "25" else ""))


def _figure(n_rows, n_cols, width=4.2, height=3.0):
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width * n_cols, height * n_rows), dpi=_DPI, layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    return figure, axes


LEGEND_POINTS = 8   # the smallest legend text; a legend sits outside the data, under the axes


def _legend(ax, **style):
    """The axes' legend, if anything in them has a label: at least 8 pt, below the axes (out of
    the data) unless ``style`` places it elsewhere."""
    if ax.get_legend_handles_labels()[0]:
        style = {"fontsize": LEGEND_POINTS, "loc": "upper center",
                 "bbox_to_anchor": (0.5, -0.2), "ncols": 1, **style}
        ax.legend(**style)


def unit_colour(unit):
    """One colour per unit, the same in every panel and figure (its registry order)."""
    from matplotlib import colormaps
    return _PALETTE()[_unit_order(unit) % len(_PALETTE())]


def _PALETTE():
    """Distinct dark colours: matplotlib's tab10 without its grey (left for reference lines),
    then Dark2."""
    from matplotlib import colormaps
    return ([c for k, c in enumerate(colormaps["tab10"].colors) if k != 7]
            + list(colormaps["Dark2"].colors))


def _runs(xs):
    """Split sorted integer ``xs`` into runs of consecutive values: a line joins measured
    neighbours only, never across a width that was not measured."""
    runs = []
    for x in xs:
        if runs and x == runs[-1][-1] + 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    return runs


def _headroom(ax, values, log=False):
    """Room above the highest point so that no marker is cut at the top of the axes."""
    top = max(values)
    ax.set_ylim(top=top * (1.6 if log else 1.1))


def _save(figure, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, metadata={"Software": None})
    return path


def plot_area_vs_bits(rows, path):
    """Area against weight/code bits: a panel per (unit with a baseline and a width, target).
    Returns ``path``, or None when no unit qualifies."""
    rows = _ok(rows)
    index = {(*_key(r["unit"], r["params"]), r["target"]): r for r in rows}
    subjects = sorted({r["unit"] for r in rows if UNITS[r["unit"]].baseline
                       and code_bits(r["unit"], r["params"]) is not None}, key=_unit_order)
    targets = _targets(rows)
    if not subjects:
        return None
    figure, axes = _figure(len(subjects), len(targets))
    for i, unit in enumerate(subjects):
        for j, target in enumerate(targets):
            ax = axes[i][j]
            mine = [r for r in rows if r["unit"] == unit and r["target"] == target]
            bits_name = _bits_param(unit, mine[0]["params"]) if mine else None
            widths = _bits_series(ax, mine, bits_name, dict(marker="o"), "")
            # The baselines of these points: other widths of the same baseline as a series,
            # a baseline without a width as a horizontal line.
            bases = {}
            for row in mine:
                point = _baseline_point(row)
                if point and (*_key(*point), target) in index:
                    bases[_key(*point)] = point
            series = {}  # baseline unit -> its rows at the baselines' other parameters
            for name, params in bases.values():
                base_bits = _bits_param(name, params)
                if code_bits(name, params) is None:
                    area = area_of(index[(*_key(name, params), target)])
                    ax.axhline(area, linestyle="--", color=unit_colour(name),
                               label=f"{_label(name, params, [])} (baseline, no width axis)")
                    continue
                fixed = {k: v for k, v in params.items() if k != base_bits}
                found = series.setdefault(name, {})
                for r in rows:
                    if r["unit"] == name and r["target"] == target and \
                            {k: v for k, v in r["params"].items() if k != base_bits} == fixed:
                        found[_key(name, r["params"])] = r
            for name, found in series.items():
                base_rows = list(found.values())
                widths |= _bits_series(ax, base_rows, _bits_param(name, base_rows[0]["params"]),
                                       dict(marker="s", linestyle="--"), " (baseline)")
            ax.set_xticks(sorted(widths))
            ax.set_xlim(min(widths) - 0.5, max(widths) + 0.5)
            ax.set_ylim(bottom=0)
            _headroom(ax, [y for line in ax.get_lines() for y in line.get_ydata()])
            ax.set_title(f"{unit} and its baseline, {target}", fontsize=9)
            ax.set_xlabel("weight / code width (bits; lines join measured neighbours)",
                          fontsize=8)
            ax.set_ylabel(_area_label(target))
            ax.grid(True, alpha=0.3)
            _legend(ax)
    return _save(figure, path)


def _bits_series(ax, rows, bits_name, style, suffix):
    """One line per group of ``rows`` that differ only in the width parameter; returns the
    set of widths plotted."""
    widths = set()
    if not rows:
        return widths
    unit = rows[0]["unit"]
    varying = _varying(rows, exclude=(bits_name,) if bits_name else ())
    groups = {}
    for row in rows:
        fixed = json.dumps({k: row["params"].get(k) for k in varying}, sort_keys=True)
        groups.setdefault(fixed, []).append(row)
    for n, group in enumerate(groups.values()):
        group.sort(key=lambda r: code_bits(r["unit"], r["params"]))
        area = {code_bits(r["unit"], r["params"]): area_of(r) for r in group}
        colour = unit_colour(unit) if n == 0 else f"C{n % 10}"
        label = _label(unit, group[0]["params"], varying) + suffix
        for run in _runs(sorted(area)):
            ax.plot(run, [area[x] for x in run], **style, color=colour, label=label)
            label = None
        widths.update(area)
    return widths


_LABEL_SPOTS = ((10, 10, "left"), (10, -16, "left"), (-10, 10, "right"), (-10, -16, "right"))


def plot_fmax_vs_size(rows, path):
    """Fmax against LUTs for every placed-and-routed row, a panel per FPGA target. Returns
    ``path``, or None when no row has an Fmax."""
    timed = [r for r in _ok(rows) if r.get("fmax_mhz") and r.get("luts")]
    targets = _targets(timed)
    if not timed:
        return None
    figure, axes = _figure(1, len(targets), width=5.0, height=4.6)
    for ax, target in zip(axes[0], targets):
        here = [r for r in timed if r["target"] == target]
        labelled = 0
        for unit in sorted({r["unit"] for r in here}, key=_unit_order):
            points = sorted((r for r in here if r["unit"] == unit), key=lambda r: r["luts"])
            is_baseline = UNITS[unit].baseline is None
            # points, not a line: two parameter sets of a unit are not a curve in size
            ax.plot([r["luts"] for r in points], [r["fmax_mhz"] for r in points],
                    marker="s" if is_baseline else "o", linestyle="none",
                    color=unit_colour(unit), markerfacecolor="none" if is_baseline else None,
                    label=unit + (" (a baseline)" if is_baseline else ""))
            varying = _varying(points)
            if len(points) > 1 and varying:      # which point is which parameter set
                for r in points:
                    # neighbours' labels go to alternating corners, so that they do not overlap
                    dx, dy, ha = _LABEL_SPOTS[labelled % len(_LABEL_SPOTS)]
                    labelled += 1
                    ax.annotate(", ".join(f"{k}={r['params'][k]}" for k in varying),
                                (r["luts"], r["fmax_mhz"]), textcoords="offset points",
                                xytext=(dx, dy), ha=ha, fontsize=7, color=unit_colour(unit),
                                arrowprops=dict(arrowstyle="-", linewidth=0.5,
                                                color=unit_colour(unit)))
        sizes = [r["luts"] for r in here]
        if max(sizes) > 10 * min(sizes):
            ax.set_xscale("log")
            _plain_log(ax.xaxis)
            ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.margins(x=0.15, y=0.12)
        ax.set_ylim(bottom=0)        # Fmax differences at their real size
        _headroom(ax, [r["fmax_mhz"] for r in here])
        ax.set_title(f"Fmax against size, {target}", fontsize=9)
        ax.set_xlabel(f"size (LUT4s, {target})")
        ax.set_ylabel("Fmax (MHz)")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax, ncols=2)
    return _save(figure, path)


def plot_throughput_per_lut(rows, path):
    """MACs per cycle per LUT against precision for the units that declare a throughput.
    Returns ``path``, or None when no row has one."""
    rated = [dict(r, per_area={m: f["work_per_area"] for m, f in r["per_work"].items()})
             for r in _ok(rows) if r.get("per_work")]
    targets = _targets(rated)
    if not rated:
        return None
    modes = []  # the precision axis: the modes of the units with more than one
    for row in rated:
        if len(row["per_area"]) > 1:
            modes += [m for m in row["per_area"] if m not in modes]
    if not modes:  # only single-mode units: nothing to draw against precision
        return None
    # The many-mode units and their baselines only: a unit that runs one format (a dINT MAC,
    # a softmax) has no place on a precision axis.
    multi = {r["unit"] for r in rated if len(r["per_area"]) > 1}
    bases = {UNITS[u].baseline for u in multi} - {None}
    rated = [r for r in rated if r["unit"] in multi | bases]
    targets = _targets(rated)
    figure, axes = _figure(1, len(targets), width=5.2, height=4.4)
    for ax, target in zip(axes[0], targets):
        here = [r for r in rated if r["target"] == target]
        shown = []
        for unit in sorted({r["unit"] for r in here}, key=_unit_order):
            unit_rows = [r for r in here if r["unit"] == unit]
            varying = _varying(unit_rows)
            for n, row in enumerate(unit_rows):
                values = row["per_area"]
                label = _label(unit, row["params"], varying)
                colour = unit_colour(unit) if n == 0 else f"C{(n + 4) % 10}"
                # the modes are categories: points at each, never a line between them
                if len(values) == 1:  # one rate for every precision it can run
                    (mode, value), = values.items()
                    ax.plot(range(len(modes)), [value] * len(modes), marker="s",
                            linestyle="none", markerfacecolor="none", color=colour,
                            label=f"{label}: its {mode} rate at every precision")
                    shown.append(value)
                else:
                    ax.plot([modes.index(m) for m in values], list(values.values()),
                            marker="o", linestyle="none", color=colour, label=label)
                    shown += list(values.values())
        ax.set_xticks(range(len(modes)), modes)
        ax.set_xlim(-0.5, len(modes) - 0.5)
        ax.set_yscale("log")
        _plain_log(ax.yaxis)
        ax.tick_params(axis="y", which="minor", labelsize=7)
        _headroom(ax, shown, log=True)
        ax.set_title(f"throughput per LUT against precision, {target}", fontsize=9)
        ax.set_xlabel("precision mode (weight bits W x activation bits A; categories)",
                      fontsize=8)
        ax.set_ylabel(f"MACs per cycle per {'gate equivalent' if target == 'generic' else 'LUT4'}"
                      f" ({target})")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax)
    return _save(figure, path)


def plot_accuracy_vs_area(rows, accuracy, path):
    """Embedding cosine to FP32 against area per MAC per cycle, one point per format + unit,
    with the Pareto front; softmax formats in their own panel. Returns ``path``, or None when
    no format maps to a unit of ``rows``."""
    target, points = accuracy_points(rows, accuracy)
    if not points:
        return None
    omitted = _weight_only(accuracy)
    kinds = [k for k in ("matmul", "softmax") if any(p[0] == k for p in points)]
    figure, axes = _figure(1, len(kinds), width=5.6, height=6.2)
    unit_name = "NAND2 gate equivalents" if target == "generic" else f"LUT4s, {target}"
    xlabels = {"matmul": f"area per MAC per cycle ({unit_name})",
               "softmax": f"area ({unit_name}; one element per cycle)"}
    titles = {"matmul": "weight x activation formats", "softmax": "softmax formats"}
    # one colour per format across both panels
    palette = _PALETTE()
    colours = {label: palette[k % len(palette)]
               for k, label in enumerate(dict.fromkeys(p[1] for p in points))}
    for ax, kind in zip(axes[0], kinds):
        mine = sorted((p for p in points if p[0] == kind), key=lambda p: p[3])
        for _, label, unit, area, cosine in mine:
            ax.plot([area], [cosine], marker="o", linestyle="none", color=colours[label],
                    label=f"{label} on {unit}")
            ax.annotate(f"{cosine:.4f}", (area, cosine), textcoords="offset points",
                        xytext=(9, -3), fontsize=7)
        front = pareto_front([(p[3], p[4]) for p in mine])
        if len(front) >= 2:     # a front of one point is no trade-off
            ax.plot([f[0] for f in front], [f[1] for f in front], color="black", linewidth=1,
                    marker="o", markersize=11, markerfacecolor="none", drawstyle="steps-post",
                    label="Pareto front (ringed)")
        if kind == "softmax":
            for base in sorted({r["unit"] for r in rows if r["unit"] == "softmax_fixed"
                                and r["target"] == target and not r.get("error")}):
                area = min(area_of(r) for r in rows if r["unit"] == base
                           and r["target"] == target and not r.get("error"))
                ax.axvline(area, linestyle="--", color="grey",
                           label=f"{base} area (baseline; accuracy not in the table)")
        areas = [p[3] for p in mine]
        if max(areas) > 10 * min(areas):
            ax.set_xscale("log")
            _plain_log(ax.xaxis)
            ax.tick_params(axis="x", which="minor", labelsize=7)
        else:
            ax.set_xlim(left=0, right=1.25 * max(areas + [ax.get_xlim()[1]]))
        cosines = [p[4] for p in mine]
        low, high = min(cosines), max(cosines)
        ylabel = "embedding cosine to FP32 (mean; 1 = exact)"
        if high - low < 0.1 * (1 - low + 1e-12) or high - low < 0.02:
            # a small difference: zoom, and say so on the axis
            pad = max(high - low, 1e-4) * 0.3
            bottom, top = low - pad, min(high + pad, 1.0)
            ax.set_ylim(bottom, top)
            ylabel += f"\naxis zoomed to {bottom:.4f}..{top:.4f}"
        else:
            bottom = max(0.0, min(low - 0.05, 0.9 * low))
            ax.set_ylim(bottom, 1.02)
            if bottom > 0:
                ylabel += f"\naxis from {bottom:.2f}, not 0"
        ax.set_title(f"MiniLM accuracy against area: {titles[kind]}", fontsize=9)
        ax.set_xlabel(xlabels[kind])
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax, bbox_to_anchor=(0.5, -0.14))
    if omitted:
        import textwrap
        figure.supxlabel(textwrap.fill("Not placed: weight-only rows with float activations, "
                                       "which no unit computes: " + "; ".join(omitted),
                                       width=150), fontsize=8)
    return _save(figure, path)


def _weight_only(accuracy):
    """Labels of the accuracy rows with float activations that map to a MAC unit: the unit
    multiplies integer activations, so it does not compute them (they are left out)."""
    from .accuracy import format_hardware
    left = []
    for acc in accuracy["rows"]:
        hardware = format_hardware(acc["key"])
        if hardware and not hardware[0].endswith("softmax") and acc.get("activations") is None:
            left.append(acc["label"])
    return left


CAPTIONS = {
    "area_vs_bits": "Area against weight / code width, each unit beside its baseline",
    "fmax_vs_size": "Fmax against size (placed and routed points)",
    "throughput_per_lut": "Multiply-accumulates per cycle per LUT against precision",
    "accuracy_vs_area": "MiniLM accuracy against area per MAC per cycle, with the Pareto front",
    "area_ratio": "Area per unit of work of each unit against its baseline's, per target",
}


def sweep_figures(sweep_dir, accuracy=None):
    """Draw the figures of the sweep tables in ``sweep_dir`` next to them; returns
    ``{name: path}`` for those drawn. ``accuracy``: a loaded ``lowbit eval`` JSON, or None."""
    sweep_dir = Path(sweep_dir)
    rows = load_json(sweep_dir / "results.json", "sweep results", "lowbit sweep")
    drawn = {
        "area_vs_bits": plot_area_vs_bits(rows, sweep_dir / "area_vs_bits.png"),
        "fmax_vs_size": plot_fmax_vs_size(rows, sweep_dir / "fmax_vs_size.png"),
        "throughput_per_lut": plot_throughput_per_lut(rows, sweep_dir / "throughput_per_lut.png"),
    }
    if accuracy is not None:
        drawn["accuracy_vs_area"] = plot_accuracy_vs_area(rows, accuracy,
                                                          sweep_dir / "accuracy_vs_area.png")
    return {name: path for name, path in drawn.items() if path is not None}


def _area_ratios(comparisons):
    """``[(label, target, ratio)]``: each comparison's area ratio per unit of work (one bar per
    mode of a many-mode unit), the raw area ratio where the units declare no work."""
    bars = []
    for c in comparisons:
        per_work = {m: r["area_ratio"] for m, r in (c.get("per_work") or {}).items()
                    if r.get("area_ratio")}
        if per_work:
            for mode, ratio in per_work.items():
                suffix = f", {mode}" if len(per_work) > 1 else ""
                bars.append((f"{c['baseline']} / {c['unit']}{suffix}", c["target"], ratio))
        elif c.get("area_ratio"):
            bars.append((f"{c['baseline']} / {c['unit']} (raw area)", c["target"],
                         c["area_ratio"]))
    return bars


def plot_area_ratio(comparisons, path):
    """Horizontal bars: the baseline's area per unit of work over the unit's, per unit (and
    precision) and target, each bar labelled ``baseline / unit`` and with its value. None if
    no data."""
    bars = _area_ratios(comparisons)
    if not bars:
        return None
    labels = []
    for label, _, _ in bars:
        if label not in labels:
            labels.append(label)
    targets = _targets([{"target": t} for _, t, _ in bars])
    figure, axes = _figure(1, 1, width=6.4,
                           height=0.9 + 0.42 * len(labels) * len(targets) ** 0.5)
    ax = axes[0][0]
    height = 0.8 / len(targets)
    for k, target in enumerate(targets):
        ratios = {label: ratio for label, t, ratio in bars if t == target}
        ys = [n + (k - (len(targets) - 1) / 2) * height for n, label in enumerate(labels)
              if label in ratios]
        unit_name = {"generic": "gate equivalents", "asic": "um^2"}.get(target, "LUT4s")
        drawn = ax.barh(ys, [ratios[label] for label in labels if label in ratios],
                        height=height, label=f"{target} ({unit_name})")
        ax.bar_label(drawn, fmt="%.2f", fontsize=7, padding=2)
    ax.axvline(1, color="black", linewidth=1)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    values = [ratio for _, _, ratio in bars]
    if max(values) > 20 * min(values):   # a wide range: log, else the ratios at their size
        ax.set_xscale("log")
        _plain_log(ax.xaxis)
    else:
        ax.set_xlim(0, 1.15 * max(values + [1.0]))
    ax.set_xlabel("area per unit of work, baseline / unit (above 1: the unit is smaller)",
                  fontsize=8)
    ax.set_title("each unit at its defaults against its baseline, per unit of work", fontsize=9)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    _legend(ax, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _save(figure, path)


def flow_figures(report, folder):
    """Figures of the main job's results, into ``folder``; ``{name: path}``."""
    folder = Path(folder)
    drawn = {"area_ratio": plot_area_ratio(report["comparisons"], folder / "area_ratio.png"),
             "fmax_vs_size": plot_fmax_vs_size(flow_rows(report), folder / "fmax_vs_size.png")}
    return {name: path for name, path in drawn.items() if path is not None}


def load_json(path, what, command):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise LowbitError(f"no {what} at {path} (`{command}` writes them)") from None
    except json.JSONDecodeError as error:
        raise LowbitError(f"{path} is not valid JSON: {error}") from None
