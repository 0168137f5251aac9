"""requant in cocotb on both simulators (sim_tests/tb_requant.py: exact latency, full
throughput, every shift with M and the accumulator at their extremes, exact halves, random
stalls, reset in flight), each result against golden_models/requant.py; its mutants."""

import pytest

from lowbit.sim_tests.cases import BOTH, ICARUS, sim_cases
from lowbit.sim_tests.mutants import MutantSet, _m
from lowbit.sim_tests.runner import simulate
from lowbit.units import UNITS

TESTS = {"exact_latency_and_full_throughput", "every_shift_and_corner", "random_stalls_on_both_streams",
         "reset_drops_items_in_flight"}

CASES = [
    ("requant", {}, BOTH),
    ("requant", {"lanes": 4, "acc_bits": 48, "m_bits": 16, "out_bits": 32}, BOTH),
    ("requant", {"lanes": 3, "acc_bits": 12, "m_bits": 5, "out_bits": 4}, ICARUS),
    ("requant", {"lanes": 2, "acc_bits": 2, "m_bits": 1, "out_bits": 2}, ICARUS),
    ("requant", {"acc_bits": 33, "m_bits": 31, "out_bits": 12}, ICARUS),
]


@pytest.mark.parametrize("unit, params, simulator", sim_cases(CASES))
def test_requant(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    assert {d["test"] for d in result.details} == TESTS


# The mutants of requant (sim_tests/mutation.py runs them; the registry names this set), each
# an edit of hdl/requant.py: (id, kind, find, replace, what).
MUTANTS = MutantSet(
    checks=('test_requant_sim.py::test_requant[requant-defaults-icarus]',),
    mutants=tuple(_m(id, "requant", kind, find, replace, what)
                  for id, kind, find, replace, what in (
        ('requant-truncate', 'operator', 'incremented.eq(halves[k] + 1)', 'incremented.eq(halves[k])',
         'rounds down instead of half up'),
        ('requant-no-doubling', 'shift', 'doubled.eq(products[k] << 1)', 'doubled.eq(products[k])',
         'shift one too far (the doubling dropped)'),
        ('requant-m-signed', 'width', 'Cat(payload.m, Const(0, 1)).as_signed()', 'payload.m.as_signed()',
         "M's top bit read as a sign"),
        ('requant-low-wraps', 'mux', 'below.eq(rounded < lo)', 'below.eq(0)',
         'no saturation below: the low bits wrap'),
    )),
)
