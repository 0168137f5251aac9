"""pytest set-up shared by the suite: one build folder for every simulation of a session."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def build_root(worker_id):
    """Simulation and synthesis outputs of the test session, under the repo's build/ folder
    (ignored by git), so that a failing test's logs can be read afterwards. Each pytest-xdist
    worker has its own folder: two workers may simulate the same unit at the same parameters."""
    root = Path(__file__).resolve().parent.parent / "build" / "tests"
    if worker_id != "master":
        root = root / worker_id
    root.mkdir(parents=True, exist_ok=True)
    return root


def pytest_sessionstart(session):
    """Compile each YoWASP tool once, before any worker starts. A YoWASP tool's first run
    compiles its WebAssembly and writes the machine code to a cache file that later runs map;
    two first runs at once (two pytest-xdist workers on a fresh machine) let one map the file
    the other is still writing, and it dies of SIGBUS (exit status -7). Asking each tool its
    version here, in the controller alone, writes every cache file before the workers start
    (`lowbit flow` does the same before its jobs: it records the versions first)."""
    if not hasattr(session.config, "workerinput"):   # the controller, or a run without xdist
        from concurrent.futures import ThreadPoolExecutor

        from lowbit.synth.tools import TOOLS, tool_version
        with ThreadPoolExecutor(len(TOOLS)) as pool:   # three caches, one writer each
            list(pool.map(tool_version, TOOLS))


def pytest_terminal_summary(terminalreporter):
    """Every SymbiYosys proof's status and time (sim_tests/test_formal.py records them as the
    user property ``formal_proof``; reports carry them from pytest-xdist workers too)."""
    rows = [value for reports in terminalreporter.stats.values() for report in reports
            if getattr(report, "when", None) == "call"
            for name, value in getattr(report, "user_properties", ()) if name == "formal_proof"]
    if rows:
        from lowbit.sim_tests.formal import format_table
        terminalreporter.write_sep("-", "formal proofs (SymbiYosys)")
        terminalreporter.write_line(format_table(rows))
