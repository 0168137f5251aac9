"""docs/api.md's examples, run as they stand: a doc that drifts from the API fails here."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

API_PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def _examples():
    return re.findall(r"```python\n(.*?)```", API_PAGE.read_text(), flags=re.S)


def test_the_page_has_its_examples():
    assert len(_examples()) == 2


def test_user_design_converts_and_matches_the_golden_model():
    exec(compile(_examples()[0], str(API_PAGE), "exec"), {"__name__": "api_example"})


def test_parameter_error_prints_one_line(capsys):
    exec(compile(_examples()[1], str(API_PAGE), "exec"), {"__name__": "api_example"})
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("acc_bits=3 is out of range"), out


def test_a_refused_parameter_leaves_no_unused_elaboratable_warning():
    # In a fresh interpreter, so that the warning Amaranth gives at collection (or at exit)
    # cannot be hidden by pytest's own warning capture.
    done = subprocess.run([sys.executable, "-W", "always", "-c", _examples()[1]],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("acc_bits=3 is out of range")
    assert "UnusedElaboratable" not in done.stderr, done.stderr


def test_a_block_built_for_its_formulas_is_marked_with_its_parts():
    """``unelaborated``: the attention block and the sub-units it builds in ``__init__``
    (engines, softmax, requant), read for their cycle formulas only, are all marked as used,
    so dropping them gives no ``UnusedElaboratable`` warning; before, none of them was."""
    from lowbit.hdl.attention_block import AttentionBlock
    from lowbit.hdl.component import unelaborated
    block = AttentionBlock(d_model=64, heads=2, lanes=8, max_tokens=8)
    parts = [block, block.proj, block.aa, block.sm, block.requant]
    assert not any(part._MustUse__used for part in parts)
    assert unelaborated(block) is block and block.cycles(8) > 0
    assert all(part._MustUse__used for part in parts)
