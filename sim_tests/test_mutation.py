"""The mutation check's machinery (sim_tests/mutation.py): every unit's registry entry names its
mutants, each still applies to the current source, and a mutant applied to a package copy is
caught by a check that passes on an unmutated copy, while the source tree stays untouched."""

from lowbit.cli import main as lowbit
from lowbit.sim_tests.mutation import (apply, make_copy, module_path, mutant_sets, run_checks,
                                       source_path)
from lowbit.units import UNITS

CHEAP_CHECK = "test_softmax_sim.py::test_rom_is_the_golden_table"


def test_every_mutant_applies_once_to_the_current_source():
    sets = mutant_sets()   # that every unit has a set: test_units_complete.py
    assert set(sets) <= set(UNITS.names())
    ids = [m.id for s in sets.values() for m in s.mutants]
    assert len(set(ids)) == len(ids)
    for unit, mutant_set in sets.items():
        assert len(mutant_set.mutants) >= 3, f"{unit} has fewer than 3 mutants"
        assert mutant_set.checks, f"{unit} has no checks"
        for mutant in mutant_set.mutants:
            assert apply(mutant, source_path(mutant.module).read_text()) != \
                source_path(mutant.module).read_text()


def test_mutate_lists_and_refuses_unknown_names(capsys):
    assert lowbit(["mutate", "--list", "--unit", "dint_mac"]) == 0
    out = capsys.readouterr().out
    assert "acc-carry-in" in out and "btc-sign-pair" not in out
    assert lowbit(["mutate", "--unit", "no_such_unit"]) == 2
    assert "no_such_unit" in capsys.readouterr().err


def test_a_mutant_is_killed_in_a_copy(tmp_path):
    mutant = next(m for m in mutant_sets()["softmax_fixed"].mutants
                  if m.id == "exp-table-rounding")
    original = source_path(mutant.module).read_text()
    copy = make_copy(tmp_path / "mutant", mutant)
    assert module_path(copy, mutant.module).read_text() == apply(mutant, original)
    status, failing, _ = run_checks(copy, [CHEAP_CHECK], tmp_path / "mutant.log")
    assert status == "failed" and failing.startswith("test_rom_is_the_golden_table"), status
    assert source_path(mutant.module).read_text() == original
    status, _, _ = run_checks(make_copy(tmp_path / "unmutated"), [CHEAP_CHECK],
                              tmp_path / "unmutated.log")
    assert status == "passed"
