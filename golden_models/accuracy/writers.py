"""The report of ``lowbit eval`` as Markdown and JSON files."""

import json
import math
from pathlib import Path

__all__ = ["format_markdown", "write_report"]


def _num(value, digits, signed=False):
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def format_markdown(report, command=None):
    """The report as a Markdown page: settings, then the table."""
    r = report
    lines = ["# MiniLM accuracy of the low-bit formats", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    a8 = "symmetric (two's complement codes, one scale per token)" if r["a8"] == "sym" else "asymmetric (ABQ)"
    lines += [
        f"Model: {r['model']}, {r['dtype']}. Calibration: {r['calibration_sentences']} sentences "
        f"({r['calibration_tokens']} tokens); evaluation: {r['evaluation_pairs']} pairs, "
        f"{r['paraphrase_pairs']} of them paraphrases ({r['evaluation_sentences']} sentences, "
        f"{r['evaluation_tokens']} tokens); the two sets are disjoint.",
        "",
        f"GPTQ/Athena damping **{r['damp']:g}**; "
        + ("sequential calibration (each transformer layer calibrated on the inputs of the model whose earlier "
           "layers are already quantized); " if r["sequential"] else
           "parallel calibration (every layer calibrated on the float model's inputs); ")
        + f"INT4/dINT4/ABQ weight scales: MSE search over {r['n_grid']} clipping ratios per output channel; "
        "INT8 and PoT4 RTN: max scale; PoT4 two-step: log-grid MSE scale, then the output-error refinement on "
        f"the calibration inputs; INT8 activations of the W4A8 rows: per token, {a8}. "
        "EXAQ: the floating-point EXAQ quantizer (exact exp of the dequantized values, normalised) unless "
        f"the row says fixed-point; clip rule `{r.get('exaq_rule', 'gauss')}`, calibrated per layer over the "
        "calibration sentences (25 calls), then fixed.",
        "",
        "Weight SQNR: pooled over all 36 linear layers. Layer error: ||A(X) W_q^T - X W^T|| / ||X W^T|| per "
        "layer on the float model's inputs for the evaluation sentences, mean over the 36 layers. Cosine: "
        "embedding vs FP32 over the evaluation sentences. NN agreement: each evaluation sentence's nearest "
        "neighbour in the whole pool equals FP32's. Rank corr.: Spearman correlation of the cosine of every "
        "pair of evaluation sentences with FP32's. Para > hard: how often a paraphrase pair is more similar "
        "than a hard-negative pair (FP32: the first row). Paraphrase cos change: mean |cos(a,b) - "
        "cos_FP32(a,b)| over the paraphrase pairs.",
        "",
        "| format | weight SQNR (dB) | layer rel. error | cosine mean | cosine worst | NN agreement "
        "| rank corr. | para > hard | paraphrase cos change |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['label']} | {_num(row['weight_sqnr_db'], 2)} | {_num(row['layer_rel_error'], 4)} "
            f"| {_num(row['cos_mean'], 4)} | {_num(row['cos_min'], 4)} | {_num(row.get('nn_agreement'), 3)} "
            f"| {_num(row.get('rank_corr'), 4)} | {_num(row.get('para_over_hard'), 3)} "
            f"| {_num(row['para_abs_change'], 4)} |"
        )
    threads = r.get("openblas_num_threads")
    lines += ["", f"Wall time: {r['wall_seconds']:.0f} s" + (f" (OPENBLAS_NUM_THREADS={threads})." if threads else "."), ""]
    return "\n".join(lines)


def _json_safe(value):
    """Infinities (an SQNR of unchanged weights) become None: JSON has no infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_report(report, out, command=None):
    """Write ``accuracy.md`` and ``accuracy.json`` into the folder ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "accuracy.md", out / "accuracy.json"
    md.write_text(format_markdown(report, command), encoding="utf-8")
    js.write_text(json.dumps(_json_safe(dict(report, command=command)), indent=1) + "\n", encoding="utf-8")
    return md, js
