"""Moved: the accuracy table of ``lowbit eval`` is :mod:`lowbit.golden_models.accuracy.evaluate`
(split into ``rows``, ``weight_sets``, ``exaq_attention``, ``metrics``, ``progress`` and
``writers`` beside it). This old name re-exports its public names for code written before the
move; new code imports the new paths."""

from .accuracy.evaluate import *  # noqa: F401,F403
from .accuracy.evaluate import __all__  # noqa: F401
from .accuracy.evaluate import A8_MODES  # noqa: F401
from .accuracy.rows import DINT_VARIANTS as _DINT_VARIANTS  # noqa: F401
from .accuracy.weight_sets import WEIGHT_SETS as _WEIGHT_SETS  # noqa: F401
