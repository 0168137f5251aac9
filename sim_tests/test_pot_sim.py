"""The PoT units and their baselines in cocotb on both simulators, bit-exact against the golden
models: the MAC through sim_tests/tb_mac.py, the dot products through sim_tests/tb_dot.py."""

import pytest

from lowbit.sim_tests.cases import BOTH, ICARUS, SLOW_VERILATOR, sim_cases
from lowbit.sim_tests.runner import simulate
from lowbit.units import UNITS

MAC_CASES = [
    ("pot_mac", {}, BOTH),
    ("pot_mac", {"bits": 3, "zero_code": False, "acc_bits": 14, "overflow": "saturate",
                 "pipeline": 0}, ICARUS),
    ("pot_mac", {"bits": 5, "acc_bits": 26, "overflow": "wrap", "pipeline": 2}, ICARUS),
    ("pot_mac", {"bits": 2, "zero_code": True, "act_bits": 4, "acc_bits": 6}, ICARUS),
    ("pot_mac", {"fused": True}, ICARUS),
    ("pot_mac", {"bits": 3, "zero_code": False, "acc_bits": 14, "overflow": "saturate",
                 "pipeline": 0, "fused": True}, BOTH),
]
DOT_CASES = [
    ("pot_dot", {}, BOTH),
    ("pot_dot", {"lanes": 5, "bits": 3, "zero_code": False}, ICARUS),
    ("pot_dot", {"lanes": 32, "bits": 5, "act_bits": 16}, ICARUS),
    ("pot_dot", {"lanes": 32, "bits": 5, "act_bits": 16}, *SLOW_VERILATOR),
    ("int_dot", {}, BOTH),
    ("int_dot", {"lanes": 32, "weight_bits": 8}, ICARUS),
    ("int_dot", {"weight_bits": 8, "fused": True}, ICARUS),
    ("int_dot", {"weight_bits": 8, "fused": True}, *SLOW_VERILATOR),
    ("int_dot", {"lanes": 5, "weight_bits": 3, "act_bits": 5, "fused": True}, ICARUS),
    ("int_dot", {"lanes": 5, "weight_bits": 7, "act_bits": 6, "booth": True}, ICARUS),
    ("pot_dot", {"fused": True}, ICARUS),
    ("pot_dot", {"lanes": 6, "bits": 5, "act_bits": 12, "fused": True}, ICARUS),
]


@pytest.mark.parametrize("unit, params, simulator", sim_cases(MAC_CASES))
def test_pot_mac(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    tests = {d["test"]: d for d in result.details}
    assert tests["every_product"]["exhaustive"]
    if params.get("acc_bits", 32) < 16:
        assert tests["random_accumulation"]["overflows"] > 10


@pytest.mark.parametrize("unit, params, simulator", sim_cases(DOT_CASES))
def test_dot(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    assert {d["test"] for d in result.details} == {
        "exact_latency_and_full_throughput", "random_stalls_on_both_streams",
        "reset_drops_items_in_flight"}


DEQUANT_CASES = [
    ("pot_dequant", {}, BOTH),
    ("pot_dequant", {"bits": 5, "zero_code": False}, ICARUS),
    ("pot_dequant", {"bits": 3}, ICARUS),
    ("int4_dequant", {}, BOTH),
]


@pytest.mark.parametrize("unit, params, simulator", sim_cases(DEQUANT_CASES))
def test_dequant(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    assert {d["test"] for d in result.details} == {"every_code_times_every_scale_class",
                                                   "random_stalls", "reset_with_weights_inside"}
