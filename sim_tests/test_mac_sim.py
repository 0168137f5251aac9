"""The MAC units in cocotb on both simulators, bit-exact against their golden models.

Each case builds the unit once per simulator and runs every test of sim_tests/tb_mac.py:
reset state and exact latency, every (weight, activation) product, seeded random
accumulation with random valid/clear, and reset in the middle of a sum.
"""

import pytest

from lowbit.sim_tests.cases import BOTH, ICARUS, sim_cases
from lowbit.sim_tests.runner import simulate
from lowbit.units import UNITS

CASES = [
    ("dint_mac", {}, BOTH),
    ("dint_mac", {"special": "pm_half", "frac_bits": 2, "acc_bits": 14,
                  "overflow": "saturate", "pipeline": 0}, BOTH),
    ("dint_mac", {"special": "half", "frac_bits": 2, "acc_bits": 13, "overflow": "wrap",
                  "pipeline": 2}, ICARUS),
    ("int_mac", {}, BOTH),
    ("int_mac", {"acc_bits": 17, "overflow": "saturate", "pipeline": 0}, ICARUS),
    ("int_mac", {"weight_bits": 4, "acc_bits": 13, "overflow": "wrap", "pipeline": 2}, ICARUS),
    # The fused forms (one carry-save tree and one carry-propagate adder; sim_tests/test_fused.py)
    ("dint_mac", {"fused": True}, ICARUS),
    ("dint_mac", {"special": "pm_half", "frac_bits": 2, "acc_bits": 14, "overflow": "saturate",
                  "pipeline": 0, "fused": True}, BOTH),
    ("dint_mac", {"frac_bits": 2, "acc_bits": 13, "pipeline": 2, "fused": True}, ICARUS),
    ("int_mac", {"fused": True}, BOTH),
    ("int_mac", {"acc_bits": 17, "overflow": "saturate", "pipeline": 0, "fused": True}, ICARUS),
    ("int_mac", {"weight_bits": 5, "act_bits": 7, "acc_bits": 13, "pipeline": 2, "fused": True},
     ICARUS),
]


@pytest.mark.parametrize("unit, params, simulator", sim_cases(CASES))
def test_mac(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    tests = {d["test"]: d for d in result.details}
    assert set(tests) == {"reset_state_and_exact_latency", "every_product",
                          "random_accumulation", "reset_in_the_middle_of_a_sum"}
    assert tests["every_product"]["exhaustive"]
    if params.get("acc_bits", 32) < 20:  # narrow: the random sums must leave the range
        assert tests["random_accumulation"]["overflows"] > 10, \
            "the random sequence never left the accumulator's range: no overflow was tested"
