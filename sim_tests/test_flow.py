"""The main job: every unit at its defaults beside its baseline, and the report it writes."""

import json

import pytest

from lowbit.flow import compare, run_flow
from lowbit.units import UNITS


def test_compare_ratios_favour_the_smaller_faster_unit():
    unit = {"target": "ice40", "luts": 100, "gate_equivalents": None, "fmax_mhz": 50.0,
            "logic_depth": None}
    baseline = {"target": "ice40", "luts": 200, "gate_equivalents": None, "fmax_mhz": 40.0,
                "logic_depth": None}
    ratios = compare(unit, baseline)
    assert ratios == pytest.approx({"area_ratio": 2.0, "fmax_ratio": 1.25,
                                    "area_delay_ratio": 2.5})
    generic = {"target": "generic", "luts": None, "gate_equivalents": 500.0, "fmax_mhz": None,
               "logic_depth": 20}
    generic_base = dict(generic, gate_equivalents=1000.0, logic_depth=30)
    assert compare(generic, generic_base) == pytest.approx(
        {"area_ratio": 2.0, "depth_ratio": 1.5, "area_delay_ratio": 3.0})


def test_flow_reports_every_unit_beside_its_baseline(tmp_path):
    assert run_flow(targets=["generic"], simulator="icarus", build=tmp_path, jobs=2) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    names = {entry["unit"] for entry in report["units"]}
    assert names == {unit.name for unit in UNITS}
    for entry in report["units"]:
        assert entry["sim"]["failed"] == 0 and entry["sim"]["vectors"] > 0
        assert (tmp_path / "verilog" / f"{entry['unit']}.v").exists()
        assert entry["synth"]["generic"]["gate_equivalents"] > 0
    with_baseline = [u.name for u in UNITS if u.baseline]
    assert sorted(c["unit"] for c in report["comparisons"]) == sorted(with_baseline)
    # A baseline can appear at several parameter sets (int_mac: INT8 for dint_mac, INT4 for
    # pot_mac), so look each one up by unit and parameters.
    by_point = {(e["unit"], json.dumps(e["params"], sort_keys=True)): e["synth"]["generic"]
                for e in report["units"]}
    for entry in report["units"]:
        baseline = UNITS[entry["unit"]].baseline_for(entry["params"])
        if not baseline:
            continue
        name, params = baseline[0], UNITS[baseline[0]].resolve(baseline[1])
        base = by_point[(name, json.dumps(params, sort_keys=True))]
        ratio, = [c["area_ratio"] for c in report["comparisons"] if c["unit"] == entry["unit"]]
        assert ratio == pytest.approx(base["gate_equivalents"] /
                                      entry["synth"]["generic"]["gate_equivalents"])
    markdown = (tmp_path / "report.md").read_text()
    for name in names:
        assert f"| {name} |" in markdown
