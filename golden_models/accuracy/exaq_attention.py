"""The ``softmax`` hook of the EXAQ rows: a clip per transformer layer, calibrated, then fixed."""

import numpy as np

from .._checks import ParameterError, check_choice, check_int
from ..exaq_softmax import ExaqSoftmax
from ..softmax_common import softmax_float
from .exaq import CALIBRATION_CALLS, ClipCalibrator, exaq_quantize
from .progress import FORWARD_UNITS

__all__ = ["EXAQ_FIXED", "DEFAULT_RULE", "ExaqAttention"]

# The clip rule of the EXAQ rows (docs/exaq_softmax.md, "Which clip on MiniLM").
# Measured (softmax KL and embeddings on the evaluation sentences): the softmax-MSE grid search
# beats SPEC's closed form, which beats the reference's table (the MSE of e^d is the wrong
# objective for short rows): the default is the grid.
DEFAULT_RULE = "grid"

# Fixed-point EXAQ unit parameters of the ``--exaq-fixed`` rows. in_bits=12 (the unit's
# default is 8): layer 0's attention logits reach about +-34, which in_bits=8, in_frac=4
# (range +-8) would saturate.
EXAQ_FIXED = dict(in_bits=12, in_frac=4, lut_frac=10, out_frac=10)


class ExaqAttention:
    """The ``softmax`` hook of EXAQ: a clip per transformer layer, calibrated, then fixed.

    The hook is called once per transformer layer in order, so call k belongs to layer
    ``k mod n_layers`` (a forward pass always runs every layer). Until :meth:`calibrate` has
    run, each call feeds its real query rows (padded keys masked) to the layer's
    :class:`~.exaq.ClipCalibrator` (rule ``rule``, default :data:`DEFAULT_RULE`) and uses the
    clip it returns, as the EXAQ reference does; afterwards each layer uses the mean of its
    calibration clips.

    ``mode="float"``: the floating-point EXAQ quantizer: ``d = z - max(z)`` quantized by
    :func:`~.exaq.exaq_quantize` (range ``[max(min d, -C), 0]``, 2**bits levels), then the
    exact softmax of the dequantized values. ``mode="fixed"``: the bit-exact unit
    :class:`~.exaq_softmax.ExaqSoftmax` with :data:`EXAQ_FIXED` on each sentence's rows: logits
    rounded to ``in_frac`` fractional bits (saturating), clip ``fixed_clip(C)`` limited per row
    to the row's range (``reference_clip``: the same range rule as the float quantizer), output
    ``y / 2**out_frac``.
    """

    def __init__(self, bits, n_layers, calls=CALIBRATION_CALLS, mode="float", rule=None):
        self.bits = bits
        self.n_layers = check_int("n_layers", n_layers, 1, 1000)
        self.mode = check_choice("mode", mode, ("float", "fixed"))
        self.rule = DEFAULT_RULE if rule is None else rule
        self.calibrators = [ClipCalibrator(bits, self.rule, calls) for _ in range(self.n_layers)]
        self.clips = None
        self.unit = ExaqSoftmax(bits=bits, max_len=512, **EXAQ_FIXED) if mode == "fixed" else None
        self._calls = 0

    def calibrate(self, model, sentences, progress=None):
        """Split the calibration sentences into ``calls`` batches of consecutive sentences and
        run each batch as one call per layer (padded keys and queries masked), then fix the clips."""
        calls = self.calibrators[0].calls
        if len(sentences) < calls:
            raise ParameterError(f"EXAQ calibration needs at least {calls} sentences (one per call), got {len(sentences)}")
        for batch in np.array_split(np.arange(len(sentences)), calls):
            model.encode([sentences[i] for i in batch], softmax=self)
            if progress is not None:
                progress.step(f"EXAQ {self.bits}-bit {self.mode}: calibrating", FORWARD_UNITS / calls)
        self.clips = [float(np.mean(c.clips)) for c in self.calibrators]
        return self.clips

    def __call__(self, logits, key_mask):
        layer = self._calls % self.n_layers
        self._calls += 1
        valid = np.broadcast_to(key_mask, logits.shape)
        if self.clips is None:
            real = np.broadcast_to(np.swapaxes(key_mask, -1, -2)[..., 0], logits.shape[:-1])  # real queries
            clip = self.calibrators[layer](logits[real], valid[real])
        else:
            clip = self.clips[layer]
        if self.mode == "float":
            return softmax_float(exaq_quantize(logits, clip, self.bits, valid), valid)
        return self._fixed(logits, key_mask, clip)

    def _fixed(self, logits, key_mask, clip):
        unit = self.unit
        lo, hi = -(1 << (unit.in_bits - 1)), (1 << (unit.in_bits - 1)) - 1
        c = unit.fixed_clip(clip)
        probs = np.zeros(logits.shape)
        for i, length in enumerate(key_mask[:, 0, 0, :].sum(axis=1)):
            z = logits[i, :, :length, :length].reshape(-1, length).astype(np.float64)
            x = np.clip(np.rint(np.ldexp(z, unit.in_frac)), lo, hi).astype(np.int64)
            y = unit.softmax(x, unit.reference_clip(x, c))
            probs[i, :, :length, :length] = np.ldexp(y, -unit.out_frac).reshape(-1, length, length)
        return probs
