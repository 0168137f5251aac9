"""The Markdown report: ``lowbit report``, also called at the end of ``lowbit flow``.

``write_report`` puts the main job's tables (``tables``), each sweep's table and all the
figures (``figures``) into ``<build>/report.md``; image links are relative to it. The modules:

* :mod:`.rows`: reading result rows (which succeeded, targets, labels, code widths);
* :mod:`.tables`: the Markdown tables of the main job and of a sweep;
* :mod:`.figures`: the PNG figures of a sweep and of the main job;
* :mod:`.accuracy`: the accuracy formats placed on the units that compute them, and the
  Pareto front of area against accuracy.
"""

import os
from pathlib import Path

from ..core.errors import LowbitError
from ..jobs import write_atomic
from .accuracy import accuracy_points, cost_per_mac, format_hardware, pareto_front
from .figures import (CAPTIONS, flow_figures, load_json, plot_accuracy_vs_area, plot_area_ratio,
                      plot_area_vs_bits, plot_fmax_vs_size, plot_throughput_per_lut,
                      sweep_figures)
from .rows import code_bits, flow_rows
from .tables import render_markdown, sweep_table

__all__ = ["format_hardware", "code_bits", "accuracy_points", "pareto_front", "cost_per_mac",
           "plot_area_vs_bits", "plot_fmax_vs_size", "plot_throughput_per_lut",
           "plot_accuracy_vs_area", "plot_area_ratio", "sweep_figures", "flow_rows",
           "flow_figures", "render_markdown", "sweep_table", "write_report"]


def _images(figures, base):
    lines = []
    for name, path in figures.items():
        link = Path(os.path.relpath(path, base)).as_posix()
        lines += [f"![{CAPTIONS[name]}]({link})", ""]
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
    accuracy_table = (load_json(accuracy, "accuracy table", "lowbit eval")
                      if accuracy is not None else None)
    flow = build / "report.json"
    if not flow.exists() and not sweeps and not any((build / "block").glob("*.json")):
        raise LowbitError(f"nothing to report in {build}: run `lowbit flow` or `lowbit sweep` "
                          "first")

    lines = []
    if flow.exists():
        report = load_json(flow, "main job results", "lowbit flow")
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
        rows = load_json(sweep / "results.json", "sweep results", "lowbit sweep")
        figures = sweep_figures(sweep, accuracy_table)
        link = Path(os.path.relpath(sweep / "results.csv", build)).as_posix()
        lines += ["", f"## Sweep `{sweep.name}`", "",
                  f"{len(rows)} points, {sum(1 for r in rows if r.get('error'))} failed; "
                  f"the whole table: [{link}]({link}). Ratios are baseline / unit for area (per "
                  "unit of work, and raw) and unit / baseline for Fmax (above 1: the unit is "
                  "better).", ""]
        lines += sweep_table(rows) + [""] + _images(figures, build)
    from .block import block_section
    lines += block_section(build)   # the attention block's table and figure (issue 17)
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
    write_atomic(out, "\n".join(lines).rstrip() + "\n")
    return out
