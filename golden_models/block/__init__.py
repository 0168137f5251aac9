"""The integer model of the quantized self-attention block (issue 17; docs/block_model.md).

:mod:`.pipeline` holds the bit-exact pipeline (BLOCK.md's contract with the hardware),
:mod:`.calibrate` the path from a real-valued layer to the block's inputs, and
:mod:`.minilm` the real data (MiniLM's layer input for a sentence) and the comparison with FP32.
"""

from .calibrate import Calibration, calibrate, dequantize_output, encode, random_inputs
from .pipeline import (CONFIGS, ENGINES, PROJECTIONS, SOFTMAXES, BlockFormat, BlockInputs, BlockParams,
                       BlockTrace, RequantPair, block_forward, check_inputs)

__all__ = ["CONFIGS", "ENGINES", "SOFTMAXES", "PROJECTIONS", "BlockFormat", "BlockParams", "BlockInputs",
           "BlockTrace", "RequantPair", "block_forward", "check_inputs", "random_inputs", "Calibration",
           "calibrate", "encode", "dequantize_output", "minilm_inputs", "compare_fp32"]


def minilm_inputs(config, sentence, layer=0, d_model=384, **kwargs):
    """MiniLM's real layer input for ``sentence``: see :func:`.minilm.minilm_inputs`
    (``kwargs``: ``max_tokens``, ``sentence_set`` and BlockParams fields)."""
    from .minilm import minilm_inputs as run
    return run(config, sentence, layer=layer, d_model=d_model, **kwargs)


def compare_fp32(reference, trace):
    """The block's output against FP32: see :func:`.minilm.compare_fp32`."""
    from .minilm import compare_fp32 as run
    return run(reference, trace)
