"""``lowbit power``: energy from gate-level activity and the Liberty tables, checked by hand.

* a toggling flip-flop driving a known load (an inverter back into its D input) against the
  Liberty arithmetic written out here, table by table;
* zero input activity leaves leakage and the clock (the flip-flops' clock pins and the clock net);
* the same seed gives the same figure;
* the gate-level netlist's outputs equal the golden model's on the measured vectors, and a
  disagreement is an error, not a figure.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from lowbit.cli import main
from lowbit.core.errors import LowbitError
from lowbit.synth import power
from lowbit.synth.liberty import find_liberty, interpolate, materialize, read_cells
from lowbit.synth.workloads import Workload, built, idle_workload, make_workload
from lowbit.units import UNITS

SMALL_MAC = {"weight_bits": 2, "act_bits": 3, "acc_bits": 6, "pipeline": 0}
CELL = "sky130_fd_sc_hd__"
TOGGLE = f"""module toggle(clk, rst);
  input clk;
  input rst;
  wire clk;
  wire rst;
  wire rst_n;
  wire q;
  wire n1;
  {CELL}inv_1 rinv (.A(rst), .Y(rst_n));
  {CELL}dfrtp_1 ff (.CLK(clk), .D(n1), .RESET_B(rst_n), .Q(q));
  {CELL}inv_1 inv (.A(q), .Y(n1));
endmodule
"""


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    return tmp_path_factory.mktemp("power")


@pytest.fixture(scope="module")
def plain_liberty(build):
    source = find_liberty()
    assert source is not None, "no Liberty library (see docs/synthesis.md)"
    return materialize(source, build)


def _pin(cell, name):
    return next(p for p in cell.groups if p.kind == "pin" and p.args == [name])


def _cap(cell, name):
    """A pin's capacitance as the timing tools take it: the mean of rise and fall."""
    pin = _pin(cell, name)
    if "rise_capacitance" in pin.attrs:
        return (pin.number("rise_capacitance") + pin.number("fall_capacitance")) / 2
    return pin.number("capacitance")


def _mean(group, kinds, *point):
    return sum(interpolate(group.sub(kind)[0], *point) for kind in kinds) / len(kinds)


def _timing(cell, pin, related):
    return next(t for t in _pin(cell, pin).sub("timing") if t.attrs["related_pin"] == related)


def _internal(cell, pin, related=None):
    groups = [g for g in _pin(cell, pin).sub("internal_power")
              if g.attrs.get("related_pin") == related]
    assert groups, (pin, related)
    return groups


def test_toggling_flip_flop_matches_the_liberty_arithmetic(build, plain_liberty):
    run = build / "toggle"
    run.mkdir()
    (run / "toggle.v").write_text(TOGGLE)
    cycles, mhz = 200, 100.0
    _, vcd, n = power.simulate_netlist(run, run / "toggle.v", "toggle",
                                       power.cell_models(plain_liberty), [], [], {},
                                       cycles=cycles)
    stats, span = power.read_vcd(vcd)
    act = power.net_activities(stats, span, n)
    # The flip-flop toggles every cycle, so do q and the inverter's output; rst stays low.
    assert act["q"][0] == act["n1"][0] == 1.0
    assert act["q"][1] == pytest.approx(0.5, abs=0.01) and act["rst"] == (0.0, 0.0)
    got, opensta = power.netlist_power(run, run / "toggle.v", "toggle", plain_liberty,
                                       clock_mhz=mhz, activities=act, output_load_pf=0.0,
                                       inputs={"rst"})

    lib = read_cells(plain_liberty, [f"{CELL}dfrtp_1", f"{CELL}inv_1"])
    ff, inv = lib.cells[f"{CELL}dfrtp_1"], lib.cells[f"{CELL}inv_1"]
    small = next(g for g in lib.header.sub("wire_load") if g.args == ["Small"])
    fanout_1 = next(float(v[1]) for v in small.complex["fanout_length"] if v[0] == "1")
    wire = small.number("capacitance") * fanout_1           # pF, one load on the net
    c_q, c_n1 = _cap(inv, "A") + wire, _cap(ff, "D") + wire
    c_clk = _cap(ff, "CLK") + wire
    # Transition times: ideal clock (0 ns), then Q and the inverter from their tables.
    slew_q = _mean(_timing(ff, "Q", "CLK"), ("rise_transition", "fall_transition"), 0.0, c_q)
    slew_n1 = _mean(_timing(inv, "Y", "A"), ("rise_transition", "fall_transition"), slew_q, c_n1)
    # Energies per cycle, pJ: the clock pin rises and falls once, Q, n1 and D switch once.
    e_clk = sum(_mean(g, ("rise_power", "fall_power"), 0.0) * 2
                for g in _internal(ff, "CLK")) / len(_internal(ff, "CLK"))
    e_q = _mean(_internal(ff, "Q", "CLK")[0], ("rise_power", "fall_power"), 0.0, c_q)
    e_d = sum(_mean(g, ("rise_power", "fall_power"), slew_n1)
              for g in _internal(ff, "D")) / len(_internal(ff, "D"))
    e_inv = _mean(_internal(inv, "Y", "A")[0], ("rise_power", "fall_power"), slew_q, c_n1)
    v2 = lib.voltage ** 2
    e_switch = 0.5 * v2 * (c_q + c_n1)                      # one transition each per cycle
    e_clock_net = 0.5 * v2 * c_clk * 2                      # the clock net: two per cycle
    leakage = (ff.number("cell_leakage_power") + 2 * inv.number("cell_leakage_power")) * 1e-9
    f = mhz * 1e6
    assert got["total"]["switching"] == pytest.approx((e_switch + e_clock_net) * 1e-12 * f,
                                                      rel=2e-3)
    assert got["total"]["internal"] == pytest.approx((e_clk + e_q + e_d + e_inv) * 1e-12 * f,
                                                     rel=1e-2)
    assert got["total"]["leakage"] == pytest.approx(leakage, rel=1e-6)
    assert got["inputs"]["switching"] == pytest.approx(e_clock_net * 1e-12 * f, rel=2e-3)
    # OpenSTA's own report_power agrees on leakage only (docs/power.md: this version's
    # internal and switching figures are not what the tables and activities give).
    assert opensta["total"]["leakage"] == pytest.approx(leakage, rel=1e-3)


def _small(name="int_mac"):
    unit = UNITS[name]
    return unit, unit.resolve(SMALL_MAC if name == "int_mac" else {})


def test_zero_input_activity_leaves_leakage_and_the_clock(build, plain_liberty):
    unit, params = _small()
    result = power.measure_power(UNITS["int_mac"], params, liberty=plain_liberty, cycles=64,
                                 build_dir=build, workload=idle_workload(unit, params, cycles=64))
    assert result.toggle_rate == 0.0
    detail = result.energy_detail_pj
    assert detail["combinational"]["internal"] == 0.0
    assert detail["combinational"]["switching"] == detail["sequential"]["switching"] == 0.0
    # Left: the flip-flops' clock pins (internal), the clock net (switching), leakage.
    run = next(build.glob("int_mac-*/random-seed1-n64"))
    cells = json.loads((run / "power_stat.json").read_text())["design"]["num_cells_by_type"]
    flops = {c: n for c, n in cells.items() if "__df" in c}
    lib = read_cells(plain_liberty, list(flops))
    clock_pins = sum(n * sum(_mean(g, ("rise_power", "fall_power"), 0.0) * 2
                             for g in _internal(lib.cells[c], "CLK"))
                     / len(_internal(lib.cells[c], "CLK"))
                     for c, n in flops.items())
    assert flops and clock_pins > 0
    assert detail["sequential"]["internal"] == pytest.approx(clock_pins, rel=1e-6)
    assert result.energy_pj["total"] == pytest.approx(
        clock_pins + detail["inputs"]["switching"] + result.energy_pj["leakage"], rel=1e-9)


def test_same_seed_same_figure(build, plain_liberty):
    runs = [power.measure_power(UNITS["int_mac"], SMALL_MAC, data="random", seed=seed, cycles=96,
                                liberty=plain_liberty, build_dir=build / f"seed{i}")
            for i, seed in enumerate((3, 3, 4))]
    assert runs[0].energy_pj == runs[1].energy_pj
    assert runs[0].energy_pj != runs[2].energy_pj
    assert runs[0].ops == 96 - 1 and runs[0].op == "MAC"


def test_netlist_agrees_with_the_golden_model_or_it_is_an_error(build, plain_liberty):
    unit, params = _small()
    work = make_workload(unit, params, data="random", seed=5, cycles=80)
    result = power.measure_power(UNITS["int_mac"], params, liberty=plain_liberty, cycles=80,
                                 build_dir=build / "golden", workload=work)
    assert result.vectors_checked == result.ops == 79
    # The same check on vectors it was not made for (one weight changed) must fail.
    wrong = {name: np.array(v) for name, v in work.vectors.items()}
    wrong["weight"][10] = 1 if wrong["weight"][10] != 1 else -1
    bad = Workload(vectors=wrong, ops=work.ops, op=work.op, check=work.check,
                   checked=work.checked)
    with pytest.raises(LowbitError, match="disagrees with the golden model"):
        power.measure_power(UNITS["int_mac"], params, liberty=plain_liberty, cycles=80,
                            build_dir=build / "golden-bad", workload=bad)


def test_minilm_operands_are_in_the_units_formats():
    for name in ("dint_mac", "int_mac", "pot_mac"):
        unit = UNITS[name]
        params = unit.resolve({})
        work = make_workload(unit, params, data="minilm", seed=1, cycles=500)
        weights, acts = work.vectors["weight"], work.vectors["act"]
        assert len(weights) == 500 and work.ops == 500 - (params["pipeline"] + 1)
        assert np.abs(acts).max() <= 127 and len(np.unique(acts)) > 20
        assert work.vectors["clear"][0] == 1 and work.vectors["clear"][1:384].sum() == 0
        if name == "int_mac":
            assert np.abs(weights).max() <= 127 and len(np.unique(weights)) > 20


def test_cli_power_writes_the_record(tmp_path, capsys, plain_liberty):
    out = tmp_path / "p.json"
    status = main(["--build", str(tmp_path), "power", "int_mac", "-p", "weight_bits=2",
                   "-p", "act_bits=3", "-p", "acc_bits=6", "-p", "pipeline=0",
                   "--data", "random", "--cycles", "64", "--liberty", str(plain_liberty),
                   "--json", str(out)])
    assert status == 0
    record = json.loads(out.read_text())
    assert record["unit"]["unit"] == "int_mac" and record["baseline"] is None
    assert "glitches" in record["note"] and "glitches" in capsys.readouterr().out


@pytest.mark.parametrize("argv, what", [
    (["power", "int_mac", "--clock", "0"], "--clock"),
    (["power", "int_mac", "--cycles", "3"], "--cycles"),
    (["power", "int_mac", "--liberty", "/nonexistent.lib"], "--liberty"),
])
def test_cli_power_bad_input_is_one_line(argv, what, capsys, tmp_path):
    assert main(["--build", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and what in err


def test_a_bad_liberty_is_all_that_a_child_process_prints(tmp_path):
    """In its own interpreter (where Amaranth reports, at exit, a component never
    elaborated): the unit built before the library was refused is marked unused, so the
    error line is all of stderr."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "lowbit", "--build", str(tmp_path), "power",
                           "int_mac", "--liberty", "/nonexistent.lib"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr


def test_a_unit_without_a_workload_is_one_error_line():
    from dataclasses import replace
    bare = replace(UNITS["int_mac"], workload=None)
    with pytest.raises(LowbitError, match="no workload for int_mac") as error:
        make_workload(bare, bare.resolve({}), data="random", seed=1, cycles=64)
    assert "\n" not in str(error.value)


def test_dot_product_netlist_is_measured_per_mac(build, plain_liberty):
    params = {"lanes": 4, "bits": 3, "act_bits": 4}
    result = power.measure_power(UNITS["pot_dot"], params, data="random", cycles=40,
                                 liberty=plain_liberty, build_dir=build / "dot")
    component = built(UNITS["pot_dot"], UNITS["pot_dot"].resolve(params))   # latency only
    latency = component.latency
    assert result.vectors_checked == 40 - latency and result.ops == 4 * (40 - latency)
    assert result.energy_pj["total"] > 0 and result.toggle_rate > 0


def test_breakdown_splits_the_mac_into_accumulator_and_multiplier(build, plain_liberty):
    parts = power.mac_breakdown(UNITS["int_mac"], SMALL_MAC, data="random", cycles=64,
                                liberty=plain_liberty, build_dir=build / "breakdown")
    mac, acc = parts["mac"], parts["accumulator"]
    assert acc.vectors_checked == mac.vectors_checked == mac.ops
    assert 0 < acc.area_um2 < mac.area_um2
    assert acc.sequential_area_um2 == mac.sequential_area_um2   # every flip-flop is in it
    assert parts["multiplier"]["area_um2"] == pytest.approx(mac.area_um2 - acc.area_um2)


@pytest.mark.parametrize("name, params", [
    ("dint_dot", {"lanes": 4, "act_bits": 4}),
    ("pot_dequant", {"bits": 3}),
    ("int4_dequant", {}),
])
def test_stream_units_netlists_agree_with_the_golden_model(name, params, build, plain_liberty):
    """dint_dot and the dequantizers through the whole power flow: every beat's output of
    the mapped netlist equals the golden model's (the flow raises otherwise)."""
    unit = UNITS[name]
    result = power.measure_power(unit, params, data="random", cycles=48,
                                 liberty=plain_liberty, build_dir=build / f"stream-{name}")
    latency = built(unit, unit.resolve(params)).latency
    per_beat = params.get("lanes", 1)
    assert result.vectors_checked == 48 - latency
    assert result.ops == per_beat * (48 - latency)
    assert result.op == ("MAC" if name == "dint_dot" else "element")
    assert result.energy_pj["total"] > 0 and result.toggle_rate > 0


def test_stream_check_catches_a_wrong_beat_and_a_stall():
    """The stream workloads' check on outputs made from the golden model: equal passes; one
    wrong payload, a low o.valid or a stalled input is reported."""
    unit = UNITS["pot_dequant"]
    params = unit.resolve({})
    work = make_workload(unit, params, data="minilm", seed=2, cycles=40)
    model = unit.golden_model(params)
    n, latency = work.checked, 1
    payload = work.vectors["i__payload"][:n]
    codes = np.array([int(p) & 0xF for p in payload])
    scales = np.array([(int(p) >> 4) & 0xFFFF for p in payload])
    good = {"i__ready": np.ones(n + latency, dtype=object),
            "o__valid": np.array([0] + [1] * n, dtype=object),
            "o__payload": np.concatenate([[0], model.dequant(codes, scales)]).astype(object)}
    assert work.check(good) is None
    wrong = dict(good, o__payload=good["o__payload"].copy())
    wrong["o__payload"][5] ^= 1
    assert "beat 4: got" in work.check(wrong)
    assert "o.valid low" in work.check(dict(good, o__valid=np.array([0] * (n + 1), dtype=object)))
    assert "stalled" in work.check(dict(good, i__ready=np.zeros(n + 1, dtype=object)))


def test_minilm_dequantizer_operands_are_real_weights_with_fp16_scales():
    for name in ("pot_dequant", "int4_dequant"):
        unit = UNITS[name]
        work = make_workload(unit, unit.resolve({}), data="minilm", seed=1, cycles=800)
        payload = work.vectors["i__payload"][:work.checked]
        codes = np.array([int(p) & 0xF for p in payload])
        scales = np.array([(int(p) >> 4) & 0xFFFF for p in payload], dtype=np.uint16)
        values = scales.view(np.float16).astype(np.float64)
        # Per-channel scales of MiniLM's weights: small positive normals, held over a row.
        assert (values > 0).all() and (values < 1).all()
        assert len(np.unique(scales)) <= 3 and (scales[:384] == scales[0]).all()
        assert len(np.unique(codes)) > 6


def test_each_side_is_measured_at_its_lowest_energy_implementation(build, plain_liberty):
    """`lowbit power` measures every implementation (here `fused` of a small INT MAC) and keeps
    the lowest energy, unless the parameter is given (``fixed``)."""
    from lowbit.power import compare_power
    common = dict(data="random", seed=2, cycles=64, liberty=plain_liberty,
                  build_dir=build / "strongest")
    found = compare_power("int_mac", SMALL_MAC, **common)
    tried = found["candidates"]["unit"]
    assert [c["implementation"] for c in tried] == [{"fused": False}, {"fused": True}]
    assert found["unit"].energy_pj["total"] == min(c["pj_per_op"] for c in tried)
    assert found["unit"].params["fused"] == min(tried, key=lambda c: c["pj_per_op"])[
        "implementation"]["fused"]
    kept = compare_power("int_mac", dict(SMALL_MAC, fused=True), fixed=("fused",), **common)
    assert [c["implementation"] for c in kept["candidates"]["unit"]] == [{"fused": True}]


def test_the_area_runs_netlist_is_reused_only_for_the_same_verilog(build, plain_liberty):
    """The flow's energy step simulates the netlist of the asic area run instead of mapping
    the same design again: the same figure as a fresh mapping; another circuit's run folder is
    not used."""
    from lowbit.synth.asic import asic_synthesize, run_dir
    unit, params = _small()
    params = dict(params, fused=False)
    synth_dir = build / "reuse-synth"
    asic_synthesize(lambda: unit.build(params), unit="int_mac", params=params,
                    build_dir=synth_dir, liberty=plain_liberty, timing=False)
    mapped = run_dir(synth_dir, "int_mac", params)
    common = dict(data="random", seed=4, cycles=64, liberty=plain_liberty)
    fresh = power.measure_power(unit, params, build_dir=build / "reuse-fresh", **common)
    reused = power.measure_power(unit, params, build_dir=build / "reuse-power", mapped=mapped,
                                 **common)
    runs = list((build / "reuse-power").glob("int_mac-*/random-seed4-n64"))
    assert len(runs) == 1 and (runs[0] / "power_netlist.from").is_file()
    assert not (runs[0] / "power.ys").exists()   # no second mapping
    assert reused.energy_pj == fresh.energy_pj and reused.area_um2 == fresh.area_um2
    other = dict(params, fused=True)
    power.measure_power(unit, other, build_dir=build / "reuse-other", mapped=mapped, **common)
    runs = list((build / "reuse-other").glob("int_mac-*/random-seed4-n64"))
    assert not (runs[0] / "power_netlist.from").exists() and (runs[0] / "power.ys").exists()


def test_memory_macro_energy_is_the_models_energy_per_counted_event(build, plain_liberty):
    """A register file's reads and writes, counted in the gate-level simulation, cost the
    memory model's energy per event; the events equal a count by hand of the same stream,
    and the netlist's read data equals the reference (the macro's model is the memory)."""
    from lowbit.sim_tests.memory_dut import SmallRam, ram_reference
    rng = np.random.default_rng(3)
    n = 96
    wa, wd, ra = rng.integers(0, 16, n), rng.integers(0, 256, n), rng.integers(0, 16, n)
    we, re = (rng.random(n) < 0.5).astype(np.int64), (rng.random(n) < 0.5).astype(np.int64)
    expected, events = ram_reference(16, wa, wd, we, ra, re)
    # Input toggles: every input pin of the macro, edge to edge (the inputs are 0 before):
    # read enable, 4 read-address bits, 8 write enables (one granule), 4 write-address
    # bits, 8 data bits (the resets are tied).
    pins = np.stack([re, *((ra >> i) & 1 for i in range(4)), *([we] * 8),
                     *((wa >> i) & 1 for i in range(4)), *((wd >> i) & 1 for i in range(8))])
    events["input_toggle"] = int(np.abs(np.diff(pins, prepend=0, axis=1)).sum())

    def check(outputs):
        got = np.array(list(outputs["rd"][1:n + 1]), dtype=object)
        bad = np.flatnonzero(got != expected[1:])
        return f"cycle {bad[0]} differs" if len(bad) else None

    work = Workload(vectors={"wa": wa, "wd": wd, "we": we, "ra": ra, "re": re}, ops=n,
                    op="cycle", check=check, checked=n)
    result = power.measure_component(SmallRam(8, 16), work, name="small_ram", params={},
                                     data="random", seed=3, clock_mhz=100.0,
                                     liberty=plain_liberty, build_dir=build)
    [macro] = result.memory["macros"]
    assert macro["events"] == events
    per_event = macro["energy_per_event_pj"]
    by_hand = sum(per_event[e] * events[e] for e in events) / n
    memory = result.energy_detail_pj["memory"]
    assert memory["internal"] == pytest.approx(by_hand, rel=1e-9)
    assert memory["leakage"] == pytest.approx(macro["leakage_nw"] * 1e-9 * 1e12 / 100e6,
                                              rel=1e-9)   # W x 10 ns per cycle, in pJ
    assert result.energy_by_group_pj["memory"] == pytest.approx(
        memory["internal"] + memory["switching"] + memory["leakage"], rel=1e-9)
    assert result.energy_pj["total"] == pytest.approx(sum(result.energy_by_group_pj.values()),
                                                      rel=1e-9)
    assert result.memory["bits"] == 128 and result.area_um2 > result.memory["area_um2"] > 0
    # A write is dearer than a changed stored bit, a cycle costs the clock tree.
    assert per_event["write"] > per_event["bit_change"] > 0 and per_event["cycle"] > 0


def test_input_streams_are_driven_with_back_pressure(build, plain_liberty):
    """A stream workload (synth/workloads/block.py's kind): the testbench holds each beat
    until the unit takes it; with ``o.ready`` low at random the FIFO fills, ``i.ready`` falls,
    and every beat still comes out once, in order."""
    from lowbit.sim_tests.memory_dut import StreamFifo
    from lowbit.synth.workloads.block import StreamWorkload
    rng = np.random.default_rng(5)
    beats = [int(v) for v in rng.integers(0, 256, 40)]
    n = 160
    ready = (rng.random(n) < 0.4).astype(np.int64)

    def check(outputs):
        taken = [int(outputs["o__payload"][k]) for k in range(n)
                 if outputs["o__valid"][k] == 1 and ready[k]]
        stalled = any(outputs["i__ready"][k] == 0 for k in range(n))
        return None if taken == beats and stalled else f"out {taken[:8]}..., stalled {stalled}"

    work = StreamWorkload(vectors={"o__ready": ready}, ops=len(beats), op="beat", check=check,
                          checked=len(beats), streams={"i": beats},
                          windows=(("first", 0), ("second", 80)))
    result = power.measure_component(StreamFifo(), work, name="stream_fifo", params={},
                                     data="random", seed=5, clock_mhz=100.0,
                                     liberty=plain_liberty, build_dir=build)
    first, second = result.windows
    assert (first["cycles"], second["cycles"]) == (80, 80)
    # The windows split the run: their energies add up to the whole (the same loads), up to
    # the internal energy's weighting of a cell's related inputs by their activities, which
    # each window takes from its own activities.
    assert first["energy_pj"] + second["energy_pj"] == pytest.approx(
        result.energy_pj["total"] * result.ops, rel=1e-3)
    for group in ("sequential", "inputs", "memory"):   # no such weighting: exact
        assert first["by_group_pj"][group] + second["by_group_pj"][group] == pytest.approx(
            result.energy_by_group_pj[group] * result.ops, rel=1e-9)
    [macro] = result.memory["macros"]
    events = [w["memory_events"][macro["instance"].replace("\\", "").replace(" ", "")]
              for w in result.windows]
    assert sum(e["write"] for e in events) == macro["events"]["write"]
    assert sum(e["cycle"] for e in events) == n


def test_block_workload_streams_windows_and_check():
    """The layer workload of attention_block: the streams' beats, the stage windows at the
    exact phase cycles, and a check that takes the right o beats and refuses a wrong one."""
    from lowbit.synth.workloads.block import WINDOWS, block_case, block_workload
    from lowbit.golden_models.block import block_forward
    unit = UNITS["attention_block"]
    params = unit.resolve({"d_model": 16, "heads": 1, "lanes": 4, "max_tokens": 4})
    work = block_workload(unit, params, data="random", seed=2, cycles=0)
    d, t, beats = 16, 4, 16 // 4
    assert [len(work.streams[s]) for s in ("cfg", "x", "w", "ch")] == [1, t * beats,
                                                                       4 * d * beats, 4 * d]
    block = built(unit, params)
    phases = block.phase_cycles(t)
    starts = dict(work.windows)
    assert [name for name, _ in work.windows] == [name for name, _ in WINDOWS] + ["idle"]
    assert starts["qkv"] == phases["cfg"] + phases["load_x"]
    assert starts["idle"] == block.cycles(t)
    assert work.ops == t and work.op == "token" and work.checked == d * t
    case, inputs, _ = block_case(params, data="random", seed=2)
    expected = np.asarray(block_forward(case, inputs).out).T.reshape(-1)
    n = len(work.vectors["o__ready"])
    outputs = {"o__valid": np.zeros(n, dtype=object), "o__payload": np.zeros(n, dtype=object)}
    mask = (1 << block.out_bits) - 1
    for k, value in enumerate(expected):
        outputs["o__valid"][10 + 2 * k] = 1
        outputs["o__payload"][10 + 2 * k] = int(value) & mask
    assert work.check(outputs) is None
    outputs["o__payload"][10] ^= 1
    assert "o beat 0" in work.check(outputs)


@pytest.mark.slow
def test_attention_block_layer_netlist_is_bit_exact_and_measured_per_stage(build, plain_liberty):
    """The block's whole layer in gate-level simulation (a small shape, MiniLM data, the
    bit-plane engine): every o beat equals block_forward's, the stage windows cover the run,
    and every buffer is a macro with counted events (about 6 minutes)."""
    unit = UNITS["attention_block"]
    params = {"d_model": 16, "heads": 1, "lanes": 4, "max_tokens": 4, "engine": "bitplane",
              "softmax": "exaq2"}
    result = power.measure_power(unit, params, data="minilm", liberty=plain_liberty,
                                 build_dir=build)
    assert result.op == "token" and result.ops == 4 and result.vectors_checked == 16 * 4
    assert sum(w["cycles"] for w in result.windows) == result.cycles
    assert result.memory["macros"] and all(m["events"]["cycle"] == result.cycles
                                           for m in result.memory["macros"])
    assert sum(w["energy_pj"] for w in result.windows) == pytest.approx(
        result.energy_pj["total"] * result.ops, rel=1e-2)
