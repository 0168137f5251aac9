"""The table's measurements: weight SQNR, held-out layer output error, embedding agreement."""

import math

import numpy as np

from .ptq import output_error

__all__ = ["sqnr_db", "layer_metrics", "spearman", "EmbeddingReference"]


def sqnr_db(signal, noise):
    return math.inf if noise == 0 else 10 * math.log10(signal / noise)


def layer_metrics(ctx, weights, act_quant):
    """Per layer: weight SQNR (dB) and held-out relative output error; the pooled SQNR."""
    layers, signal, noise = [], 0.0, 0.0
    for name in ctx.model.linear_names:
        w = ctx.originals[name]
        w_q = w if weights is None else weights[name]
        x, ref = ctx.held[name], ctx.ref_norms[name]
        if weights is None and act_quant is None:
            err = 0.0
        elif act_quant is None:
            err = output_error(x, w, w_q)
        else:
            err = float(np.linalg.norm(np.asarray(act_quant(name, x), dtype=np.float64) @ w_q.T - x @ w.T))
        s, n = float(np.sum(w * w)), float(np.sum((w - w_q) ** 2))
        signal, noise = signal + s, noise + n
        layers.append({"layer": name, "weight_sqnr_db": None if weights is None else sqnr_db(s, n),
                       "rel_error": err / ref})
    return layers, (None if weights is None else sqnr_db(signal, noise))


def spearman(a, b):
    """Spearman rank correlation of two equally long float vectors (no ties expected in real
    similarities; ties get distinct ranks by order). A float in -1..1."""
    ra = np.empty(len(a))
    rb = np.empty(len(b))
    ra[np.argsort(a, kind="stable")] = np.arange(len(a))
    rb[np.argsort(b, kind="stable")] = np.arange(len(b))
    ra -= ra.mean()
    rb -= rb.mean()
    return float(ra @ rb / math.sqrt((ra @ ra) * (rb @ rb)))


class EmbeddingReference:
    """What the embedding metrics compare against: the float model's embeddings of the pool.

    ``ref`` (n_texts, d) unit rows of the evaluation sentences (every pair's ``a``, then every
    pair's ``b``); ``kinds`` the pairs' kinds; the paraphrase pairs are the retrieval queries.
    """

    def __init__(self, ref, pairs):
        ref = np.asarray(ref, dtype=np.float64)
        # Normalised again in float64 (rows normalised in float32 are unit to 1e-7 only), so
        # that a row equal to the reference has cosine 1 to float64 rounding, never above.
        self.ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
        self.n_pairs = len(pairs)
        self.queries = np.array([bool(p["paraphrase"]) for p in pairs])
        self.kinds = [p.get("kind", "paraphrase" if p["paraphrase"] else "unrelated") for p in pairs]
        self.upper = np.triu_indices(len(self.ref), k=1)
        self.ref_sims = self._sims(self.ref)
        self.ref_nn = self._pool_nearest(self.ref)
        n = self.n_pairs
        self.ref_pairs = np.einsum("ij,ij->i", self.ref[:n], self.ref[n:])
        self.ref_top = np.argmax(self.ref[:n][self.queries] @ self.ref[n:].T, axis=1)

    def _sims(self, emb):
        return (emb @ emb.T)[self.upper]

    @staticmethod
    def _pool_nearest(emb):
        s = emb @ emb.T
        np.fill_diagonal(s, -np.inf)
        return np.argmax(s, axis=1)

    def measure(self, emb):
        """The row's embedding metrics (see :mod:`.evaluate`): a dict of floats."""
        emb = np.asarray(emb, dtype=np.float64)
        emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        n = self.n_pairs
        cos = np.einsum("ij,ij->i", self.ref, emb)
        pairs = np.einsum("ij,ij->i", emb[:n], emb[n:])
        change = pairs - self.ref_pairs
        partner = np.arange(n)[self.queries] + n
        nn = self._pool_nearest(emb)
        result = {
            "cos_mean": float(cos.mean()),
            "cos_min": float(cos.min()),
            "retrieval": float(np.mean(np.argmax(emb[:n][self.queries] @ emb[n:].T, axis=1) == self.ref_top)),
            "nn_agreement": float(np.mean(nn == self.ref_nn)),
            "recall_at_1": float(np.mean(nn[np.arange(n)[self.queries]] == partner)),
            "rank_corr": spearman(self._sims(emb), self.ref_sims),
            "pair_rank_corr": spearman(pairs, self.ref_pairs),
            "para_abs_change": float(np.abs(change[self.queries]).mean()),
            "para_signed_change": float(change[self.queries].mean()),
            "pairs_abs_change": float(np.abs(change).mean()),
        }
        hard = np.array([k == "hard_negative" for k in self.kinds])
        if hard.any() and self.queries.any():
            # How often a paraphrase pair is more similar than a hard-negative pair, over all
            # (paraphrase, hard negative) combinations: the ranking a retrieval system relies on.
            result["para_over_hard"] = float(np.mean(pairs[self.queries][:, None] > pairs[hard][None, :]))
        return result
