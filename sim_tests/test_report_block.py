"""The attention block's table and figure (lowbit/report/block.py): the MiniLM-scaled energy
per token by hand, the table from the records (and "not measured" without them), the figure,
and the report's section."""

import json

import pytest

from lowbit.report import block, write_report

STAGES = [name for name, _ in block.STAGES]


def _power_record(*, cycles=10):
    """A reduced run: every stage 10 cycles, logic 16 pJ and memory 4 pJ per stage, of which
    the macro ``\\buf`` did 2 reads (0.5 pJ each) and leaked nothing."""
    windows = [{"name": s, "cycles": cycles, "energy_pj": 20.0,
                "by_group_pj": {"sequential": 10.0, "combinational": 5.0, "inputs": 1.0,
                                "memory": 4.0},
                "memory_events": {"buf": {"read": 2}}} for s in STAGES]
    zero = {"internal": 0.0, "switching": 0.0, "leakage": 0.0, "total": 0.0}
    return {"clock_mhz": 100.0, "ops": 8, "cycles": 5 * cycles, "area_um2": 1000.0,
            "params": {"d_model": 32, "heads": 1, "lanes": 8, "max_tokens": 8},
            "energy_pj": {"total": 12.5}, "windows": windows,
            "energy_detail_pj": {g: dict(zero) for g in ("sequential", "combinational")},
            "memory": {"area_um2": 400.0, "macros": [
                {"instance": "\\buf", "energy_per_event_pj": {"read": 0.5}, "leakage_nw": 0.0}]}}


def test_scaled_energy_by_hand():
    power = _power_record()
    asic = {"logic_area_um2": 600.0, "memories": [
        {"instance": "\\buf", "energy_pj": {"read": 2.0}, "leakage_nw": 0.0}]}
    minilm = {s: 100 for s in STAGES}
    got = block.scaled_energy(power, asic, minilm)
    # Per stage: logic (10 + 5 + 1 + 4 - 2 x 0.5) / 10 = 1.9 pJ a cycle x 100 cycles = 190 pJ;
    # the macro's 2 reads in 10 cycles at MiniLM's 2.0 pJ: 0.4 pJ a cycle x 100 = 40 pJ.
    assert got["by_stage"]["qkv"] == pytest.approx(230 / block.TOKENS)
    assert got["logic"] == pytest.approx(5 * 190 / block.TOKENS)
    assert got["memory"] == pytest.approx(5 * 40 / block.TOKENS)
    assert got["leakage"] == 0.0
    assert got["total"] == pytest.approx(5 * 230 / block.TOKENS)
    # Without the MiniLM-shaped record, the reduced run's energies per event (0.5 pJ).
    assert block.scaled_energy(power, None, minilm)["memory"] == pytest.approx(
        5 * 10 / block.TOKENS)


def test_table_from_records_and_not_measured_without(tmp_path):
    folder = tmp_path / "block"
    folder.mkdir()
    (folder / "accuracy.json").write_text(json.dumps(
        [{"config": "dint-exaq3", "layer_cosine": 0.9786, "embedding_cosine": 0.99914}]))
    (folder / "asic-dint-exaq3.json").write_text(json.dumps([{
        "area_um2": 3000.0, "logic_area_um2": 1000.0, "memory_area_um2": 2000.0,
        "fmax_mhz": 150.0, "memories": []}]))
    (folder / "power-dint-exaq3.json").write_text(json.dumps({"unit": _power_record()}))
    rows = {r["config"]: r for r in block.block_rows(folder)}
    dint = rows["dint-exaq3"]
    formula = block._block("dint", "exaq3", block.MINILM_SHAPE)
    assert dint["cycles_layer"] == formula.cycles(block.TOKENS)
    assert dint["asic_um2"] == 3000.0 and dint["layer_cosine"] == 0.9786
    assert dint["energy_token_measured_pj"] == 12.5 and dint["energy_token_pj"] > 0
    stages = block._stage_cycles(formula, block.TOKENS)
    assert sum(stages.values()) == formula.cycles(block.TOKENS)
    lines = block.block_table(list(rows.values()))
    [line] = [l for l in lines if l.startswith("| dint-exaq3")]
    assert "3,000 (1,000 + 2,000)" in line and "150.0" in line and "0.9786" in line
    assert "(at " not in line, "a record without params is not flagged"
    flagged = block._shape_note({"params": dict(block.MINILM_SHAPE, d_model=32)})
    assert flagged == " (at d_model 32)" and block._shape_note({"params": block.MINILM_SHAPE}) == ""
    [line] = [l for l in lines if l.startswith("| int8-fixed")]
    assert line.count("not measured") == 7   # all but the formulas
    figure = block.plot_block(list(rows.values()), tmp_path / "block.png")
    assert figure is not None and figure.stat().st_size > 0


def test_the_report_has_the_block_section(tmp_path):
    (tmp_path / "block").mkdir()
    (tmp_path / "block" / "accuracy.json").write_text(json.dumps(
        [{"config": "int8-fixed", "layer_cosine": 0.9985, "embedding_cosine": 0.99994}]))
    text = write_report(tmp_path).read_text()
    assert "## Attention block (issue 17)" in text and "| int8-fixed |" in text
    assert block.block_section(tmp_path / "nothing") == []
