"""lowbit report: the figures from a small synthetic sweep table and accuracy table (no
synthesis), the format -> unit map, the Pareto front, and report.md's links."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lowbit.golden_models.accuracy.rows import ROWS
from lowbit.report import accuracy_points, format_hardware, pareto_front, write_report
from lowbit.report.block import plot_block
from lowbit.sweep import _with_ratios, _with_throughput
from lowbit.units import UNITS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# (unit, overrides, LUTs, Fmax MHz): invented numbers, shaped like a real ECP5 sweep
SYNTHETIC = [
    ("dint_mac", {}, 140, 187.0),
    ("int_mac", {"weight_bits": 8}, 383, 128.0),
    ("pot_mac", {"bits": 3}, 94, 205.0),
    ("pot_mac", {"bits": 4}, 109, 208.0),
    ("int_mac", {"weight_bits": 4}, 225, 165.0),
    ("int_mac", {"weight_bits": 2}, 100, 214.0),
    ("btc_array", {"rows": 2, "cols": 2, "k_slice": 16}, 1920, None),
    ("btc_array", {"rows": 2, "cols": 2, "k_slice": 32}, 2618, None),
    ("int_array", {"rows": 2, "cols": 2}, 1575, None),
    ("exaq_softmax", {"bits": 2, "max_len": 32}, 1420, None),
    ("exaq_softmax", {"bits": 3, "max_len": 32}, 1756, None),
    ("softmax_fixed", {"max_len": 32}, 1099, None),
]


def synthetic_rows():
    rows = []
    for unit, overrides, luts, fmax in SYNTHETIC:
        for target, area in (("ecp5", luts), ("generic", 4.5 * luts)):
            fpga = target != "generic"
            rows.append({"unit": unit, "params": UNITS[unit].resolve(overrides), "target": target,
                         "error": None, "luts": area if fpga else None, "ffs": 10, "carry": None,
                         "dsps": 0, "gate_equivalents": None if fpga else area,
                         "transistors": None if fpga else 4 * area,
                         "logic_depth": None if fpga else 20, "fmax_mhz": fmax if fpga else None,
                         "cached": False})
    rows.append(dict(rows[0], target="ice40", luts=None, error="LowbitError: yosys failed"))
    return _with_throughput(_with_ratios(rows, baselines=True))


def accuracy_row(key, cos_mean, activations=None):
    return {"key": key, "label": ROWS[key].label, "weights": ROWS[key].weights,
            "activations": activations, "softmax": None, "cos_mean": cos_mean}


ACCURACY = {"command": "lowbit eval --damp 1", "rows": [
    accuracy_row("fp32", 1.0),
    accuracy_row("int8", 0.9996),
    accuracy_row("int4-rtn", 0.948),
    accuracy_row("int4-gptq-a8", 0.970, "INT8 per token, symmetric"),
    accuracy_row("int4-rtn-a8", 0.946, "INT8 per token, symmetric"),
    accuracy_row("dint4-gptq", 0.976),
    accuracy_row("dint4-gptq-a8", 0.974, "INT8 per token, symmetric"),
    accuracy_row("pot4-2step-a8", 0.933, "INT8 per token, symmetric"),
    accuracy_row("w2a8", 0.48, "INT8 per token, asymmetric (ABQ)"),
    accuracy_row("w2a8-bal", 0.75, "INT8 per token, asymmetric (ABQ)"),
    accuracy_row("w4a4", 0.88, "INT4 per token, asymmetric (ABQ)"),
    accuracy_row("exaq2", 0.9947),
    accuracy_row("exaq3", 0.9986),
]}


@pytest.fixture
def build(tmp_path):
    return _make_build(tmp_path)


def _make_build(tmp_path):
    sweep = tmp_path / "build" / "sweep" / "demo"
    sweep.mkdir(parents=True)
    (sweep / "results.json").write_text(json.dumps(synthetic_rows()))
    (sweep / "results.csv").write_text("unit\n")
    (tmp_path / "build" / "accuracy.json").write_text(json.dumps(ACCURACY))
    (tmp_path / "build" / "accuracy.md").write_text("# accuracy\n")
    return tmp_path / "build"


def _links(markdown):
    return re.findall(r"\]\(([^)]+)\)", markdown)


def test_report_draws_every_figure_and_its_links_resolve(build):
    report = write_report(build)
    sweep = build / "sweep" / "demo"
    for name in ("area_vs_bits", "fmax_vs_size", "throughput_per_lut", "accuracy_vs_area"):
        assert (sweep / f"{name}.png").read_bytes()[:8] == PNG_MAGIC, name
    text = report.read_text()
    links = _links(text)
    assert {"sweep/demo/area_vs_bits.png", "sweep/demo/accuracy_vs_area.png",
            "sweep/demo/results.csv", "accuracy.md"} <= set(links)
    for link in links:
        assert (build / link).exists(), link
    assert "| dint_mac | defaults | ecp5 | plain | 140 |" in text   # the sweep table, one row a point
    # ... and per unit of work: the array at W2A8 (2 x 2 x 16 / 16 = 4 MACs per cycle) against
    # the INT8 array (4 MACs per cycle at every precision), and dint_mac at one MAC per cycle
    assert "| btc_array | rows=2, cols=2, k_slice=16 | ecp5 | W2A8 | 4.00 | 480.0 LUT4 |" in text
    assert "| dint_mac | defaults | ecp5 | MAC | 1 | 140.0 LUT4 |" in text
    assert "LowbitError: yosys failed" in text            # a failed point stays visible


def test_report_embeds_the_main_job_with_its_figures(build):
    flow = {"simulator": "icarus", "targets": ["ecp5"], "seconds": 1.0, "comparisons": [
        {"unit": "dint_mac", "baseline": "int_mac", "target": "ecp5", "area_ratio": 2.7,
         "per_work": {"MAC": {"area_ratio": 2.7}}}], "units": []}
    for unit, overrides, luts, fmax in SYNTHETIC[:2]:
        synth = {"target": "ecp5", "luts": luts, "ffs": 1, "carry": 0, "dsps": 0,
                 "gate_equivalents": None, "transistors": None, "logic_depth": None,
                 "fmax_mhz": fmax, "options": ["nowidelut"]}
        flow["units"].append({"unit": unit, "params": UNITS[unit].resolve(overrides),
                              "sim": {"tests": 5, "passed": 4, "skipped": 1, "failed": 0,
                                      "vectors": 100, "left_out": []},
                              "synth": {"ecp5": dict(synth, per_work={"MAC": {
                                  "work": 1, "area_per_work": float(luts),
                                  "work_per_area": 1 / luts,
                                  "work_per_second_per_area": fmax / luts,
                                  "area_delay_per_work": luts * 1000 / fmax}})}})
    (build / "report.json").write_text(json.dumps(flow))
    text = write_report(build, sweeps=[]).read_text()
    assert text.startswith("# lowbit report")
    assert "| dint_mac | int_mac | ecp5 | MAC | 2.70 |" in text
    assert "| dint_mac | defaults | 4 | 1 | 0 | 100 |" in text     # passed, skipped, failed
    assert "| dint_mac | defaults | ecp5 | nowidelut | 140 |" in text
    assert "| int_mac | defaults | ecp5 | MAC | 1 | 383.0 LUT4 |" in text
    assert set(_links(text)) == {"figures/area_ratio.png", "figures/fmax_vs_size.png",
                                 "accuracy.md"}
    for link in _links(text):
        assert (build / link).exists(), link


def test_every_accuracy_row_but_fp32_maps_to_a_registered_unit():
    for key in ROWS:
        hardware = format_hardware(key)
        if key == "fp32":
            assert hardware is None
            continue
        assert hardware is not None, key
        unit, params, job = hardware
        UNITS[unit].resolve(params)  # parameters the unit has, with allowed values
        assert (job is not None) == (unit == "btc_array"), key
    assert format_hardware("dint4-pm-gptq")[1] == {"special": "pm_half", "frac_bits": 1}
    assert format_hardware("w2a8-bal")[2] == (3, 8) and format_hardware("w2a8")[2] == (2, 8)


def test_accuracy_points_take_each_formats_best_quantizer_and_cheapest_unit():
    target, points = accuracy_points(synthetic_rows(), ACCURACY)
    assert target == "ecp5"
    by_label = {label: (unit, area, cosine) for _, label, unit, area, cosine in points}
    # INT4 on int_mac: the W4A8 rows (quantized activations) win over the weight-only one
    assert by_label[ROWS["int4-gptq-a8"].label] == ("int_mac", 225, 0.970)
    assert ROWS["int4-rtn"].label not in by_label and ROWS["dint4-gptq"].label not in by_label
    # the cheaper array per MAC: k_slice 32, 2 x 2 x 32 = 128 MACs per cycle at W1A1, / (2 x 8)
    # for W2A8, on 2618 LUTs (k_slice 16: 1920 LUTs / 4 MACs per cycle)
    assert by_label[ROWS["w2a8"].label] == ("btc_array", pytest.approx(2618 / (128 / 16)), 0.48)
    assert by_label[ROWS["w2a8-bal"].label][1] == pytest.approx(2618 / (128 / 24))
    assert by_label[ROWS["exaq2"].label] == ("exaq_softmax", 1420, 0.9947)
    # the weight-only INT8 row (float activations) is no format of the INT8 x INT8 MAC
    assert ROWS["int8"].label not in by_label
    assert len(points) == 8  # INT4, dINT4, PoT4 (W4A8), three array jobs, two softmaxes


def test_pareto_front():
    points = [(100, 0.9), (50, 0.8), (200, 0.95), (150, 0.85), (50, 0.7)]
    assert pareto_front(points) == [(50, 0.8), (100, 0.9), (200, 0.95)]


def test_report_without_results_is_one_error_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "lowbit", "--build", str(tmp_path), "report"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "nothing to report" in done.stderr
    done = subprocess.run([sys.executable, "-m", "lowbit", "--build", str(tmp_path), "report",
                           "--sweep", str(tmp_path / "none")], capture_output=True, text=True)
    assert done.returncode == 2 and "no sweep results at" in done.stderr
    assert Path(tmp_path / "report.md").exists() is False


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """Every figure ``lowbit report`` draws from the synthetic sweep, accuracy table and main
    job, as ``{name: matplotlib Figure}`` (drawn and saved), drawn once for these tests."""
    from lowbit.report import figures
    build = _make_build(tmp_path_factory.mktemp("figures"))
    found, save = {}, figures._save

    def keep(figure, path):
        found[path.stem if path.parent.name != "figures" else f"flow-{path.stem}"] = figure
        return save(figure, path)

    flow = {"simulator": "icarus", "targets": ["ecp5", "generic"], "seconds": 1.0, "units": [],
            "comparisons": [
                {"unit": "dint_mac", "baseline": "int_mac", "target": "ecp5", "area_ratio": 2.7,
                 "per_work": {"MAC": {"area_ratio": 2.7}}},
                {"unit": "dint_mac", "baseline": "int_mac", "target": "generic",
                 "area_ratio": 1.3, "per_work": {"MAC": {"area_ratio": 1.3}}},
                {"unit": "btc_array", "baseline": "int_array", "target": "ecp5",
                 "per_work": {"W2A8": {"area_ratio": 3.1}, "W8A8": {"area_ratio": 0.4}}}]}
    (build / "report.json").write_text(json.dumps(flow))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(figures, "_save", keep)
        write_report(build)
        one = {"rows": [r for r in ACCURACY["rows"] if r["key"] == "exaq3"]}
        figures.plot_accuracy_vs_area(synthetic_rows(), one, build / "one.png")
        # the attention block's figure at the four configurations' measured spread
        block_rows = [{"config": name, "layer_cosine": cosine, "energy_token_pj": pj,
                       "asic_um2": um2} for name, cosine, pj, um2 in (
            ("int8-fixed", 0.9985, 109.06e6, 8.096e6), ("dint-exaq3", 0.9786, 108.78e6, 8.0e6),
            ("pot-exaq3", 0.9660, 109.40e6, 8.002e6), ("w2a8-exaq2", 0.8171, 115.68e6, 7.948e6))]
        plot_block(block_rows, build / "block.png")
    return found


def _data_lines(ax):
    """The axes' plotted series (not reference lines drawn across the axes)."""
    return [line for line in ax.get_lines()
            if line.get_transform() == ax.transData and len(line.get_xdata()) > 0]


def test_no_text_of_any_figure_is_clipped_and_legends_are_readable(drawn):
    from matplotlib.text import Text
    assert set(drawn) == {"area_vs_bits", "fmax_vs_size", "throughput_per_lut",
                          "accuracy_vs_area", "flow-area_ratio", "one", "block"}
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    for name, figure in drawn.items():
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        renderer = canvas.get_renderer()
        width, height = figure.bbox.width, figure.bbox.height
        tight = figure.get_tightbbox(renderer)      # inches: everything drawn
        assert tight.x0 >= -0.01 and tight.y0 >= -0.01, name
        assert tight.x1 <= figure.get_figwidth() + 0.01, name
        assert tight.y1 <= figure.get_figheight() + 0.01, name
        ticks = {id(label) for ax in figure.axes for axis in (ax.xaxis, ax.yaxis)
                 for tick in axis.get_major_ticks() + axis.get_minor_ticks()
                 for label in (tick.label1, tick.label2)}
        for text in figure.findobj(Text):
            if not text.get_visible() or not text.get_text().strip() or id(text) in ticks:
                continue            # tick labels: the drawn ones are inside the tight box
            box = text.get_window_extent(renderer)
            assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and \
                box.y1 <= height + 1, (name, text.get_text())
        for ax in figure.axes:
            legend = ax.get_legend()
            if legend is None:
                continue
            assert min(t.get_fontsize() for t in legend.get_texts()) >= 8, name
            overlap = legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
            assert not overlap, f"{name}: the legend covers the data of {ax.get_title()}"


def test_figures_draw_no_line_through_an_unmeasured_point(drawn):
    for name in ("fmax_vs_size", "throughput_per_lut"):
        for ax in drawn[name].axes:      # points of parameter sets or categories: no lines
            for line in _data_lines(ax):
                assert line.get_linestyle() in ("None", "none", ""), (name, line.get_label())
    for ax in drawn["area_vs_bits"].axes:   # widths: lines join measured neighbours only
        for line in _data_lines(ax):
            xs = list(line.get_xdata())
            if line.get_linestyle() not in ("None", "none", "") and len(xs) > 1:
                assert all(b - a == 1 for a, b in zip(xs, xs[1:])), line.get_label()
    throughput = drawn["throughput_per_lut"].axes[0]
    assert [t.get_text() for t in throughput.get_xticklabels()] == ["W1A1", "W2A8", "W4A4", "W8A8"]
    shown = {line.get_label().split(" ")[0].rstrip(":") for line in _data_lines(throughput)}
    assert shown == {"btc_array", "int_array"}      # single-format units have no precision axis


def test_accuracy_figure_colours_zoom_and_front(drawn):
    matmul, softmax = drawn["accuracy_vs_area"].axes
    colours = {}
    for ax in (matmul, softmax):
        for line in _data_lines(ax):
            if "Pareto" not in line.get_label():
                colours.setdefault(line.get_color(), set()).add(line.get_label())
    assert all(len(labels) == 1 for labels in colours.values()), colours
    assert "zoomed" in softmax.get_ylabel() and "zoomed" not in matmul.get_ylabel()
    assert all(ROWS["int8"].label not in line.get_label() for line in _data_lines(matmul))
    (ax,) = drawn["one"].axes       # one softmax format: no one-point "front"
    assert not any("Pareto" in line.get_label() for line in ax.get_lines())


def test_area_ratio_bars_state_their_direction_and_values(drawn):
    ax = drawn["flow-area_ratio"].axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["int_mac / dint_mac", "int_array / btc_array, W2A8",
                      "int_array / btc_array, W8A8"]
    assert "baseline / unit" in ax.get_xlabel()
    values = sorted(t.get_text() for t in ax.texts)
    assert values == ["0.40", "1.30", "2.70", "3.10"]
