"""pytest set-up shared by the suite: one build folder for every simulation of a session."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def build_root():
    """Simulation and synthesis outputs of the test session, under the repo's build/ folder
    (ignored by git), so that a failing test's logs can be read afterwards."""
    root = Path(__file__).resolve().parent.parent / "build" / "tests"
    root.mkdir(parents=True, exist_ok=True)
    return root

