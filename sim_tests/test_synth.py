"""The synthesis runner on a small multiply-accumulator: each target runs, the counts add up."""

import json

import pytest
from amaranth import Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.errors import LowbitError
from lowbit.synth import SynthResult, format_table, synthesize
from lowbit.synth.flow import run_dir
from lowbit.synth.wrapper import port_bits

PARAMS = {"a_bits": 8, "b_bits": 8, "acc_bits": 20}
ACC_BITS = PARAMS["acc_bits"]


class Mac(wiring.Component):
    """Registered signed 8x8 multiply-accumulate: a, b -> registers -> product register -> acc."""

    a: In(signed(8))
    b: In(signed(8))
    clear: In(1)
    acc: Out(signed(ACC_BITS))

    def elaborate(self, platform):
        m = Module()
        a, b = Signal(signed(8)), Signal(signed(8))
        product = Signal(signed(16))
        m.d.sync += [a.eq(self.a), b.eq(self.b), product.eq(a * b)]
        with m.If(self.clear):
            m.d.sync += self.acc.eq(0)
        with m.Else():
            m.d.sync += self.acc.eq(self.acc + product)
        return m


def run(target, build_dir, **kwargs):
    return synthesize(Mac, unit="mac8", params=PARAMS, target=target, build_dir=build_dir,
                      **kwargs)


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("synth")


@pytest.fixture(scope="module")
def ice40(build_dir):
    return run("ice40", build_dir)


def test_generic_counts_gates_not_luts(build_dir):
    result = run("generic", build_dir)
    assert result.transistors > 0 and result.gate_equivalents == result.transistors / 4
    assert result.ffs == 8 + 8 + 16 + ACC_BITS
    assert result.fmax_mhz is None and result.luts is None and result.device is None
    # the longest path runs at least through the 8x8 multiplier's partial products
    assert result.logic_depth > 8


def test_ice40_maps_to_luts_and_carry_and_times(ice40):
    assert ice40.luts > 0 and ice40.carry > 0 and ice40.dsps == 0
    assert ice40.ffs == 8 + 8 + 16 + ACC_BITS
    assert ice40.fmax_mhz > 0
    assert set(ice40.tool_versions) == {"amaranth", "yosys", "nextpnr-ice40"}


def test_ice40_dsp_puts_the_multiplier_in_a_dsp(build_dir, ice40):
    result = run("ice40-dsp", build_dir, pnr=False)
    assert result.dsps >= 1 and result.luts < ice40.luts
    assert result.fmax_mhz is None


def test_ecp5_maps_and_times(build_dir):
    result = run("ecp5", build_dir)
    assert result.device == "25k" and result.luts > 0 and result.dsps == 0
    assert result.fmax_mhz > 0


def test_harness_keeps_the_unit_and_adds_only_its_shift_out_muxes(build_dir, ice40):
    # The harness adds at most one LUT per unit output bit (the shift-out load multiplexer).
    stat = json.loads((run_dir(build_dir, "mac8", PARAMS, "ice40", "up5k")
                       / "harness_stat.json").read_text())
    harness_luts = stat["design"]["num_cells_by_type"]["SB_LUT4"]
    assert ice40.luts <= harness_luts <= ice40.luts + ACC_BITS


def test_same_inputs_give_the_same_numbers(build_dir, ice40, tmp_path):
    again = run("ice40", tmp_path)
    assert dataclass_numbers(again) == dataclass_numbers(ice40)


def dataclass_numbers(result):
    return {key: value for key, value in result.as_dict().items() if key != "seconds"}


@pytest.mark.parametrize("target, device", [("fpga9", None), ("ecp5", "45k"), ("generic", "25k")])
def test_unknown_target_or_device_is_a_one_line_error(build_dir, target, device):
    with pytest.raises(LowbitError, match="allowed") as error:
        run(target, build_dir, device=device)
    assert "\n" not in str(error.value)


def test_stream_ports_flatten_by_flow():
    unit = wiring.Signature({"i": In(stream.Signature(8)),
                             "o": Out(stream.Signature(signed(4)))}).create()
    inputs, outputs = port_bits(unit)
    # sink payload, sink valid, source ready | sink ready, source payload, source valid
    assert [len(value) for value in inputs] == [8, 1, 1]
    assert [len(value) for value in outputs] == [1, 4, 1]


def test_format_table_aligns_one_row_per_result():
    result = SynthResult(unit="mac8", params=PARAMS, target="generic", device=None, luts=None,
                         ffs=52, carry=None, dsps=None, gate_equivalents=898.5, transistors=3594,
                         fmax_mhz=None, logic_depth=30, cells={}, tool_versions={}, seconds=1.0)
    lines = format_table([result, result]).splitlines()
    assert len(lines) == 4 and len({len(line) for line in lines[1:]}) == 1
    assert "898.5" in lines[2] and "3594" in lines[2]


def test_a_design_synthesized_once_in_a_process_is_not_synthesized_again(tmp_path):
    """The flow synthesizes a job's winning candidate for area, then again with timing: the
    second area run of the same Verilog, script and folder is the first one's (same figures,
    Yosys not run again); a missing result file means a new run."""
    first = run("generic", tmp_path)
    log = run_dir(tmp_path, "mac8", PARAMS, "generic", None) / "area.log"
    stamp = log.stat().st_mtime_ns
    again = run("generic", tmp_path)
    assert log.stat().st_mtime_ns == stamp
    assert again.cells == first.cells and again.transistors == first.transistors
    (log.parent / "area_stat.json").unlink()
    third = run("generic", tmp_path)
    assert log.stat().st_mtime_ns != stamp and third.transistors == first.transistors


def test_has_multiplier_sees_the_operator_not_attributes_or_comments():
    from lowbit.jobs import has_multiplier
    assert has_multiplier("assign p = $signed(w) * $signed(a);")
    assert has_multiplier("assign p = a ** 2;")
    assert not has_multiplier('(* src = "x.py:1" *)\nalways @* begin /* a * b */ end\n'
                              "always @(*) x = y; // y * z\nassign s = a + b;")


def test_booth_is_not_mapped_again_on_a_circuit_without_a_multiplier(tmp_path):
    """`booth` only rewrites multipliers: a multiplier-free unit's booth candidate is its plain
    twin (recorded as such, not mapped a second time); a unit with a `*` maps both."""
    from lowbit.jobs import best_synth, verilog_of
    from lowbit.units import UNITS
    params = UNITS["pot_mac"].resolve({})
    row = best_synth("pot_mac", params, "ice40", build_dir=tmp_path, pnr=False)
    booth = [c for c in row["candidates"] if "booth" in c["options"]]
    plain = [c for c in row["candidates"] if "booth" not in c["options"]]
    assert booth and len(booth) == len(plain)
    for b in booth:
        twin, = [c for c in plain if c["implementation"] == b["implementation"]]
        assert b["same_as"] == ["plain"] and b["area"] == twin["area"]
    assert not list(tmp_path.glob("pot_mac-*/*booth*"))      # never mapped
    assert "*" in verilog_of("int_mac", UNITS["int_mac"].resolve({}))


def test_the_asic_cache_key_follows_the_mapping_script(monkeypatch):
    """A row cached for the standard-cell target is stale once the asic mapping script changes
    (its SCRIPT_REVISION), as it is once the FPGA flow's script does; an FPGA row is not."""
    from lowbit.jobs import job_key
    from lowbit.synth import asic
    from lowbit.units import UNITS
    params = UNITS["int_mac"].resolve({})
    before = {t: job_key("int_mac", params, t, {}, pnr=False) for t in ("asic", "ice40")}
    monkeypatch.setattr(asic, "SCRIPT_REVISION", asic.SCRIPT_REVISION + 1)
    assert job_key("int_mac", params, "asic", {}, pnr=False) != before["asic"]
    assert job_key("int_mac", params, "ice40", {}, pnr=False) == before["ice40"]
