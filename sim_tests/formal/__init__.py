"""Formal proofs of the units with SymbiYosys: each unit's arithmetic core equals a
specification written from SPEC.md, and each stream unit keeps the stream rules.

Every proof is a small Amaranth *harness* (an ``Elaboratable`` whose only port is its clock):
it instantiates the circuit (or calls its datapath hook), drives its inputs from free values
(``AnySeq``, ``AnyConst``), builds the specification beside it, and states ``Assert``s (with
``Assume``s for the input rules the unit documents). A :class:`~.sby.Proof` names a harness
with its mode and depth; :func:`~.sby.run_proof` writes the harness as RTLIL and proves it with
SymbiYosys in a folder of its own. Each unit's registry entry names the proofs that cover it
(``proofs=`` in lowbit/units.py); ``lowbit prove`` runs them and prints a table, and
sim_tests/test_formal.py runs one test per proof. docs/formal.md says what each covers and its
limits.

The modules, one concern each:

* :mod:`.sby`: :class:`~.sby.Proof`, the SymbiYosys runner, the result table;
* :mod:`.harness`: the harness base, groups, the stream rule, the stream-unit harness;
* :mod:`.codebooks`: SPEC.md's weight codebooks and the product specifications on them;
* one module per unit family, each with its specifications, harnesses and proofs side by
  side: :mod:`.mac`, :mod:`.dot`, :mod:`.dequant`, :mod:`.btc`, :mod:`.softmax`.

The specifications never read the circuits: code tables are written from the codebooks of
SPEC.md (bit patterns as fixed in docs/dint.md and docs/pot.md), the FP16 results from the exact
real product rounded by the IEEE 754 definition, the binary cell's result by SPEC.md's plane
formula, the EXAQ codes as SPEC.md's rounded quotient and its sum as SPEC.md's count formula.

Three kinds of proof:

* ``mode="bmc", depth=1`` on a combinational harness: the assertion holds for every input
  pattern, a complete proof (there is no state to reach).
* ``mode="prove"`` (k-induction): the assertion holds in every reachable state, unbounded.
* ``mode="bmc", depth=N``: the assertions hold in every run of up to N cycles from reset, for any
  inputs the assumptions allow: a *bounded* proof.
"""

from .sby import Proof, ProofResult, format_table, require_tools, run_proof, sby_available

__all__ = ["Proof", "ProofResult", "run_proof", "format_table", "require_tools", "sby_available"]
