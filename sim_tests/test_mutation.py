"""The mutation check's machinery (sim_tests/mutation.py): every mutant still applies to the
current source, and a mutant applied to a package copy is caught by a check that passes on
an unmutated copy, while the source tree stays untouched."""

from lowbit.sim_tests.mutation import (CHECKS, EQUIVALENT, MUTANTS, apply, make_copy,
                                       module_path, run_checks, source_path)

CHEAP_CHECK = "test_softmax_sim.py::test_rom_is_the_golden_table"


def test_every_mutant_applies_once_to_the_current_source():
    assert len({m.id for m in MUTANTS}) == len(MUTANTS)
    for mutant in MUTANTS:
        assert mutant.unit in CHECKS, mutant.id
        assert apply(mutant, source_path(mutant.module).read_text()) != \
            source_path(mutant.module).read_text()
    for unit in CHECKS:
        assert sum(m.unit == unit for m in MUTANTS) >= 3, f"{unit} has fewer than 3 mutants"
    assert set(EQUIVALENT) <= {m.id for m in MUTANTS}


def test_a_mutant_is_killed_in_a_copy(tmp_path):
    mutant = next(m for m in MUTANTS if m.id == "exp-table-rounding")
    original = source_path(mutant.module).read_text()
    copy = make_copy(tmp_path / "mutant", mutant)
    assert module_path(copy, mutant.module).read_text() == apply(mutant, original)
    status, failing, _ = run_checks(copy, [CHEAP_CHECK], tmp_path / "mutant.log")
    assert status == "failed" and failing.startswith("test_rom_is_the_golden_table"), status
    assert source_path(mutant.module).read_text() == original
    status, _, _ = run_checks(make_copy(tmp_path / "unmutated"), [CHEAP_CHECK],
                              tmp_path / "unmutated.log")
    assert status == "passed"
