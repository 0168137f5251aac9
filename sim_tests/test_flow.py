"""The main job: every unit at its defaults beside its baseline, and the report it writes; its
counts of passed, skipped and failed tests; one job per distinct parameter set; the cache that
lets a rerun or an interrupted run resume; two runs on one build folder at once."""

import json
import os
import signal
import subprocess
import sys

import pytest

from lowbit.flow import compare, data_tests, flow_jobs, run_flow, source_digest
from lowbit.jobs import candidates
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


def test_compare_per_unit_of_work():
    # A many-mode unit (an array doing 64 MACs per cycle at W2A8, 16 at W8A8) on 4x the area
    # of a single-mode baseline doing 16 MACs per cycle at every precision.
    unit = {"target": "ecp5", "luts": 4000, "fmax_mhz": 100.0}
    base = {"target": "ecp5", "luts": 1000, "fmax_mhz": 100.0}
    ratios = compare(unit, base, {"W2A8": 64, "W8A8": 16}, {"INT8": 16})
    assert ratios["area_ratio"] == pytest.approx(0.25)               # raw: 4x the area
    assert ratios["per_work"]["W2A8"]["area_ratio"] == pytest.approx(1.0)  # 4x the work too
    assert ratios["per_work"]["W8A8"]["area_ratio"] == pytest.approx(0.25)
    assert ratios["per_work"]["W2A8"]["area_delay_ratio"] == pytest.approx(1.0)
    # the same modes on both sides meet mode by mode
    same = compare(unit, base, {"MAC": 2}, {"MAC": 1})
    assert same["per_work"]["MAC"]["area_ratio"] == pytest.approx(0.5)


def test_a_side_with_memories_is_also_compared_on_its_logic_alone():
    """On asic, btc_array's plane buffers are macros the streaming INT8 array does not have:
    the comparison keeps the whole area and adds the logic-only ratio, raw and per unit of
    work; two sides without memories get no such ratio."""
    unit = {"target": "asic", "area_um2": 3000.0, "logic_area_um2": 200.0,
            "memory_area_um2": 2800.0, "fmax_mhz": 100.0}
    base = {"target": "asic", "area_um2": 100.0, "logic_area_um2": 100.0,
            "memory_area_um2": 0.0, "fmax_mhz": 100.0}
    ratios = compare(unit, base, {"W2A8": 64, "W8A8": 16}, {"INT8": 16})
    assert ratios["area_ratio"] == pytest.approx(100 / 3000)
    assert ratios["logic_area_ratio"] == pytest.approx(0.5)
    assert ratios["per_work"]["W2A8"]["logic_area_ratio"] == pytest.approx(2.0)
    assert ratios["per_work"]["W2A8"]["area_ratio"] == pytest.approx(4 * 100 / 3000)
    plain = compare(dict(unit, memory_area_um2=0.0, area_um2=200.0), base, {"MAC": 1}, {"MAC": 1})
    assert "logic_area_ratio" not in plain and "logic_area_ratio" not in plain["per_work"]["MAC"]


def test_energy_counts_only_in_the_mode_it_was_measured_at():
    """The array's energy per MAC, measured on W2A8 jobs, is its W2A8 figure, not that of the
    modes it was not measured in (a W8A8 MAC takes 4x the passes); a one-mode unit's record,
    naming no mode, is its figure."""
    from lowbit.metrics import work_figures
    unit = {"target": "asic", "area_um2": 4000.0, "fmax_mhz": 100.0,
            "energy": {"pj_per_op": 2.0, "op": "MAC", "mode": "W2A8"}}
    base = {"target": "asic", "area_um2": 1000.0, "fmax_mhz": 100.0,
            "energy": {"pj_per_op": 3.0, "op": "MAC", "mode": None}}
    work = {"W1A1": 1024, "W2A8": 64, "W8A8": 16}
    figures = work_figures(unit, work)
    assert figures["W2A8"]["energy_per_work_pj"] == 2.0
    assert "energy_per_work_pj" not in figures["W8A8"] and "energy_per_work_pj" not in figures["W1A1"]
    assert work_figures(base, {"INT8": 16})["INT8"]["energy_per_work_pj"] == 3.0
    per_work = compare(unit, base, work, {"INT8": 16})["per_work"]
    assert per_work["W2A8"]["energy_ratio"] == pytest.approx(1.5)
    assert "energy_ratio" not in per_work["W8A8"] and "energy_ratio" not in per_work["W1A1"]


def test_energy_per_element_is_compared_per_element():
    """The softmax and dequantizer units' records count elements: their ratio is per element,
    and a record of another operation is never compared with it."""
    from lowbit.metrics import work_figures
    unit = {"target": "asic", "area_um2": 100.0, "fmax_mhz": 100.0,
            "energy": {"pj_per_op": 2.0, "op": "element", "mode": None}}
    base = dict(unit, energy={"pj_per_op": 3.0, "op": "element", "mode": None})
    assert work_figures(unit, {"element": 1})["element"]["energy_per_work_pj"] == 2.0
    ratios = compare(unit, base, {"element": 1}, {"element": 1})
    assert ratios["per_work"]["element"]["energy_ratio"] == pytest.approx(1.5)
    mac = dict(base, energy={"pj_per_op": 3.0, "op": "MAC", "mode": None})
    assert "energy_ratio" not in compare(unit, mac, {"element": 1}, {"element": 1})["per_work"]["element"]


def test_flow_runs_each_distinct_parameter_set_once():
    jobs = flow_jobs()
    keys = [(name, json.dumps(params, sort_keys=True)) for name, params, _ in jobs]
    assert len(keys) == len(set(keys))
    # softmax_fixed is a unit and exaq_softmax's baseline: the two differ only in whether
    # exp_index_frac=None is spelled out, so they are one job.
    assert [name for name, _, _ in jobs].count("softmax_fixed") == 1
    for name, params, _ in jobs:
        assert params == UNITS[name].resolve(params)   # resolved: every default spelled out
    # a baseline stands beside its unit: int_array only as btc_array asks for it, not again
    # at its own defaults (another accumulator width)
    btc = UNITS["btc_array"]
    asked = {json.dumps(UNITS["int_array"].resolve(btc.baseline_for(btc.params_for(t))[1]),
                        sort_keys=True) for t in ("ice40", "ecp5")}
    assert {json.dumps(p, sort_keys=True) for name, p, _ in jobs if name == "int_array"} == asked
    # the attention block, a composition with its own command, runs only when named
    assert "attention_block" not in {name for name, _, _ in jobs}
    assert [name for name, _, _ in flow_jobs(["attention_block"])] == ["attention_block"]


def test_the_flow_maps_to_standard_cells_in_place_of_the_gate_count(monkeypatch, tmp_path):
    """With a Liberty file found, the main job's gate-level target is ``asic``; the abstract
    gate count (``generic``) is the fallback without one."""
    import lowbit.synth.liberty as liberty
    from lowbit import flow
    seen = []
    monkeypatch.setattr(flow, "flow_jobs", lambda units, targets: seen.append(targets) or [])
    for found in (tmp_path / "lib.lib", None):
        monkeypatch.setattr(liberty, "find_liberty", lambda found=found: found)
        flow.run_flow(simulator="icarus", build=tmp_path, jobs=1, progress=False)
    assert seen == [("ice40", "ecp5", "asic"), ("ice40", "ecp5", "generic")]


def test_flow_builds_each_target_at_the_units_parameters_for_it():
    """btc_array's defaults do not fit the iCE40 UP5K: the flow builds it there at its
    registry entry's iCE40 parameters (params_for), and its baseline at the parameters those
    ask for; everywhere else both at the defaults. The DSP targets go to the int baselines."""
    jobs = {(name, json.dumps(p, sort_keys=True)): built
            for name, p, built in flow_jobs(targets=("ice40", "ecp5", "generic"))}
    btc = UNITS["btc_array"]
    ice40, defaults = btc.params_for("ice40"), btc.resolve({})
    assert ice40 != defaults and ice40 == btc.resolve(btc.target_params["ice40"])
    assert jobs["btc_array", json.dumps(ice40, sort_keys=True)] == ("ice40",)
    assert jobs["btc_array", json.dumps(defaults, sort_keys=True)] == ("ecp5", "generic")
    for params, built in ((ice40, ("ice40", "ice40-dsp")),
                          (defaults, ("ecp5", "ecp5-dsp", "generic"))):
        name, base = btc.baseline_for(params)
        assert jobs[name, json.dumps(UNITS[name].resolve(base), sort_keys=True)] == built
    dint = UNITS["dint_mac"].resolve({})
    assert jobs["dint_mac", json.dumps(dint, sort_keys=True)] == ("ice40", "ecp5", "generic")


def test_units_and_baselines_get_the_same_candidates():
    for target in ("ice40", "ecp5", "generic", "ecp5-dsp"):
        unit = candidates("dint_mac", UNITS["dint_mac"].resolve({}), target)
        base = candidates("int_mac", UNITS["int_mac"].resolve({}), target)
        assert [o for _, o in unit] == [o for _, o in base]   # the same flow options
    ecp5 = candidates("int_mac", UNITS["int_mac"].resolve({}), "ecp5")
    assert {o for _, o in ecp5} == {("nowidelut",), ("booth", "nowidelut")}
    if "fused" in UNITS["int_mac"].defaults():  # each implementation of the MAC, too
        assert {p["fused"] for p, _ in ecp5} == {False, True}


def test_data_tests_are_read_from_the_testbenches():
    assert data_tests("softmax_fixed") == {"real_rows": "LOWBIT_ROWS"}
    assert data_tests("btc_array") == {"real_data_jobs": "LOWBIT_JOBS"}
    assert data_tests("int4_dequant") == {}


# The default suite runs two units with their baselines (a MAC, and a softmax whose
# baseline is also a unit of its own and whose testbench has a real-data test); every unit
# runs under -m slow (22 minutes on a loaded machine: btc_array's generic mapping alone ~16).
@pytest.mark.parametrize("units", [
    ["dint_mac", "exaq_softmax"],
    pytest.param(None, marks=pytest.mark.slow, id="every-unit"),
])
def test_flow_reports_every_unit_beside_its_baseline(tmp_path, units):
    sources = source_digest()
    assert run_flow(targets=["generic"], simulator="icarus", build=tmp_path, jobs=2,
                    units=units) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    names = {entry["unit"] for entry in report["units"]}
    if units is None:
        assert names == {unit.name for unit in UNITS}
    else:
        assert names == {"dint_mac", "int_mac", "exaq_softmax", "softmax_fixed"}
    points = [(e["unit"], json.dumps(e["params"], sort_keys=True)) for e in report["units"]]
    assert len(points) == len(set(points))            # each unit and parameter set once
    for entry in report["units"]:
        sim = entry["sim"]
        # no unit has a skipped check (btc_array's own tests live in tb_btc, not tb_matrix)
        assert sim["failed"] == 0 and sim["skipped"] == 0 and sim["passed"] > 0
        assert sim["vectors"] > 0
        # the tests needing real data files are left out, by name, and not counted
        assert set(sim["left_out"]) == set(data_tests(entry["unit"]))
        assert sim["passed"] + sim["skipped"] + len(sim["left_out"]) == sim["tests"]
        assert entry["synth"]["generic"]["gate_equivalents"] > 0
        assert entry["synth"]["generic"]["per_work"]       # every unit declares its work
    with_baseline = [u.name for u in UNITS if u.baseline and u.name in names]
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
        ratio, = [c for c in report["comparisons"] if c["unit"] == entry["unit"]]
        assert ratio["area_ratio"] == pytest.approx(base["gate_equivalents"] /
                                                    entry["synth"]["generic"]["gate_equivalents"])
        assert ratio["per_work"]
    markdown = (tmp_path / "report.md").read_text()
    assert "| passed | skipped | failed |" in markdown and "needs `LOWBIT_ROWS`" in markdown
    for name in names:
        assert f"| {name} |" in markdown
    # Everything is cached now: a second run simulates and synthesizes nothing (unless a
    # testbench or golden model changed in between, as it may in a shared work tree).
    assert run_flow(targets=["generic"], simulator="icarus", build=tmp_path, jobs=2,
                    progress=False, units=units) == 0
    again = json.loads((tmp_path / "report.json").read_text())
    assert all(e["synth"]["generic"]["cached"] for e in again["units"])
    if source_digest() == sources:
        assert all(e["sim"]["cached"] for e in again["units"])


def _flow(build, *extra):
    return [sys.executable, "-m", "lowbit", "--build", str(build), "flow", "--target", "generic",
            "--unit", "pot_mac", *extra]


def test_two_flows_on_one_build_folder_at_once(tmp_path):
    first, second = (subprocess.Popen(_flow(tmp_path), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2))
    outputs = [process.communicate(timeout=900) for process in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    summaries = [[line for line in out.splitlines() if line.startswith("  PASS")]
                 for out, _ in outputs]
    # pot_mac and its baseline, each run once, with the same counts in both summaries
    assert len(summaries[0]) == 2 and summaries[0] == summaries[1]
    assert any("waiting for the other lowbit flow" in err for _, err in outputs)
    standalone = subprocess.run([sys.executable, "-m", "lowbit", "--build", str(tmp_path / "alone"),
                                 "sim", "pot_mac"], capture_output=True, text=True)
    vectors = standalone.stdout.split("; ")[1].split()[0]
    assert f"{vectors} vectors" in summaries[0][0]


def test_interrupted_flow_says_so_and_resumes(tmp_path):
    process = subprocess.Popen(_flow(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    for line in process.stderr:   # wait until the first job has finished
        if "PASS sim" in line or "done synth" in line:
            break
    os.killpg(process.pid, signal.SIGINT)     # Ctrl-C: the whole process group
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    interrupted = [line for line in err.splitlines() if line.startswith("interrupted")]
    assert len(interrupted) == 1 and "run the same command again" in interrupted[0]
    assert "Traceback" not in err
    done = subprocess.run(_flow(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0
    first, = [line for line in done.stderr.splitlines() if "jobs to run" in line]
    assert "cached" in first and "(0 cached" not in first      # it resumed
