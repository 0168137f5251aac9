"""The study's sentence sets: where they live, how they load, and the checks they must pass.

``golden_models/data/sentences.json`` holds the calibration sentences (a list of str) and the
evaluation pairs (dicts ``{"a": str, "b": str, "paraphrase": bool}``). Calibrated methods see
only the calibration sentences; every metric is measured on the evaluation sentences, so the
two sets must be disjoint (:func:`check_disjoint`).
"""

import importlib.resources
import json
from pathlib import Path

from .._checks import ParameterError

__all__ = ["DATA_PACKAGE", "STUDY_SET", "SMALL_SET", "data_path", "load_sentences", "evaluation_texts", "check_disjoint"]

# The evaluation set of the accuracy table: 198 calibration sentences and 120 evaluation pairs
# (50 paraphrases, 50 hard negatives, 20 unrelated), written for this repository.
STUDY_SET = "study_sentences.json"
# The first, small set (40 calibration sentences, 30 pairs): fast tests and the unit studies.
SMALL_SET = "sentences.json"

# The data folder belongs to golden_models (installed as package data of lowbit.golden_models).
DATA_PACKAGE = __package__.rpartition(".")[0]


def data_path(name):
    """Path of a file in ``golden_models/data/`` (the sentence lists and reference embeddings)."""
    return Path(str(importlib.resources.files(DATA_PACKAGE) / "data" / name))


def load_sentences(name=SMALL_SET):
    """A committed sentence set: dict with ``calibration`` (list of str) and ``evaluation``
    (list of dicts ``{"a": str, "b": str, "paraphrase": bool}``); see ``data/sentences.json``."""
    return json.loads(data_path(name).read_text(encoding="utf-8"))


def evaluation_texts(sentences):
    """The evaluation sentences in table order: every pair's ``a``, then every pair's ``b``."""
    pairs = sentences["evaluation"]
    return [p["a"] for p in pairs] + [p["b"] for p in pairs]


def check_disjoint(sentences):
    """Refuse a sentence set whose calibration and evaluation sentences share one, or that
    lacks either part or a paraphrase pair (:class:`ParameterError`, one line)."""
    calibration = set(sentences["calibration"])
    evaluation = {s for p in sentences["evaluation"] for s in (p["a"], p["b"])}
    common = calibration & evaluation
    if common:
        raise ParameterError(f"calibration and evaluation sentences must be disjoint; shared: {sorted(common)[:3]}")
    if not calibration or not evaluation:
        raise ParameterError("sentences must hold calibration sentences and evaluation pairs")
    if not any(p["paraphrase"] for p in sentences["evaluation"]):
        raise ParameterError("the evaluation pairs must hold at least one paraphrase pair (the retrieval queries)")
