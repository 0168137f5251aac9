"""The command line and the generated Verilog: listings, determinism and bad input (lint:
test_portability.py)."""

import subprocess
import sys

import pytest

from lowbit.cli import main
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
    unit.build(unit.resolve(unit.defaults()))


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
    assert verdict.startswith("PASS dint_mac on icarus: 4/4 tests passed, 10297 vectors")
    path = waves.removeprefix("waves: ")
    assert path.endswith(".fst") and (tmp_path / "sim").resolve().as_posix() in path
