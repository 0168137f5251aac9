"""``lowbit waves`` (sim_tests/waveform/): the figure of a unit's scenario, checked against the
golden model; bad input is one error line."""

from pathlib import Path

import pytest

from lowbit.cli import main
from lowbit.units import UNITS

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("args, message", [
    ([], "name a unit (one of dint_mac, pot_mac"),
    (["nope"], "unknown unit 'nope'"),
    (["int_array"], "unit int_array has no waveform scenario"),
    (["--all", "pot_mac"], "name units or give --all, not both"),
    (["pot_mac", "dint_mac", "-o", "x.svg"], "-o/--output names one file"),
])
def test_waves_command_bad_input_is_one_line(args, message, capsys):
    assert main(["waves", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lowbit: error: {message}") and err.count("\n") == 1, err


def test_waves_command_draws_the_committed_figure(tmp_path, capsys):
    assert main(["waves", "--list"]) == 0
    assert "pot_dequant" in capsys.readouterr().out.split()
    assert main(["--build", str(tmp_path), "waves", "pot_dequant", "pot_mac"]) == 0
    out, err = capsys.readouterr()
    assert "[1/2] pot_dequant: simulating and checking" in err
    for unit in ("pot_dequant", "pot_mac"):
        drawn = tmp_path / "waves" / f"{unit}.svg"
        assert f"wrote {drawn} (" in out
        assert drawn.read_text() == (DOCS / "waves" / f"{unit}.svg").read_text()
    assert main(["waves", "pot_mac", "-o", str(tmp_path / "preview.png")]) == 0
    assert (tmp_path / "preview.png").read_bytes()[:4] == b"\x89PNG"


# Units whose dump at the defaults still has more than 10% machine-named signals, with the
# measured share (`lowbit waves --names --sources` lists the source lines
# to name). A unit leaves this list when its owner names its signals; the test fails for a
# listed unit that already passes, so the list only shrinks.
PENDING_NAMES = {
    "dint_mac": "44%", "pot_mac": "33%", "pot_dot": "79%", "dint_dot": "48%",
    "btc_array": "18%", "exaq_softmax": "54%", "softmax_fixed": "51%",
    "int_mac": "33%", "int_dot": "43%", "int_array": "30%",
    "requant": "27%", "attention_block": "51%",
}
MAX_AUTO_NAMED = 0.10


def test_auto_name_measure_tells_machine_names_from_designers():
    from lowbit.sim_tests.waveform.names import _vcd_vars, auto_named
    assert [auto_named(n) for n in ("$1", "\\$100", "$signal$10", "$auto$verilog", "is_zero$14",
                                    "acc", "i__payload.code")] == [True] * 4 + [False] * 3
    header = ("$scope module lowbit_dump_top $end\n$scope module dut $end\n"
              "$var wire 1 ! clk $end\n$var wire 4 \" $5 [3:0] $end\n$upscope $end\n"
              "$upscope $end\n$enddefinitions $end\n#0\n")
    assert _vcd_vars(header) == [("lowbit_dump_top.dut", "clk"), ("lowbit_dump_top.dut", "$5")]


@pytest.mark.parametrize("name", [unit.name for unit in UNITS])
def test_waveform_dump_names_its_signals(name):
    from lowbit.sim_tests.waveform.names import readability
    auto, total, names = readability(UNITS[name])
    share = auto / total
    if name in PENDING_NAMES:
        assert share > MAX_AUTO_NAMED, f"{name} is named now ({share:.0%}): drop it from PENDING"
        pytest.xfail(f"{auto} of {total} signals auto-named ({share:.0%}), pending")
    assert share <= MAX_AUTO_NAMED, (f"{auto} of {total} signals of {name}'s dump are machine "
                                     f"named ({share:.0%}), e.g. {names[:8]}")


def test_waves_names_command_lists_the_share_and_the_source_lines(capsys):
    assert main(["waves", "--names", "--sources", "int4_dequant"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("int4_dequant ") and "signals auto-named" in out[0]
    assert any("hdl/stream_pipeline.py:" in line for line in out[1:])
