# amaranth: UnusedElaboratable=no
"""The softmax units (exaq_softmax and its baseline softmax_fixed) in cocotb, bit-exact against
the golden models through sim_tests/tb_softmax.py, plus the hardware-side facts that need no
simulator: parameter errors, the baseline's ROM against the model's, the cycle formulas and
lint at the parameter extremes."""

import subprocess

import numpy as np
import pytest

from lowbit.golden_models.softmax_fixed import SoftmaxFixed as SoftmaxFixedModel
from lowbit.hdl.exaq_softmax import ExaqSoftmax
from lowbit.hdl.softmax_fixed import ExpRom, SoftmaxFixed, exp_table
from lowbit.core.params import ParameterError
from lowbit.sim_tests.cases import BOTH, ICARUS, sim_cases
from lowbit.sim_tests.runner import VERILATOR_WAIVERS, require_simulator, simulate
from lowbit.units import UNITS
from lowbit.verilog import to_verilog

_WIDEST_EXAQ = {"in_bits": 16, "in_frac": 12, "bits": 4, "lut_frac": 16, "out_frac": 16,
                "max_len": 40, "top": "zero", "epc": 8}
_NARROWEST_EXAQ = {"in_bits": 4, "in_frac": 0, "bits": 2, "lut_frac": 4, "out_frac": 4,
                   "max_len": 1, "epc": 2}
_WIDEST_FIXED = {"in_bits": 16, "in_frac": 15, "lut_frac": 16, "out_frac": 16, "max_len": 37,
                 "epc": 8, "exp_index_frac": 0}
_NARROWEST_FIXED = {"in_bits": 4, "in_frac": 3, "lut_frac": 4, "out_frac": 4, "max_len": 1}

CASES = [
    ("exaq_softmax", {}, BOTH),
    ("softmax_fixed", {}, BOTH),
    # epc >= 4: S from code counters (stage B) and multiply-adds (stage R), on both.
    ("exaq_softmax", {"bits": 2, "epc": 4, "top": "zero", "max_len": 61}, BOTH),
    # epc 1, 2: S from table entries; top zero; rows not a multiple of epc.
    ("exaq_softmax", {"bits": 2, "epc": 2, "top": "zero", "max_len": 37}, ICARUS),
    # The y table by the bit-serial multiply (no multiplier): epc 1 and 2.
    ("exaq_softmax", {"serial_y": True}, BOTH),
    ("exaq_softmax", {"serial_y": True, "bits": 2, "epc": 2, "top": "zero", "max_len": 37},
     ICARUS),
    # ... and at 4+ lanes S too, by Horner's rule over the count bits.
    ("exaq_softmax", {"serial_y": True, "bits": 2, "epc": 4, "top": "zero", "max_len": 61},
     BOTH),
    ("exaq_softmax", {"bits": 4, "max_len": 1024}, ICARUS),
    # The widest beat and the longest rows.
    ("exaq_softmax", {"epc": 16, "max_len": 4096}, ICARUS),
    ("softmax_fixed", {"epc": 16, "max_len": 300}, ICARUS),
    ("exaq_softmax", _WIDEST_EXAQ, ICARUS),
    ("exaq_softmax", _NARROWEST_EXAQ, ICARUS),
    ("softmax_fixed", {"epc": 4, "max_len": 1024}, ICARUS),
    ("softmax_fixed", _WIDEST_FIXED, ICARUS),
    ("softmax_fixed", _NARROWEST_FIXED, ICARUS),
]


@pytest.mark.parametrize("unit, params, simulator", sim_cases(CASES))
def test_softmax(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    tests = {d["test"]: d for d in result.details}
    assert set(tests) == {"exact_cycles_per_row", "random_rows_random_stalls", "reset_mid_row"}
    if params.get("max_len", 128) > 1:   # one element: y = 2^O exactly, no tie possible
        assert tests["random_rows_random_stalls"]["tie_rows"] > 0   # rounding exercised


def minilm_rows(path, bits):
    """Six attention rows of MiniLM (layers 0 and 5, first evaluation sentence) as the
    fixed-point units take them, with the calibrated clips; written to ``path`` (.npz)."""
    from lowbit.golden_models.accuracy.exaq_minilm import hardware_rows
    rows, length = hardware_rows(6, bits)
    arrays = {"count": len(rows)}
    for n, (x, clip) in enumerate(rows):
        arrays[f"x_{n}"], arrays[f"clip_{n}"] = x, clip
    np.savez(path, **arrays)
    return path, length


@pytest.mark.parametrize("unit, bits, simulator", [
    ("exaq_softmax", 2, "icarus"), ("exaq_softmax", 3, "icarus"), ("softmax_fixed", 3, "icarus"),
])
def test_real_minilm_rows_through_the_unit(unit, bits, simulator, build_root, tmp_path):
    from lowbit.golden_models.accuracy.evaluate import EXAQ_FIXED
    path, length = minilm_rows(tmp_path / "minilm_rows.npz", bits)
    params = EXAQ_FIXED | {"max_len": 32, "epc": 2} | ({"bits": bits} if unit == "exaq_softmax" else {})
    assert length <= params["max_len"]
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim",
                      extra_env={"LOWBIT_ROWS": str(path), "COCOTB_TEST_FILTER": "real_rows"})
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    real = [d for d in result.details if d["test"] == "real_rows"]
    assert real and real[0]["rows"] == 6 and real[0]["vectors"] == 6 * length


@pytest.mark.parametrize("unit, params", [
    ("exaq_softmax", _WIDEST_EXAQ | {"max_len": 4096}),
    ("exaq_softmax", _NARROWEST_EXAQ | {"epc": 1}),
    ("softmax_fixed", _WIDEST_FIXED | {"max_len": 4096}),
    ("softmax_fixed", _NARROWEST_FIXED),
])
def test_verilator_lint_at_the_extremes(unit, params, tmp_path):
    require_simulator("verilator")
    source = tmp_path / f"{unit}.v"
    registered = UNITS[unit]
    source.write_text(to_verilog(registered.build(registered.resolve(params)), unit))
    done = subprocess.run(["verilator", "--lint-only", "-Wall", *VERILATOR_WAIVERS,
                           "--top-module", unit, str(source)], capture_output=True, text=True)
    assert done.returncode == 0 and "%Warning" not in done.stderr, done.stderr


@pytest.mark.parametrize("make, message", [
    (lambda: ExaqSoftmax(bits=5), "bits=5 is out of range: bits must be an integer in 2..4"),
    (lambda: ExaqSoftmax(top="one"), "top='one' is not allowed: top must be one of exp, zero"),
    (lambda: ExaqSoftmax(epc=3), "epc=3 is not allowed: epc must be one of 1, 2, 4, 8, 16"),
    (lambda: ExaqSoftmax(serial_y=2), "serial_y=2 is not allowed"),
    (lambda: ExaqSoftmax(in_frac=8), "in_frac=8 is out of range: in_frac must be an integer "
                                     "in 0..7"),
    (lambda: ExaqSoftmax(max_len=4097), "max_len=4097 is out of range"),
    (lambda: SoftmaxFixed(exp_index_frac=5), "exp_index_frac=5 is out of range: "
                                             "exp_index_frac must be an integer in 0..4"),
    (lambda: SoftmaxFixed(out_frac=3), "out_frac=3 is out of range"),
])
def test_bad_parameters_are_one_line_errors(make, message):
    with pytest.raises(ParameterError) as error:
        make()
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("in_bits, in_frac, lut_frac, index_frac",
                         [(16, 15, 4, 0), (8, 4, 10, 4), (12, 8, 10, 5), (16, 15, 16, 15),
                          (16, 12, 12, 8), (4, 3, 4, 3)])
def test_rom_is_the_golden_table(in_bits, in_frac, lut_frac, index_frac):
    """The hardware's elaboration-time table is the model's, bit for bit, and its clamped
    index reads the model's entry for every distance an in_bits logit can have."""
    model = SoftmaxFixedModel(in_bits=in_bits, in_frac=in_frac, lut_frac=lut_frac,
                              exp_index_frac=index_frac, max_len=8)
    assert np.array_equal(exp_table(lut_frac, index_frac), model.rom)
    rom = ExpRom(in_bits=in_bits, in_frac=in_frac, exp_index_frac=index_frac,
                 lut_frac=lut_frac, epc=1)
    nd = np.arange(1 << in_bits)
    index = nd >> (in_frac - index_frac)
    kept = np.array(rom.table)
    assert np.array_equal(kept[np.minimum(index, len(kept) - 1)],
                          model.rom[np.minimum(index, 255)])


def test_cycle_formulas():
    """cycles_per_row = the slowest of the four row stages: A (load) beats + 1; B (code and
    count) beats + 3 + acc_stages + 1 with cfg; R (sum, reciprocal, y table) sum_cycles + 1 +
    r_cycles + prep_cycles + 1; C (output) beats + 2 + the stages that read the row's state;
    row_latency adds the load, R and the output pipeline (docs/exaq_hardware.md)."""
    exaq, fixed = ExaqSoftmax(), SoftmaxFixed()
    assert (exaq.r_bits, fixed.r_bits) == (20, 20)          # O + ceil(log2 128) + 3
    # Two quotient bits per cycle: the reciprocal takes ceil(r_bits / 2) cycles.
    assert (exaq.r_cycles, fixed.r_cycles) == (10, 10)
    assert ExaqSoftmax(max_len=1024).r_cycles == 12          # r_bits 23
    assert (exaq.sum_cycles, exaq.prep_cycles, exaq.out_stages) == (0, 9, 1)
    assert (fixed.sum_cycles, fixed.prep_cycles, fixed.out_stages) == (0, 0, 2)
    # epc 1: S from table entries in B (ExpSum, acc_stages 1), no sum steps in R.
    assert exaq.stage_cycles(128) == {"A": 129, "B": 128 + 5, "R": 0 + 1 + 10 + 10, "C": 131}
    assert fixed.stage_cycles(128) == {"A": 129, "B": 128 + 4, "R": 11, "C": 131}
    assert (exaq.cycles_per_row(128), fixed.cycles_per_row(128)) == (133, 132)
    assert exaq.row_latency(128) == 2 * 128 + 132 + 21 + 1 + 2
    assert fixed.row_latency(128) == 2 * 128 + 132 + 11 + 2 + 2
    # Short rows: the fixed per-row work of stage R is the slowest stage.
    assert exaq.cycles_per_row(16) == 21 and fixed.cycles_per_row(16) == 20
    assert exaq.cycles_per_row(8) == 21 and fixed.cycles_per_row(8) == 12
    # epc >= 4: code counters in B, 2^b + 1 multiply-adds in R.
    counting = ExaqSoftmax(epc=4)
    assert counting.counting and not exaq.counting
    assert counting.stage_cycles(128) == {"A": 33, "B": 32 + 4, "R": 9 + 1 + 10 + 10, "C": 35}
    assert counting.cycles_per_row(128) == SoftmaxFixed(epc=4).cycles_per_row(128) == 36
    wide = ExaqSoftmax(epc=4, max_len=1024, top="zero")
    assert wide.cycles_per_row(1000) == 250 + 4
    assert ExaqSoftmax(epc=16, max_len=4096).cycles_per_row(4096) == 256 + 4
    with pytest.raises(ParameterError):
        wide.cycles_per_row(1025)
    # serial_y: the y table in 2^b (F + 1) cycles of stage R, hidden behind B for long rows.
    serial = ExaqSoftmax(serial_y=True)
    assert serial.prep_cycles == 8 * 11
    assert serial.stage_cycles(128) == {"A": 129, "B": 133, "R": 1 + 10 + 88 + 1, "C": 131}
    assert serial.cycles_per_row(128) == 133 and serial.cycles_per_row(16) == 100
    # At 4+ lanes S as well: 2^b x bits of max_len cycles (11 at 1024).
    long = ExaqSoftmax(serial_y=True, epc=4, max_len=1024)
    assert (long.sum_cycles, long.prep_cycles, long.r_cycles) == (8 * 11, 88, 12)
    assert long.stage_cycles(1024)["R"] == 88 + 1 + 12 + 88 + 1 < long.stage_cycles(1024)["B"]
    assert long.cycles_per_row(1024) == ExaqSoftmax(epc=4, max_len=1024).cycles_per_row(1024)


@pytest.mark.parametrize("unit, params", [
    ("exaq_softmax", {}), ("softmax_fixed", {}),
    ("exaq_softmax", {"bits": 2, "epc": 4, "top": "zero", "max_len": 61}),
])
def test_power_workload_schedule_and_check(unit, params):
    """The ``lowbit power`` workload (synth/workloads/softmax.py): the RTL's own outputs on
    its schedule pass the check against the golden model, every fed element is counted, and
    a wrong output value, a lost row and a ready that differs from the schedule are caught."""
    from lowbit.synth.workloads.softmax import softmax_workload
    entry = UNITS[unit]
    work = softmax_workload(entry, entry.resolve(params), data="random", seed=3, cycles=900)
    rtl = {port: values.copy() for port, values in work.check.rtl_outputs.items()}
    assert work.op == "element" and work.ops == work.checked > 0
    assert work.check(rtl) is None
    assert set(work.vectors) == {"i__payload", "i__valid", "o__ready"} | (
        {"cfg__payload", "cfg__valid"} if unit == "exaq_softmax" else set())
    assert all(len(v) == 900 for v in work.vectors.values())
    beats = np.flatnonzero(rtl["o__valid"] == 1)
    wrong = {port: values.copy() for port, values in rtl.items()}
    wrong["o__payload"][beats[len(beats) // 2]] ^= 1
    assert "expected" in work.check(wrong)
    lost = {port: values.copy() for port, values in rtl.items()}
    lost["o__valid"][beats[-1]] = 0
    assert work.check(lost) is not None
    stalled = {port: values.copy() for port, values in rtl.items()}
    stalled["i__ready"][np.flatnonzero(work.vectors["i__valid"] == 1)[0]] = 0
    assert "schedule" in work.check(stalled)
