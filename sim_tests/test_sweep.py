"""lowbit sweep: grid expansion, baselines and ratios, the cache, failures and bad files."""

import json
import subprocess
import sys

import pytest

from lowbit.core.errors import LowbitError
from lowbit.sweep import expand, load_sweep, run_sweep

SMALL = """
targets = ["generic"]
baselines = true

[[grid]]
unit = "pot_mac"
params = { bits = [2, 3], acc_bits = 16, pipeline = 0 }
"""


def test_grid_expands_with_baselines_once():
    grids = [{"unit": "pot_mac", "params": {"bits": [2, 3], "acc_bits": 16, "pipeline": 0}}]
    points = expand(grids, baselines=True)
    assert [(name, p.get("bits", p.get("weight_bits"))) for name, p, _ in points] == \
        [("pot_mac", 2), ("int_mac", 4), ("pot_mac", 3)]  # one shared INT4 baseline


def test_sweep_writes_tables_and_reuses_its_cache(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    rows = run_sweep(config, out=tmp_path / "out", progress=False)
    assert [r["unit"] for r in rows] == ["pot_mac", "int_mac", "pot_mac"]
    assert not any(r["error"] for r in rows) and not any(r["cached"] for r in rows)
    for row in (rows[0], rows[2]):
        assert row["baseline"] == "int_mac"
        assert row["area_ratio"] == pytest.approx(rows[1]["gate_equivalents"] /
                                                  row["gate_equivalents"])
    again = run_sweep(config, out=tmp_path / "out", progress=False)
    assert all(r["cached"] for r in again)
    assert [r["gate_equivalents"] for r in again] == [r["gate_equivalents"] for r in rows]
    csv_lines = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 4 and csv_lines[0].startswith("unit,")
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())) == 3


def test_a_dsp_target_reuses_the_lut_netlist_of_a_circuit_without_multipliers(tmp_path):
    """On ecp5 and ecp5-dsp, a multiplier-free unit (pot_mac) is mapped once: its ecp5-dsp row
    is its ecp5 row (DSP inference maps only multipliers), compared there with the baseline
    on the DSP blocks, which is built on both."""
    config = tmp_path / "dsp.toml"
    config.write_text('targets = ["ecp5", "ecp5-dsp"]\n[[grid]]\nunit = "pot_mac"\n'
                      'params = { bits = 2, acc_bits = 16, pipeline = 0 }\npnr = false\n')
    rows = run_sweep(config, out=tmp_path / "out", progress=False)
    by = {(r["unit"], r["target"]): r for r in rows}
    assert not any(r["error"] for r in rows) and len(rows) == 4
    unit, copy = by["pot_mac", "ecp5"], by["pot_mac", "ecp5-dsp"]
    assert copy["same_as"] == "ecp5" and "same_as" not in unit
    assert copy["luts"] == unit["luts"] and copy["cells"] == unit["cells"]
    assert "same_as" not in by["int_mac", "ecp5-dsp"] and by["int_mac", "ecp5-dsp"]["dsps"]
    assert copy["baseline"] == "int_mac" and copy["area_ratio"] != unit["area_ratio"]
    again = run_sweep(config, out=tmp_path / "out", progress=False)
    assert all(r["cached"] for r in again)
    assert not list((tmp_path / "out" / "synth").glob("pot_mac-*/ecp5-dsp*"))


@pytest.mark.parametrize("energy, data", [("true", "minilm"), ('"random"', "random")])
def test_an_energy_sweep_measures_every_asic_point_and_the_energy_ratio(tmp_path, energy, data):
    """``energy = true`` (or the operands' name): each asic point carries the flow's energy
    record of its winner, checked against the golden model, and the ratio per unit of work
    includes the energy; the cached rerun keeps the records and the CSV and the report table
    have the columns."""
    from lowbit.report.tables import sweep_table
    config = tmp_path / "energy.toml"
    config.write_text(f'targets = ["asic"]\nenergy = {energy}\n[[grid]]\nunit = "pot_mac"\n'
                      'params = { bits = 2, acc_bits = 16, pipeline = 0 }\npnr = false\n')
    rows = run_sweep(config, out=tmp_path / "out", progress=False)
    by = {r["unit"]: r for r in rows}
    assert not any(r["error"] for r in rows) and set(by) == {"pot_mac", "int_mac"}
    for row in rows:
        assert row["energy"]["op"] == "MAC" and row["energy"]["vectors_checked"] > 0
        assert row["energy"]["data"] == data
        assert row["energy"]["pj_per_op"] > 0
    (mode, ratio), = by["pot_mac"]["per_work_ratio"].items()
    assert ratio["energy_ratio"] == pytest.approx(by["int_mac"]["energy"]["pj_per_op"]
                                                  / by["pot_mac"]["energy"]["pj_per_op"])
    again = run_sweep(config, out=tmp_path / "out", progress=False)
    assert all(r["cached"] for r in again)
    assert [r["energy"] for r in again] == [r["energy"] for r in rows]
    header = (tmp_path / "out" / "results.csv").read_text().splitlines()[0].split(",")
    assert f"energy_ratio_per_work_{mode}" in header and f"energy_per_work_pj_{mode}" in header
    table = sweep_table(again)
    assert "energy ratio per unit of work" in table[0]
    assert len({line.count("|") for line in table[:4]}) == 1   # every line has every column


@pytest.mark.parametrize("text, message", [
    ("targets = [\"fpga9\"]\n[[grid]]\nunit = \"int_mac\"\n", "targets must be a non-empty list"),
    ("targets = [\"generic\"]\n", "needs at least one [[grid]]"),
    ("[[grid]]\nunit = \"int_mac\"\ncolour = 1\n", "unknown key(s) colour"),
    ("[[grid]]\nunit = \"int_mac\"\nparams = { acc_bits = [3] }\n",
     "bad.toml: [[grid]] 1 (int_mac), params.acc_bits: acc_bits=3 is out of range"),
    ("[[grid]]\nunit = \"int_mac\"\n[[grid]]\nunit = \"pot_mac\"\nparams = { bits = [3, 9] }\n",
     "bad.toml: [[grid]] 2 (pot_mac), params.bits: bits=9 is out of range"),
    ("[[grid]]\nunit = \"nope\"\n", "bad.toml: [[grid]] 1, unit: unknown unit 'nope'"),
    ("targets = [\n", "is not valid TOML"),
    ("energy = 1\n[[grid]]\nunit = \"int_mac\"\n", "energy must be true, false or one of 'minilm', 'random' (the operands), not 1"),
    ("targets = [\"ice40\"]\nenergy = true\n[[grid]]\nunit = \"int_mac\"\n",
     "energy = true needs the asic target"),
])
def test_bad_sweep_files_are_one_error_line(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(LowbitError, match=None) as caught:
        targets, baselines, grids, _ = load_sweep(config)
        expand(grids, baselines, config)
    assert message in str(caught.value)
    done = subprocess.run([sys.executable, "-m", "lowbit", "sweep", str(config)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr
