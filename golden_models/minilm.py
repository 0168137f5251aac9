"""Moved: the MiniLM loader is :mod:`lowbit.golden_models.accuracy.minilm` (the sentence sets
are :mod:`.accuracy.sentences`, the reference writer :mod:`.accuracy.reference`). This name
re-exports them for code written before the move; new code imports the new paths."""

import sys

from .accuracy.minilm import *  # noqa: F401,F403
from .accuracy.minilm import __all__ as _model_all
from .accuracy.minilm import _gelu, _Hooks, _load_params, _load_tokenizer, _Packed  # noqa: F401
from .accuracy.reference import REFERENCE_COMMAND, REFERENCE_FILE, reference_sentences, write_reference  # noqa: F401
from .accuracy.sentences import data_path, load_sentences  # noqa: F401

__all__ = [*_model_all, "data_path", "load_sentences", "reference_sentences", "write_reference", "REFERENCE_COMMAND"]

if __name__ == "__main__":
    from .accuracy.reference import main

    sys.exit(main())
