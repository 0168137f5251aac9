"""Every registered unit, its parameters and its baseline.

Adding a unit: write ``hdl/<name>.py`` (the component), ``golden_models/<name>.py`` (its
model, from docs/spec.md), a cocotb testbench in ``sim_tests/``, and one entry here whose fields
name the rest (scenario, proofs, mutants, workload, docs page, ...); docs/adding-a-unit.md
lists every place, the generated files included.
"""

from .core.modes import DintCodebook
from .core.unit_params import (ACC_BITS, ACT_BITS, ARRAY_ACC_BITS, COLS,
                               DINT_FRAC_BITS, DINT_SPECIAL, EPC, EXAQ_BITS,
                               EXAQ_SERIAL_Y, EXAQ_TOP, IN_BITS, IN_FRAC, LANES, LUT_FRAC,
                               MAX_LEN, OUT_FRAC, OVERFLOW, PIPELINE, POT_BITS,
                               ROWS, WEIGHT_BITS, ZERO_CODE, M_BITS,
                               REQUANT_ACC_BITS, REQUANT_LANES, REQUANT_OUT_BITS,
                               K_SLICE, P_MAX, Q_MAX, MAX_SLICES, LEVELS_PER_STAGE,
                               BLOCK_ENGINE, BLOCK_LANES, BLOCK_M_BITS, BLOCK_SOFTMAX, BOOTH,
                               D_MODEL, DOT_FUSED, EXP_INDEX_FRAC, FUSED, HEADS, MAX_TOKENS)
from .core.unit_params import BLOCK_IN_BITS
from .registry import Format, Registry, SlowCorner, Unit

__all__ = ["UNITS"]


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


def _block_formulas(component, params):
    """The attention block's cycles per layer for T = 1..max_tokens tokens (index 0 unused)."""
    tokens = range(1, params["max_tokens"] + 1)
    return {"cycles": [None] + [component.cycles(t) for t in tokens]}


def _int4_mac_like(params):
    """The INT4 x INT8 MAC with the same accumulator, overflow mode and pipeline."""
    return dict(_int8_mac_like(params), weight_bits=4)


# Work per cycle (``Unit.throughput``), declared once here and read by the flow, the sweeps and
# the report (lowbit.metrics): a MAC does one multiply-accumulate per cycle, a dot product one
# per lane (one beat per cycle), a dequantizer one element per cycle.
def _one_mac(params):
    return {"MAC": 1}


def _lane_macs(params):
    return {"MAC": params["lanes"]}


def _one_element(params):
    return {"element": 1}


def _row_rate(component):
    """Elements per cycle of a row softmax unit in steady state, rows of ``max_len`` back to
    back: ``max_len / cycles_per_row(max_len)`` (its slowest stage sets the row spacing)."""
    def rate(params):
        from .registry import resolve_ref
        from .hdl.component import unelaborated
        unit = unelaborated(resolve_ref(component)(**params))   # for its cycle formula only
        return {"element": params["max_len"] / unit.cycles_per_row(params["max_len"])}
    return rate


UNITS = Registry([
    Unit(
        name="dint_mac",
        summary="dINT4 weight x INT8 activation MAC (integer codes plus denormal codes)",
        source="dINT: Enhancing Computation Efficiency in LLMs through Weight and Activation "
               "Quantization (EMNLP 2023)",
        params=(
            DINT_SPECIAL,
            DINT_FRAC_BITS,
            ACT_BITS, ACC_BITS, OVERFLOW, PIPELINE, FUSED,
        ),
        component="lowbit.hdl.dint_mac:DintMac",
        golden="lowbit.golden_models.dint_mac:DintMac",
        testbench="lowbit.sim_tests.tb_mac",
        throughput=_one_mac,
        implementations=("fused",),
        baseline="int_mac",
        baseline_params=_int8_mac_like,
        mutants="lowbit.sim_tests.mutants:DINT_MAC",
        code_bits=4,   # dINT4: the format fixes the code at 4 bits
        formats=(Format("dint4-pmq-", {"special": DintCodebook.PM_HALF, "frac_bits": 2}),
                 Format("dint4-pm-", {"special": DintCodebook.PM_HALF, "frac_bits": 1}),
                 Format("dint4-q-", {"special": DintCodebook.HALF, "frac_bits": 2}),
                 Format("dint4-", {"special": DintCodebook.HALF, "frac_bits": 1})),
        proofs=("lowbit.sim_tests.formal.mac:DINT_PRODUCT",
                "lowbit.sim_tests.formal.mac:ACCUMULATOR",
                "lowbit.sim_tests.formal.mac:MAC_WHOLE",
                "lowbit.sim_tests.formal.mac:DINT_PRODUCT_A16",
                "lowbit.sim_tests.formal.dint_dot:FUSED_MAC_WHOLE"),
        scenario="lowbit.sim_tests.waveform.scenarios:dint_mac",
        workload="lowbit.synth.workloads.mac:mac_workload",
        docs="docs/dint_mac.md",
    ),
    Unit(
        name="pot_mac",
        summary="power-of-two weight x INT8 activation MAC: a shift and a conditional negate",
        source="PoT: a two-step power-of-two post-training quantization of LLM weights (2025)",
        params=(POT_BITS, ZERO_CODE, ACT_BITS, ACC_BITS, OVERFLOW, PIPELINE, FUSED),
        component="lowbit.hdl.pot_mac:PotMac",
        golden="lowbit.golden_models.pot_mac:PotMac",
        testbench="lowbit.sim_tests.tb_mac",
        throughput=_one_mac,
        implementations=("fused",),
        baseline="int_mac",
        baseline_params=_int4_mac_like,
        mutants="lowbit.sim_tests.mutants:POT_MAC",
        code_bits="bits",
        formats=(Format("pot4-", {"bits": 4}),),
        proofs=("lowbit.sim_tests.formal.mac:POT_PRODUCT",
                "lowbit.sim_tests.formal.mac:ACCUMULATOR",
                "lowbit.sim_tests.formal.mac:MAC_WHOLE",
                "lowbit.sim_tests.formal.mac:POT_PRODUCT_A16",
                "lowbit.sim_tests.formal.dint_dot:FUSED_MAC_WHOLE"),
        scenario="lowbit.sim_tests.waveform.scenarios:pot_mac",
        workload="lowbit.synth.workloads.mac:mac_workload",
        docs="docs/pot.md",
    ),
    Unit(
        name="pot_dot",
        summary="N-lane PoT x INT8 dot product: barrel shifts and a pipelined adder tree, "
                "streams in and out",
        source="PoT: a two-step power-of-two post-training quantization of LLM weights (2025)",
        params=(LANES, POT_BITS, ZERO_CODE, ACT_BITS, DOT_FUSED),
        component="lowbit.hdl.pot_dot:PotDot",
        golden="lowbit.golden_models.pot_dot:PotDot",
        testbench="lowbit.sim_tests.tb_dot",
        throughput=_lane_macs,
        implementations=("fused",),
        baseline="int_dot",
        baseline_params=lambda p: dict(lanes=p["lanes"], weight_bits=4, act_bits=p["act_bits"]),
        mutants="lowbit.sim_tests.mutants:POT_DOT",
        code_bits="bits",
        proofs=("lowbit.sim_tests.formal.dot:DOT_DATAPATH",
                "lowbit.sim_tests.formal.dot:POT_DOT_STREAM"),
        scenario="lowbit.sim_tests.waveform.scenarios:pot_dot",
        workload="lowbit.synth.workloads.dot:dot_workload",
        docs="docs/pot.md",
    ),
    Unit(
        name="dint_dot",
        summary="N-lane dINT4 x INT8 dot product: decoded codes, shifted partial products in "
                "one carry-save tree per lane, a pipelined adder tree, streams in and out",
        source="dINT: Enhancing Computation Efficiency in LLMs through Weight and Activation "
               "Quantization (EMNLP 2023)",
        params=(
            LANES,
            DINT_SPECIAL,
            DINT_FRAC_BITS,
            ACT_BITS,
            DOT_FUSED,
        ),
        component="lowbit.hdl.dint_dot:DintDot",
        golden="lowbit.golden_models.dint_dot:DintDot",
        testbench="lowbit.sim_tests.tb_dot",
        throughput=_lane_macs,
        implementations=("fused",),
        baseline="int_dot",
        baseline_params=lambda p: dict(lanes=p["lanes"], weight_bits=8, act_bits=p["act_bits"]),
        mutants="lowbit.sim_tests.mutants:DINT_DOT",
        code_bits=4,   # dINT4: the format fixes the code at 4 bits
        scenario="lowbit.sim_tests.waveform.scenarios:dint_dot",
        workload="lowbit.synth.workloads.dot:dot_workload",
        proofs=("lowbit.sim_tests.formal.dint_dot:DINT_DOT_LANES",
                "lowbit.sim_tests.formal.dint_dot:DINT_DOT_DATAPATH",
                "lowbit.sim_tests.formal.dint_dot:DINT_DOT_LANES_A16",
                "lowbit.sim_tests.formal.dint_dot:DINT_DOT_FUSED_DATAPATH",
                "lowbit.sim_tests.formal.dint_dot:DINT_DOT_STREAM"),
        docs="docs/dint_dot.md",
    ),
    Unit(
        name="pot_dequant",
        summary="PoT code + FP16 scale -> FP16 weight by exponent arithmetic, bit-exact to "
                "float16",
        source="PoT: a two-step power-of-two post-training quantization of LLM weights (2025)",
        params=(POT_BITS, ZERO_CODE),
        component="lowbit.hdl.pot_dequant:PotDequant",
        golden="lowbit.golden_models.pot_dequant:PotDequant",
        testbench="lowbit.sim_tests.tb_dequant",
        throughput=_one_element, work="element",
        baseline="int4_dequant",
        baseline_params=lambda p: {},
        mutants="lowbit.sim_tests.mutants:POT_DEQUANT",
        code_bits="bits",
        proofs=("lowbit.sim_tests.formal.dequant:POT_DEQUANT",
                "lowbit.sim_tests.formal.dequant:POT_DEQUANT_STREAM"),
        scenario="lowbit.sim_tests.waveform.scenarios:pot_dequant",
        workload="lowbit.synth.workloads.dequant:dequant_workload",
        docs="docs/pot.md",
    ),
    Unit(
        name="requant",
        summary="requantization between the stages of a quantized layer: acc x M / 2^s, round "
                "half up, saturate; lanes share one (M, s) per beat",
        source="no published unit: the scale-and-round step of integer inference (issue 17); "
               "no baseline, as none is published",
        params=(REQUANT_LANES, REQUANT_ACC_BITS, M_BITS, REQUANT_OUT_BITS),
        component="lowbit.hdl.requant:Requant",
        golden="lowbit.golden_models.requant:Requant",
        testbench="lowbit.sim_tests.tb_requant",
        throughput=lambda p: {"element": p["lanes"]}, work="element",
        mutants="lowbit.sim_tests.test_requant_sim:MUTANTS",
        code_bits="out_bits",
        scenario="lowbit.sim_tests.waveform.scenarios:requant",
        workload="lowbit.synth.workloads.requant:requant_workload",
        docs="docs/requant.md",
    ),
    Unit(
        name="btc_array",
        summary="binary tensor-core array (ABQ-LLM): WpAq matmul from AND/popcount bit planes, "
                "p and q chosen per job",
        source="ABQ-LLM: Arbitrary-Bit Quantized Inference Acceleration for LLMs (2024)",
        params=(ROWS, COLS, K_SLICE, P_MAX, Q_MAX, MAX_SLICES, LEVELS_PER_STAGE),
        component="lowbit.hdl.btc_array:BtcArray",
        golden="lowbit.golden_models.btc_array:BtcArray",
        testbench="lowbit.sim_tests.tb_btc",
        baseline="int_array",
        # The INT8 array with accumulators for the same depth, max_slices x k_slice.
        baseline_params=lambda p: dict(rows=p["rows"], cols=p["cols"], acc_bits=max(16, (
            16384 * p["max_slices"] * p["k_slice"]).bit_length() + 1)),
        throughput=lambda p: {f"W{w}A{a}": p["rows"] * p["cols"] * p["k_slice"] / (w * a)
                              for w, a in ((1, 1), (2, 8), (4, 4), (8, 8))
                              if w <= p["p_max"] and a <= p["q_max"]},
        variant="binary",
        mutants="lowbit.sim_tests.test_matrix_sim:BTC_ARRAY_MUTANTS",
        slow_corners=(SlowCorner("max", "16 x 16 cells of 256-bit slices: 65536 AND-popcount "
                                        "bits, minutes to generate", {"rows": 2, "cols": 2}),),
        formats=(Format("w2a8-bal", job=(3, 8)), Format("w2a8", job=(2, 8)),
                 Format("w4a4", job=(4, 4))),
        proofs=("lowbit.sim_tests.formal.btc:BTC_POPCOUNT",
                "lowbit.sim_tests.formal.btc:BTC_POPCOUNT_32",
                "lowbit.sim_tests.formal.btc:BTC_ARRAY_STREAM"),
        scenario="lowbit.sim_tests.waveform.scenarios:btc_array",
        workload="lowbit.synth.workloads.matrix:matrix_workload",
        # The defaults' plane buffers (2 x 16 SB_RAM40_4K) and cells do not fit the UP5K
        # (30 block RAMs): 4 x 2 cells there (24 block RAMs, docs/btc_array.md).
        target_params={"ice40": {"cols": 2}},
        docs="docs/btc_array.md",
    ),
    Unit(
        name="exaq_softmax",
        summary="EXAQ softmax: 2-4 bit codes of the clipped distance to the row max, counted "
                "per code, one reciprocal and a y table per row; streams of logit beats in and "
                "out, per-row clip and table",
        source="EXAQ: Exponent Aware Quantization for LLMs Acceleration (2024)",
        params=(
            IN_BITS,
            IN_FRAC.with_doc("fractional bits of the logits and the clip (< in_bits)"),
            EXAQ_BITS,
            LUT_FRAC,
            OUT_FRAC,
            MAX_LEN,
            EXAQ_TOP,
            EPC,
            EXAQ_SERIAL_Y,
        ),
        component="lowbit.hdl.exaq_softmax:ExaqSoftmax",
        golden="lowbit.golden_models.exaq_softmax:ExaqSoftmax",
        testbench="lowbit.sim_tests.tb_softmax",
        throughput=_row_rate("lowbit.hdl.exaq_softmax:ExaqSoftmax"), work="element",
        baseline="softmax_fixed",
        baseline_params=lambda p: {k: p[k] for k in ("in_bits", "in_frac", "lut_frac",
                                                     "out_frac", "max_len", "epc")},
        variant="exaq",
        testbench_meta=_row_formulas,
        mutants="lowbit.sim_tests.mutants:EXAQ_SOFTMAX",
        code_bits="bits",
        formats=(Format("exaq2", {"bits": 2}), Format("exaq3", {"bits": 3})),
        proofs=("lowbit.sim_tests.formal.softmax:EXAQ_CODER",
                "lowbit.sim_tests.formal.softmax:EXAQ_COUNTER",
                "lowbit.sim_tests.formal.softmax:EXAQ_NORM_TABLE",
                "lowbit.sim_tests.formal.softmax:EXAQ_CODER_8BIT",
                "lowbit.sim_tests.formal.softmax:EXAQ_COUNTER_B3",
                "lowbit.sim_tests.formal.softmax:EXAQ_NORM_TABLE_B3",
                "lowbit.sim_tests.formal.softmax:EXAQ_SOFTMAX_STREAM",
                "lowbit.sim_tests.formal.softmax:RECIPROCAL",
                "lowbit.sim_tests.formal.softmax:RECIPROCAL_WIDE",
                "lowbit.sim_tests.formal.softmax:EXAQ_NORM_TABLE_SERIAL",
                "lowbit.sim_tests.formal.softmax:EXAQ_NORM_TABLE_SERIAL_B3",
                "lowbit.sim_tests.formal.softmax:EXAQ_COUNTER_SERIAL"),
        scenario="lowbit.sim_tests.waveform.scenarios:exaq_softmax",
        workload="lowbit.synth.workloads.softmax:softmax_workload",
        docs="docs/exaq_hardware.md",
    ),
    Unit(
        name="softmax_fixed",
        summary="baseline: fixed-point softmax with a 256-entry exponential ROM, an adder "
                "accumulation and a multiplier per lane; same streams and normalisation",
        params=(
            IN_BITS,
            IN_FRAC,
            LUT_FRAC,
            OUT_FRAC,
            MAX_LEN,
            EPC,
            EXP_INDEX_FRAC,
        ),
        component="lowbit.hdl.softmax_fixed:SoftmaxFixed",
        golden="lowbit.golden_models.softmax_fixed:SoftmaxFixed",
        testbench="lowbit.sim_tests.tb_softmax",
        throughput=_row_rate("lowbit.hdl.softmax_fixed:SoftmaxFixed"), work="element",
        variant="fixed",
        testbench_meta=_row_formulas,
        mutants="lowbit.sim_tests.mutants:SOFTMAX_FIXED",
        proofs=("lowbit.sim_tests.formal.softmax:SOFTMAX_FIXED_STREAM",
                "lowbit.sim_tests.formal.softmax:RECIPROCAL",
                "lowbit.sim_tests.formal.softmax:RECIPROCAL_WIDE"),
        workload="lowbit.synth.workloads.softmax:softmax_workload",
        docs="docs/exaq_hardware.md",
    ),
    Unit(
        name="int_mac",
        summary="baseline: signed INT x INT MAC (INT8 x INT8 by default), the `*` operator",
        params=(
            WEIGHT_BITS,
            ACT_BITS, ACC_BITS, OVERFLOW, PIPELINE, FUSED,
        ),
        component="lowbit.hdl.int_mac:IntMac",
        golden="lowbit.golden_models.int_mac:IntMac",
        testbench="lowbit.sim_tests.tb_mac",
        throughput=_one_mac,
        implementations=("fused",),
        mutants="lowbit.sim_tests.mutants:INT_MAC",
        code_bits="weight_bits",
        formats=(Format("int8", {"weight_bits": 8}), Format("int4-", {"weight_bits": 4})),
        proofs=("lowbit.sim_tests.formal.mac:ACCUMULATOR",
                "lowbit.sim_tests.formal.dint_dot:FUSED_MAC_WHOLE"),
        docs="docs/dint_mac.md",
        workload="lowbit.synth.workloads.mac:mac_workload",
    ),
    Unit(
        name="int_dot",
        summary="baseline: N-lane signed INT x INT dot product (INT4 x INT8 lanes by default)",
        params=(LANES, WEIGHT_BITS.with_default(4), ACT_BITS,
                DOT_FUSED, BOOTH),
        component="lowbit.hdl.int_dot:IntDot",
        golden="lowbit.golden_models.int_dot:IntDot",
        testbench="lowbit.sim_tests.tb_dot",
        throughput=_lane_macs,
        implementations=("fused", "booth"),
        mutants="lowbit.sim_tests.mutants:INT_DOT",
        code_bits="weight_bits",
        proofs=("lowbit.sim_tests.formal.dot:DOT_DATAPATH",
                "lowbit.sim_tests.formal.dot:INT_DOT_STREAM"),
        docs="docs/pot.md",
        workload="lowbit.synth.workloads.dot:dot_workload",
    ),
    Unit(
        name="int_array",
        summary="baseline: rows x cols array of INT8 x INT8 MACs (the int_mac cell), one k per "
                "cycle",
        params=(ROWS, COLS, ARRAY_ACC_BITS),
        component="lowbit.hdl.int_array:IntArray",
        golden="lowbit.golden_models.int_array:IntArray",
        testbench="lowbit.sim_tests.tb_matrix",
        throughput=lambda p: {"INT8": p["rows"] * p["cols"]},
        variant="int",
        workload="lowbit.synth.workloads.matrix:matrix_workload",
        mutants="lowbit.sim_tests.mutants:INT_ARRAY",
        slow_corners=(SlowCorner("max", "256 MAC cells, each its own Verilog module: ~20 s to "
                                        "generate, 1 MB of Verilog", {"rows": 2, "cols": 2}),),
        # The defaults' 16 multipliers need 16 DSP blocks; the iCE40 UP5K has 8: 4 x 2 cells
        # there (LUT-only and on the DSPs alike), as btc_array's iCE40 build asks of it.
        target_params={"ice40": {"cols": 2}},
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
        throughput=_one_element, work="element",
        mutants="lowbit.sim_tests.mutants:INT4_DEQUANT",
        proofs=("lowbit.sim_tests.formal.dequant:INT4_DEQUANT",
                "lowbit.sim_tests.formal.dequant:INT4_DEQUANT_STREAM"),
        docs="docs/pot.md",
        workload="lowbit.synth.workloads.dequant:dequant_workload",
    ),
    Unit(
        name="attention_block",
        summary="one quantized self-attention layer (MiniLM's): Q, K, V projections on a lane "
                "engine of the chosen format, per-head scores and context on an int_dot, the "
                "chosen softmax, requant between the stages, on-chip buffers, one sequencer",
        source="composition of the units (issue 17)",
        params=(
            BLOCK_ENGINE, BLOCK_SOFTMAX, BLOCK_LANES, D_MODEL, HEADS, MAX_TOKENS,
            BLOCK_IN_BITS, IN_FRAC, LUT_FRAC,
            BLOCK_M_BITS,
        ),
        component="lowbit.hdl.attention_block:AttentionBlock",
        golden="lowbit.golden_models.block:BlockParams",
        testbench="lowbit.sim_tests.tb_block",
        throughput=lambda p: {"MAC": p["lanes"]},
        testbench_meta=_block_formulas,
        mutants="lowbit.sim_tests.mutants:ATTENTION_BLOCK",
        workload="lowbit.synth.workloads.block:block_workload",
        slow_corners=(SlowCorner("max", "d_model 384 with 128 tokens: buffers of 49,152 codes "
                                        "each, minutes to generate",
                                 {"d_model": 32, "heads": 2, "lanes": 8}),),
        docs="docs/block.md",
        # No baseline to stand beside, and its own command and table (lowbit block, the
        # report's block section); at the defaults its buffers need more block RAM than the
        # iCE40 UP5K has. `lowbit flow attention_block` still runs it.
        in_flow=False,
    ),
])
