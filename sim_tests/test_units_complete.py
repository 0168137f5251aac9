"""Every registered unit has each piece docs/adding-a-unit.md asks for, found from its registry
entry alone: a component that builds at the defaults, a golden model that takes exactly the
unit's arithmetic parameters, a testbench module with pytest cases that simulate it, mutants
with checks that exist, a documentation page in the site's navigation that names it, and for
the project's own units (those measured against a baseline) a waveform scenario and formal
proofs. Baselines need no scenario or proof of their own. Every unit, baseline or not, declares
the workload ``lowbit power`` measures its netlist on (``Unit.workload``)."""

import functools
import inspect
import json
import re
import warnings
from importlib.util import find_spec
from pathlib import Path

import pytest

from lowbit.hdl.component import unelaborated
from lowbit.registry import resolve_ref
from lowbit.units import UNITS

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

# Pieces being added this session by the unit's owner: (unit, piece) -> who. The test fails on
# any other missing piece, and warns of an entry here whose piece is now present.
PENDING = {}


@functools.cache
def _nav_pages():
    """The pages listed in mkdocs.yml's nav (``- Title: page.md`` lines)."""
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:"):]
    return set(re.findall(r":\s*([\w./-]+\.md)\s*$", nav, flags=re.M))


@functools.cache
def _simulated_units():
    """Units that some test file of sim_tests/ passes to ``simulate`` (by its name in a case
    list or a direct call)."""
    found = set()
    for path in TESTS.glob("test_*.py"):
        text = path.read_text()
        if "simulate(" not in text:
            continue
        found |= {u.name for u in UNITS if re.search(rf"[\"']{u.name}[\"']", text)}
    return found


def _pieces(unit):
    """``{piece: problem or None}`` for one unit."""
    problems = {}

    def check(piece, test):
        try:
            problems[piece] = test()
        except Exception as error:   # the piece is broken: say how, one line
            problems[piece] = f"{type(error).__name__}: {error}"

    def component():
        built = unelaborated(unit.build(unit.resolve({})))   # its formulas only
        if not hasattr(built, "latency"):
            return "the component has no `latency`"
        meta = unit.testbench_facts(built, unit.resolve({}))
        json.dumps(meta)   # the runner passes it to the testbench as JSON
        return None

    def golden():
        signature = inspect.signature(resolve_ref(unit.golden))
        if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            return f"{unit.golden} takes **kwargs: a misspelt argument would pass unnoticed"
        wanted = set(unit.golden_args(unit.defaults()))
        named = {n for n, p in signature.parameters.items() if p.default is p.empty}
        accepted = set(signature.parameters)
        if not wanted <= accepted:
            return f"the golden model does not take {sorted(wanted - accepted)}"
        if not named <= wanted:
            return f"the golden model requires {sorted(named - wanted)}, which are no parameters"
        unit.golden_model(unit.resolve({}))
        return None

    def testbench():
        if find_spec(unit.testbench) is None:
            return f"no module {unit.testbench}"
        if unit.name not in _simulated_units():
            return "no test file in sim_tests/ simulates it"
        return None

    def mutants():
        mutant_set = unit.mutant_set()
        if mutant_set is None:
            return "no mutants"
        if len(mutant_set.mutants) < 3:
            return f"only {len(mutant_set.mutants)} mutants (at least 3)"
        for check_id in mutant_set.checks:
            if not (TESTS / check_id.split("::")[0]).exists():
                return f"check {check_id}: no such test file"
        return None

    def docs():
        if not unit.docs:
            return "no docs page"
        page = unit.docs.removeprefix("docs/")
        if page not in _nav_pages():
            return f"{unit.docs} is not in mkdocs.yml's nav"
        if unit.name not in (ROOT / unit.docs).read_text():
            return f"{unit.docs} does not name {unit.name}"
        return None

    def scenario():
        if unit.baseline is None:
            return None
        if unit.scenario_function() is None:
            return "no waveform scenario"
        return None

    def proofs():
        if unit.baseline is None:
            return None
        return None if unit.proof_objects() else "no formal proofs"

    def workload():
        """A declared ``lowbit power`` workload that gives one input vector per cycle on
        the component's own input ports (its netlist check runs in sim_tests/test_power.py);
        a stream workload (the attention block's whole layer, its streams driven with
        back-pressure) sets its own window, so its vectors share one length instead, and its
        streams are the component's input streams."""
        from lowbit.synth.workloads import Workload, built, port_widths
        from lowbit.synth.workloads.block import StreamWorkload
        function = unit.workload_function()
        if function is None:
            return "no workload for lowbit power (Unit.workload)"
        params = unit.resolve({})
        cycles = 96
        work = function(unit, params, data="random", seed=1, cycles=cycles)
        if not isinstance(work, Workload) or work.ops <= 0 or work.checked <= 0:
            return f"{unit.workload} gave no checked operations"
        ports = {name for name, _ in port_widths(built(unit, params))[0]}
        if set(work.vectors) - ports:
            return f"vectors for no input port: {sorted(set(work.vectors) - ports)}"
        if isinstance(work, StreamWorkload):
            streams = {name for name in work.streams if f"{name}__payload" not in ports}
            if streams:
                return f"streams for no input stream: {sorted(streams)}"
            if len({len(v) for v in work.vectors.values()}) != 1:
                return "vectors of different lengths"
        elif any(len(v) != cycles for v in work.vectors.values()):
            return f"not one vector per cycle for {cycles} cycles"
        return None

    for piece, test in (("component", component), ("golden", golden),
                        ("testbench", testbench), ("mutants", mutants), ("docs", docs),
                        ("scenario", scenario), ("proofs", proofs), ("workload", workload)):
        check(piece, test)
    return problems


@pytest.mark.parametrize("unit", UNITS.names())
def test_every_unit_has_each_piece(unit):
    problems = _pieces(UNITS[unit])
    missing = {piece: why for piece, why in problems.items()
               if why and (unit, piece) not in PENDING}
    assert not missing, f"{unit}: " + "; ".join(f"{p}: {w}" for p, w in missing.items())
    done = [piece for piece, why in problems.items() if not why and (unit, piece) in PENDING]
    if done:
        warnings.warn(f"{unit}: {', '.join(done)} now present: remove from PENDING")


def test_a_missing_piece_is_reported():
    """The check itself: an entry without mutants or docs, with a misspelt testbench."""
    from dataclasses import replace
    broken = replace(UNITS["pot_dequant"], mutants=None, docs="docs/nope.md",
                     testbench="lowbit.sim_tests.tb_nope", workload=None)
    problems = _pieces(broken)
    assert problems["mutants"] == "no mutants"
    assert problems["workload"].startswith("no workload")
    assert "not in mkdocs.yml" in problems["docs"]
    assert problems["testbench"] == "no module lowbit.sim_tests.tb_nope"
    assert problems["component"] is None and problems["golden"] is None
