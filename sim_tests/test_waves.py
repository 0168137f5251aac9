"""``lowbit waves`` (sim_tests/waveform/): the figure of a unit's scenario, checked against the
golden model; bad input is one error line."""

from pathlib import Path

import pytest

from lowbit.cli import main

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
