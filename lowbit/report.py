"""Figures and the Markdown report: ``lowbit report``, also called at the end of ``lowbit flow``.

Every figure is a PNG written next to the table it is drawn from (matplotlib's Agg canvas
through the object-oriented API: no display, no global pyplot state):

* ``area_vs_bits.png``: area against the weight (or code) width, one panel per unit that has a
  baseline and a width, per target, with the baseline beside it (a series when the baseline
  has a width too, else a dashed line);
* ``fmax_vs_size.png``: Fmax against area in LUTs, every placed-and-routed point, per FPGA
  target;
* ``throughput_per_lut.png``: multiply-accumulates per cycle per LUT against the precision
  mode, for the units that declare a throughput (the binary tensor-core array, one line per
  configuration, against the INT8 MAC array, which runs every precision at its INT8 rate);
* ``accuracy_vs_area.png`` (when an accuracy table from ``lowbit eval`` is given): each format
  as the unit that computes it (:data:`FORMAT_UNITS`), its MiniLM embedding cosine to FP32
  against its area per MAC per cycle, with the Pareto front;
* for the main job (``build/report.json``), ``figures/area_ratio.png`` (each unit's area against
  its baseline's) and ``figures/fmax_vs_size.png``.

``write_report`` puts the main job's tables, each sweep's table and all the figures into
``<build>/report.md``; image links are relative to it.
"""

import json
import os
from pathlib import Path

from .core.errors import LowbitError
from .flow import area_of, render_markdown
from .units import UNITS

__all__ = ["FORMAT_UNITS", "format_hardware", "code_bits", "accuracy_points", "pareto_front",
           "plot_area_vs_bits", "plot_fmax_vs_size", "plot_throughput_per_lut",
           "plot_accuracy_vs_area", "plot_area_ratio", "sweep_figures", "flow_rows",
           "flow_figures", "write_report"]

_FPGA_ORDER = ("ecp5", "ice40", "ecp5-dsp", "ice40-dsp")
_DPI = 110


# --------------------------------------------------------------------------- what to plot


def code_bits(unit, params):
    """The weight (or code) width a unit is plotted against, or None if it has none."""
    if unit == "dint_mac":
        return 4  # dINT4: the format fixes the code at 4 bits
    for name in ("bits", "weight_bits"):
        if name in params:
            return params[name]
    return None


def _bits_param(unit, params):
    return next((name for name in ("bits", "weight_bits") if name in params), None)


def _area_label(target):
    return ("area (NAND2 gate equivalents)" if target == "generic"
            else f"area (LUT4s, {target})")


def _key(unit, params):
    return unit, json.dumps(params, sort_keys=True)


def _ok(rows):
    return [row for row in rows if not row.get("error")]


def _targets(rows):
    seen = []
    for row in rows:
        if row["target"] not in seen:
            seen.append(row["target"])
    return seen


def _unit_order(name):
    names = UNITS.names()
    return names.index(name) if name in names else len(names)


def _varying(rows, exclude=()):
    """Parameter names whose values differ among ``rows`` (of one unit), in the unit's order."""
    names = [k for k in rows[0]["params"] if k not in exclude] if rows else []
    return [k for k in names if len({json.dumps(row["params"].get(k)) for row in rows}) > 1]


def _plain_log(axis):
    """Plain numbers (1000, 2000) rather than powers of ten on a log axis."""
    from matplotlib.ticker import FuncFormatter
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    # minor ticks: label only 2x and 5x, or they collide
    axis.set_minor_formatter(FuncFormatter(
        lambda value, _: f"{value:g}" if f"{value:g}"[0] in "25" else ""))


def _label(unit, params, varying):
    shown = ", ".join(f"{k}={params[k]}" for k in varying if k in params)
    return f"{unit} ({shown})" if shown else unit


def _baseline_point(row):
    """``(unit, params)`` of the row's baseline, or None."""
    baseline = UNITS[row["unit"]].baseline_for(row["params"])
    if not baseline:
        return None
    return baseline[0], UNITS[baseline[0]].resolve(baseline[1])


# --------------------------------------------------------------------------- figures


def _figure(n_rows, n_cols, width=4.2, height=3.0):
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width * n_cols, height * n_rows), dpi=_DPI, layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False)
    return figure, axes


def _legend(ax, **style):
    """The axes' legend, if anything in them has a label."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**style)


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
                    ax.axhline(area, linestyle="--", color="grey",
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
            ax.set_ylim(bottom=0)
            ax.set_title(f"{unit} and its baseline, {target}", fontsize=9)
            ax.set_xlabel("weight / code width (bits)")
            ax.set_ylabel(_area_label(target))
            ax.grid(True, alpha=0.3)
            _legend(ax, fontsize=6)
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
    for group in groups.values():
        group.sort(key=lambda r: code_bits(r["unit"], r["params"]))
        xs = [code_bits(r["unit"], r["params"]) for r in group]
        ax.plot(xs, [area_of(r) for r in group], **style,
                label=_label(unit, group[0]["params"], varying) + suffix)
        widths.update(xs)
    return widths


def plot_fmax_vs_size(rows, path):
    """Fmax against LUTs for every placed-and-routed row, a panel per FPGA target. Returns
    ``path``, or None when no row has an Fmax."""
    timed = [r for r in _ok(rows) if r.get("fmax_mhz") and r.get("luts")]
    targets = _targets(timed)
    if not timed:
        return None
    figure, axes = _figure(1, len(targets), width=5.0, height=3.6)
    for ax, target in zip(axes[0], targets):
        here = [r for r in timed if r["target"] == target]
        for unit in sorted({r["unit"] for r in here}, key=_unit_order):
            points = sorted((r for r in here if r["unit"] == unit), key=lambda r: r["luts"])
            is_baseline = UNITS[unit].baseline is None
            ax.plot([r["luts"] for r in points], [r["fmax_mhz"] for r in points],
                    marker="s" if is_baseline else "o", linestyle="--" if is_baseline else "-",
                    markerfacecolor="none" if is_baseline else None,
                    label=unit + (" (baseline)" if is_baseline else ""))
        ax.set_xscale("log")
        _plain_log(ax.xaxis)
        ax.tick_params(axis="x", which="minor", labelsize=6)
        ax.set_title(f"Fmax against size, {target}", fontsize=9)
        ax.set_xlabel(f"size (LUT4s, {target})")
        ax.set_ylabel("Fmax (MHz)")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax, fontsize=6)
    return _save(figure, path)


def plot_throughput_per_lut(rows, path):
    """MACs per cycle per LUT against precision for the units that declare a throughput.
    Returns ``path``, or None when no row has one."""
    rated = [r for r in _ok(rows) if r.get("macs_per_cycle_per_lut")]
    targets = _targets(rated)
    if not rated:
        return None
    modes = []  # the precision axis: the modes of the units with more than one
    for row in rated:
        if len(row["macs_per_cycle_per_lut"]) > 1:
            modes += [m for m in row["macs_per_cycle_per_lut"] if m not in modes]
    figure, axes = _figure(1, len(targets), width=5.2, height=3.6)
    for ax, target in zip(axes[0], targets):
        here = [r for r in rated if r["target"] == target]
        for unit in sorted({r["unit"] for r in here}, key=_unit_order):
            unit_rows = [r for r in here if r["unit"] == unit]
            varying = _varying(unit_rows)
            for row in unit_rows:
                values = row["macs_per_cycle_per_lut"]
                label = _label(unit, row["params"], varying)
                if len(values) == 1:  # one rate for every precision it can run
                    (mode, value), = values.items()
                    ax.axhline(value, linestyle="--", color=f"C{len(ax.get_lines()) % 10}",
                               label=f"{label}: {mode} at every precision")
                else:
                    ax.plot([modes.index(m) for m in values], list(values.values()),
                            marker="o", label=label)
        ax.set_xticks(range(len(modes)), modes)
        ax.set_yscale("log")
        ax.set_title(f"throughput per LUT against precision, {target}", fontsize=9)
        ax.set_xlabel("precision mode (weight bits W x activation bits A)")
        ax.set_ylabel(f"MACs per cycle per LUT4 ({target})")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax, fontsize=6)
    return _save(figure, path)


# --------------------------------------------------------------------------- accuracy

# Accuracy-table rows (``lowbit eval`` keys, by prefix, longest first) -> the unit that computes
# the format, the parameters it needs, and for the bit-plane array the (p, q) job it runs
# (W2*A8, bit balance, needs a third weight plane: docs/btc_array.md).
FORMAT_UNITS = (
    ("int8", "int_mac", {"weight_bits": 8}, None),
    ("int4-", "int_mac", {"weight_bits": 4}, None),
    ("dint4-pmq-", "dint_mac", {"special": "pm_half", "frac_bits": 2}, None),
    ("dint4-pm-", "dint_mac", {"special": "pm_half", "frac_bits": 1}, None),
    ("dint4-q-", "dint_mac", {"special": "half", "frac_bits": 2}, None),
    ("dint4-", "dint_mac", {"special": "half", "frac_bits": 1}, None),
    ("pot4-", "pot_mac", {"bits": 4}, None),
    ("w2a8-bal", "btc_array", {}, (3, 8)),
    ("w2a8", "btc_array", {}, (2, 8)),
    ("w4a4", "btc_array", {}, (4, 4)),
    ("exaq2", "exaq_softmax", {"bits": 2}, None),
    ("exaq3", "exaq_softmax", {"bits": 3}, None),
)


def format_hardware(key):
    """``(unit, params it must have, (p, q) or None)`` for an accuracy row key, or None (the
    FP32 reference, or a row no unit computes)."""
    for prefix, unit, params, job in FORMAT_UNITS:
        if key == prefix or key.startswith(prefix) and (prefix.endswith("-") or
                                                         key[len(prefix)] == "-"):
            return unit, params, job
    return None


def _area_target(rows):
    targets = {r["target"] for r in rows if area_of(r)}
    for target in (*_FPGA_ORDER, "generic"):
        if target in targets:
            return target
    return None


def _cost_per_mac(row, job):
    """Area per multiply-accumulate per cycle: a MAC does one per cycle; the bit-plane array
    ``W1A1 / (p q)`` (a WpAq job takes p x q passes); a softmax its area."""
    if job is None:
        return area_of(row)
    p, q = job
    return area_of(row) / (row["macs_per_cycle"]["W1A1"] / (p * q))


def accuracy_points(rows, accuracy):
    """``[(kind, label, unit, area, cosine)]``, one point per (format, unit): the best
    parameter set of the unit in ``rows`` on the area target, and the best quantizer of the
    format (among rows with quantized activations where the table has any)."""
    rows = _ok(rows)
    target = _area_target(rows)
    points = {}
    for acc in accuracy["rows"]:
        hardware = format_hardware(acc["key"])
        if hardware is None or acc.get("cos_mean") is None:
            continue
        unit, needed, job = hardware
        candidates = [r for r in rows if r["unit"] == unit and r["target"] == target
                      and all(r["params"].get(k) == v for k, v in needed.items())
                      and area_of(r)]
        if not candidates:
            continue
        costs = [_cost_per_mac(r, job) for r in candidates]
        kind = "softmax" if unit.endswith("softmax") else "matmul"
        point = (unit, json.dumps(needed, sort_keys=True), job)  # the format on its unit
        entry = (kind, acc["label"], unit, min(costs), acc["cos_mean"],
                 acc.get("activations") is not None)
        old = points.get(point)
        # Prefer rows with quantized activations (what the unit computes), then accuracy.
        if old is None or (entry[5], entry[4]) > (old[5], old[4]):
            points[point] = entry
    return target, [p[:5] for p in points.values()]


def pareto_front(points):
    """The points no other point beats in both area (lower) and accuracy (higher), by area."""
    front, best = [], None
    for point in sorted(points, key=lambda p: (p[0], -p[1])):
        if best is None or point[1] > best:
            front.append(point)
            best = point[1]
    return front


def plot_accuracy_vs_area(rows, accuracy, path):
    """Embedding cosine to FP32 against area per MAC per cycle, one point per format + unit,
    with the Pareto front; softmax formats in their own panel. Returns ``path``, or None when
    no format maps to a unit of ``rows``."""
    target, points = accuracy_points(rows, accuracy)
    if not points:
        return None
    kinds = [k for k in ("matmul", "softmax") if any(p[0] == k for p in points)]
    figure, axes = _figure(1, len(kinds), width=5.6, height=5.6)
    unit_name = "NAND2 gate equivalents" if target == "generic" else f"LUT4s, {target}"
    xlabels = {"matmul": f"area per MAC per cycle ({unit_name})",
               "softmax": f"area ({unit_name}; one element per cycle)"}
    titles = {"matmul": "weight x activation formats", "softmax": "softmax formats"}
    for ax, kind in zip(axes[0], kinds):
        mine = sorted((p for p in points if p[0] == kind), key=lambda p: p[3])
        for _, label, unit, area, cosine in mine:
            ax.plot([area], [cosine], marker="o", linestyle="none",
                    label=f"{label} on {unit}")
        front = pareto_front([(p[3], p[4]) for p in mine])
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
            ax.tick_params(axis="x", which="minor", labelsize=6)
        else:
            ax.set_xlim(left=0, right=1.15 * max(areas + [ax.get_xlim()[1]]))
        ax.set_title(f"MiniLM accuracy against area: {titles[kind]}", fontsize=9)
        ax.set_xlabel(xlabels[kind])
        ax.set_ylabel("embedding cosine to FP32 (mean; 1 = exact)")
        ax.grid(True, which="both", alpha=0.3)
        _legend(ax, fontsize=6, loc="upper left", bbox_to_anchor=(0, -0.16))
    return _save(figure, path)


# --------------------------------------------------------------------------- report


_CAPTIONS = {
    "area_vs_bits": "Area against weight / code width, each unit beside its baseline",
    "fmax_vs_size": "Fmax against size (placed and routed points)",
    "throughput_per_lut": "Multiply-accumulates per cycle per LUT against precision",
    "accuracy_vs_area": "MiniLM accuracy against area per MAC per cycle, with the Pareto front",
    "area_ratio": "Area of each unit against its baseline's, per target",
}


def sweep_figures(sweep_dir, accuracy=None):
    """Draw the figures of the sweep tables in ``sweep_dir`` next to them; returns
    ``{name: path}`` for those drawn. ``accuracy``: a loaded ``lowbit eval`` JSON, or None."""
    sweep_dir = Path(sweep_dir)
    rows = _load_json(sweep_dir / "results.json", "sweep results", "lowbit sweep")
    drawn = {
        "area_vs_bits": plot_area_vs_bits(rows, sweep_dir / "area_vs_bits.png"),
        "fmax_vs_size": plot_fmax_vs_size(rows, sweep_dir / "fmax_vs_size.png"),
        "throughput_per_lut": plot_throughput_per_lut(rows, sweep_dir / "throughput_per_lut.png"),
    }
    if accuracy is not None:
        drawn["accuracy_vs_area"] = plot_accuracy_vs_area(rows, accuracy,
                                                          sweep_dir / "accuracy_vs_area.png")
    return {name: path for name, path in drawn.items() if path is not None}


def flow_rows(report):
    """The main job's synthesis results (``report.json``) as sweep-style rows."""
    return [dict(synth, unit=entry["unit"], params=entry["params"], error=None)
            for entry in report["units"] for synth in entry["synth"].values()]


def plot_area_ratio(comparisons, path):
    """Horizontal bars: baseline area / unit area per unit and target. None if no data."""
    comparisons = [c for c in comparisons if c.get("area_ratio")]
    if not comparisons:
        return None
    units = sorted({c["unit"] for c in comparisons}, key=_unit_order)
    targets = _targets(comparisons)
    figure, axes = _figure(1, 1, width=6.0, height=0.5 + 0.45 * len(units) * len(targets) ** 0.5)
    ax = axes[0][0]
    height = 0.8 / len(targets)
    for k, target in enumerate(targets):
        ratios = {c["unit"]: c["area_ratio"] for c in comparisons if c["target"] == target}
        ys = [n + (k - (len(targets) - 1) / 2) * height for n, u in enumerate(units)
              if u in ratios]
        ax.barh(ys, [ratios[u] for u in units if u in ratios], height=height,
                label=f"{target} ({'gate equivalents' if target == 'generic' else 'LUT4s'})")
    ax.axvline(1, color="black", linewidth=1)
    baselines = {c["unit"]: c["baseline"] for c in comparisons}
    ax.set_yticks(range(len(units)), [f"{u} / {baselines[u]}" for u in units], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("area ratio, baseline / unit (above 1: the unit is smaller; dimensionless)")
    ax.set_title("each unit at its defaults against its baseline", fontsize=9)
    ax.grid(True, axis="x", alpha=0.3)
    _legend(ax, fontsize=7)
    return _save(figure, path)


def flow_figures(report, folder):
    """Figures of the main job's results, into ``folder``; ``{name: path}``."""
    folder = Path(folder)
    drawn = {"area_ratio": plot_area_ratio(report["comparisons"], folder / "area_ratio.png"),
             "fmax_vs_size": plot_fmax_vs_size(flow_rows(report), folder / "fmax_vs_size.png")}
    return {name: path for name, path in drawn.items() if path is not None}


def _load_json(path, what, command):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise LowbitError(f"no {what} at {path} (`{command}` writes them)") from None
    except json.JSONDecodeError as error:
        raise LowbitError(f"{path} is not valid JSON: {error}") from None


def _images(figures, base):
    lines = []
    for name, path in figures.items():
        link = Path(os.path.relpath(path, base)).as_posix()
        lines += [f"![{_CAPTIONS[name]}]({link})", ""]
    return lines


def _fmt(value, digits=2):
    if value is None or value == "":
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _sweep_table(rows):
    lines = ["| unit | parameters (not at default) | target | LUTs | GE | Fmax MHz | baseline | "
             "area ratio | Fmax ratio | error |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        defaults = UNITS[row["unit"]].defaults()
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()
                           if defaults.get(k, object()) != v) or "defaults"
        error = (row.get("error") or "").replace("|", "/")
        lines.append(f"| {row['unit']} | {params} | {row['target']} | {_fmt(row.get('luts'))} | "
                     f"{_fmt(row.get('gate_equivalents'), 0)} | {_fmt(row.get('fmax_mhz'), 1)} | "
                     f"{row.get('baseline') or '-'} | {_fmt(row.get('area_ratio'))} | "
                     f"{_fmt(row.get('fmax_ratio'))} | {error[:80] or '-'} |")
    return lines


def write_report(build=Path("build"), *, sweeps=None, accuracy=None):
    """Write ``<build>/report.md``: the main job (``<build>/report.json``) if it is there, each
    sweep folder in ``sweeps`` (default: every ``<build>/sweep/*/results.json``) with its
    table and figures, and the accuracy-vs-area figure when an accuracy table (default
    ``<build>/accuracy.json``) exists. Returns the path of report.md."""
    build = Path(build)
    if sweeps is None:
        sweeps = sorted(p.parent for p in (build / "sweep").glob("*/results.json"))
    sweeps = [Path(s) for s in sweeps]
    if accuracy is None and (build / "accuracy.json").exists():
        accuracy = build / "accuracy.json"
    accuracy_table = (_load_json(accuracy, "accuracy table", "lowbit eval")
                      if accuracy is not None else None)
    flow = build / "report.json"
    if not flow.exists() and not sweeps:
        raise LowbitError(f"nothing to report in {build}: run `lowbit flow` or `lowbit sweep` "
                          "first")

    lines = []
    if flow.exists():
        report = _load_json(flow, "main job results", "lowbit flow")
        try:
            lines += render_markdown(report).splitlines()
        except KeyError as error:  # a report.json written by an older lowbit
            lines += ["# lowbit report", "", f"{flow} lacks {error}: rerun `lowbit flow`."]
        else:
            lines += ["", "## Figures", ""] + _images(flow_figures(report, build / "figures"),
                                                       build)
    else:
        lines += ["# lowbit report", "", "No main-job results here yet: `lowbit flow` adds "
                  "every unit at its defaults beside its baseline."]
    for sweep in sweeps:
        rows = _load_json(sweep / "results.json", "sweep results", "lowbit sweep")
        figures = sweep_figures(sweep, accuracy_table)
        link = Path(os.path.relpath(sweep / "results.csv", build)).as_posix()
        lines += ["", f"## Sweep `{sweep.name}`", "",
                  f"{len(rows)} points, {sum(1 for r in rows if r.get('error'))} failed; "
                  f"the whole table: [{link}]({link}). Ratios are baseline / unit for area and "
                  "unit / baseline for Fmax (above 1: the unit is better).", ""]
        lines += _sweep_table(rows) + [""] + _images(figures, build)
    if accuracy_table is not None:
        markdown = Path(accuracy).with_suffix(".md")
        where = (f"[{Path(os.path.relpath(markdown, build)).as_posix()}]"
                 f"({Path(os.path.relpath(markdown, build)).as_posix()})"
                 if markdown.exists() else f"`{accuracy}`")
        lines += ["", "## Accuracy", "",
                  f"The accuracy table (`{accuracy_table.get('command', 'lowbit eval')}`) is in "
                  f"{where}. The accuracy-vs-area figures above (one per sweep with the units "
                  "that compute the formats) take each format's best quantizer on MiniLM and "
                  "the smallest area per MAC per cycle of its unit in the sweep."]
    out = build / "report.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n")
    return out
