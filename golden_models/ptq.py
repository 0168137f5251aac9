"""Moved to :mod:`lowbit.golden_models.accuracy.ptq` (the MiniLM accuracy study's subpackage).

This old name is kept for code written before the move: importing it gives that same module
object (private names and monkeypatching included). New code imports the new path.
"""

import sys

from .accuracy import ptq as _moved

if __name__ == "__main__":
    sys.exit(_moved.main())
else:
    sys.modules[__name__] = _moved
