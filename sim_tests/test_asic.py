"""The standard-cell target: finding and unpacking the Liberty library, Yosys mapping, OpenSTA.

The library is the sky130 HD typical corner beside the repository (``../shared/pdk``, as in CI)
or wherever ``lowbit.synth.liberty.find_liberty`` finds one; a missing library or a missing
``sta`` fails these tests (CI installs OpenSTA), it never skips them.
"""

import gzip

import pytest

from lowbit.core.errors import LowbitError
from lowbit.synth import asic, liberty
from lowbit.synth.liberty import find_liberty, materialize, read_cells
from lowbit.synth.sta import require_sta
from lowbit.units import UNITS

# A small MAC: every kind of cell the flow meets (flip-flops with reset, adders, a multiplier).
SMALL_MAC = {"weight_bits": 2, "act_bits": 3, "acc_bits": 6, "pipeline": 0}


@pytest.fixture(scope="session")
def plain_liberty(tmp_path_factory):
    source = find_liberty()
    assert source is not None, liberty.LIBERTY_HINT
    return materialize(source, tmp_path_factory.mktemp("liberty"))


def test_sta_is_installed():
    require_sta()   # a LowbitError naming `apt-get install opensta` fails the test


def test_find_liberty_order(tmp_path):
    explicit, from_env = tmp_path / "mine.lib", tmp_path / "env.lib.gz"
    explicit.write_text("library (x) { }\n")
    from_env.write_bytes(gzip.compress(b"library (y) { }\n"))
    pdk = tmp_path / "pdk" / "sky130A/libs.ref/sky130_fd_sc_hd/lib"
    pdk.mkdir(parents=True)
    (pdk / liberty.SKY130_HD_TT).write_text("library (z) { }\n")
    root = tmp_path / "clone"   # no ../shared beside it
    root.mkdir()
    env = {"LOWBIT_LIBERTY": str(from_env), "PDK_ROOT": str(tmp_path / "pdk")}
    assert find_liberty(explicit, root=root, environ=env) == explicit
    assert find_liberty(None, root=root, environ=env) == from_env
    assert find_liberty(None, root=root, environ={"PDK_ROOT": env["PDK_ROOT"]}) == \
        pdk / liberty.SKY130_HD_TT
    assert find_liberty(None, root=root, environ={}) is None
    with pytest.raises(LowbitError, match="--liberty .*no such file"):
        find_liberty(tmp_path / "missing.lib", root=root, environ={})


def test_shared_copy_is_found_beside_the_clone(tmp_path):
    shared = tmp_path / "shared" / "pdk"
    shared.mkdir(parents=True)
    (shared / f"{liberty.SKY130_HD_TT}.gz").write_bytes(gzip.compress(b"library (s) { }\n"))
    (tmp_path / "clone").mkdir()
    found = find_liberty(None, root=tmp_path / "clone", environ={})
    assert found == (shared / f"{liberty.SKY130_HD_TT}.gz").resolve()


def test_materialize_decompresses_once_by_hash(tmp_path):
    source = tmp_path / "lib.lib.gz"
    source.write_bytes(gzip.compress(b"library (t) { }\n"))
    first = materialize(source, tmp_path / "build")
    assert first.read_text() == "library (t) { }\n" and first.name == "lib.lib"
    stamp = first.stat().st_mtime_ns
    assert materialize(source, tmp_path / "build") == first and first.stat().st_mtime_ns == stamp
    source.write_bytes(gzip.compress(b"library (u) { }\n"))   # another library, another folder
    assert materialize(source, tmp_path / "build") != first


def test_no_library_is_one_line_with_the_way_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(asic, "find_liberty", lambda explicit: None)
    with pytest.raises(LowbitError) as error:
        asic.resolve_liberty(None, tmp_path)
    assert "\n" not in str(error.value) and "PDK_ROOT" in str(error.value)
    assert "--liberty" in str(error.value)


def test_small_mac_area_is_the_sum_of_its_cells_and_timing_is_register_to_register(
        tmp_path, plain_liberty):
    unit = UNITS["int_mac"]
    params = unit.resolve(SMALL_MAC)
    result = asic.asic_synthesize(lambda: unit.build(params), unit="int_mac", params=params,
                                  build_dir=tmp_path, liberty=plain_liberty)
    lib = read_cells(plain_liberty, list(result.cells))
    by_cells = sum(n * lib.cells[cell].number("area") for cell, n in result.cells.items())
    assert result.area_um2 == pytest.approx(by_cells, rel=1e-6)
    nand2 = read_cells(plain_liberty, ["sky130_fd_sc_hd__nand2_1"]).cells[
        "sky130_fd_sc_hd__nand2_1"].number("area")
    assert result.gate_equivalents == pytest.approx(result.area_um2 / nand2, abs=0.1)
    # 6 accumulator bits are flip-flops; the harness registers are not counted in the unit.
    assert result.ffs == 6
    assert not [c for c in result.cells if any(p.strip("*") in c for p in asic.DONT_USE)]
    assert result.fmax_mhz and result.critical_path_ns == pytest.approx(1e3 / result.fmax_mhz,
                                                                        rel=1e-3)
    path = result.critical_path
    assert "__df" in path[0] and "__df" in path[-1] and len(path) >= 3
    assert result.liberty.startswith(plain_liberty.name)
    run = asic.run_dir(tmp_path, "int_mac", params)
    for script in ("area.ys", "harness.ys", "sta_timing.tcl"):
        assert str(tmp_path) not in (run / script).read_text(), "scripts use relative paths"


# --- memories as macros (lowbit.synth.memory) -----------------------------------------------

def test_a_memory_is_a_macro_with_the_models_area_outside_the_logic(tmp_path, plain_liberty):
    """An 8 x 16 register file with one registered read port: no flip-flop of it reaches
    the logic; its area is the model's cells, counted here by hand."""
    from lowbit.sim_tests.memory_dut import SmallRam
    from lowbit.synth import memory
    result = asic.asic_synthesize(lambda: SmallRam(8, 16), unit="small_ram", params={},
                                  build_dir=tmp_path, liberty=plain_liberty)
    [macro] = result.memories
    assert macro["cell"] == "lowbit_mem_8x16_rs_w1" and macro["bits"] == 128
    assert result.memory_bits == 128 and result.cells[macro["cell"]] == 1
    assert result.ffs == 0, "the stored bits and the read register are the macro's"
    # The model's cells: 128 stored bits + 8 read-register bits (dfxtp_1), a clock gate per
    # word + one for the read register (dlclkp_1), a word-line AND per word, a 4:1 mux tree
    # of ceil(15 / 3) = 5 mux4_1 per bit, one buf_2 per input pin: read CLK, EN, SRST, ARST,
    # 4 address bits; write CLK, 8 enables, 4 address bits, 8 data bits.
    counts = {"dfxtp_1": 136, "dlclkp_1": 17, "and2_1": 16, "mux4_1": 40, "buf_2": 8 + 21}
    lib = read_cells(plain_liberty, [f"sky130_fd_sc_hd__{c}" for c in counts])
    area = sum(n * lib.cells[f"sky130_fd_sc_hd__{c}"].number("area") for c, n in counts.items())
    leakage = sum(n * lib.cells[f"sky130_fd_sc_hd__{c}"].number("cell_leakage_power")
                  for c, n in counts.items())
    assert macro["area_um2"] == pytest.approx(area, abs=1e-3)
    assert macro["leakage_nw"] == pytest.approx(leakage, rel=1e-9)
    assert result.memory_area_um2 == pytest.approx(area, abs=1e-3)
    assert result.area_um2 == pytest.approx(result.logic_area_um2 + area, abs=1e-2)
    # The cycle energy by hand: the clock buffer drives 17 gate clock pins, twice a cycle.
    tree = 17 * _cap_pf(lib, "dlclkp_1", "CLK")
    buf = _internal_pj(lib, "buf_2", "X", tree) + 0.5 * tree * 1.8 ** 2
    gates = 17 * _internal_pj(lib, "dlclkp_1", "CLK")
    assert macro["energy_pj"]["cycle"] == pytest.approx(2 * (buf + gates), rel=1e-9)
    # Timed through the macro: the worst path starts or ends at it, its Liberty view.
    assert result.fmax_mhz and macro["cell"] in result.critical_path
    run = asic.run_dir(tmp_path, "small_ram", {})
    view = (run / "harness_macros.lib").read_text()
    assert f"cell ({macro['cell']})" in view and "setup_rising" in view
    assert memory.MODEL in result.memory_model


def test_the_memory_model_against_the_flows_flip_flop_mapping(tmp_path, plain_liberty):
    """The same 8 x 16 register file mapped to flip-flops and multiplexers by the flow's own
    commands without macros (as before them: enable flip-flops, a mux4 tree): the model,
    clock-gated plain flip-flops, is smaller (docs/power.md gives both areas, printed here)."""
    import os
    from amaranth.back import verilog as amaranth_verilog
    from lowbit.sim_tests.memory_dut import SmallRam
    (tmp_path / "unit.v").write_text(amaranth_verilog.convert(SmallRam(8, 16), name="ram"))
    flops = asic.map_design(tmp_path, "flops", "unit.v", "ram", plain_liberty, macros=False)
    cells = flops["num_cells_by_type"]
    assert flops["macros"] == [] and cells.get("sky130_fd_sc_hd__edfxtp_1") == 136
    model = asic.map_design(tmp_path, "macro", "unit.v", "ram", plain_liberty)
    [macro] = model["macros"]
    assert macro["area_um2"] + float(model["area"]) < float(flops["area"])
    print(f"flip-flop mapping {float(flops['area']):.0f} um^2, model {macro['area_um2']:.0f} um^2")
    assert not os.path.exists(tmp_path / "flops_macros.lib")


def _cap_pf(lib, cell, pin):
    group = lib.cells[f"sky130_fd_sc_hd__{cell}"]
    return next(p for p in group.sub("pin") if p.args == [pin]).number("capacitance")


def _internal_pj(lib, cell, pin, load=0.0):
    """Mean of the rise and fall internal-power tables at 0.1 ns and ``load`` pF, averaged
    over the related pins (pJ: the library's energy unit is pF x V^2)."""
    from lowbit.synth.liberty import interpolate
    group = lib.cells[f"sky130_fd_sc_hd__{cell}"]
    powers = next(p for p in group.sub("pin") if p.args == [pin]).sub("internal_power")
    per = []
    for pw in powers:
        tables = [t for t in pw.groups if t.kind in ("rise_power", "fall_power")]
        per.append(sum(interpolate(t, 0.1, load) if "index_2" in t.complex
                       else interpolate(t, 0.1) for t in tables) / len(tables))
    return sum(per) / len(per)


def test_a_constant_table_stays_logic(tmp_path, plain_liberty):
    """A ROM (a Memory with contents and no write port) is mapped to gates as before."""
    from lowbit.sim_tests.memory_dut import SmallRom
    result = asic.asic_synthesize(lambda: SmallRom(), unit="small_rom", params={},
                                  build_dir=tmp_path, liberty=plain_liberty, timing=False)
    assert result.memories == [] and result.memory_bits == 0
    assert result.logic_area_um2 == result.area_um2 > 0


# --- fanout repair (lowbit.synth.fanout) -------------------------------------------------------

def _fanout_netlist(loads):
    """A flat netlist in the form Yosys writes: a flip-flop whose Q (an escaped name) feeds
    ``loads`` inverters, a tie cell feeding as many, and the clock."""
    lines = ["module top(clk, d, y);", "  input clk;", "  input d;", "  output y;",
             "  wire \\q.en ;", "  wire one;"]
    lines += [f"  wire y{k};" for k in range(loads)]
    lines += ["  sky130_fd_sc_hd__dfxtp_1 ff (", "    .CLK(clk),", "    .D(d),", "    .Q(\\q.en )",
              "  );", "  sky130_fd_sc_hd__conb_1 tie (", "    .HI(one)", "  );"]
    for k in range(loads):
        lines += [f"  sky130_fd_sc_hd__nand2_1 g{k} (", "    .A(\\q.en ),", "    .B(one),",
                  f"    .Y(y{k})", "  );"]
    return "\n".join(lines + ["  assign y = y0;", "endmodule", ""])


def _trace(text):
    """``{net: loads}`` and ``{buffer output: buffer input}`` of a netlist."""
    import re
    from collections import Counter
    loads, feeds = Counter(), {}
    for cell, body in re.findall(r"^\s*(sky130\S+) \S+ \((.*?)\);", text, re.M | re.S):
        pins = dict((p, n.strip()) for p, n in re.findall(r"\.(\w+)\(([^()]*)\)", body))
        outputs = {"Q", "Y", "X", "HI", "LO"}
        for pin, net in pins.items():
            if pin not in outputs:
                loads[net] += 1
        if cell.endswith("__buf_2"):
            feeds[pins["X"]] = pins["A"]
    return loads, feeds


@pytest.mark.parametrize("n, buffers", [(10, 0), (11, 2), (25, 3), (250, 25 + 3), (1001, 101 + 11 + 2)])
def test_a_high_fanout_net_becomes_a_tree_of_at_most_ten_loads_per_net(tmp_path, plain_liberty,
                                                                       n, buffers):
    """Every net keeps at most MAX_FANOUT loads, every former load is reached from the
    original net through buffers only, and the clock and the tie cell's net are left alone."""
    from lowbit.synth.fanout import MAX_FANOUT, buffer_fanout
    netlist = tmp_path / "top.v"
    netlist.write_text(_fanout_netlist(n))
    added = buffer_fanout(netlist, [plain_liberty], prefix="sky130_fd_sc_hd__")
    assert added == {"buffers": buffers, "nets": 1 if buffers else 0}
    text = netlist.read_text()
    loads, feeds = _trace(text)
    assert loads["one"] == n and loads["clk"] == 1
    assert max(count for net, count in loads.items() if net != "one") <= MAX_FANOUT
    import re
    for k in range(n):
        net = re.search(rf"g{k} \(\s*\.A\(([^()]*)\)", text).group(1).strip()
        while net in feeds:
            net = feeds[net]
        assert net == "\\q.en", k
    assert "\\q.en )" in text, "an escaped name still ends at a space"


def test_the_flow_buffers_an_enable_it_cannot_see_and_counts_the_buffers(tmp_path,
                                                                         plain_liberty):
    """btc_array's case in small: a 64-bit register with one enable, whose enable pins ABC
    never sees. After the flow no net but the clock has more than MAX_FANOUT loads, the
    area is still the sum of the cells (buffers included) and the path is a few gates."""
    from amaranth import Module, Signal
    from lowbit.synth.fanout import MAX_FANOUT

    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class WideComponent(wiring.Component):
        en: In(1)
        d: In(64)
        q: Out(64)

        def elaborate(self, platform):
            m = Module()
            stored = Signal(64, reset_less=True)   # no reset: an enable flip-flop (edfxtp)
            with m.If(self.en):
                m.d.sync += stored.eq(self.d)
            m.d.comb += self.q.eq(stored)
            return m

    result = asic.asic_synthesize(WideComponent, unit="wide", params={}, build_dir=tmp_path,
                                  liberty=plain_liberty)
    run = asic.run_dir(tmp_path, "wide", {})
    for name in ("area", "harness"):
        loads, _ = _trace((run / f"{name}_netlist.v").read_text())
        worst = max(count for net, count in loads.items() if net != "clk")
        assert worst <= MAX_FANOUT, name
    assert result.cells.get("sky130_fd_sc_hd__buf_2", 0) >= 64 // MAX_FANOUT
    lib = read_cells(plain_liberty, list(result.cells))
    by_cells = sum(k * lib.cells[cell].number("area") for cell, k in result.cells.items())
    assert result.area_um2 == pytest.approx(by_cells, rel=1e-6)
    assert result.fmax_mhz > 300
