"""EXAQ on MiniLM's attention rows (golden_models/accuracy/exaq_minilm.py): the rows recorded are the
model's, the fixed-point unit tracks the float quantizer, and the errors behave as the bits say."""

import numpy as np
import pytest

from lowbit.golden_models.accuracy.evaluate import EXAQ_FIXED
from lowbit.golden_models.accuracy.exaq_minilm import attention_rows, hardware_rows, measure
from lowbit.golden_models.exaq_softmax import ExaqSoftmax
from lowbit.golden_models.accuracy.minilm import MiniLM, softmax
from lowbit.golden_models.accuracy.sentences import load_sentences


@pytest.fixture(scope="module")
def model():
    return MiniLM("float32")


@pytest.fixture(scope="module")
def few_sentences():
    """Six calibration sentences and two evaluation pairs: enough to exercise everything fast."""
    s = load_sentences()
    return {"calibration": s["calibration"][:6], "evaluation": s["evaluation"][:2]}


def test_recorded_rows_are_the_models_attention(model, few_sentences):
    text = few_sentences["evaluation"][0]["a"]
    layers = attention_rows(model, [text])
    tokens = len(model.token_ids([text])[0])
    assert len(layers) == model.n_layers
    for per_sentence in layers:
        (rows,) = per_sentence
        assert rows.shape == (model.n_heads * tokens, tokens) and np.all(np.isfinite(rows))
    # Feeding the recorded logits' softmax back (in the model's float32, in which they were
    # computed: the recording widened them exactly) reproduces the float model exactly.
    replay = iter(softmax(r.astype(np.float32)).reshape(1, model.n_heads, tokens, tokens)
                  for (r,) in layers)
    assert np.array_equal(model.encode([text], softmax=lambda logits, mask: next(replay)),
                          model.encode([text]))


def test_errors_fall_with_bits_and_the_unit_tracks_the_float_quantizer(model, few_sentences):
    rows, clips = measure((2, 3), model=model, sentences=few_sentences)
    total = {(r.model, r.bits): r for r in rows if r.layer is None}
    assert set(clips) == {2, 3} and all(len(c) == model.n_layers for c in clips.values())
    for bits in (2, 3):
        exact, unit = total[("EXAQ float", bits)], total[("EXAQ fixed", bits)]
        assert abs(unit.kl - exact.kl) < 0.1 * exact.kl
        assert 0 < exact.clipped < 1 and unit.clipped is None
    assert total[("EXAQ float", 3)].kl < total[("EXAQ float", 2)].kl / 2
    assert total[("baseline", None)].kl_reverse < total[("EXAQ fixed", 3)].kl_reverse / 10
    assert len({r.rows for r in rows}) > 1   # per-layer rows and the pooled ones


def test_hardware_rows_are_in_the_units_range(model, few_sentences):
    rows, length = hardware_rows(6, 3, model=model, sentences=few_sentences)
    unit = ExaqSoftmax(bits=3, max_len=32, **EXAQ_FIXED)
    assert len(rows) == 6
    for x, clip in rows:
        assert x.shape == (length,) and x.dtype == np.int64
        assert x.min() >= -(1 << 11) and x.max() < (1 << 11)
        assert 1 <= clip <= unit.max_clip and clip == unit.reference_clip(x, clip)
