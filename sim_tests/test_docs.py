"""The documentation site: it builds with MkDocs in strict mode (a warning such as a broken link
or a page missing from the nav fails), every unit page shows its waveform, and each committed
waveform is what the waveform tool draws now, from a transaction checked against the golden
model."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lowbit.sim_tests.waveform import write
from lowbit.units import UNITS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# unit with a waveform scenario -> the page that documents its hardware (its entry's docs=)
UNIT_PAGES = {unit.name: Path(unit.docs).name for unit in UNITS if unit.scenario}


def test_site_builds_in_strict_mode(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                           "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "index.html").exists() and (site / "getting-started" / "index.html").exists()
    for unit, page in UNIT_PAGES.items():
        assert (site / "waves" / f"{unit}.svg").exists()
        html = (site / page.removesuffix(".md") / "index.html").read_text()
        assert f"waves/{unit}.svg" in html, (unit, page)


def test_every_scenario_unit_has_a_page():
    for unit, page in UNIT_PAGES.items():
        text = (DOCS / page).read_text()
        assert re.search(rf"\]\(waves/{unit}\.svg\)", text), (unit, page)


@pytest.mark.parametrize("unit", sorted(UNIT_PAGES))
def test_committed_waveform_is_current(unit, tmp_path):
    drawn, _ = write(UNITS[unit], tmp_path / f"{unit}.svg")  # simulates and checks the transaction
    committed = DOCS / "waves" / f"{unit}.svg"
    assert drawn.read_text() == committed.read_text(), \
        f"{committed} is stale: rerun `lowbit waves --all --out docs/waves`"
    assert drawn.stat().st_size < 20_000
