"""The modes of the units, each declared once: the accumulator's overflow behaviour, the dINT4
codebooks and what EXAQ's top code means.

Each is an :class:`enum.Enum` whose members are also the strings they stand for
(``Overflow.SATURATE == "saturate"``, same hash, ``str()`` and ``format()`` give the bare
value), so a mode reads the same on the command line, in JSON and TOML files, in build-folder
tags and in the generated Verilog, while code compares against one declaration instead of a
string written out again. ``Overflow("wrap")`` turns text into the member; an unknown text is
refused by the parameter check (:meth:`lowbit.core.params.Param.check`) with the allowed
values.
"""

from enum import Enum

__all__ = ["Mode", "Overflow", "DintCodebook", "ExaqTop"]


class Mode(str, Enum):
    """A mode: an enumeration whose members are their own string values."""
    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__


class Overflow(Mode):
    """What an accumulator does with a sum outside its range."""
    WRAP = "wrap"            # two's complement wrap-around (keep the low bits)
    SATURATE = "saturate"    # clamp to the most positive or most negative value


class DintCodebook(Mode):
    """The dINT4 codebooks (SPEC.md): which codes carry the denormal magnitude 2^-f."""
    HALF = "half"            # {-7..7} and +2^-f (code 1000)
    PM_HALF = "pm_half"      # {-7..6} and +-2^-f


class ExaqTop(Mode):
    """What the largest EXAQ code (the clipped distances) stands for."""
    EXP = "exp"              # exp(-C), from the table like every other code
    ZERO = "zero"            # 0: the clipped elements drop out of the sum
