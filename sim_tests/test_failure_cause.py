"""Every failure names its cause in one line (lowbit.core.logs), read from captured excerpts of
each kind of log (sim_tests/data/logs/): a tool crash's own message beats the last line of the
tool's log, and the line names the log that held it."""

from pathlib import Path

import pytest

from lowbit.core.logs import explain, failure_cause

LOGS = Path(__file__).resolve().parent / "data" / "logs"


@pytest.mark.parametrize("logs, cause", [
    # Yosys killed by a WebAssembly trap: its own log stops mid-TECHMAP, the trap is on stdout
    (["yosys-wasm-trap.log", "yosys-wasm-trap.stdout"],
     "crashed: wasm trap: call stack exhausted in Yosys::TopoSort"),
    (["yosys-syntax-error.log"], "ERROR: syntax error, unexpected TOK_ENDMODULE"),
    (["yosys-check-error.log"], "ERROR: Found 1 problems in 'check -assert'."),
    (["nextpnr-json.log"],
     "ERROR: JSON file 'empty.json' doesn't look like a netlist (doesn't contain \"modules\" key)"),
    (["nextpnr-place.log"], "ERROR: Unable to place cell 'cells.7.acc_SB_LUT4_O_12', no BELs "
                            "remaining to implement cell type 'ICESTORM_LC'"),
    (["sby-assert-failed.log"],
     "Assert failed in top: /work/sim_tests/formal/mac.py:41 (_witness_.check_60)"),
    (["sby-solver-error.log"], "ERROR: engine_0: Engine terminated without status"),
    (["cocotb-test-failed.log"],
     "test random_accumulation failed: AssertionError: acc differs from the golden model at "
     "beat 1817: got -32768, expected 32767 (overflow=saturate)"),
    (["verilator-build.log"], "%Error: /work/build/sim/int_mac-743c82f58b/verilator/int_mac.v:3:1: "
                              "syntax error, unexpected endmodule, expecting ',' or ';'"),
    (["icarus-build.log"], "/work/build/sim/int_mac-743c82f58b/icarus/int_mac.v:3: syntax error"),
    (["gxx-build.log"], "Vtop__ALL.cpp:1234:5: error: 'vlSymsp' was not declared in this scope"),
])
def test_the_cause_of_each_kind_of_failure_is_one_line(logs, cause):
    paths = [LOGS / name for name in logs]
    found, where = failure_cause(*paths)
    assert found == cause
    assert where in paths
    message = explain("yosys failed (exit status 1)", *paths)
    assert message == f"yosys failed (exit status 1): {cause}; full log: {where}"
    assert "\n" not in message


def test_the_crash_wins_over_the_tools_own_log_whichever_comes_first():
    trap = LOGS / "yosys-wasm-trap.stdout"
    assert failure_cause(LOGS / "yosys-wasm-trap.log", trap)[1] == trap
    assert failure_cause(trap, LOGS / "yosys-syntax-error.log")[1] == trap


def test_no_cause_still_names_the_log(tmp_path):
    quiet = tmp_path / "harness.log"
    quiet.write_text("2.47.2. Continuing TECHMAP pass.\n")
    assert failure_cause(quiet, tmp_path / "missing.stdout") == (None, None)
    assert explain("yosys failed (exit status 1)", tmp_path / "missing.stdout", quiet) == \
        f"yosys failed (exit status 1); full log: {quiet}"


def test_a_long_cause_is_cut_to_one_readable_line():
    cause, _ = failure_cause("ERROR: " + "x" * 1000 + "\n")
    assert len(cause) == 300 and cause.endswith("...")


def test_a_failing_yosys_run_raises_its_cause_and_log(tmp_path):
    from lowbit.core.errors import LowbitError
    from lowbit.synth.tools import run_tool
    (tmp_path / "bad.v").write_text("module top(input a, output y);\n  assign y = a & b\nendmodule\n")
    (tmp_path / "bad.ys").write_text("read_verilog bad.v\nsynth -top top\n")
    with pytest.raises(LowbitError) as error:
        run_tool("yosys", ["-q", "-l", "bad.log", "-s", "bad.ys"], cwd=tmp_path, log="bad.stdout",
                 error_log="bad.log")
    message = str(error.value)
    assert message.startswith("yosys failed (exit status 1): ERROR: syntax error, unexpected "), message
    assert message.endswith(f"; full log: {tmp_path / 'bad.log'}") and "\n" not in message


def test_a_failing_simulation_prints_its_cause(monkeypatch, tmp_path, capsys):
    """`lowbit sim` on a failing testbench: the verdict line, then the failed test's exception
    and the log (the runner is replaced by one that returns the captured cocotb log)."""
    import shutil

    from lowbit.cli import main
    from lowbit.sim_tests import runner
    log = tmp_path / "sim.log"
    shutil.copy(LOGS / "cocotb-test-failed.log", log)

    def failing(unit, params, simulator, **_):
        return runner.SimResult(unit=unit.name, params=params, simulator=simulator, tests=4,
                                failed=1, vectors=10, seconds=1.0, log=log)

    monkeypatch.setattr(runner, "simulate", failing)
    assert main(["--build", str(tmp_path), "sim", "pot_mac"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL pot_mac on icarus: 3 passed, 0 skipped, 1 failed")
    assert out[1] == ("  pot_mac on icarus: test random_accumulation failed: AssertionError: acc "
                      "differs from the golden model at beat 1817: got -32768, expected 32767 "
                      f"(overflow=saturate); full log: {log}")


def test_the_flow_prints_a_failing_simulations_cause(monkeypatch, tmp_path, capsys):
    """`lowbit flow`: a failing simulation's progress line and its summary row carry the
    failed test's exception; the progress line names the log."""
    import shutil

    from lowbit.core.errors import LowbitError
    from lowbit.flow import run_flow
    from lowbit.sim_tests import runner
    log = tmp_path / "sim.log"
    shutil.copy(LOGS / "cocotb-test-failed.log", log)
    cause = ("test random_accumulation failed: AssertionError: acc differs from the golden "
             "model at beat 1817: got -32768, expected 32767 (overflow=saturate)")

    def failing(unit, params, simulator, **_):
        return runner.SimResult(unit=unit.name, params=params, simulator=simulator, tests=4,
                                failed=1, vectors=10, seconds=1.0, log=log)

    def not_built(*_, **__):   # the synthesis is not what this test is about
        raise LowbitError("not synthesized in this test")

    monkeypatch.setattr(runner, "simulate", failing)
    monkeypatch.setattr("lowbit.flow.best_synth", not_built)
    assert run_flow(targets=["generic"], build=tmp_path, jobs=1, units=["pot_mac"]) == 1
    captured = capsys.readouterr()
    progress = [line for line in captured.err.splitlines() if "FAIL sim pot_mac" in line]
    assert len(progress) == 1 and progress[0].endswith(f"{cause}; full log: {log}"), progress
    summary = [line for line in captured.out.splitlines() if line.startswith("  FAIL pot_mac")]
    assert len(summary) == 1 and summary[0].endswith(f"; {cause}"), summary
