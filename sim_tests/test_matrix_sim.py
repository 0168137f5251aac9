"""The binary tensor-core array and the INT8 array in cocotb, bit-exact against their golden
models: precision grid with exact cycle counts, random stalls, reset, and real MiniLM weight
and activation slices quantized to W2A8 and W4A4."""

import numpy as np
import pytest

from lowbit.sim_tests.cases import BOTH, ICARUS, sim_cases
from lowbit.sim_tests.runner import simulate

CASES = [
    ("btc_array", {}, BOTH),
    ("btc_array", {"rows": 1, "cols": 5, "k_slice": 8, "p_max": 4, "q_max": 2}, ICARUS),
    ("btc_array", {"rows": 3, "cols": 1, "k_slice": 256, "p_max": 1, "q_max": 1}, ICARUS),
    ("btc_array", {"rows": 8, "cols": 8, "k_slice": 32, "acc_bits": 24}, ICARUS),
    ("int_array", {}, BOTH),
    ("int_array", {"rows": 1, "cols": 16, "acc_bits": 18}, ICARUS),
]


@pytest.mark.parametrize("unit, params, simulator", sim_cases(CASES))
def test_matrix(unit, params, simulator, build_root):
    result = simulate(unit, params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    assert {"precision_grid_cycle_exact", "random_jobs_with_stalls",
            "reset_in_the_middle_of_a_job"} <= {d["test"] for d in result.details}


def minilm_jobs(path, rows=4, cols=4, k=128):
    """W2A8 and W4A4 jobs from MiniLM: the first ``rows`` output channels of layer 0's query
    projection (first ``k`` inputs) and the captured inputs of that layer for ``cols`` tokens,
    quantized with the ABQ quantizer (unsigned codes; zero points stay outside the array)."""
    from lowbit.golden_models.abq import quantize_activations, quantize_weights
    from lowbit.golden_models.minilm import MiniLM, load_sentences
    model = MiniLM(dtype="float32")
    name = "encoder.layer.0.attention.self.query"
    captured = {}
    model.encode(load_sentences()["calibration"][:1], capture=captured)
    w = model.weight(name)[:rows, :k].astype(np.float64)
    x = captured[name][:cols, :k].astype(np.float64)
    arrays = {"count": 2}
    for n, (p, q) in enumerate([(2, 8), (4, 4)]):
        arrays[f"W_{n}"] = quantize_weights(w, p).codes
        arrays[f"A_{n}"] = quantize_activations(x, q).codes.T
        arrays[f"settings_{n}"] = np.array([p, q, 0, 0])
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_real_minilm_slices_through_the_array(simulator, build_root, tmp_path):
    jobs = minilm_jobs(tmp_path / "minilm_jobs.npz")
    result = simulate("btc_array", {}, simulator, build_root=build_root / "sim",
                      extra_env={"LOWBIT_JOBS": str(jobs)})
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    real = [d for d in result.details if d["test"] == "real_data_jobs"]
    assert real and real[0]["jobs"] == 2
