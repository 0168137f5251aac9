"""The parameters the units share, each declared once: its name, default, meaning and widest
range or choices.

The registry (``lowbit/units.py``) lists them, the components check their arguments with them
(``self.act_bits = ACT_BITS.check(act_bits)``; a bound that depends on other parameters as
``ACC_BITS.check(acc_bits, lo=product_bits, why="...")``) and the golden models do the same,
so a range is edited in one place (say, lanes per beat up to 16: ``EPC``). They live in the
ground layer because the gateware and the golden models may not import the registry.
"""

from dataclasses import replace

from .modes import BlockEngine, BlockSoftmax, DintCodebook, ExaqTop, Overflow
from .params import Param

__all__ = ["ACT_BITS", "ACC_BITS", "OVERFLOW", "PIPELINE", "WEIGHT_BITS", "LANES",
           "POT_BITS", "ZERO_CODE", "DINT_SPECIAL", "DINT_FRAC_BITS", "ROWS", "COLS",
           "ARRAY_ACC_BITS", "IN_BITS", "IN_FRAC", "LUT_FRAC", "OUT_FRAC", "MAX_LEN", "EPC",
           "EXAQ_BITS", "EXAQ_TOP", "REQUANT_ACC_BITS", "M_BITS", "REQUANT_OUT_BITS",
           "FUSED", "DOT_FUSED", "BOOTH", "K_SLICE", "P_MAX", "Q_MAX", "MAX_SLICES",
           "LEVELS_PER_STAGE", "EXP_INDEX_FRAC", "EXAQ_SERIAL_Y", "REQUANT_LANES",
           "BLOCK_ENGINE", "BLOCK_SOFTMAX", "BLOCK_LANES", "D_MODEL", "HEADS", "MAX_TOKENS",
           "BLOCK_M_BITS", "MODEL_LANES", "MODEL_ROWS", "MODEL_COLS", "MODEL_K_SLICE",
           "MODEL_P_MAX", "MODEL_Q_MAX", "MODEL_MAX_SLICES"]

# --- Multiply-accumulate units and dot products
ACT_BITS = Param("act_bits", 8, "signed activation width", lo=2, hi=16)
WEIGHT_BITS = Param("weight_bits", 8, "signed weight width", lo=2, hi=16)
ACC_BITS = Param("acc_bits", 32, "signed accumulator width (at least the product width)",
                 lo=4, hi=64, bound="at least the product width")
OVERFLOW = Param("overflow", Overflow.WRAP, "accumulator overflow: two's complement wrap or "
                                            "saturate", choices=tuple(Overflow))
PIPELINE = Param("pipeline", 1, "register stages between multiplier and accumulator "
                                "(latency = pipeline + 1)", lo=0, hi=2, golden=False)
LANES = Param("lanes", 8, "lanes summed per beat", lo=4, hi=64)
FUSED = Param("fused", False, "the partial products and the accumulator in one carry-save "
                              "tree with one carry-propagate adder (same latency)",
              choices=(False, True), golden=False)
DOT_FUSED = FUSED.with_doc("every lane's partial products in one carry-save tree for the beat, "
                           "one carry-propagate adder (latency 2)")
BOOTH = Param("booth", False, "lanes as radix-4 Booth partial products in a carry-save tree "
                              "with one adder each, not `*` (without fused)",
              choices=(False, True), golden=False)

# --- Weight formats
POT_BITS = Param("bits", 4, "PoT code width: sign + (bits-1) exponent bits", lo=2, hi=5)
ZERO_CODE = Param("zero_code", True, "the largest exponent index means 0",
                  choices=(False, True))
DINT_SPECIAL = Param("special", DintCodebook.HALF, "codebook: half = {-7..7, +2^-f}; "
                                                   "pm_half = {-7..6, +-2^-f}",
                     choices=tuple(DintCodebook))
DINT_FRAC_BITS = Param("frac_bits", 1, "f: the denormal magnitude is 2^-f (1/2 or 1/4)",
                       lo=1, hi=2)

# --- Matrix arrays
ROWS = Param("rows", 4, "array rows (output channels)", lo=1, hi=16)
COLS = Param("cols", 4, "array columns (tokens)", lo=1, hi=16)
ARRAY_ACC_BITS = Param("acc_bits", 32, "signed result width", lo=16, hi=64)
K_SLICE = Param("k_slice", 64, "bits of K per cell and cycle", lo=8, hi=256)
P_MAX = Param("p_max", 8, "largest weight precision", lo=1, hi=8)
Q_MAX = Param("q_max", 8, "largest activation precision", lo=1, hi=8)
MAX_SLICES = Param("max_slices", 8, "most K-slices per job (plane buffer depth); the "
                                     "accumulators hold max_slices x k_slice products", lo=1, hi=64)
LEVELS_PER_STAGE = Param("levels_per_stage", 2, "popcount compressor levels between registers",
                         lo=1, hi=2, golden=False)

# --- The golden models' own ranges, wider than the hardware's. A golden model computes any
# size its arithmetic holds (the studies of docs/btc_array.md and the dot-product tests size
# arrays and dot products the hardware does not build), so it checks its arguments with these:
# the same parameter, with the model's bounds, declared here once.
MODEL_LANES = replace(LANES, lo=1, hi=1024)
MODEL_ROWS = replace(ROWS, hi=256)
MODEL_COLS = replace(COLS, hi=256)
MODEL_K_SLICE = replace(K_SLICE, lo=1, hi=4096)
MODEL_P_MAX = replace(P_MAX, hi=16)            # also the model's bound on a job's p and bits
MODEL_Q_MAX = replace(Q_MAX, hi=16)
MODEL_MAX_SLICES = replace(MAX_SLICES, hi=1 << 16)

# --- Row softmax units
IN_BITS = Param("in_bits", 8, "signed logit width", lo=4, hi=16)
IN_FRAC = Param("in_frac", 4, "fractional bits of the logits (< in_bits)", lo=0, hi=15,
                bound="below in_bits")
LUT_FRAC = Param("lut_frac", 10, "F: fractional bits of the exponential table", lo=4, hi=16)
OUT_FRAC = Param("out_frac", 10, "O: fractional bits of the outputs", lo=4, hi=16)
MAX_LEN = Param("max_len", 128, "longest row (row buffer depth x epc)", lo=1, hi=4096)
EPC = Param("epc", 1, "elements per cycle (lanes per beat)", choices=(1, 2, 4, 8, 16),
            golden=False)
EXP_INDEX_FRAC = Param("exp_index_frac", None, "G: fractional bits of the ROM index, 0..in_frac "
                                               "(auto: min(in_frac, 5))", lo=0, hi=15)
EXAQ_BITS = Param("bits", 3, "code width b: 2^b table entries", lo=2, hi=4)
EXAQ_TOP = Param("top", ExaqTop.EXP, "what the top code means: exp(-C) from the table, or 0",
                 choices=tuple(ExaqTop))
EXAQ_SERIAL_Y = Param("serial_y", False, "stage R's products bit-serially: the y table (2^b "
                                         "(F+1) cycles per row) and at epc >= 4 S (2^b x bits "
                                         "of max_len): no multiplier, for long rows",
                      choices=(False, True), golden=False)

# --- Requantization
REQUANT_LANES = Param("lanes", 1, "accumulators per beat, sharing one (M, s)", lo=1, hi=64,
                      golden=False)
REQUANT_ACC_BITS = Param("acc_bits", 32, "signed input (accumulator) width", lo=2, hi=48)
M_BITS = Param("m_bits", 16, "unsigned multiplier M width", lo=1, hi=32,
               bound="acc_bits + m_bits <= 64")
REQUANT_OUT_BITS = Param("out_bits", 8, "signed output width (saturating)", lo=2, hi=32,
                         bound="below acc_bits + m_bits")

# --- Attention block (one MiniLM attention layer from the units)
BLOCK_ENGINE = Param("engine", BlockEngine.INT8, "projection engine: int8 (int_dot), dint (dint_dot), pot "
                                       "(pot_dot), bitplane (ABQ W2A8 plane products, btc_array's "
                                       "popcounts; Q K^T and P V on it at 8 bits)",
                     choices=tuple(BlockEngine))
BLOCK_SOFTMAX = Param("softmax", BlockSoftmax.FIXED, "softmax unit: softmax_fixed or exaq_softmax b = 2, 3",
                      choices=tuple(BlockSoftmax))
BLOCK_LANES = Param("lanes", 8, "lanes of the projection engine and of the activation x "
                                "activation int_dot", lo=4, hi=64, golden=False)
D_MODEL = Param("d_model", 32, "model width D, a multiple of heads x lanes", lo=16, hi=384)
HEADS = Param("heads", 2, "attention heads (head_dim = d_model / heads)", lo=1, hi=12)
MAX_TOKENS = Param("max_tokens", 8, "longest sentence (buffer depth; the softmax's max_len)",
                   lo=2, hi=128)
BLOCK_M_BITS = Param("m_bits", 16, "width of the requant multipliers M", lo=8, hi=24)
BLOCK_IN_BITS = IN_BITS.with_default(12)   # the block's logits (layer-0 MiniLM logits reach ~+-34)
__all__ += ["BLOCK_IN_BITS"]


REQUANT_MAX_PRODUCT_BITS = 64    # acc x M held in one 64-bit product (golden model and circuit)


def requant_widths(acc_bits, m_bits, out_bits):
    """``(acc_bits, m_bits, product_bits, out_bits)`` of a requant stage, each checked against
    its declaration and the bounds the others set (the circuit and its golden model share them)."""
    acc_bits = REQUANT_ACC_BITS.check(acc_bits)
    m_bits = M_BITS.check(m_bits, hi=min(M_BITS.hi, REQUANT_MAX_PRODUCT_BITS - acc_bits),
                          why=f"acc_bits + m_bits <= {REQUANT_MAX_PRODUCT_BITS}")
    product_bits = acc_bits + m_bits
    out_bits = REQUANT_OUT_BITS.check(out_bits, hi=min(REQUANT_OUT_BITS.hi, product_bits - 1),
                                      why="below acc_bits + m_bits")
    return acc_bits, m_bits, product_bits, out_bits
