"""The stored MiniLM reference embeddings (``golden_models/data/minilm_reference.json``).

``lowbit experiment minilm-reference`` rewrites the file from the float64 forward pass; the
tests compare the NumPy model against it.
"""

import json
from pathlib import Path

from .minilm import MODEL_PACKAGE, MiniLM
from .sentences import data_path

__all__ = ["REFERENCE_FILE", "REFERENCE_COMMAND", "reference_sentences", "write_reference"]

REFERENCE_FILE = "minilm_reference.json"
# The command that writes the stored file (recorded in it).
REFERENCE_COMMAND = "lowbit experiment minilm-reference --write-reference"


def reference_sentences():
    """The sentences of the stored reference embeddings (a fixed, small, varied set)."""
    return [
        "hello world",
        "The cat sat quietly on the warm windowsill.",
        "A kitten was resting on the sunny window ledge.",
        "Quarterly revenue rose by twelve percent, beating analyst forecasts.",
        "How do I reset the password of my router?",
        "Photosynthesis converts light energy into chemical energy stored in glucose.",
    ]


def write_reference(path=None):
    """Compute the float64 embeddings of :func:`reference_sentences` and store them as JSON."""
    sentences = reference_sentences()
    emb = MiniLM("float64").encode(sentences)
    doc = {
        "command": REFERENCE_COMMAND,
        "model_package": MODEL_PACKAGE,
        "dtype": "float64",
        "sentences": sentences,
        "embeddings": emb.tolist(),  # JSON floats are repr: they round-trip float64 exactly
    }
    path = Path(path) if path is not None else data_path(REFERENCE_FILE)
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path



def add_arguments(parser):
    """The options of ``lowbit experiment minilm-reference``."""
    parser.add_argument("--write-reference", action="store_true", help=f"rewrite data/{REFERENCE_FILE}")
    parser.add_argument("sentences", nargs="*", help="print the first embedding values of these sentences")


def run(args):
    """Rewrite the stored reference embeddings, or print the first embedding values of sentences."""
    import numpy as np

    from .progress import Steps

    steps = Steps(bool(args.write_reference) + bool(args.sentences))
    if args.write_reference:
        print(f"wrote {write_reference()}")
        steps.step("reference embeddings written")
    if args.sentences:
        for s, e in zip(args.sentences, MiniLM("float64").encode(args.sentences)):
            print(f"{s!r}: {np.array2string(e[:5], precision=6)}")
        steps.step(f"{len(args.sentences)} sentences encoded")
    if not (args.write_reference or args.sentences):
        print("nothing to do: give --write-reference or sentences (see --help)")
    return 0
