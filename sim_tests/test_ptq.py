"""GPTQ and the Athena-style block-wise PTQ: exactness against independent references, and
layer output errors on the real MiniLM weights and activations."""

import itertools

import numpy as np
import pytest

from lowbit.core.params import ParameterError
from lowbit.golden_models.dint import DintFormat, dequantize, dequantize_int, quantize_dint, quantize_int
from lowbit.golden_models.accuracy.ptq import athena, dint_format, gptq, hessian, int_format, output_error, quantize_model, rtn

FORMATS = [int_format(4), int_format(2), dint_format(), dint_format(DintFormat("pm_half", 2))]


def problem(seed, out=6, n_in=10, rows=50):
    """Weights and correlated calibration inputs (correlation is what GPTQ exploits)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, n_in)) @ rng.normal(size=(n_in, n_in))
    return rng.normal(size=(out, n_in)), x


def damped(h, damp):
    h = h.copy()
    d = np.diag(h).copy()
    d[d == 0] = 1.0
    return h - np.diag(np.diag(h)) + np.diag(d + damp * d.mean())


def gptq_reference(w, h, wf, damp, order):
    """Straightforward O(n^3) GPTQ in OBQ form: explicit inverse Hessian, downdated after
    every column; no Cholesky, no blocks."""
    scales = wf.scales(w)
    w = w[:, order].copy()
    h_inv = np.linalg.inv(damped(h, damp)[np.ix_(order, order)])
    q = np.zeros_like(w)
    for j in range(w.shape[1]):
        q[:, j] = wf.round(w[:, j], scales)
        err = (w[:, j] - q[:, j]) / h_inv[j, j]
        w -= np.outer(err, h_inv[j])
        h_inv -= np.outer(h_inv[:, j], h_inv[j]) / h_inv[j, j]
    result = np.empty_like(q)
    result[:, order] = q
    return result


def obq_reference(w, h, wf, damp):
    """OBQ, one row at a time with a mask of done columns: the next weight is the one of least
    err^2 / Hinv_pp, or the largest error beyond half a step (outside the grid) if any."""
    scales = wf.scales(w)
    h_inv0 = np.linalg.inv(damped(h, damp))
    q = np.zeros_like(w)
    for r in range(w.shape[0]):
        row, h_inv, todo = w[r].copy(), h_inv0.copy(), np.ones(w.shape[1], bool)
        while todo.any():
            cand = wf.round(row, scales[r])
            sq = np.where(todo, (row - cand) ** 2, -1.0)
            if sq.max() > (wf.max_step * scales[r] / 2) ** 2:
                p = int(np.argmax(sq))
            else:
                p = int(np.argmin(np.where(todo, sq, np.inf) / np.where(todo, np.diag(h_inv), 1.0)))
            q[r, p] = cand[p]
            row -= (row[p] - cand[p]) / h_inv[p, p] * h_inv[p]
            h_inv -= np.outer(h_inv[:, p], h_inv[p]) / h_inv[p, p]
            todo[p] = False
    return q


# -------------------------------------------------------------------------------- format plug-in


def test_rtn_equals_the_dint_module_quantizers():
    w, _ = problem(0, out=20, n_in=30)
    np.testing.assert_array_equal(rtn(w, int_format(4))[0], dequantize_int(*quantize_int(w, 4)))
    for fmt in (DintFormat(), DintFormat("pm_half", 2)):
        codes, scales = quantize_dint(w, fmt)
        np.testing.assert_array_equal(rtn(w, dint_format(fmt))[0], dequantize(codes, scales, fmt))


@pytest.mark.parametrize("wf", FORMATS, ids=lambda f: f.name)
def test_results_are_on_the_format_grid(wf):
    w, x = problem(1)
    h = hessian(x)
    results = (gptq(w, h, wf), athena(w, h, wf, group_size=3), athena(w, h, wf, grouping="rows", group_size=2))
    for w_q, scales in results:
        np.testing.assert_array_equal(wf.round(w_q, scales[:, None]), w_q)


# ------------------------------------------------------------------------------------------ GPTQ


@pytest.mark.parametrize("wf", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("seed", range(3))
def test_gptq_equals_the_reference(wf, seed):
    w, x = problem(seed)
    h = hessian(x)
    natural = np.arange(w.shape[1])
    for block_size in (1, 3, 128):
        expected = gptq_reference(w, h, wf, 0.01, natural)
        np.testing.assert_allclose(gptq(w, h, wf, block_size=block_size)[0], expected, atol=1e-9)
    by_diag = np.argsort(-np.diag(h), kind="stable")
    expected = gptq_reference(w, h, wf, 0.1, by_diag)
    np.testing.assert_allclose(gptq(w, h, wf, act_order=True, damp=0.1)[0], expected, atol=1e-9)


def brute_force_optimum(w, h, wf, scales):
    """Least sum_r e_r H e_r^T over every assignment of grid values (tiny problems only)."""
    levels = np.unique(wf.round(np.linspace(-50, 50, 2001), 1.0))  # the format's values at scale 1
    best = 0.0
    for r in range(w.shape[0]):
        cands = np.array(list(itertools.product(levels * scales[r], repeat=w.shape[1])))
        e = w[r] - cands
        best += np.einsum("ki,ij,kj->k", e, h, e).min()
    return best


@pytest.mark.parametrize("seed", range(8))
def test_tiny_problems_against_brute_force(seed):
    # 3 x 4 weights, 50 calibration rows, the 3-level grid {-1, 0, 1} x scale.
    w, x = problem(seed, out=3, n_in=4, rows=50)
    h = hessian(x)
    wf = int_format(2)

    def loss(w_q):
        return float(np.einsum("ri,ij,rj->", w - w_q, h, w - w_q))

    q_gptq, scales = gptq(w, h, wf, damp=0.0)
    assert loss(q_gptq) == pytest.approx(2 * output_error(x, w, q_gptq) ** 2)  # H = 2 X^T X
    # One Athena group holding every column with damp 0: the refined loss is the exact loss,
    # and coordinate descent from GPTQ's assignment never increases it.
    q_athena, _ = athena(w, h, wf, group_size=4, damp=0.0)
    optimum = brute_force_optimum(w, h, wf, scales)
    assert optimum <= loss(q_athena) + 1e-9 <= loss(q_gptq) + 2e-9


def test_gptq_beats_rtn_on_most_tiny_problems():
    # GPTQ is greedy: on a 3-level grid its error feedback can push a weight past the clipped
    # grid, and then it loses to RTN (seed 7 here: 10.37 against 8.45). On 100 random 3 x 4
    # problems it wins 86 and its error is 3% lower on average.
    wf = int_format(2)
    ratios = []
    for seed in range(100):
        w, x = problem(seed, out=3, n_in=4, rows=50)
        ratios.append(output_error(x, w, gptq(w, hessian(x), wf, damp=0.0)[0]) / output_error(x, w, rtn(w, wf)[0]))
    ratios = np.array(ratios)
    assert np.mean(ratios <= 1 + 1e-12) >= 0.85
    assert ratios.mean() < 0.98


def test_dead_input_column_is_rounded_and_isolated():
    w, x = problem(3)
    x[:, 4] = 0.0
    wf = int_format(4)
    scales = wf.scales(w)
    q, _ = gptq(w, hessian(x), wf, scales=scales)
    assert np.all(np.isfinite(q))
    np.testing.assert_array_equal(q[:, 4], wf.round(w[:, 4], scales))  # no error reaches it
    q_later, _ = gptq(np.where(np.arange(10) == 4, w + 1.0, w), hessian(x), wf, scales=scales)
    np.testing.assert_array_equal(np.delete(q_later, 4, axis=1), np.delete(q, 4, axis=1))  # its error goes nowhere


# -------------------------------------------------------------------------------------- Athena


@pytest.mark.parametrize("wf", FORMATS, ids=lambda f: f.name)
def test_athena_columns_without_sweeps_is_gptq(wf):
    w, x = problem(4, n_in=13)
    h = hessian(x)
    for group_size in (1, 4, 13):
        np.testing.assert_allclose(athena(w, h, wf, group_size=group_size, sweeps=0)[0], gptq(w, h, wf)[0], atol=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_athena_single_group_never_loses_to_gptq(seed):
    w, x = problem(seed, out=4, n_in=8)
    h = hessian(x)
    wf = int_format(3)
    gq, _ = gptq(w, h, wf, damp=0.0)
    aq, _ = athena(w, h, wf, group_size=8, damp=0.0)
    assert output_error(x, w, aq) <= output_error(x, w, gq) + 1e-9


@pytest.mark.parametrize("wf", FORMATS, ids=lambda f: f.name)
def test_athena_rows_with_single_rows_is_obq(wf):
    w, x = problem(5)
    h = hessian(x)
    expected = obq_reference(w, h, wf, 0.01)
    np.testing.assert_allclose(athena(w, h, wf, grouping="rows", group_size=1)[0], expected, atol=1e-9)


def test_athena_row_groups_are_independent():
    w, x = problem(6, out=7)
    h = hessian(x)
    wf = dint_format()
    scales = wf.scales(w)
    whole, _ = athena(w, h, wf, grouping="rows", group_size=4, scales=scales)
    top, _ = athena(w[:4], h, wf, grouping="rows", group_size=4, scales=scales[:4])
    bottom, _ = athena(w[4:], h, wf, grouping="rows", group_size=4, scales=scales[4:])
    np.testing.assert_array_equal(whole, np.vstack([top, bottom]))


def test_bad_arguments_are_refused():
    w, x = problem(0)
    h = hessian(x)
    wf = int_format(4)
    for call in (
        lambda: gptq(w, h[:-1, :-1], wf),
        lambda: gptq(w, h, wf, damp=-1),
        lambda: gptq(w, h, wf, block_size=0),
        lambda: gptq(w, h, wf, scales=np.zeros(w.shape[0])),
        lambda: athena(w, h, wf, grouping="diagonal"),
        lambda: hessian(np.zeros((0, 3))),
    ):
        with pytest.raises(ValueError):
            call()


# ---------------------------------------------------------------------------- MiniLM layers


@pytest.fixture(scope="module")
def minilm_calibration():
    from lowbit.golden_models.accuracy.minilm import MiniLM
    from lowbit.golden_models.accuracy.sentences import load_sentences

    model = MiniLM("float32")
    capture = {}
    model.encode(load_sentences()["calibration"], capture=capture)
    return model, capture


def check_layer(model, capture, name, wf, methods):
    w = model.weight(name).astype(np.float64)
    x = capture[name].astype(np.float64)
    h = hessian(x)
    scales = wf.scales(w)
    e_rtn = output_error(x, w, rtn(w, wf, scales=scales)[0])
    for method in methods:
        e = output_error(x, w, method(w, h, wf, scales=scales)[0])
        assert e < e_rtn, (name, wf.name, method.__name__, e, e_rtn)


# One of each input width; every layer is in the slow test below.
FAST_LAYERS = ["encoder.layer.0.attention.self.query", "encoder.layer.3.intermediate.dense"]


@pytest.mark.parametrize("name", FAST_LAYERS)
def test_gptq_beats_rtn_on_minilm_layers(minilm_calibration, name):
    model, capture = minilm_calibration
    for wf in (int_format(4), dint_format()):
        check_layer(model, capture, name, wf, [gptq])


def test_athena_beats_rtn_on_a_minilm_layer(minilm_calibration):
    model, capture = minilm_calibration

    def athena_rows(w, h, wf, scales):
        return athena(w, h, wf, grouping="rows", scales=scales)

    check_layer(model, capture, "encoder.layer.1.attention.self.value", int_format(4), [athena, athena_rows])


@pytest.mark.slow
def test_second_order_beats_rtn_on_every_minilm_layer(minilm_calibration):
    model, capture = minilm_calibration
    for name in model.linear_names:
        for wf in (int_format(4), dint_format()):
            check_layer(model, capture, name, wf, [gptq, athena])


def test_quantize_model_feeds_each_layer_the_right_inputs(minilm_calibration):
    model, _ = minilm_calibration
    texts = ["calibrate on this", "and on this one too"]
    fp = {}
    model.encode(texts, capture=fp)
    first = "encoder.layer.0."

    def shrink_first_layer(seen):
        def quantize_layer(name, w, x):
            seen[name] = x
            return 0.9 * w if name.startswith(first) else w
        return quantize_layer

    for sequential in (False, True):
        seen = {}
        weights = quantize_model(model, texts, shrink_first_layer(seen), sequential=sequential)
        assert list(weights) == list(seen) == list(model.linear_names)
        for name in model.linear_names:
            same = not sequential or name.startswith(first)  # later layers see layer 0's change
            assert np.array_equal(seen[name], fp[name]) == same, (sequential, name)


@pytest.mark.slow
def test_damped_gptq_embeddings_are_closer_than_rtn(minilm_calibration):
    from lowbit.golden_models.accuracy.minilm import cosine_rows
    from lowbit.golden_models.accuracy.sentences import load_sentences

    model, _ = minilm_calibration
    sentences = load_sentences()
    texts = [p[k] for p in sentences["evaluation"] for k in ("a", "b")]
    ref = model.encode(texts)
    wf = int_format(4)
    rtn_w = {n: rtn(model.weight(n), wf)[0] for n in model.linear_names}
    gptq_w = quantize_model(model, sentences["calibration"], lambda n, w, x: gptq(w, hessian(x), wf, damp=1.0)[0])
    cos_rtn = cosine_rows(ref, model.encode(texts, weights=rtn_w))
    cos_gptq = cosine_rows(ref, model.encode(texts, weights=gptq_w))
    assert cos_gptq.mean() > cos_rtn.mean() and cos_gptq.min() > cos_rtn.min()


# ------------------------------------------------------------------------------ AQAS and SLAC


def int8_per_token(x):
    """The W4A8 rows' activation quantizer (symmetric INT8 per token, max scale)."""
    return dequantize_int(*quantize_int(x, 8, search=False))


@pytest.mark.parametrize("wf", [int_format(4), dint_format()], ids=["int4", "dint4"])
def test_aqas_output_cost_is_the_layer_output_error(wf):
    from lowbit.golden_models.accuracy.aqas import output_cost

    w, x = problem(3, out=5, n_in=8, rows=40)
    xq = int8_per_token(x)
    scales = wf.scales(w)
    q = wf.round(w, scales[:, None])
    direct = np.sum((xq @ q.T - x @ w.T) ** 2, axis=0)       # per output channel
    constant = np.sum((x @ w.T) ** 2, axis=0)
    np.testing.assert_allclose(output_cost(w, wf, scales, xq.T @ xq, xq.T @ x) + constant, direct, rtol=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("wf", [int_format(4), dint_format()], ids=["int4", "dint4"])
def test_aqas_never_loses_to_the_weight_mse_scales_on_its_calibration_data(wf, seed):
    from lowbit.golden_models.accuracy.aqas import aqas_rtn

    w, x = problem(seed, out=12, n_in=16, rows=80)
    x[:, 0] *= 20      # an outlier input channel: the activation error matters

    def out_err(w_q):
        return np.sum((int8_per_token(x) @ w_q.T - x @ w.T) ** 2, axis=0)

    plain = rtn(w, wf)[0]
    aqas, scales = aqas_rtn(w, x, wf, int8_per_token)
    assert np.all(out_err(aqas) <= out_err(plain) * (1 + 1e-12)) and np.all(scales > 0)
    np.testing.assert_array_equal(aqas, wf.round(w, scales[:, None]))


def test_slac_calibration_texts_pack_consecutive_sentences():
    from lowbit.golden_models.accuracy.aqas import calibration_texts
    from lowbit.golden_models.accuracy.minilm import MiniLM
    from lowbit.golden_models.accuracy.sentences import load_sentences

    model = MiniLM("float32")
    sentences = load_sentences()["calibration"][:20]
    assert calibration_texts(sentences, "sentence", model) == sentences
    groups = calibration_texts(sentences, 48, model)
    assert " ".join(groups) == " ".join(sentences) and 1 < len(groups) < len(sentences)
    lengths = [len(t) for t in model.token_ids(groups)]
    assert all(n >= 48 for n in lengths[:-1])
    with pytest.raises(ParameterError, match="calibration length"):
        calibration_texts(sentences, 4, model)
