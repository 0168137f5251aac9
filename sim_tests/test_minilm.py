"""The NumPy all-MiniLM-L6-v2: files, tokenizer, forward pass, hooks and stored reference."""

import json
import math
import socket
import string

import numpy as np
import pytest

from lowbit.golden_models.accuracy import minilm, reference
from lowbit.golden_models.accuracy.minilm import MiniLM, cosine_rows, model_files, nearest
from lowbit.golden_models.accuracy.sentences import data_path, load_sentences

# First five embedding values of "hello world" for sentence-transformers/all-MiniLM-L6-v2 as
# published by an independent implementation (ONNX export, qdrant/fastembed
# tests/test_text_onnx_embeddings.py, CANONICAL_VECTOR_VALUES), given there to 5-6 decimals.
PUBLISHED_HELLO_WORLD = np.array([-0.034478, 0.03102, 0.00673, 0.02611, -0.039362])


@pytest.fixture(scope="module")
def model():
    return MiniLM("float64")


@pytest.fixture(scope="module")
def model32():
    return MiniLM("float32")


@pytest.fixture(scope="module")
def sentences():
    return load_sentences()


@pytest.fixture(scope="module")
def eval_texts(sentences):
    pairs = sentences["evaluation"]
    return [p["a"] for p in pairs] + [p["b"] for p in pairs]


@pytest.fixture(scope="module")
def eval_embeddings(model, eval_texts):
    return model.encode(eval_texts)


# ------------------------------------------------------------------------------- files and data


def test_model_files_come_from_the_package():
    files = model_files()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "sentence_bert_config.json"):
        assert (files / name).is_file(), name
    assert files.parent.name == minilm.MODEL_PACKAGE


def test_config_is_the_documented_architecture(model):
    c = model.config
    shape = (c["num_hidden_layers"], c["num_attention_heads"], c["hidden_size"], c["intermediate_size"])
    assert shape == (6, 12, 384, 1536)
    assert model.eps == 1e-12 and model.max_seq_length == 256
    assert len(model.linear_names) == 36
    assert model.weight("encoder.layer.5.output.dense").shape == (384, 1536)


def test_sentence_sets(sentences):
    cal, pairs = sentences["calibration"], sentences["evaluation"]
    assert len(cal) == len(set(cal)) == 40
    assert len(pairs) == 30 and sum(p["paraphrase"] for p in pairs) == 20
    evaluation = {p[k] for p in pairs for k in ("a", "b")}
    assert len(evaluation) == 60 and not evaluation & set(cal)


def test_loading_and_encoding_never_touch_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert MiniLM("float32").encode(["offline"]).shape == (1, 384)


# ---------------------------------------------------------------------------------- tokenizer


def wordpiece_ids(text, vocab):
    """Independent BERT uncased tokenization of ASCII text from vocab.txt alone: lower case,
    split on spaces and around punctuation, then greedy longest-match WordPiece."""
    words = []
    for chunk in text.lower().split():
        word = ""
        for ch in chunk:
            if ch in string.punctuation:
                words += [word, ch] if word else [ch]
                word = ""
            else:
                word += ch
        if word:
            words.append(word)
    ids = [vocab["[CLS]"]]
    for word in words:
        start, pieces = 0, []
        while start < len(word):
            end = len(word)
            while end > start and (("##" if start else "") + word[start:end]) not in vocab:
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            pieces.append(vocab[("##" if start else "") + word[start:end]])
            start = end
        ids += pieces
    return ids + [vocab["[SEP]"]]


def test_token_ids_match_an_independent_wordpiece(model, sentences, eval_texts):
    vocab = {tok: i for i, tok in enumerate((model_files() / "vocab.txt").read_text(encoding="utf-8").splitlines())}
    texts = sentences["calibration"] + eval_texts + reference.reference_sentences()
    for text, ids in zip(texts, model.token_ids(texts)):
        assert ids == wordpiece_ids(text, vocab), text
    assert model.token_ids(["hello world"]) == [[101, 7592, 2088, 102]]


def test_long_input_is_truncated_to_max_seq_length(model):
    (ids,) = model.token_ids(["word " * 400])
    assert len(ids) == 256 and ids[-1] == 102


# ------------------------------------------------------------------------------- forward pass


def test_vectorised_erf_is_math_erf_to_a_few_ulps():
    """The NumPy erf of the GELU against math.erf on 10^6 points: normal and uniform draws over
    [-7, 7], a fine grid, the piece edges, the tails (erf = +-1), tiny and subnormal inputs."""
    from lowbit.golden_models.accuracy.erf import erf

    rng = np.random.default_rng(16)
    edges = np.array([0.75, 2.0, 3.5, 6.0])
    x = np.concatenate([rng.normal(0, 3, 300_000), rng.uniform(-7, 7, 300_000), np.linspace(-7, 7, 400_001),
                        np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 9)]) * [[1], [-1]],
                        rng.normal(0, 1e-8, 1000), [0.0, 1e-300, 5e-324, -5e-324, 30.0, -1e300]], axis=None)
    expected = np.array([math.erf(v) for v in x.tolist()])
    got = erf(x)
    ulp = np.spacing(np.abs(expected))
    assert np.max(np.abs(got - expected) / ulp) <= 4
    assert np.all(np.abs(got) <= 1) and np.array_equal(np.signbit(got), np.signbit(expected))
    assert np.signbit(erf(np.array([-0.0]))[0]) and erf(-0.0) == 0
    special = erf(np.array([np.inf, -np.inf, np.nan]))
    assert special[0] == 1 and special[1] == -1 and np.isnan(special[2])
    assert erf(np.ones((2, 3))).shape == (2, 3) and erf(np.ones((2, 3)))[1, 2] == math.erf(1.0)


def test_gelu_is_the_exact_erf_form():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 2.0])
    expected = [v * (1 + math.erf(v / math.sqrt(2))) / 2 for v in x]
    np.testing.assert_allclose(minilm._gelu(x), expected, rtol=0, atol=1e-15)
    assert minilm._gelu(np.array([1.0]))[0] == pytest.approx(0.8413447460685429, abs=1e-15)  # Phi(1)


def test_stored_reference_embeddings(model):
    ref = json.loads(data_path(reference.REFERENCE_FILE).read_text())
    assert ref["command"] == reference.REFERENCE_COMMAND
    assert ref["sentences"] == reference.reference_sentences()
    np.testing.assert_allclose(model.encode(ref["sentences"]), np.array(ref["embeddings"]), rtol=0, atol=1e-5)


def test_matches_published_embedding_of_an_independent_implementation(model):
    np.testing.assert_allclose(model.encode(["hello world"])[0, :5], PUBLISHED_HELLO_WORLD, rtol=0, atol=1e-5)


def test_float32_agrees_with_float64(model32, eval_texts, eval_embeddings):
    emb32 = model32.encode(eval_texts[:20])
    assert emb32.dtype == np.float32
    assert np.abs(emb32 - eval_embeddings[:20]).max() < 1e-6


def test_embeddings_are_unit_vectors(eval_embeddings):
    np.testing.assert_allclose(np.linalg.norm(eval_embeddings, axis=1), 1.0, atol=1e-12)


def test_a_sentence_alone_equals_it_in_a_padded_batch(model, eval_texts, eval_embeddings):
    # The batch pads to its longest sentence: masking must make padding invisible.
    lengths = [len(ids) for ids in model.token_ids(eval_texts)]
    shortest = int(np.argmin(lengths))
    assert lengths[shortest] < max(lengths)
    np.testing.assert_allclose(model.encode([eval_texts[shortest]])[0], eval_embeddings[shortest], rtol=0, atol=1e-12)


def test_paraphrases_are_closer_than_unrelated_pairs(sentences, eval_embeddings):
    pairs = sentences["evaluation"]
    n = len(pairs)
    para = np.array([p["paraphrase"] for p in pairs])
    cos = cosine_rows(eval_embeddings[:n], eval_embeddings[n:])
    assert cos[para].min() > cos[~para].max() + 0.3
    # Each paraphrase query retrieves its own partner among all 30 second sentences.
    np.testing.assert_array_equal(nearest(eval_embeddings[:n][para], eval_embeddings[n:]), np.flatnonzero(para))


# ---------------------------------------------------------------------------------------- hooks


def test_capture_holds_every_linear_input(model):
    texts = ["a short one", "and a somewhat longer sentence here"]
    n_tokens = sum(len(ids) for ids in model.token_ids(texts))
    capture = {}
    model.encode(texts, capture=capture)
    assert list(capture) == list(model.linear_names)
    for name, x in capture.items():
        assert x.shape == (n_tokens, model.weight(name).shape[1]), name
    q = "encoder.layer.0.attention.self"
    assert capture[f"{q}.query"] is capture[f"{q}.key"] is capture[f"{q}.value"]


def test_identity_hooks_change_nothing(model):
    texts = ["hooks must be transparent", "when they do nothing"]
    seen = []

    def act_quant(name, x):
        seen.append(name)
        return x

    plain = model.encode(texts)
    hooked = model.encode(
        texts,
        weights={n: model.weight(n) for n in model.linear_names},
        act_quant=act_quant,
        softmax=minilm.softmax,
    )
    assert seen == list(model.linear_names)
    np.testing.assert_array_equal(hooked, plain)


def test_softmax_hook_sees_masked_logits(model):
    texts = ["one", "two words and more words"]
    calls = []

    def spy(logits, key_mask):
        calls.append((logits.copy(), key_mask))
        return minilm.softmax(logits)

    model.encode(texts, softmax=spy)
    assert len(calls) == 6
    logits, key_mask = calls[0]
    lengths = [len(ids) for ids in model.token_ids(texts)]
    assert logits.shape == (2, 12, max(lengths), max(lengths))
    assert key_mask.shape == (2, 1, 1, max(lengths))
    assert np.all(np.isneginf(logits[0, :, :, lengths[0]:]))
    assert np.all(np.isfinite(logits[1]))


def test_weight_and_activation_hooks_act(model):
    texts = ["the weights matter"]
    base = model.encode(texts)
    name = "encoder.layer.3.intermediate.dense"
    zeroed = model.encode(texts, weights={name: np.zeros_like(model.weight(name))})

    def per_token_int8(name, x):
        s = np.abs(x).max(axis=1, keepdims=True) / 127
        return np.round(x / s) * s

    a8 = model.encode(texts, act_quant=per_token_int8)
    assert cosine_rows(base, zeroed)[0] < 0.999
    assert 0.99 < cosine_rows(base, a8)[0] < 1 - 1e-6  # A8 costs a little, and something


def test_bad_arguments_are_refused(model):
    with pytest.raises(ValueError):
        model.encode(["x"], weights={"encoder.layer.9.output.dense": np.zeros((1, 1))})
    with pytest.raises(ValueError):
        model.encode("not a list")
    with pytest.raises(ValueError):
        MiniLM("float16")


def test_the_study_has_one_path():
    """The MiniLM study lives in golden_models/accuracy/ only: the old module names beside the
    bit-exact unit models are gone (its programs are ``lowbit experiment ...``)."""
    import importlib.util

    for name in ("dint_mse", "evaluate", "exaq", "exaq_minilm", "minilm", "pot_mse", "ptq"):
        assert importlib.util.find_spec(f"lowbit.golden_models.{name}") is None, name
        assert importlib.util.find_spec(f"lowbit.golden_models.accuracy.{name}") is not None, name


def test_embed_and_blocks_chain_to_encode():
    """The block-wise API of the distribution correction computes exactly what encode does."""
    model = MiniLM("float32")
    texts = load_sentences()["calibration"][:3]
    batch, h = model.embed(texts)
    for i in range(model.n_layers):
        h = model.block(h, batch, i)
    pooled = np.add.reduceat(h, batch.starts, axis=0) / batch.lengths[:, None].astype(h.dtype)
    np.testing.assert_array_equal(pooled / np.linalg.norm(pooled, axis=1, keepdims=True), model.encode(texts))
