"""The simulation runner's own behaviour (sim_tests/runner.py): what it says when a build fails."""

import pytest

from lowbit.core.errors import LowbitError
from lowbit.sim_tests import runner
from lowbit.units import UNITS


def test_a_failed_build_names_its_compile_error(monkeypatch, tmp_path):
    """Icarus refusing the Verilog: one line with the compiler's own error and the log's path."""
    monkeypatch.setattr(runner, "to_verilog", lambda component, name: f"module {name}(;\nendmodule\n")
    with pytest.raises(LowbitError) as error:
        runner.simulate(UNITS["int_mac"], {}, "icarus", build_root=tmp_path)
    message = str(error.value)
    assert "\n" not in message and message.startswith("icarus could not build int_mac: ")
    assert "syntax error" in message and message.endswith("build.log")
