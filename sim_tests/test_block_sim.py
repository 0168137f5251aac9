# amaranth: UnusedElaboratable=no
"""The attention block (hdl/attention_block.py, docs/block.md) in cocotb through
sim_tests/tb_block.py, bit-exact against the integer model (golden_models/block): a short
sentence of random data at a small engine size in the default suite; every configuration, a
real MiniLM sentence and the full 384-wide layer under ``-m slow``. Plus what needs no
simulator: parameter errors and the cycle formula's pieces."""

import pytest

from lowbit.core.params import ParameterError
from lowbit.golden_models.block import CONFIGS
from lowbit.hdl.attention_block import AttentionBlock
from lowbit.hdl.component import unelaborated
from lowbit.sim_tests.cases import BOTH, ICARUS, sim_cases
from lowbit.sim_tests.runner import simulate
from lowbit.units import UNITS

SLOW = pytest.mark.slow
# The four configurations of issue 17 at a small size (max_tokens 8: the model's default).
_SMALL = {"d_model": 32, "heads": 2, "lanes": 8, "max_tokens": 8}
CASES = [
    ("attention_block", {}, ("verilator",)),
    # The bit-plane engine (W2A8 projections, Q K^T and P V at 8 bits on the same engine).
    ("attention_block", {"engine": "bitplane", "softmax": "exaq2"}, ("verilator",)),
    # Score rows shorter than the EXAQ softmax's row time (one beat a score at 16 lanes):
    # the sequencer paces them, and the formula holds.
    ("attention_block", {"engine": "dint", "softmax": "exaq3", "lanes": 16}, ("verilator",)),
    *[("attention_block", {"engine": f.engine, "softmax": f.softmax, **_SMALL}, ICARUS, SLOW)
      for name, f in CONFIGS.items()],
    # Narrow engine, one head, tokens not a multiple of the lanes (padded P V beats).
    ("attention_block", {"engine": "pot", "softmax": "exaq2", "lanes": 4, "d_model": 16,
                         "heads": 1, "max_tokens": 10}, ICARUS, SLOW),
]

TESTS = {"layer_bit_exact", "layer_under_stalls", "reset_in_flight"}


def _cases(cases):
    # sim_cases runs every case on Icarus too; the default case runs on Verilator only (an
    # Icarus run of the defaults is in the slow set), to keep the default suite's cost low.
    return [p for p in sim_cases(cases)
            if not (p.values[1] == {} and p.values[2] == "icarus")]


@pytest.mark.parametrize("unit, params, simulator", _cases(CASES))
def test_block(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    tests = {d["test"]: d for d in result.details}
    assert set(tests) == TESTS
    exact = tests["layer_bit_exact"]
    assert exact["checked"] == exact["sent"] > 0


@SLOW
def test_block_defaults_icarus(build_root):
    result = simulate(UNITS["attention_block"], {}, "icarus", build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"


@pytest.mark.parametrize("params, name", [
    ({"engine": "fp8"}, "engine"),
    ({"softmax": "exaq4"}, "softmax"),
    ({"lanes": 3}, "lanes"),
    ({"d_model": 40}, "lanes"),        # head_dim 20: not a multiple of the 8 lanes
    ({"d_model": 400}, "d_model"),
    ({"d_model": 36, "heads": 8}, "heads"),
    ({"heads": 13}, "heads"),
    ({"max_tokens": 1}, "max_tokens"),
    ({"in_frac": 12}, "in_frac"),
])
def test_bad_parameters_one_line(params, name):
    with pytest.raises(ParameterError) as error:
        AttentionBlock(**params)
    assert error.value.name == name
    assert "\n" not in str(error.value) and name in str(error.value)


def test_cycle_formula_pieces():
    """The formula's phases add up; its projections are the projection engine's beats; the
    attention phases are the attention beats plus 2 cycles a head where the rows are long,
    and more where the sequencer paces short score rows to the softmax's row time or the
    context waits for a P row (tb_block checks the whole against the simulation)."""
    block = unelaborated(AttentionBlock(d_model=64, heads=2, lanes=8, max_tokens=8))
    for tokens in (1, 2, 5, 8):
        phases = block.phase_cycles(tokens)
        beats = block.engine_beats(tokens)
        assert block.cycles(tokens) == sum(phases.values())
        assert phases["qkv"] + phases["out"] == beats["proj"]
        idle = phases["scores"] + phases["context"] - 2 * block.heads - beats["aa"]
        row = tokens * block.head_beats
        period = block.score_row_cycles(tokens)
        assert period == max(row, block.sm.cycles_per_row(tokens))
        assert idle == 0 if tokens >= 5 else idle > 0, (tokens, idle)
        assert idle >= block.heads * (tokens - 1) * (period - row)


@pytest.mark.parametrize("argv, option", [
    (["--config", "fp4-exaq3"], "--config"),
    (["--config", "int8-fixed", "--lanes", "12"], "--lanes"),
    (["--config", "int8-fixed", "--sentence", "240"], "--sentence"),
    (["--config", "int8-fixed", "--layer", "6"], "--layer"),
    ([], "--config"),
])
def test_lowbit_block_bad_arguments_one_line(argv, option, capsys):
    from lowbit.cli import main
    assert main(["block", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and option in err


@SLOW
@pytest.mark.parametrize("config", list(CONFIGS))
def test_block_minilm_full_layer(config, build_root, capsys):
    """The full 384-wide layer (12 heads) on a real sentence through ``lowbit block``:
    Verilator, bit-exact against block_forward, cycles equal to the formula."""
    from lowbit.cli import main
    assert main(["--build", str(build_root), "block", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "bit-exact" in out and ", exact)" in out
