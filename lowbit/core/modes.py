"""The modes of the units, each declared once: the accumulator's overflow behaviour, the dINT4
codebooks, what EXAQ's top code means, and the attention block's projection engine and softmax
unit (with the block's four named configurations, which are pairs of those).

Each is an :class:`enum.Enum` whose members are also the strings they stand for
(``Overflow.SATURATE == "saturate"``, same hash, ``str()`` and ``format()`` give the bare
value), so a mode reads the same on the command line, in JSON and TOML files, in build-folder
tags and in the generated Verilog, while code compares against one declaration instead of a
string written out again. ``Overflow("wrap")`` turns text into the member; an unknown text is
refused by the parameter check (:meth:`lowbit.core.params.Param.check`) with the allowed
values.
"""

from dataclasses import dataclass
from enum import Enum

__all__ = ["Mode", "Overflow", "DintCodebook", "ExaqTop", "BlockEngine", "BlockSoftmax", "BlockFormat",
           "BLOCK_CONFIGS"]


class Mode(str, Enum):
    """A mode: an enumeration whose members are their own string values."""
    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__


class Overflow(Mode):
    """What an accumulator does with a sum outside its range."""
    WRAP = "wrap"            # two's complement wrap-around (keep the low bits)
    SATURATE = "saturate"    # clamp to the most positive or most negative value


class DintCodebook(Mode):
    """The dINT4 codebooks (SPEC.md): which codes carry the denormal magnitude 2^-f."""
    HALF = "half"            # {-7..7} and +2^-f (code 1000)
    PM_HALF = "pm_half"      # {-7..6} and +-2^-f


class ExaqTop(Mode):
    """What the largest EXAQ code (the clipped distances) stands for."""
    EXP = "exp"              # exp(-C), from the table like every other code
    ZERO = "zero"            # 0: the clipped elements drop out of the sum


class BlockEngine(Mode):
    """The attention block's projection engine (the unit that computes x W)."""
    INT8 = "int8"            # int_dot: INT8 weights
    DINT = "dint"            # dint_dot: dINT4 weights (half codebook, f = 1)
    POT = "pot"              # pot_dot: PoT4 weights with the zero code
    BITPLANE = "bitplane"    # ABQ-LLM's W2A8 bit-plane engine


class BlockSoftmax(Mode):
    """The attention block's softmax unit."""
    FIXED = "fixed"          # softmax_fixed, the conventional fixed-point softmax
    EXAQ2 = "exaq2"          # exaq_softmax with b = 2
    EXAQ3 = "exaq3"          # exaq_softmax with b = 3

    @property
    def exaq_bits(self):
        """b of the EXAQ unit, None for the fixed-point one."""
        return {"exaq2": 2, "exaq3": 3}.get(self.value)


@dataclass(frozen=True)
class BlockFormat:
    """One configuration of the attention block: the engine's weight format, the softmax, and in
    words the quantizer that produces the weights (golden_models/block/minilm.py runs it)."""
    engine: BlockEngine
    softmax: BlockSoftmax
    quantizer: str


# The four configurations of issue 17, item 3: one declaration, read by the integer model,
# ``lowbit block``, the report and the accuracy table.
BLOCK_CONFIGS = {
    "int8-fixed": BlockFormat(BlockEngine.INT8, BlockSoftmax.FIXED,
                              "INT8 per output channel, symmetric, max scale (RTN)"),
    "dint-exaq3": BlockFormat(BlockEngine.DINT, BlockSoftmax.EXAQ3,
                              "dINT4 (half, f = 1) per output channel, MSE-searched scale"),
    "pot-exaq3": BlockFormat(BlockEngine.POT, BlockSoftmax.EXAQ3,
                             "PoT4 (zero code) two-step: log-grid MSE scale, then least squares "
                             "on the calibration inputs"),
    "w2a8-exaq2": BlockFormat(BlockEngine.BITPLANE, BlockSoftmax.EXAQ2,
                              "ABQ W2 asymmetric per output channel (MSE range, integer zero points)"),
}
