"""dint_dot: its golden model against the spec's codebook by hand, the unit in cocotb on both
simulators (sim_tests/tb_dot.py: exact latency, full throughput, random stalls, reset in
flight), and a MiniLM layer through it: weights quantized to dINT4 by the accuracy table's
quantizer and captured INT8 activations, every beat's sum and every dot product exact."""

from fractions import Fraction
from functools import cache

import numpy as np
import pytest

from lowbit.golden_models.dint import DintFormat, quantize_dint, quantize_int
from lowbit.golden_models.dint_dot import DintDot, lane_beats
from lowbit.sim_tests.cases import BOTH, ICARUS, SLOW_VERILATOR, sim_cases
from lowbit.sim_tests.runner import simulate
from lowbit.units import UNITS

VARIANTS = [(s, f) for s in ("half", "pm_half") for f in (1, 2)]
STREAM_TESTS = {"exact_latency_and_full_throughput", "random_stalls_on_both_streams",
                "reset_drops_items_in_flight"}


def spec_value(special, frac_bits, code):
    """SPEC.md's dINT4 value of a code, as an exact fraction (docs/dint.md's table)."""
    if code == 8:
        return Fraction(1 if special == "half" else -1, 2**frac_bits)
    if code == 7 and special == "pm_half":
        return Fraction(1, 2**frac_bits)
    return Fraction(code - 16 if code > 8 else code)


@pytest.mark.parametrize("special, frac_bits", VARIANTS)
def test_golden_dot_is_the_exact_fixed_point_sum(special, frac_bits):
    model = DintDot(lanes=8, special=special, frac_bits=frac_bits)
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 16, (200, 8))
    acts = rng.integers(-128, 128, (200, 8))
    acts[:20] = -128
    codes[:10] = 8 if special == "half" else 9   # the extremes: +-1/2 x -128, -7 x -128
    got = model.dot(codes, acts)
    for beat in range(200):
        exact = sum(spec_value(special, frac_bits, int(c)) * int(a)
                    for c, a in zip(codes[beat], acts[beat]))
        assert Fraction(int(got[beat]), 2**frac_bits) == exact


def test_golden_widths():
    # |value x 2^f x a| <= 7 x 2 x 128 = 1792: 12 bits a lane; 8 lanes: 14336, 15 bits
    assert DintDot().product_bits == 12 and DintDot().sum_bits == 15
    assert DintDot(lanes=64, frac_bits=2, act_bits=16).sum_bits == 4 + 16 + 1 + 6


def test_lane_beats_rebuild_the_matmul():
    rng = np.random.default_rng(1)
    w, a = rng.integers(0, 16, (5, 13)), rng.integers(-128, 128, (3, 13))
    weights, acts = lane_beats(w, a, lanes=4)
    assert weights.shape == acts.shape == (3 * 5 * 4, 4)
    model = DintDot(lanes=4)
    sums = model.dot(weights, acts).reshape(3, 5, 4).sum(axis=-1)
    assert np.array_equal(sums, a @ model.format.decode_scaled(w).T)


CASES = [
    ("dint_dot", {}, BOTH),
    ("dint_dot", {"lanes": 5, "special": "pm_half", "frac_bits": 2}, ICARUS),
    ("dint_dot", {"lanes": 64, "special": "pm_half", "frac_bits": 1, "act_bits": 16}, ICARUS),
    ("dint_dot", {"lanes": 4, "special": "half", "frac_bits": 2, "act_bits": 2}, ICARUS),
    ("dint_dot", {"fused": True}, ICARUS),
    ("dint_dot", {"fused": True}, *SLOW_VERILATOR),
    ("dint_dot", {"lanes": 6, "special": "pm_half", "frac_bits": 2, "act_bits": 5,
                  "fused": True}, ICARUS),
]


@pytest.mark.parametrize("unit, params, simulator", sim_cases(CASES))
def test_dint_dot(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    assert {d["test"] for d in result.details} == STREAM_TESTS


# --- MiniLM data -----------------------------------------------------------------------------

LAYER = "encoder.layer.0.attention.self.query"


@cache
def minilm_layer(layer=LAYER, special="half", frac_bits=1, n_sentences=2):
    """A MiniLM layer's weights quantized to dINT4 by the accuracy table's quantizer
    (``quantize_dint``, per output channel, the MSE-optimal clip on its default grid) and the
    layer's input on real sentences, captured in the forward pass and quantized to INT8 per
    token as the table's ``a8`` rows do (symmetric, max-scale). Returns ``(codes (out, in),
    act_codes (tokens, in))``."""
    from lowbit.golden_models.accuracy.minilm import MiniLM
    from lowbit.golden_models.accuracy.sentences import evaluation_texts, load_sentences
    model = MiniLM()
    captured = {}
    model.encode(evaluation_texts(load_sentences())[:n_sentences], capture=captured)
    codes, _ = quantize_dint(model.weight(layer), DintFormat(special, frac_bits))
    act_codes, _ = quantize_int(captured[layer], 8, search=False)
    return codes, act_codes


def run_minilm(tmp_path, build_root, simulator, params, channels, tokens):
    codes, act_codes = minilm_layer(special=params["special"], frac_bits=params["frac_bits"])
    codes, act_codes = codes[:channels], act_codes[:tokens]
    weights, acts = lane_beats(codes, act_codes, params["lanes"])
    beats = tmp_path / "beats.npz"
    np.savez(beats, weights=weights, acts=acts)
    result = simulate(UNITS["dint_dot"], params, simulator, build_root=build_root / "sim-minilm",
                      extra_env={"LOWBIT_DOT_BEATS": str(beats)})
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    real = {d["test"]: d for d in result.details}["real_data_beats"]
    assert real["checked"] == len(weights)
    # The beats' sums (checked against the golden model in the bench) add up to the layer's
    # integer matmul: the same numbers the accuracy table's dINT4 x INT8 layer computes.
    model = DintDot(lanes=params["lanes"], special=params["special"],
                    frac_bits=params["frac_bits"])
    chunks = -(-codes.shape[1] // params["lanes"])
    dots = model.dot(weights, acts).reshape(len(act_codes), len(codes), chunks).sum(axis=-1)
    assert np.array_equal(dots, act_codes @ model.format.decode_scaled(codes).T)
    return len(weights)


def test_minilm_slice_through_dint_dot(tmp_path, build_root):
    """4 output channels x 2 tokens of layer 0's query projection (384 inputs: 96 beats)."""
    params = {"lanes": 8, "special": "pm_half", "frac_bits": 1, "act_bits": 8, "fused": True}
    assert run_minilm(tmp_path, build_root, "icarus", params, channels=4, tokens=2) == 4 * 2 * 48


@pytest.mark.slow
@pytest.mark.parametrize("special, frac_bits", [("half", 1), ("pm_half", 2)])
def test_minilm_full_layer_through_dint_dot(tmp_path, build_root, special, frac_bits):
    """Every output channel of the layer on 8 tokens (Verilator: 147,456 beats)."""
    params = {"lanes": 8, "special": special, "frac_bits": frac_bits, "act_bits": 8}
    assert run_minilm(tmp_path, build_root, "verilator", params, channels=384, tokens=8) \
        == 384 * 8 * 48
