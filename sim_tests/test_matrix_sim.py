"""The binary tensor-core array and the INT8 array in cocotb, bit-exact against their golden
models: precision grid with exact cycle counts, random stalls, reset, and real MiniLM weight
and activation slices quantized to W2A8 and W4A4."""

import numpy as np
import pytest

from lowbit.sim_tests.cases import BOTH, ICARUS, sim_cases
from lowbit.sim_tests.mutants import MutantSet, _m
from lowbit.sim_tests.runner import simulate
from lowbit.units import UNITS

CASES = [
    # Verilator takes over 20 minutes to compile the 4 x 4 x 32 array's C++ on the shared
    # 2-core machine: it runs the (smaller) p_max = 3 case below and the MiniLM tiles.
    ("btc_array", {}, ICARUS),
    # p_max, q_max not powers of two: a plane index one bit too narrow shows here
    ("btc_array", {"rows": 2, "cols": 3, "k_slice": 8, "p_max": 3, "q_max": 5,
                   "max_slices": 3}, BOTH),
    ("btc_array", {"rows": 3, "cols": 2, "k_slice": 9, "p_max": 5, "q_max": 3,
                   "levels_per_stage": 1}, ICARUS),
    ("btc_array", {"rows": 1, "cols": 5, "k_slice": 16, "p_max": 4, "q_max": 2,
                   "max_slices": 1}, ICARUS),
    ("btc_array", {"rows": 3, "cols": 1, "k_slice": 256, "p_max": 1, "q_max": 1,
                   "max_slices": 4}, ICARUS),
    # 8 x 8 cells with narrow slices (8 x 8 x 32 takes 6 minutes in Icarus; this one 80 s, so
    # it runs under -m slow and the default suite keeps its 15 minutes)
    ("btc_array", {"rows": 8, "cols": 8, "k_slice": 8, "max_slices": 4}, ICARUS,
     pytest.mark.slow),
    ("int_array", {}, BOTH),
    ("int_array", {"rows": 1, "cols": 16, "acc_bits": 18}, ICARUS),
]


@pytest.mark.parametrize("unit, params, simulator", sim_cases(CASES))
def test_matrix(unit, params, simulator, build_root):
    result = simulate(UNITS[unit], params, simulator, build_root=build_root / "sim")
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    required = {"precision_grid_cycle_exact", "random_jobs_with_stalls",
                "reset_in_the_middle_of_a_job"}
    if unit == "btc_array":
        required.add("back_to_back_jobs_take_p_q_slices_cycles")
    assert required <= {d["test"] for d in result.details}


def minilm_jobs(path, rows=4, cols=4, k=128):
    """W2A8 and W4A4 jobs from MiniLM: the first ``rows`` output channels of layer 0's query
    projection (first ``k`` inputs) and the captured inputs of that layer for ``cols`` tokens,
    quantized with the ABQ quantizer (unsigned codes; zero points stay outside the array)."""
    from lowbit.golden_models.abq import quantize_activations, quantize_weights
    from lowbit.golden_models.accuracy.minilm import MiniLM
    from lowbit.golden_models.accuracy.sentences import load_sentences
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


# 4 x 4 tiles at the defaults on Icarus, 2 x 2 tiles of the same matrices on Verilator (its
# build of the 4 x 4 array takes over 20 minutes here).
@pytest.mark.parametrize("simulator, size", [("icarus", 4), ("verilator", 2)])
def test_real_minilm_slices_through_the_array(simulator, size, build_root, tmp_path):
    jobs = minilm_jobs(tmp_path / "minilm_jobs.npz", rows=size, cols=size)
    result = simulate(UNITS["btc_array"], {"rows": size, "cols": size}, simulator,
                      build_root=build_root / "sim", extra_env={"LOWBIT_JOBS": str(jobs)})
    assert result.ok, f"{result.failed} of {result.tests} tests failed: see {result.log}"
    real = [d for d in result.details if d["test"] == "real_data_jobs"]
    assert real and real[0]["jobs"] == 2


# The mutants of btc_array (sim_tests/mutation.py runs them; the registry names this set), each
# an edit of hdl/btc_array.py: (id, kind, find, replace, what).
BTC_ARRAY_MUTANTS = MutantSet(
    checks=(
        'test_matrix_sim.py::test_matrix[btc_array-defaults-icarus]',
        'test_matrix_sim.py::test_matrix[btc_array-rows=2-cols=3-k_slice=8-p_max=3-q_max=5-'
        'max_slices=3-icarus]',
    ),
    mutants=tuple(_m(id, "btc_array", kind, find, replace, what)
                  for id, kind, find, replace, what in (
        ('btc-sign-pair', 'operator',
         'negate = ((i == p - 1) & w_signed) ^ ((j == q - 1) & a_signed)',
         'negate = ((i == p - 1) & w_signed) | ((j == q - 1) & a_signed)',
         'a plane pair negative when either plane is a sign plane'),
        ('btc-horner-shift', 'shift',
         'acc_sum.eq((acc << 1) + done)',
         'acc_sum.eq((acc << 2) + done)',
         'the accumulator doubled twice at a new diagonal'),
        ('btc-job-start-arms', 'reset',
         'clear_acc.eq(reset | job_done)',
         'clear_acc.eq(reset)',
         'a job starts from the last job\'s result, not from 0'),
        ('btc-diagonal-clear', 'reset',
         'clear_diag.eq(reset | diagonal_done)',
         'clear_diag.eq(reset)',
         'a diagonal\'s sum carried on into the next diagonal'),
        ('btc-counter-sum', 'operator',
         'return (wire(half ^ c, n, f"{tag}_sum"),',
         'return (wire(half, n, f"{tag}_sum"),',
         'every 3:2 counter\'s sum without its third input (the first stage\'s: the AND it '
         'absorbs)'),
        ('btc-bank-full', 'handshake',
         'self.i.ready.eq(~full.bit_select(load_bank, 1))',
         'self.i.ready.eq(1)',
         'load beats into a bank still waiting to be computed'),
        ('btc-count-width', 'width',
         'self.count_bits = width.bit_length()',
         'self.count_bits = width.bit_length() - 1',
         'popcount result one bit narrower'),
        ('btc-plane-index', 'width',
         'return (n - 1).bit_length()',
         'return n.bit_length() - 1',
         'buffer address fields floor(log2 n) wide: one bit short at p_max, q_max, '
         'max_slices of 3 or 5 (right at powers of two)'),
        # (d > p - 1 would be equivalent: at d = p - 1 both arms start at (p - 1, 0))
        ('btc-diagonal-start', 'operator',
         'with m.If(d >= p - 1):',
         'with m.If(d > p):',
         'the diagonal d = p started from weight plane p, which the job does not have'),
        ('btc-negate-carry', 'carry',
         'm.d.comb += diag_sum.eq(Cat(self.negate, diag) + Cat(self.negate, wide))',
         'm.d.comb += diag_sum.eq(Cat(0, diag) + Cat(self.negate, wide))',
         'drop the +1 that completes the negation of a count'),
    )),
)


@pytest.mark.parametrize("width, levels_per_stage", [(3, 1), (5, 2), (8, 1), (8, 2), (13, 2),
                                                     (32, 2), (64, 1)])
def test_compressor_popcount(width, levels_per_stage):
    """The cells' popcount (hdl/btc_array.CompressorPopcount) in Amaranth's simulator:
    negate ? ~popcount(x AND y) : popcount(x AND y) after exactly ``stages`` cycles, one input
    pair per cycle; every pair of 3- and 5-bit operands, else random ones plus all-ones and
    alternating patterns (the largest counts)."""
    from amaranth.hdl import Module, Signal
    from amaranth.sim import Simulator

    from lowbit.hdl.btc_array import CompressorPopcount

    tree = CompressorPopcount(width, levels_per_stage)
    m = Module()
    x, y = Signal(width), Signal(width)
    flags = [Signal(name=f"negate_{n}") for n in range(tree.stages + 1)]
    for a, b in zip(flags, flags[1:]):
        m.d.sync += b.eq(a)
    with m.If(1):
        result = tree.build(m, x, y, flags[tree.stages - 2], flags[tree.stages - 1], "dut")
    ones = (1 << width) - 1
    if width <= 5:
        pairs = [(a, b) for a in range(1 << width) for b in range(1 << width)]
    else:
        rng = np.random.default_rng(width)
        pairs = [(int.from_bytes(rng.bytes(8), "little") & ones,
                  int.from_bytes(rng.bytes(8), "little") & ones) for _ in range(300)]
        pairs += [(ones, ones), (ones, 0x5555555555555555 & ones), (0, ones)]
    vectors = [(a, b, n % 3 == 1) for n, (a, b) in enumerate(pairs)]
    got = []

    async def bench(ctx):
        for cycle in range(len(vectors) + tree.stages):
            if cycle < len(vectors):
                a, b, neg = vectors[cycle]
                ctx.set(x, a)
                ctx.set(y, b)
                ctx.set(flags[0], neg)
            if cycle >= tree.stages:
                got.append(ctx.get(result))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    want = [~bin(a & b).count("1") if neg else bin(a & b).count("1") for a, b, neg in vectors]
    assert got == want
