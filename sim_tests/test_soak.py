"""Soak tests: every unit's random-stall and reset tests, run longer, at the unit's minimum and
maximum parameters, with the counters that prove every output was checked and none was lost
or duplicated.

The testbenches scale their random tests by ``LOWBIT_SOAK`` (``tb_support.soak``) and assert
``sent == received == checked`` themselves (``Bench.record_counts``), after a drain in which
a duplicated output would show; here each result's records are checked once more.

The configurations are the units' extremes as the registry derives them
(:func:`lowbit.sim_tests.extremes.extremes`: ``min`` and ``max`` corners of every parameter,
and ``max-small`` where the ``max`` corner is declared slow), so they follow every change of a
range; a MAC's ``min`` corner saturates (``SOAK_OVERRIDES``), so that its narrowest
accumulator, which overflows on most beats, soaks the saturation logic too.

* Short form (default suite): each unit's ``min`` corner at scale ``SHORT`` (a unit whose
  ``min`` is its defaults, such as int4_dequant, already runs every test in the default suite).
* Long form (``pytest -m slow sim_tests/test_soak.py``, the benchmark): every extreme that is
  not declared slow, at scale ``LOWBIT_SOAK`` (default ``LONG``).
"""

import os

import pytest

from lowbit.sim_tests.extremes import extremes
from lowbit.sim_tests.runner import simulate
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
    "lowbit.sim_tests.tb_btc": ("random_jobs_with_stalls",
                                "short_and_full_jobs_against_back_pressure",
                                "reset_in_the_middle_of_a_job"),
    "lowbit.sim_tests.tb_softmax": ("random_rows_random_stalls", "reset_mid_row"),
}

# Soak-specific settings on top of a corner: saturation where the accumulator is narrowest.
SOAK_OVERRIDES = {"min": {"overflow": "saturate"}}


def soak_params(extreme):
    """The parameters a soak runs an :class:`~lowbit.sim_tests.extremes.Extreme` at."""
    params = dict(extreme.params)
    params.update((k, v) for k, v in SOAK_OVERRIDES.get(extreme.label, {}).items()
                  if k in params)
    return params


EXTREMES = {unit.name: {e.label: e for e in extremes(unit.name)
                        if e.label != "default" and not e.slow}
            for unit in UNITS if unit.testbench in SOAK_TESTS}


def soak_cases(labels):
    return [pytest.param(unit, label, id=f"{unit}-{label}")
            for unit, corners in EXTREMES.items() for label in corners if label in labels]


def run_soak(unit, label, scale, build_root):
    """Simulate the soak tests of ``unit`` at its ``label`` extreme and ``scale``; check the
    counters of every record; returns the records by test name."""
    tests = SOAK_TESTS[UNITS[unit].testbench]
    params = soak_params(EXTREMES[unit][label])
    result = simulate(UNITS[unit], params, "icarus", build_root=build_root,
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
    if mac and params["acc_bits"] < 8:   # the sums must leave the range
        assert records["random_accumulation"]["overflows"] > 10
    return records


@pytest.mark.parametrize("unit, label", [
    case for case in soak_cases({"min"})
    if soak_params(EXTREMES[case.values[0]]["min"]) != UNITS[case.values[0]].resolve({})])
def test_soak_short(unit, label, build_root):
    run_soak(unit, label, SHORT, build_root / "soak-short")


@pytest.mark.slow
@pytest.mark.parametrize("unit, label", soak_cases({"min", "max", "max-small"}))
def test_soak_long(unit, label, build_root):
    scale = min(float(os.environ.get("LOWBIT_SOAK", LONG)), LONG_CAP.get((unit, label), 1e9))
    records = run_soak(unit, label, scale, build_root / "soak-long")
    vectors = sum(r["vectors"] for r in records.values())
    print(f"soak {unit} {label}: scale {scale:g}, {vectors} vectors checked "
          + ", ".join(f"{name}={r['checked']}" for name, r in records.items()))
