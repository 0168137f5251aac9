"""`lowbit eval`: the accuracy table on MiniLM, run on a reduced set (a few sentences, three rows).

Checks the table's structure and sanity only; which format wins is what docs/accuracy.md measures."""

import json
import math
import re
import subprocess
import sys

import pytest

from lowbit.golden_models.accuracy import evaluate as ev
from lowbit.golden_models.accuracy.metrics import spearman
from lowbit.golden_models.accuracy.sentences import STUDY_SET, load_sentences
from lowbit.core.params import ParameterError

ROWS = ["fp32", "int8", "exaq3"]
METRICS = ("weight_sqnr_db", "layer_rel_error", "cos_mean", "cos_min", "retrieval", "para_abs_change",
           "para_signed_change", "pairs_abs_change", "nn_agreement", "recall_at_1", "rank_corr", "pair_rank_corr",
           "para_over_hard")


@pytest.fixture(scope="module")
def small():
    """4 calibration sentences of the study set; 3 paraphrase pairs, 1 hard negative, 1 unrelated pair."""
    s = load_sentences(STUDY_SET)
    kinds = {k: [p for p in s["evaluation"] if p["kind"] == k] for k in ("paraphrase", "hard_negative", "unrelated")}
    return {"calibration": s["calibration"][:4],
            "evaluation": kinds["paraphrase"][:3] + kinds["hard_negative"][:1] + kinds["unrelated"][:1]}


@pytest.fixture(scope="module")
def report(small):
    return ev.evaluate(ROWS, sentences=small, n_grid=10)


def test_report_structure(report, small):
    assert [r["key"] for r in report["rows"]] == ROWS
    assert report["calibration_sentences"] == 4 and report["evaluation_pairs"] == 5
    assert report["paraphrase_pairs"] == 3 and report["evaluation_sentences"] == 10
    assert report["damp"] == ev.DEFAULT_DAMP and report["wall_seconds"] > 0
    for row in report["rows"]:
        assert set(METRICS) <= set(row)
        if row["layers"] is not None:
            assert len(row["layers"]) == 36


def test_fp32_row_is_the_reference(report):
    fp32 = report["rows"][0]
    assert fp32["weight_sqnr_db"] is None  # weights not quantized: no SQNR
    assert fp32["cos_mean"] == pytest.approx(1, abs=1e-6) and fp32["cos_min"] == pytest.approx(1, abs=1e-6)
    assert fp32["retrieval"] == 1 and fp32["layer_rel_error"] == 0
    assert fp32["para_abs_change"] == pytest.approx(0, abs=1e-6)
    assert fp32["nn_agreement"] == 1 and fp32["rank_corr"] == pytest.approx(1) and fp32["pair_rank_corr"] == pytest.approx(1)


def test_spearman_by_hand():
    assert spearman([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]) == pytest.approx(1)
    assert spearman([1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]) == pytest.approx(-1)
    # ranks (0,1,2,3) against (1,0,2,3): 1 - 6 * 2 / (4 * 15) = 0.8
    assert spearman([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 3.0, 4.0]) == pytest.approx(0.8)


def test_study_set_is_large_disjoint_and_has_hard_negatives():
    s = load_sentences(STUDY_SET)
    texts = [t for p in s["evaluation"] for t in (p["a"], p["b"])]
    assert len(s["calibration"]) + len(texts) >= 300 and len(set(texts)) == len(texts)
    assert not set(s["calibration"]) & set(texts)
    kinds = [p["kind"] for p in s["evaluation"]]
    assert kinds.count("hard_negative") >= 40 and kinds.count("paraphrase") >= 40
    # Hard negatives share most of their words.
    for p in s["evaluation"]:
        if p["kind"] == "hard_negative":
            a, b = (set(t.lower().strip(".").split()) for t in (p["a"], p["b"]))
            assert len(a & b) >= 2


def test_int8_is_close_and_every_number_is_finite(report):
    int8 = report["rows"][1]
    assert int8["cos_mean"] > 0.99 and int8["cos_min"] > 0.99
    assert 30 < int8["weight_sqnr_db"] < 60 and 0 < int8["layer_rel_error"] < 0.05
    for row in report["rows"]:
        for m in METRICS:
            assert row[m] is None or math.isfinite(row[m]), (row["key"], m)
        assert 0 <= row["retrieval"] <= 1 and -1 <= row["cos_min"] <= row["cos_mean"] <= 1 + 1e-9


def test_softmax_row_has_no_weight_columns_and_calibrated_clips(report):
    exaq = report["rows"][2]
    assert exaq["weight_sqnr_db"] is None and exaq["layer_rel_error"] is None and exaq["layers"] is None
    assert len(exaq["exaq_clips"]) == 6 and all(2 < c < 20 for c in exaq["exaq_clips"])
    assert 0.9 < exaq["cos_mean"] < 1


def test_written_files(report, tmp_path):
    md, js = ev.write_report(report, tmp_path, command="lowbit eval --rows fp32 int8 exaq3")
    text = md.read_text()
    assert "`lowbit eval --rows fp32 int8 exaq3`" in text and "damping **1**" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 2 + len(ROWS)
    assert all(line.count("|") == 10 for line in table)
    data = json.loads(js.read_text())  # strict JSON: no Infinity or NaN
    assert data["rows"][0]["weight_sqnr_db"] is None and data["command"].startswith("lowbit eval")


def test_default_rows_and_extras():
    keys = ev.row_keys()
    assert keys[0] == "fp32" and "int4-gptq" in keys and "dint4-gptq-a8" in keys and "exaq2" in keys
    assert "int4-athena" not in keys and "exaq3-fixed" not in keys
    assert "int4-athena" in ev.row_keys(["athena"]) and "dint4-pm-gptq" in ev.row_keys(["dint_variants"])
    with pytest.raises(ParameterError, match="unknown extras"):
        ev.row_keys(["everything"])


def test_calibration_and_evaluation_must_be_disjoint(small):
    shared = dict(small, calibration=small["calibration"] + [small["evaluation"][0]["b"]])
    with pytest.raises(ParameterError, match="disjoint"):
        ev.evaluate(["fp32"], sentences=shared)
    with pytest.raises(ParameterError, match="unknown row"):
        ev.evaluate(["int3"], sentences=small)


@pytest.mark.parametrize("args, message", [
    (["eval", "--damp", "2"], "damp=2.0 is out of range"),
    (["eval", "--rows", "int3"], "invalid choice: 'int3'"),
    (["eval", "--a8", "fp8"], "invalid choice: 'fp8'"),
])
def test_cli_bad_input_is_one_error_line(args, message):
    done = subprocess.run([sys.executable, "-m", "lowbit", *args], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lowbit: error: ") and message in lines[0], done.stderr


def test_clip_rules_compared_on_real_rows(small):
    """The clip-rule comparison of docs/exaq_softmax.md runs end to end on a small set: every rule
    gives positive per-layer clips, finite errors, and the table's clips lie below the closed form's."""
    from lowbit.golden_models.accuracy.exaq_minilm import compare_clip_rules, format_clip_rules

    results = compare_clip_rules(("gauss", "table"), (2,), sentences=small)
    by_rule = {r.rule: r for r in results}
    assert set(by_rule) == {"gauss", "table"}
    for r in results:
        assert len(r.clips) == 6 and all(c > 0 for c in r.clips)
        assert 0 < r.kl < 1 and 0 < r.mse < 1 and 0.9 < r.cos_mean <= 1 and r.cos_min <= r.cos_mean
    assert all(t < g for t, g in zip(by_rule["table"].clips, by_rule["gauss"].clips))
    assert format_clip_rules(results).count("\n") == 3


def test_distribution_correction_block_loss_and_search():
    import numpy as np

    from lowbit.golden_models.abq import dequantize, quantize_weights
    from lowbit.golden_models.accuracy.distribution import DC_FACTORS, block_loss, correct_distribution
    from lowbit.golden_models.accuracy.minilm import MiniLM

    rng = np.random.default_rng(0)
    h = rng.normal(size=(5, 4))
    p = np.full((3, 4), 0.25)
    assert block_loss(h, h, p, p) == pytest.approx(0, abs=1e-12)
    assert block_loss(h, -h, p, p) > 20 and block_loss(h, h, p, np.array([[0.7, 0.1, 0.1, 0.1]] * 3)) > 0
    model = MiniLM("float32")
    texts = load_sentences(STUDY_SET)["calibration"][:2]
    weights, factors = correct_distribution(model, texts, 2, 8, n_grid=10)
    assert set(weights) == set(model.linear_names) == set(factors)
    assert set(factors.values()) <= {1.0, *DC_FACTORS} and any(f != 1.0 for f in factors.values())
    for name, f in factors.items():
        if f == 1.0:    # an unchanged layer is ABQ's plain quantization
            plain = dequantize(*quantize_weights(model.weight(name).astype(np.float64), 2, n_grid=10)[:3])
            np.testing.assert_array_equal(weights[name], plain)


@pytest.mark.parametrize("args, message", [
    (["experiment", "exaq-table", "--length", "1"], "argument --length: 1 is out of range: give an integer in 2..1048576"),
    (["experiment", "dint-mse", "--n-grid", "0"], "argument --n-grid: 0 is out of range: give an integer in 1..10000"),
    (["experiment", "nope"], "invalid choice: 'nope'"),
    (["experiment", "ptq", "--damp", "3", "--layers", "encoder.layer.0.attention.self.query"], "damp=3.0 is out of range"),
])
def test_experiment_bad_input_is_one_error_line(args, message):
    done = subprocess.run([sys.executable, "-m", "lowbit", *args], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("lowbit experiment: ")]
    assert len(errors) == 1 and errors[0].startswith("lowbit: error: ") and message in errors[0], done.stderr


def test_experiment_programs_have_help_and_run():
    from lowbit.experiments import PROGRAMS

    for name in PROGRAMS:
        done = subprocess.run([sys.executable, "-m", "lowbit", "experiment", name, "--help"], capture_output=True,
                              text=True)
        assert done.returncode == 0 and done.stdout.startswith(f"usage: lowbit experiment {name}"), done.stderr
    done = subprocess.run([sys.executable, "-m", "lowbit", "experiment", "exaq-table"], capture_output=True, text=True)
    assert done.returncode == 0 and "| 2.02 | 3 | 4.862 |" in done.stdout
    assert "exaq-table started" in done.stderr and "finished" in done.stderr


def test_eval_search_finds_the_screened_and_exact_searches_identical():
    """`lowbit experiment eval-search` (docs/accuracy.md's run-time table): both runs' every
    number the same, exit 0, the timing table on stdout."""
    done = subprocess.run([sys.executable, "-m", "lowbit", "experiment", "eval-search", "--small-set",
                           "--rows", "int4-rtn"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "| screened |" in done.stdout and "| exact |" in done.stdout
    assert re.search(r"^\d+ numbers in the screened run's rows, 0 different .*\(bit-identical\)$", done.stdout, re.M)


def _steps(stderr):
    """``[(done, total), ...]`` of a program's ``lowbit experiment: [done/total]`` lines."""
    return [(int(m[1]), int(m[2])) for m in re.finditer(r"^lowbit experiment: \[\s*(\d+)/(\d+)\]", stderr, re.M)]


@pytest.mark.parametrize("args", [["exaq-table"], ["exaq-clip", "--only", "errors", "--rows", "4"],
                                  ["dint-mse", "--n-grid", "2"], ["minilm-reference", "hello"],
                                  ["block-accuracy", "--sentences", "1", "--config", "int8-fixed"]])
def test_experiments_report_steps_done_of_total(args):
    """Between "started" and "finished", a program prints one [done/total] line per step, as
    `lowbit flow` does: 1, 2, ... up to its total, the total the same on every line."""
    done = subprocess.run([sys.executable, "-m", "lowbit", "experiment", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    steps = _steps(done.stderr)
    total = steps[-1][1]
    assert steps == [(k, total) for k in range(1, total + 1)], done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].endswith(f"{args[0]} started") and " finished in " in lines[-1]


def test_steps_count_and_extend_their_total():
    import io

    from lowbit.golden_models.accuracy.progress import Steps

    out = io.StringIO()
    steps = Steps(2, stream=out)
    steps.step("a")
    steps.step("b", total=3)
    steps.step("c")
    steps.step("d")  # one more than announced: the total grows, never 4/3
    assert _steps(out.getvalue()) == [(1, 2), (2, 3), (3, 3), (4, 4)]
    assert out.getvalue().splitlines()[0].endswith("s  a")
