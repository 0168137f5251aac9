"""Parameter declarations and validation, shared by the components and the unit registry.

A component validates its own parameters in ``__init__`` with :func:`check_int` and
:func:`check_choice`; the registry uses :class:`Param` to parse command-line text and to list
each unit's parameters. Both raise :class:`ParameterError`, whose message is one line naming
the parameter, the value given and the allowed range.
"""

import hashlib
import json
from dataclasses import dataclass, replace
from numbers import Integral

from .errors import LowbitError

__all__ = ["ParameterError", "check_int", "check_choice", "params_tag", "Param"]


class ParameterError(LowbitError, ValueError):
    """A parameter outside its allowed range (a ``ValueError`` for library users).

    Raised by :func:`check_int` and :func:`check_choice`, it also carries what it states as
    data, for tools that move a parameter into range (sim_tests/extremes.py) rather than read
    the message: ``name`` (the parameter), ``value`` (the value refused), and either ``lo`` and
    ``hi`` (the integer bounds, which may depend on other parameters) or ``choices``. All are
    ``None`` for an error raised with a message alone.
    """

    def __init__(self, message, *, name=None, value=None, lo=None, hi=None, choices=None):
        super().__init__(message)
        self.name, self.value = name, value
        self.lo, self.hi, self.choices = lo, hi, choices

    @property
    def allowed(self):
        """``(lo, hi)``, the tuple of choices, or ``None`` if the error states no range."""
        if self.choices is not None:
            return tuple(self.choices)
        if self.lo is not None and self.hi is not None:
            return self.lo, self.hi
        return None


def check_int(name, value, lo, hi, why=""):
    """Return ``value`` as an ``int`` if it is an integer in ``lo..hi``; raise
    :class:`ParameterError` if not.

    ``why`` explains a bound that depends on other parameters (e.g. "a product needs 12 bits").
    NumPy integers are accepted; ``bool`` is refused although Python counts it as an integer
    (``acc_bits=True`` is a bug, not 1).
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_" or not isinstance(value, Integral):
        raise ParameterError(f"{name}={value!r} is not an integer: {name} must be an integer "
                             f"in {lo}..{hi}", name=name, value=value, lo=lo, hi=hi)
    if not lo <= value <= hi:
        reason = f" ({why})" if why else ""
        raise ParameterError(f"{name}={value} is out of range: {name} must be an integer "
                             f"in {lo}..{hi}{reason}", name=name, value=value, lo=lo, hi=hi)
    return int(value)


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``; raise :class:`ParameterError` if not."""
    if value not in choices:
        raise ParameterError(f"{name}={value!r} is not allowed: {name} must be one of "
                             f"{', '.join(map(str, choices))}", name=name, value=value,
                             choices=tuple(choices))
    return value


def params_tag(params):
    """A short stable tag of a parameter set, for build folder names."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


_BOOLS = (False, True)
_BOOL_WORDS = {"0": False, "false": False, "no": False, "off": False,
               "1": True, "true": True, "yes": True, "on": True}


@dataclass(frozen=True)
class Param:
    """One parameter of a registered unit.

    Declared once (``lowbit.core.unit_params``) and used by the registry (to parse command-line
    text and list the units), by the component (``__init__`` calls :meth:`check`) and by the
    golden model, so a range or a set of choices is written in one place.

    An integer parameter has ``lo``/``hi`` bounds; a choice parameter has ``choices`` (integers,
    the members of a :class:`~lowbit.core.modes.Mode`, or ``(False, True)`` for a boolean, which
    accepts true/false, yes/no, on/off, 1/0). Bounds that depend on other parameters are
    checked by the component itself (:meth:`check` with a narrower ``lo``/``hi`` and a
    ``why``); ``lo``/``hi`` here are the widest the parameter can ever be, and ``bound`` states
    the dependent bound in words for the listings ("at least the product width").

    A parameter whose default is ``None`` is derived from the others by the component unless
    given: ``None`` (or the word ``auto``) passes through :meth:`parse` unchanged.

    ``golden=False`` marks a hardware-only parameter (pipelining, lanes per beat): it does not
    change what is computed, so the golden model does not take it.
    """
    name: str
    default: object
    doc: str
    lo: int | None = None
    hi: int | None = None
    choices: tuple | None = None
    golden: bool = True
    bound: str = ""

    @property
    def kind(self):
        if self.choices == _BOOLS:
            return "bool"
        return "choice" if self.choices is not None else "int"

    @property
    def allowed(self):
        """The allowed values as text, for listings and error lines."""
        if self.choices is not None:
            return "|".join(map(str, self.choices))
        return f"{self.lo}..{self.hi}"

    @property
    def derived(self):
        """Whether the default is left to the component (``None``, shown as ``auto``)."""
        return self.default is None

    @property
    def int_choices(self):
        """Whether the choices are integers (e.g. lanes per beat 1, 2, 4, 8)."""
        return self.choices is not None and self.choices != _BOOLS and all(
            isinstance(c, Integral) and not isinstance(c, bool) for c in self.choices)

    def with_default(self, default):
        """The same parameter with another default, e.g. a baseline's."""
        return replace(self, default=default)

    def with_doc(self, doc):
        """The same parameter described for one unit (what it means there)."""
        return replace(self, doc=doc)

    def check(self, value, *, lo=None, hi=None, why=""):
        """``value`` checked as the component's constructor (or the golden model's) does:
        within ``lo..hi`` (default: the declared bounds; a component passes a narrower bound
        that depends on its other parameters, with ``why``), or one of the choices. A mode is
        returned as its member (``"wrap"`` -> ``Overflow.WRAP``). Raises
        :class:`ParameterError` naming the parameter and what is allowed."""
        if self.choices is None:
            return check_int(self.name, value, self.lo if lo is None else lo,
                             self.hi if hi is None else hi, why)
        if self.int_choices and (isinstance(value, bool) or not isinstance(value, Integral)):
            raise ParameterError(f"{self.name}={value!r} is not an integer: {self.name} must "
                                 f"be one of {', '.join(map(str, self.choices))}",
                                 name=self.name, value=value, choices=self.choices)
        value = check_choice(self.name, value, self.choices)
        if self.int_choices:
            return int(value)
        return next(c for c in self.choices if c == value)   # the declared member

    def parse(self, text):
        """Convert command-line ``text`` (or an already typed value) and range-check it."""
        if self.derived and (text is None or (isinstance(text, str) and text.lower() == "auto")):
            return None
        if self.choices == _BOOLS and isinstance(text, str):
            text = _BOOL_WORDS.get(text.lower(), text)
        if self.int_choices and isinstance(text, str):
            try:
                text = int(text, 0)
            except ValueError:
                raise ParameterError(f"{self.name}={text!r} is not an integer: {self.name} "
                                     f"must be one of {', '.join(map(str, self.choices))}",
                                     name=self.name, value=text, choices=self.choices) from None
        if self.choices is not None:
            return self.check(text)
        if isinstance(text, str):
            try:
                text = int(text, 0)
            except ValueError:
                raise ParameterError(f"{self.name}={text!r} is not an integer: {self.name} "
                                     f"must be an integer in {self.allowed}", name=self.name,
                                     value=text, lo=self.lo, hi=self.hi) from None
        return check_int(self.name, text, self.lo, self.hi)
