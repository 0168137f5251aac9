"""The extreme parameter sets of every registered unit: the one table of them.

For each unit, ``min`` puts every parameter at the lowest value its registry entry allows (the
first choice of a choice parameter, ``False`` of a boolean) and ``max`` at the highest (the last
choice, ``True``). Where the component narrows a bound from the other parameters (an
accumulator at least as wide as its product, ``in_frac < in_bits``, an ``epc`` that is a power
of two), it refuses the set with a :class:`~lowbit.core.params.ParameterError` that states the
allowed range; :func:`corner` then moves that one parameter to the nearest allowed value and
tries again, so each corner is the most extreme *consistent* set on its side.

A few corners take long to generate (the arrays at 16 x 16: hundreds of cells, megabytes of
Verilog); they are marked ``slow``, and a ``max-small`` set (the same corner of a smaller array:
every width still at its maximum) stands in for each in the default test suite. The lint and
portability tests (test_portability.py) check every set here; the simulation tests choose
their own cases (sim_tests/cases.py), sized for simulation time.
"""

import functools
import gc
import re
import warnings
from dataclasses import dataclass, field

from amaranth.hdl import UnusedElaboratable

from lowbit.core.params import ParameterError
from lowbit.units import UNITS

__all__ = ["Extreme", "corner", "extremes", "SLOW_CORNERS"]

# (unit, corner) -> (why it is behind the `slow` marker, as measured; the parameters its
# `-small` stand-in holds fixed).
SLOW_CORNERS = {
    ("btc_array", "max"): ("16 x 16 cells of 255-bit slices at W8A8: ~150 s to generate, "
                           "8 MB of Verilog", {"rows": 2, "cols": 2}),
    ("int_array", "max"): ("256 MAC cells, each its own Verilog module: ~20 s to generate, "
                           "1 MB of Verilog", {"rows": 2, "cols": 2}),
}

# The check_int / check_choice messages (lowbit.core.params) that state an allowed range.
_INT_RANGE = re.compile(r"^(\w+)=.* must be an integer in (-?\d+)\.\.(-?\d+)")
_CHOICES = re.compile(r"^(\w+)=.* must be one of (.+)$")


@dataclass(frozen=True)
class Extreme:
    """One extreme parameter set of a unit: ``label`` (``default``, ``min``, ``max``,
    ``max-small``), the full resolved ``params``, and whether it is too slow for the default
    suite."""
    unit: str
    label: str
    params: dict = field(compare=False)
    slow: bool = False

    @property
    def id(self):
        return f"{self.unit}-{self.label}"


def _first_guess(param, side):
    if param.choices is not None:
        return param.choices[0] if side == "min" else param.choices[-1]
    return param.lo if side == "min" else param.hi


def _nearest_allowed(value, message, side):
    """The allowed value nearest ``value`` that ``message`` (a ParameterError) states, or
    ``None`` if it states no range."""
    match = _INT_RANGE.match(message)
    if match:
        lo, hi = int(match.group(2)), int(match.group(3))
        return min(max(value, lo), hi)
    match = _CHOICES.match(message)
    if match:
        allowed = [text.strip() for text in match.group(2).split(",")]
        if isinstance(value, int) and all(a.lstrip("-").isdigit() for a in allowed):
            numbers = [int(a) for a in allowed]
            below = [n for n in numbers if n <= value]
            above = [n for n in numbers if n >= value]
            return max(below) if (side == "max" and below) or not above else min(above)
    return None


def corner(unit_name, side, **fixed):
    """The ``side`` (``"min"`` or ``"max"``) corner of ``unit_name``'s parameters, with the
    parameters in ``fixed`` held at the values given, made consistent as the module docstring
    says. Raises ``ValueError`` if the component refuses a set without stating a range that
    :func:`corner` can move into."""
    unit = UNITS[unit_name]
    params = {p.name: _first_guess(p, side) for p in unit.params}
    params.update(fixed)
    for _ in range(4 * len(params) + 1):
        try:
            unit.build(unit.resolve(params))   # for its checks only: never elaborated
            return unit.resolve(params)
        except ParameterError as error:
            name = str(error).split("=", 1)[0]
            moved = (_nearest_allowed(params.get(name), str(error), side)
                     if name in params and name not in fixed else None)
            if moved is None or moved == params[name]:
                raise ValueError(f"no consistent {side} corner of {unit_name}: {error}") from None
            params[name] = moved
    raise ValueError(f"no consistent {side} corner of {unit_name}: the search did not settle")


@functools.cache
def _table():
    # The components corner() builds are dropped unelaborated: collect them here, without
    # Amaranth's warning about that, rather than at some later collection.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        table = _corners()
        gc.collect()
    return table


def _corners():
    table = {}
    for unit in UNITS:
        sets = [Extreme(unit.name, "default", unit.resolve({}))]
        for side in ("min", "max"):
            slow = SLOW_CORNERS.get((unit.name, side))
            sets.append(Extreme(unit.name, side, corner(unit.name, side), slow=bool(slow)))
            if slow:
                sets.append(Extreme(unit.name, f"{side}-small",
                                    corner(unit.name, side, **slow[1])))
        distinct = {}
        for extreme in sets:   # a unit without parameters has only its defaults
            distinct.setdefault(repr(sorted(extreme.params.items())), extreme)
        table[unit.name] = tuple(distinct.values())
    return table


def extremes(unit_name=None):
    """The parameter sets of ``unit_name`` (every unit's if ``None``): its defaults, its
    ``min`` and ``max`` corners and the stand-ins of slow corners, as :class:`Extreme`.
    Computed on first use (about a second: every corner is built once)."""
    table = _table()
    if unit_name is None:
        return [e for sets in table.values() for e in sets]
    return list(table[unit_name])
