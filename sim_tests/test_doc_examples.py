"""The docs are tested: every console example in docs/*.md and README.md (a fenced block whose
first line is ``$ lowbit ...``, the rest its output) is run as written and must print what the
page shows, so a page that drifts from the program fails.

A page's examples run in order in one fresh folder (the page is a session: `lowbit report`
reports the sweep run above it), with ``sweeps/`` of the repository beside it. Volatile
figures are masked on both sides: times (``35.2 s``) and the folder the commands ran in (a
path in the output is shown as ``.../build/...``). A line ``...`` alone in a page's output
stands for any lines (an abridged listing). Examples whose commands take more than a few
seconds (simulation, synthesis, sweeps, board builds, and what follows them on the page) run
under ``-m slow``; the default suite runs the rest.

Also: no page refers to a file outside the repository (the old ``SPEC.md`` beside it, a
``../shared/`` path): the specification is docs/spec.md.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

# Commands quick enough for the default suite (a page's examples after the first slower one
# depend on it, so they run only in the slow test of that page).
FAST = ("units", "generate")

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_TIME = re.compile(r"\b\d+(\.\d+)? s\b")


def examples(page):
    """``[(line, command, expected output lines)]`` of the console examples on ``page``."""
    text = page.read_text()
    found = []
    for block in _FENCE.finditer(text):
        lines = block.group(1).splitlines()
        if lines and lines[0].startswith("$ lowbit"):
            line = text[:block.start()].count("\n") + 2
            found.append((line, lines[0][2:], lines[1:]))
    return found


def _mask(text):
    return _TIME.sub("<time> s", text)


def matches(expected, actual):
    """Whether the ``actual`` output lines are the ``expected`` ones (``...`` = any lines)."""
    pattern = "".join(r"(?:.*\n)*?" if line.strip() == "..." else re.escape(_mask(line.rstrip()))
                      + r"\n" for line in expected)
    return re.fullmatch(pattern, "".join(_mask(line.rstrip()) + "\n" for line in actual)) \
        is not None


def run_example(command, folder):
    """Output lines of ``command`` (``lowbit ...``) run in ``folder``, standard output and
    error as a terminal shows them (a progress line: its last state), the folder as ``...``."""
    args = shlex.split(command)
    done = subprocess.run([sys.executable, "-m", "lowbit", *args[1:]], cwd=folder, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env={**os.environ, "COLUMNS": "100"})
    out = done.stdout.replace(f"{folder}{os.sep}", f"...{os.sep}")
    return [line.split("\r")[-1] for line in out.splitlines()]


def _page_cases():
    cases = []
    for page in PAGES:
        found = examples(page)
        if not found:
            continue
        name = page.relative_to(ROOT).as_posix()
        fast = []
        for example in found:
            if example[1].split()[1] not in FAST:
                break
            fast.append(example)
        if fast:
            cases.append(pytest.param(name, fast, id=f"{name}-fast"))
        if len(fast) < len(found):
            cases.append(pytest.param(name, found, id=f"{name}-all", marks=pytest.mark.slow))
    return cases


def _check(name, found, tmp_path):
    (tmp_path / "sweeps").symlink_to(ROOT / "sweeps")
    wrong = []
    for line, command, expected in found:
        actual = run_example(command, tmp_path)
        if not matches(expected, actual):
            wrong.append(f"{name}:{line}: `{command}` printed\n  " + "\n  ".join(actual)
                         + "\nwhere the page shows\n  " + "\n  ".join(expected))
    assert not wrong, "\n\n".join(wrong)


@pytest.mark.parametrize("name, found", _page_cases())
def test_console_example_prints_what_the_page_shows(name, found, tmp_path):
    _check(name, found, tmp_path)


def test_the_docs_have_console_examples_and_the_matcher_is_strict():
    counted = sum(len(examples(page)) for page in PAGES)
    assert counted >= 9, counted
    assert matches(["a", "...", "z (1.0 s)"], ["a", "b", "c", "z (35.2 s)"])
    assert matches(["a", "...", "z"], ["a", "z"])
    assert not matches(["a", "z"], ["a", "b", "z"])
    assert not matches(["a 12 LUTs"], ["a 13 LUTs"])


# A path the docs may name outside the repository, and why: the standard-cell library is a
# PDK file that no repository carries (docs/synthesis.md says where the flow looks for it).
OUTSIDE_ALLOWED = ("../shared/pdk/",)
OUTSIDE = re.compile(r"SPEC\.md|\.\./shared/|/work/shared|shared/SPEC")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_page_refers_to_a_file_outside_the_repository(page):
    name = page.relative_to(ROOT).as_posix()
    found = [f"{name}:{k}: {line.strip()}" for k, line in enumerate(page.read_text().splitlines(), 1)
             if OUTSIDE.search(line) and not any(ok in line for ok in OUTSIDE_ALLOWED)]
    assert not found, "link docs/spec.md instead:\n" + "\n".join(found)
