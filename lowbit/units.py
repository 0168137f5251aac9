"""Every registered unit, its parameters and its baseline.

Adding a unit: write ``hdl/<name>.py`` (the component), ``golden_models/<name>.py`` (its
model, from SPEC.md), a cocotb testbench in ``sim_tests/``, and one entry here.
"""

from .core.params import Param
from .registry import Format, Registry, SlowCorner, Unit

__all__ = ["UNITS"]

_OVERFLOW = Param("overflow", "wrap", "accumulator overflow: two's complement wrap or saturate",
                  choices=("wrap", "saturate"))
_PIPELINE = Param("pipeline", 1, "register stages between multiplier and accumulator "
                                 "(latency = pipeline + 1)", lo=0, hi=2, golden=False)
_ACC_BITS = Param("acc_bits", 32, "signed accumulator width (at least the product width)",
                  lo=4, hi=64)
_ACT_BITS = Param("act_bits", 8, "signed activation width", lo=2, hi=16)
_ROWS = Param("rows", 4, "array rows (output channels)", lo=1, hi=16)
_COLS = Param("cols", 4, "array columns (tokens)", lo=1, hi=16)
_ARRAY_ACC_BITS = Param("acc_bits", 32, "signed result width", lo=16, hi=64)
_LANES = Param("lanes", 8, "lanes summed per beat", lo=4, hi=64)
_BITS = Param("bits", 4, "PoT code width: sign + (bits-1) exponent bits", lo=2, hi=5)
_ZERO_CODE = Param("zero_code", True, "the largest exponent index means 0",
                   choices=(False, True))


def _int8_mac_like(params):
    """The INT8 x INT8 MAC with the same accumulator, overflow mode and pipeline."""
    return dict(weight_bits=8, act_bits=params["act_bits"], acc_bits=params["acc_bits"],
                overflow=params["overflow"], pipeline=params["pipeline"])


def _row_formulas(component, params):
    """The row softmax units' cycle formulas, per row length L = 1..max_len (index 0 unused),
    for the testbench: output beats, cycles from first input to last output, row spacing."""
    lengths = range(1, params["max_len"] + 1)
    return {name: [None] + [getattr(component, name)(n) for n in lengths]
            for name in ("beats", "row_latency", "cycles_per_row")}


def _int4_mac_like(params):
    """The INT4 x INT8 MAC with the same accumulator, overflow mode and pipeline."""
    return dict(_int8_mac_like(params), weight_bits=4)


UNITS = Registry([
    Unit(
        name="dint_mac",
        summary="dINT4 weight x INT8 activation MAC (integer codes plus denormal codes)",
        source="dINT: Enhancing Computation Efficiency in LLMs through Weight and Activation "
               "Quantization (EMNLP 2023)",
        params=(
            Param("special", "half", "codebook: half = {-7..7, +2^-f}; pm_half = {-7..6, "
                                      "+-2^-f}", choices=("half", "pm_half")),
            Param("frac_bits", 1, "f: the denormal magnitude is 2^-f (1/2 or 1/4)", lo=1, hi=2),
            _ACT_BITS, _ACC_BITS, _OVERFLOW, _PIPELINE,
        ),
        component="lowbit.hdl.dint_mac:DintMac",
        golden="lowbit.golden_models.dint_mac:DintMac",
        testbench="lowbit.sim_tests.tb_mac",
        baseline="int_mac",
        baseline_params=_int8_mac_like,
        mutants="lowbit.sim_tests.mutants:DINT_MAC",
        code_bits=4,   # dINT4: the format fixes the code at 4 bits
        formats=(Format("dint4-pmq-", {"special": "pm_half", "frac_bits": 2}),
                 Format("dint4-pm-", {"special": "pm_half", "frac_bits": 1}),
                 Format("dint4-q-", {"special": "half", "frac_bits": 2}),
                 Format("dint4-", {"special": "half", "frac_bits": 1})),
        docs="docs/dint_mac.md",
    ),
    Unit(
        name="pot_mac",
        summary="power-of-two weight x INT8 activation MAC: a shift and a conditional negate",
        source="PoT: a two-step power-of-two post-training quantization of LLM weights (2025)",
        params=(_BITS, _ZERO_CODE, _ACT_BITS, _ACC_BITS, _OVERFLOW, _PIPELINE),
        component="lowbit.hdl.pot_mac:PotMac",
        golden="lowbit.golden_models.pot_mac:PotMac",
        testbench="lowbit.sim_tests.tb_mac",
        baseline="int_mac",
        baseline_params=_int4_mac_like,
        mutants="lowbit.sim_tests.mutants:POT_MAC",
        code_bits="bits",
        formats=(Format("pot4-", {"bits": 4}),),
        docs="docs/pot.md",
    ),
    Unit(
        name="pot_dot",
        summary="N-lane PoT x INT8 dot product: barrel shifts and a pipelined adder tree, "
                "streams in and out",
        source="PoT: a two-step power-of-two post-training quantization of LLM weights (2025)",
        params=(_LANES, _BITS, _ZERO_CODE, _ACT_BITS),
        component="lowbit.hdl.pot_dot:PotDot",
        golden="lowbit.golden_models.pot_dot:PotDot",
        testbench="lowbit.sim_tests.tb_dot",
        baseline="int_dot",
        baseline_params=lambda p: dict(lanes=p["lanes"], weight_bits=4, act_bits=p["act_bits"]),
        mutants="lowbit.sim_tests.mutants:POT_DOT",
        code_bits="bits",
        docs="docs/pot.md",
    ),
    Unit(
        name="pot_dequant",
        summary="PoT code + FP16 scale -> FP16 weight by exponent arithmetic, bit-exact to "
                "float16",
        source="PoT: a two-step power-of-two post-training quantization of LLM weights (2025)",
        params=(_BITS, _ZERO_CODE),
        component="lowbit.hdl.pot_dequant:PotDequant",
        golden="lowbit.golden_models.pot_dequant:PotDequant",
        testbench="lowbit.sim_tests.tb_dequant",
        baseline="int4_dequant",
        baseline_params=lambda p: {},
        mutants="lowbit.sim_tests.mutants:POT_DEQUANT",
        code_bits="bits",
        docs="docs/pot.md",
    ),
    Unit(
        name="btc_array",
        summary="binary tensor-core array (ABQ-LLM): WpAq matmul from AND/popcount bit planes, "
                "p and q chosen per job",
        source="ABQ-LLM: Arbitrary-Bit Quantized Inference Acceleration for LLMs (2024)",
        params=(_ROWS, _COLS,
                Param("k_slice", 64, "bits of K per cell and cycle", lo=8, hi=256),
                Param("p_max", 8, "largest weight precision", lo=1, hi=8),
                Param("q_max", 8, "largest activation precision", lo=1, hi=8),
                _ARRAY_ACC_BITS),
        component="lowbit.hdl.btc_array:BtcArray",
        golden="lowbit.golden_models.btc_array:BtcArray",
        testbench="lowbit.sim_tests.tb_matrix",
        baseline="int_array",
        baseline_params=lambda p: dict(rows=p["rows"], cols=p["cols"], acc_bits=p["acc_bits"]),
        throughput=lambda p: {f"W{w}A{a}": p["rows"] * p["cols"] * p["k_slice"] / (w * a)
                              for w, a in ((1, 1), (2, 8), (4, 4), (8, 8))
                              if w <= p["p_max"] and a <= p["q_max"]},
        variant="binary",
        mutants="lowbit.sim_tests.mutants:BTC_ARRAY",
        slow_corners=(SlowCorner("max", "16 x 16 cells of 255-bit slices at W8A8: ~150 s to "
                                        "generate, 8 MB of Verilog", {"rows": 2, "cols": 2}),),
        formats=(Format("w2a8-bal", job=(3, 8)), Format("w2a8", job=(2, 8)),
                 Format("w4a4", job=(4, 4))),
        docs="docs/btc_array.md",
    ),
    Unit(
        name="exaq_softmax",
        summary="EXAQ softmax: 2-4 bit codes of the clipped distance to the row max, counted "
                "per code, one reciprocal and a y table per row; streams of logit beats in and "
                "out, per-row clip and table",
        source="EXAQ: Exponent Aware Quantization for LLMs Acceleration (2024)",
        params=(
            Param("in_bits", 8, "signed logit width", lo=4, hi=16),
            Param("in_frac", 4, "fractional bits of the logits and the clip (< in_bits)",
                  lo=0, hi=15),
            Param("bits", 3, "code width b: 2^b table entries", lo=2, hi=4),
            Param("lut_frac", 10, "F: fractional bits of the exponential table", lo=4, hi=16),
            Param("out_frac", 10, "O: fractional bits of the outputs", lo=4, hi=16),
            Param("max_len", 128, "longest row (row buffer depth x epc)", lo=1, hi=4096),
            Param("top", "exp", "what the top code means: exp(-C) from the table, or 0",
                  choices=("exp", "zero")),
            Param("epc", 1, "elements per cycle (lanes per beat): 1, 2, 4 or 8", lo=1, hi=8,
                  golden=False),
        ),
        component="lowbit.hdl.exaq_softmax:ExaqSoftmax",
        golden="lowbit.golden_models.exaq_softmax:ExaqSoftmax",
        testbench="lowbit.sim_tests.tb_softmax",
        baseline="softmax_fixed",
        baseline_params=lambda p: {k: p[k] for k in ("in_bits", "in_frac", "lut_frac",
                                                     "out_frac", "max_len", "epc")},
        variant="exaq",
        testbench_meta=_row_formulas,
        mutants="lowbit.sim_tests.mutants:EXAQ_SOFTMAX",
        code_bits="bits",
        formats=(Format("exaq2", {"bits": 2}), Format("exaq3", {"bits": 3})),
        docs="docs/exaq_hardware.md",
    ),
    Unit(
        name="softmax_fixed",
        summary="baseline: fixed-point softmax with a 256-entry exponential ROM, an adder "
                "accumulation and a multiplier per lane; same streams and normalisation",
        params=(
            Param("in_bits", 8, "signed logit width", lo=4, hi=16),
            Param("in_frac", 4, "fractional bits of the logits (< in_bits)", lo=0, hi=15),
            Param("lut_frac", 10, "F: fractional bits of the exponentials", lo=4, hi=16),
            Param("out_frac", 10, "O: fractional bits of the outputs", lo=4, hi=16),
            Param("max_len", 128, "longest row (row buffer depth x epc)", lo=1, hi=4096),
            Param("epc", 1, "elements per cycle (lanes per beat): 1, 2, 4 or 8", lo=1, hi=8,
                  golden=False),
            Param("exp_index_frac", None, "G: fractional bits of the ROM index, 0..in_frac "
                                          "(auto: min(in_frac, 5))", lo=0, hi=15),
        ),
        component="lowbit.hdl.softmax_fixed:SoftmaxFixed",
        golden="lowbit.golden_models.softmax_fixed:SoftmaxFixed",
        testbench="lowbit.sim_tests.tb_softmax",
        variant="fixed",
        testbench_meta=_row_formulas,
        mutants="lowbit.sim_tests.mutants:SOFTMAX_FIXED",
        docs="docs/exaq_hardware.md",
    ),
    Unit(
        name="int_mac",
        summary="baseline: signed INT x INT MAC (INT8 x INT8 by default), the `*` operator",
        params=(
            Param("weight_bits", 8, "signed weight width", lo=2, hi=16),
            _ACT_BITS, _ACC_BITS, _OVERFLOW, _PIPELINE,
        ),
        component="lowbit.hdl.int_mac:IntMac",
        golden="lowbit.golden_models.int_mac:IntMac",
        testbench="lowbit.sim_tests.tb_mac",
        mutants="lowbit.sim_tests.mutants:INT_MAC",
        code_bits="weight_bits",
        formats=(Format("int8", {"weight_bits": 8}), Format("int4-", {"weight_bits": 4})),
        docs="docs/dint_mac.md",
    ),
    Unit(
        name="int_dot",
        summary="baseline: N-lane signed INT x INT dot product (INT4 x INT8 lanes by default)",
        params=(_LANES, Param("weight_bits", 4, "signed weight width", lo=2, hi=16), _ACT_BITS),
        component="lowbit.hdl.int_dot:IntDot",
        golden="lowbit.golden_models.int_dot:IntDot",
        testbench="lowbit.sim_tests.tb_dot",
        mutants="lowbit.sim_tests.mutants:INT_DOT",
        code_bits="weight_bits",
        docs="docs/pot.md",
    ),
    Unit(
        name="int_array",
        summary="baseline: rows x cols array of INT8 x INT8 MACs (the int_mac cell), one k per "
                "cycle",
        params=(_ROWS, _COLS, _ARRAY_ACC_BITS),
        component="lowbit.hdl.int_array:IntArray",
        golden="lowbit.golden_models.int_array:IntArray",
        testbench="lowbit.sim_tests.tb_matrix",
        throughput=lambda p: {"INT8": p["rows"] * p["cols"]},
        variant="int",
        mutants="lowbit.sim_tests.mutants:INT_ARRAY",
        slow_corners=(SlowCorner("max", "256 MAC cells, each its own Verilog module: ~20 s to "
                                        "generate, 1 MB of Verilog", {"rows": 2, "cols": 2}),),
        docs="docs/btc_array.md",
    ),
    Unit(
        name="int4_dequant",
        summary="baseline: INT4 code -> FP16, times an FP16 scale (int-to-float and FP16 "
                "multiply, round to nearest even)",
        params=(),
        component="lowbit.hdl.int4_dequant:Int4Dequant",
        golden="lowbit.golden_models.int4_dequant:Int4Dequant",
        testbench="lowbit.sim_tests.tb_dequant",
        mutants="lowbit.sim_tests.mutants:INT4_DEQUANT",
        docs="docs/pot.md",
    ),
])
