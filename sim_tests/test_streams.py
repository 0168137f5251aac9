"""The shared test machinery: the stream objects (sim_tests/streams.py, exercised by the cocotb
tests of sim_tests/tb_streams.py on a real unit) and the first-mismatch comparison."""

import dataclasses

import numpy as np
import pytest

from lowbit.sim_tests import runner
from lowbit.sim_tests.streams import random_pauses, stream_ports
from lowbit.sim_tests.tb_support import expect_equal, first_mismatch
from lowbit.units import UNITS


def test_first_mismatch_names_the_first_wrong_item_and_its_inputs():
    got, expected = np.array([1, 2, 3, 5, 6]), np.array([1, 2, 4, 5, 7])
    assert first_mismatch("sums", expected, expected) is None
    assert first_mismatch("sums", got, expected, item="beat", weight=[9, 8, 7, 6, 5]) == (
        "sums: 2 of 5 wrong; first at beat 2 (weight 7): got 3, expected 4")
    assert first_mismatch("sums", got[:4], expected) == "sums: 4 items for 5 expected"


def test_first_mismatch_of_matrices_and_wide_integers():
    a, b = np.zeros((3, 2, 2), dtype=int), np.zeros((3, 2, 2), dtype=int)
    b[1, 0, 1] = 1
    assert first_mismatch("results", a, b, item="job") == (
        "results: 1 of 3 wrong; first at job 1: got [[0, 0], [0, 0]], expected [[0, 1], [0, 0]]")
    wide = [1 << 70, 3]
    assert first_mismatch("words", wide, [1 << 70, 4], fmt=hex) == (
        "words: 1 of 2 wrong; first at item 1: got 0x3, expected 0x4")
    with pytest.raises(AssertionError, match="first at item 1"):
        expect_equal("words", wide, [1 << 70, 4])
    assert expect_equal("words", wide, list(wide)) == 2


def test_pause_generators_and_stream_ports():
    rng = np.random.default_rng(1)
    assert random_pauses(rng, 0) is None
    always = random_pauses(rng, 1)
    assert all(next(always) for _ in range(10))
    pauses = random_pauses(rng, 0.3)
    share = np.mean([next(pauses) for _ in range(4000)])
    assert 0.27 < share < 0.33
    ports = ["clk", "rst", "i__valid", "i__ready", "i__payload", "o__valid", "o__ready",
             "o__payload", "valid", "cfg__valid", "cfg__payload"]
    assert stream_ports(ports) == ["i", "o"]


def test_stream_objects_in_simulation(build_root):
    """The cocotb tests of tb_streams.py: random pauses carry every word, a reset drops valid
    and ready, and the monitor fails a test on each broken stream rule."""
    unit = dataclasses.replace(UNITS["pot_dequant"], testbench="lowbit.sim_tests.tb_streams")
    result = runner.simulate(unit, {}, "icarus", build_root=build_root / "streams")
    assert result.ok and result.tests == 5, f"{result.failed} of {result.tests} failed: see {result.log}"
