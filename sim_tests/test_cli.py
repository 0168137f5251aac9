"""The command line and the generated Verilog: listings, determinism and bad input (lint:
test_portability.py)."""

import contextlib
import io
import json
import subprocess
import sys

import pytest

from lowbit.cli import main
from lowbit.core.errors import LowbitError
from lowbit.core.modes import DintCodebook, ExaqTop, Overflow
from lowbit.core.params import ParameterError
from lowbit.hdl.component import unelaborated
from lowbit.units import UNITS


def run_cli(*args):
    """Run `python -m lowbit ARGS` in a fresh process: exit status, stdout, stderr."""
    done = subprocess.run([sys.executable, "-m", "lowbit", *args], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def test_units_lists_every_unit_with_its_parameters(capsys):
    assert main(["units"]) == 0
    out = capsys.readouterr().out
    for unit in UNITS:
        assert f"{unit.name}:" in out
        for p in unit.params:
            assert p.name in out and p.allowed in out


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_every_default_passes_its_own_check(unit):
    # The flow and the sweeps hand the registry's defaults back to resolve(); a default the
    # parser refuses (a derived one, shown as "auto") would break them and nothing else.
    unit = UNITS[unit]
    assert unit.resolve(unit.defaults()) == unit.resolve({})
    unelaborated(unit.build(unit.resolve(unit.defaults())))


@pytest.mark.parametrize("args, message", [
    (["generate", "dint_mac", "-p", "acc_bits=3"],
     "acc_bits=3 is out of range: acc_bits must be an integer in 4..64"),
    (["generate", "dint_mac", "-p", "acc_bits=11"],
     "acc_bits=11 is out of range: acc_bits must be an integer in 12..64 (a product needs 12 bits)"),
    (["generate", "dint_mac", "-p", "acc_bits=wide"],
     "acc_bits='wide' is not an integer: acc_bits must be an integer in 4..64"),
    (["generate", "dint_mac", "-p", "special=quarter"],
     "special='quarter' is not allowed: special must be one of half, pm_half"),
    (["generate", "dint_mac", "-p", "depth=3"], "unit dint_mac has no parameter 'depth'"),
    (["generate", "dint_mac", "-p", "acc_bits"], "parameter 'acc_bits' is not NAME=VALUE"),
    (["generate", "no_such_unit"], "unknown unit 'no_such_unit': the units are dint_mac"),
    (["sim", "dint_mac", "--simulator", "modelsim"], "invalid choice: 'modelsim'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_input_is_one_error_line_and_status_2(args, message):
    status, out, err = run_cli(*args)
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lowbit: error: "), err
    assert message in lines[0]


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_generated_verilog_is_deterministic_and_has_no_machine_paths(unit, tmp_path):
    first, second = tmp_path / "a.v", tmp_path / "b.v"
    assert main(["generate", unit, "-o", str(first)]) == 0
    status, _, err = run_cli("generate", unit, "-o", str(second))
    assert status == 0, err
    text = first.read_text()
    assert text == second.read_text()
    assert f"module {unit}(" in text
    for fragment in ("/tmp", "/root", "/home", "/work", "src ="):
        assert fragment not in text


def test_sim_reports_vectors_and_leaves_a_waveform(tmp_path):
    status, out, err = run_cli("--build", str(tmp_path), "sim", "dint_mac", "-p", "pipeline=0",
                               "--waves")
    assert status == 0, err
    verdict, waves = out.strip().splitlines()
    assert verdict.startswith("PASS dint_mac on icarus: 4 passed, 0 skipped, 0 failed; "
                              "10297 vectors")
    path = waves.removeprefix("waves: ")
    assert path.endswith(".fst") and (tmp_path / "sim").resolve().as_posix() in path


def _builds(unit, params):
    """Whether the component accepts ``params`` (built, never elaborated)."""
    try:
        unelaborated(unit.build(params))
    except ParameterError:
        return False
    return True


@pytest.fixture(scope="module")
def units_listing():
    """What `lowbit units` prints (once: it asks every component for its ranges)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["units"]) == 0
    return out.getvalue()


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_units_shows_exactly_what_the_component_accepts(unit, units_listing):
    """Every range and choice `lowbit units` lists is what the component accepts at the other
    defaults: each bound and each choice builds, the value past a bound or beside the choices
    is refused by the component itself, and a bound that depends on the other parameters is
    listed as the component states it."""
    unit, out = UNITS[unit], units_listing
    defaults = unit.resolve({})
    for p in unit.params:
        if p.derived:
            continue
        if p.choices is not None:
            for choice in p.choices:
                assert _builds(unit, dict(defaults, **{p.name: choice})), (p.name, choice)
            outside = (max(p.choices) + 1 if p.int_choices else
                       None if p.kind == "bool" else "no-such-mode")
            if outside is not None:
                assert not _builds(unit, dict(defaults, **{p.name: outside})), p.name
            continue
        lo, hi = unit.accepted_range(p.name)
        for inside in (lo, hi):
            assert _builds(unit, dict(defaults, **{p.name: inside})), (p.name, inside)
        for outside in (lo - 1, hi + 1):
            assert not _builds(unit, dict(defaults, **{p.name: outside})), (
                f"{p.name}={outside}: the component accepts it, `lowbit units` says "
                f"{lo}..{hi}")
        if (lo, hi) != (p.lo, p.hi):
            assert f"[{lo}..{hi} at the other defaults]" in out, p.name


def test_modes_are_one_declaration():
    """A mode parsed from text is the enum member the components and models compare with, and
    still reads, serialises and tags as its text."""
    overflow = UNITS["int_mac"].param("overflow").parse("saturate")
    assert overflow is Overflow.SATURATE and overflow == "saturate"
    assert json.dumps({"overflow": overflow}) == '{"overflow": "saturate"}'
    assert f"{overflow}" == "saturate"
    assert UNITS["dint_mac"].param("special").parse("pm_half") is DintCodebook.PM_HALF
    assert UNITS["exaq_softmax"].param("top").parse("zero") is ExaqTop.ZERO


def test_the_golden_model_gets_exactly_its_parameters():
    """Hardware-only parameters are not passed; a name that is no parameter is an error, never
    dropped."""
    unit = UNITS["dint_mac"]
    args = unit.golden_args(unit.resolve({}))
    assert "pipeline" not in args and {"special", "frac_bits", "act_bits"} <= set(args)
    with pytest.raises(LowbitError, match="no parameter 'acc_bitz'"):
        unit.golden_args(dict(unit.resolve({}), acc_bitz=12))


def test_a_parameter_error_carries_its_range():
    with pytest.raises(ParameterError) as caught:
        UNITS["dint_mac"].build(dict(UNITS["dint_mac"].resolve({}), acc_bits=5))
    error = caught.value
    assert (error.name, error.value, error.allowed) == ("acc_bits", 5, (12, 64))


def _options(parser, path=("lowbit",)):
    """``(command path, parser, action)`` of every option and argument in the parser tree, and
    ``(command path, parser, None)`` for each (sub)command."""
    import argparse
    yield path, parser, None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _options(child, (*path, name))
        elif not isinstance(action, argparse._HelpAction):
            yield path, parser, action


# The study programs' options (lowbit/experiments.py, golden_models/accuracy/*: issue 18 item 6
# asked of their owner, who is still adding programs) are checked and reported, but do not fail
# the test until their owner has fixed them; the test fails once they all pass, so that this
# list is emptied.
PENDING_COMMANDS = ("lowbit experiment",)


def test_every_command_and_option_explains_itself():
    """Every (sub)command has a description, every option a help text, and every numeric
    option a range check (``lowbit.cli.bounded``), or an explicit list of choices."""
    from lowbit.cli import build_parser
    missing, pending = [], []
    for path, parser, action in _options(build_parser()):
        command = " ".join(path)
        if action is None:
            if not parser.description:
                missing.append(f"{command}: no description")
            continue
        lacking = ((["no help"] if not action.help else [])
                   + (["a number without a range check"]
                      if action.type in (int, float) and not action.choices else []))
        if command.startswith(PENDING_COMMANDS):
            pending += [f"{command} {action.dest}: {what}" for what in lacking]
            continue
        missing += [f"{command} {action.dest}: {what}" for what in lacking]
    assert not missing, "\n".join(missing)
    assert pending, f"{PENDING_COMMANDS} explain themselves now: empty PENDING_COMMANDS"
    print("pending:\n" + "\n".join(pending))


def test_help_shows_the_defaults():
    status, out, _ = run_cli("flow", "--help")
    assert status == 0
    flat = " ".join(out.split())
    assert "(default: icarus)" in flat and "parallel simulation and synthesis jobs (default 2)" in flat
    status, out, _ = run_cli("--help")
    for command in ("board", "sweep", "report", "eval", "power", "prove", "waves", "experiment",
                    "asic"):
        assert f"    {command} " in out, command


@pytest.mark.parametrize("args, message", [
    (["flow", "--jobs", "0"], "argument --jobs: 0 is out of range: give an integer >= 1"),
    (["flow", "--jobs", "-3"], "argument --jobs: -3 is out of range: give an integer >= 1"),
    (["flow", "--jobs", "two"], "argument --jobs: 'two' is not an integer >= 1"),
    (["sweep", "x.toml", "--jobs", "0"], "argument --jobs: 0 is out of range"),
    (["sim", "dint_mac", "--seed", "-1"], "argument --seed: -1 is out of range: give an integer in 0..4294967295"),
    (["power", "dint_mac", "--clock", "0"], "argument --clock: 0 is out of range: give a number above 0"),
    (["power", "dint_mac", "--clock", "inf"], "argument --clock: inf is out of range"),
    (["power", "dint_mac", "--clock", "nan"], "argument --clock: nan is out of range"),
    (["power", "dint_mac", "--cycles", "0"], "argument --cycles: 0 is out of range: give an integer >= 1"),
    (["board", "dint_mac", "--board", "icebreaker", "--baud", "0"], "argument --baud: 0 is out of range"),
    (["eval", "--damp", "-0.5"], "argument --damp: -0.5 is out of range: give a number >= 0"),
    (["eval", "--n-grid", "0"], "argument --n-grid: 0 is out of range: give an integer >= 1"),
    (["asic", "--delay-ps", "0"], "argument --delay-ps: 0 is out of range: give an integer >= 1"),
])
def test_bad_numeric_option_is_one_error_line_and_status_2(args, message):
    status, out, err = run_cli(*args)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lowbit: error: "), err
    assert message in lines[0], lines[0]
