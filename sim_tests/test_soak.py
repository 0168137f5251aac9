"""Soak tests: every unit's random-stall and reset tests, run longer, at the unit's minimum and
maximum parameters, with the counters that prove every output was checked and none was lost
or duplicated.

The testbenches scale their random tests by ``LOWBIT_SOAK`` (``tb_support.soak``) and assert
``sent == received == checked`` themselves (``Bench.record_counts``), after a drain in which
a duplicated output would show; here each result's records are checked once more.

* Short form (default suite): each unit's minimum configuration at scale ``SHORT``. Where
  that configuration already runs in the default suite with every test (the softmax units'
  narrowest cases and int4_dequant, which has no parameters), it is not simulated again.
* Long form (``pytest -m slow sim_tests/test_soak.py``, the benchmark): every extreme at
  scale ``LOWBIT_SOAK`` (default ``LONG``).
"""

import os

import pytest

from lowbit.sim_tests.runner import simulate
from lowbit.sim_tests.test_softmax_sim import (_NARROWEST_EXAQ, _NARROWEST_FIXED,
                                               _WIDEST_EXAQ, _WIDEST_FIXED)
from lowbit.units import UNITS

SHORT = 0.5
LONG = 20.0
# Long-form scales capped where a cycle is slow: the 16 x 16 arrays' results are 16,384-bit
# payloads, which cocotb converts on every cycle the output is valid (about a second a cycle
# under back-pressure), so at scale 1 each takes minutes.
LONG_CAP = {("btc_array", "max"): 1.0, ("int_array", "max"): 1.0}

# The random-stall and reset tests of each testbench: what a soak runs.
SOAK_TESTS = {
    "lowbit.sim_tests.tb_mac": ("random_accumulation", "reset_in_the_middle_of_a_sum"),
    "lowbit.sim_tests.tb_dot": ("random_stalls_on_both_streams", "reset_drops_items_in_flight"),
    "lowbit.sim_tests.tb_dequant": ("random_stalls", "reset_with_weights_inside"),
    "lowbit.sim_tests.tb_matrix": ("random_jobs_with_stalls",
                                   "short_and_full_jobs_against_back_pressure",
                                   "reset_in_the_middle_of_a_job"),
    "lowbit.sim_tests.tb_softmax": ("random_rows_random_stalls", "reset_mid_row"),
}

# Per unit: its configurations at the parameter extremes. The MACs' minimum accumulator is
# the product width (so it overflows, saturating, most of the time); the arrays' maximum
# keeps k_slice small, as 16 x 16 cells of 256-bit popcounts take minutes to generate (the
# widest slice runs as "max-slice" with one cell, and in test_matrix_sim).
EXTREMES = {
    "dint_mac": {
        "min": {"special": "pm_half", "frac_bits": 1, "act_bits": 2, "acc_bits": 6,
                "overflow": "saturate", "pipeline": 0},
        "max": {"special": "half", "frac_bits": 2, "act_bits": 16, "acc_bits": 64,
                "overflow": "wrap", "pipeline": 2},
    },
    "int_mac": {
        "min": {"weight_bits": 2, "act_bits": 2, "acc_bits": 4, "overflow": "saturate",
                "pipeline": 0},
        "max": {"weight_bits": 16, "act_bits": 16, "acc_bits": 64, "overflow": "wrap",
                "pipeline": 2},
    },
    "pot_mac": {
        "min": {"bits": 2, "zero_code": True, "act_bits": 2, "acc_bits": 4,
                "overflow": "saturate", "pipeline": 0},
        "max": {"bits": 5, "zero_code": False, "act_bits": 16, "acc_bits": 64,
                "overflow": "wrap", "pipeline": 2},
    },
    "pot_dot": {
        "min": {"lanes": 4, "bits": 2, "zero_code": True, "act_bits": 2},
        "max": {"lanes": 64, "bits": 5, "zero_code": False, "act_bits": 16},
    },
    "int_dot": {
        "min": {"lanes": 4, "weight_bits": 2, "act_bits": 2},
        "max": {"lanes": 64, "weight_bits": 16, "act_bits": 16},
    },
    "pot_dequant": {
        "min": {"bits": 2, "zero_code": True},
        "max": {"bits": 5, "zero_code": False},
    },
    "int4_dequant": {"min": {}},      # no parameters
    "btc_array": {
        "min": {"rows": 1, "cols": 1, "k_slice": 8, "p_max": 1, "q_max": 1, "acc_bits": 16},
        "max": {"rows": 16, "cols": 16, "k_slice": 8, "p_max": 8, "q_max": 8, "acc_bits": 64},
        "max-slice": {"rows": 1, "cols": 1, "k_slice": 256, "p_max": 8, "q_max": 8,
                      "acc_bits": 64},
    },
    "int_array": {
        "min": {"rows": 1, "cols": 1, "acc_bits": 16},
        "max": {"rows": 16, "cols": 16, "acc_bits": 64},
    },
    "exaq_softmax": {"min": _NARROWEST_EXAQ, "max": _WIDEST_EXAQ},
    "softmax_fixed": {"min": _NARROWEST_FIXED, "max": _WIDEST_FIXED},
}

# Short-form configurations that the default suite already simulates with every test.
ALREADY_IN_DEFAULT_SUITE = {("exaq_softmax", "min"), ("softmax_fixed", "min"),
                            ("int4_dequant", "min")}


def soak_cases(labels):
    return [pytest.param(unit, label, id=f"{unit}-{label}")
            for unit, extremes in EXTREMES.items() for label in extremes if label in labels]


def run_soak(unit, label, scale, build_root):
    """Simulate the soak tests of ``unit`` at its ``label`` extreme and ``scale``; check the
    counters of every record; returns the records by test name."""
    tests = SOAK_TESTS[UNITS[unit].testbench]
    result = simulate(unit, EXTREMES[unit][label], "icarus", build_root=build_root,
                      extra_env={"LOWBIT_SOAK": str(scale),
                                 "COCOTB_TEST_FILTER": rf"\.({'|'.join(tests)})$"})
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    records = {d["test"]: d for d in result.details}
    assert set(records) == set(tests), f"soak tests run: {sorted(records)}"
    for name, record in records.items():
        assert record["soak"] == scale, f"{name}: ran at scale {record['soak']}, not {scale}"
        assert record["sent"] == record["received"] == record["checked"] > 0, record
        assert record["vectors"] > 0
    mac = UNITS[unit].testbench.endswith("tb_mac")
    if mac and EXTREMES[unit][label]["acc_bits"] < 8:   # the sums must leave the range
        assert records["random_accumulation"]["overflows"] > 10
    return records


@pytest.mark.parametrize("unit, label", [
    case for case in soak_cases({"min"}) if tuple(case.values) not in ALREADY_IN_DEFAULT_SUITE])
def test_soak_short(unit, label, build_root):
    run_soak(unit, label, SHORT, build_root / "soak-short")


@pytest.mark.slow
@pytest.mark.parametrize("unit, label", soak_cases({"min", "max", "max-slice"}))
def test_soak_long(unit, label, build_root):
    scale = min(float(os.environ.get("LOWBIT_SOAK", LONG)), LONG_CAP.get((unit, label), 1e9))
    records = run_soak(unit, label, scale, build_root / "soak-long")
    vectors = sum(r["vectors"] for r in records.values())
    print(f"soak {unit} {label}: scale {scale:g}, {vectors} vectors checked "
          + ", ".join(f"{name}={r['checked']}" for name, r in records.items()))
