"""The extreme parameter sets of every registered unit: the one table of them.

For each unit, ``min`` puts every parameter at the lowest value its registry entry allows (the
first choice of a choice parameter, ``False`` of a boolean) and ``max`` at the highest (the last
choice, ``True``). Where the component narrows a bound from the other parameters (an
accumulator at least as wide as its product, ``in_frac < in_bits``, an ``epc`` that is a power
of two), it refuses the set with a :class:`~lowbit.core.params.ParameterError` that carries
the allowed range as data (``lo``/``hi`` or ``choices``); :func:`corner` then moves that one
parameter to the nearest allowed value and tries again, so each corner is the most extreme
*consistent* set on its side.

A few corners take long to generate (the arrays at 16 x 16: hundreds of cells, megabytes of
Verilog); their registry entries declare them (``Unit.slow_corners``), they are marked
``slow``, and a ``max-small`` set (the same corner of a smaller array: every width still at its
maximum) stands in for each in the default test suite. The lint and
portability tests (test_portability.py) check every set here; the simulation tests choose
their own cases (sim_tests/cases.py), sized for simulation time.
"""

import functools
from dataclasses import dataclass, field

from lowbit.core.params import ParameterError
from lowbit.hdl.component import unelaborated
from lowbit.units import UNITS

__all__ = ["Extreme", "corner", "extremes"]


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


def _nearest_allowed(value, error, side):
    """The allowed value nearest ``value`` that ``error`` (a ParameterError) carries, or
    ``None`` if it carries no range. Among numeric choices, the nearest one towards the
    corner's own side when there is one (at ``max``, the largest not above ``value``)."""
    if error.lo is not None and error.hi is not None:
        return min(max(value, error.lo), error.hi)
    if error.choices is not None and len(error.choices) == 1:
        return error.choices[0]          # one value allowed with the others (a flag)
    if error.choices is not None:
        numbers = [c for c in error.choices
                   if isinstance(c, int) and not isinstance(c, bool)]
        if isinstance(value, int) and numbers and len(numbers) == len(error.choices):
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
            unelaborated(unit.build(unit.resolve(params)))   # for its checks only
            return unit.resolve(params)
        except ParameterError as error:
            name = error.name
            moved = (_nearest_allowed(params.get(name), error, side)
                     if name in params and name not in fixed else None)
            if moved is None or moved == params[name]:
                raise ValueError(f"no consistent {side} corner of {unit_name}: {error}") from None
            params[name] = moved
    raise ValueError(f"no consistent {side} corner of {unit_name}: the search did not settle")


@functools.cache
def _table():
    return _corners()


def _corners():
    table = {}
    for unit in UNITS:
        sets = [Extreme(unit.name, "default", unit.resolve({}))]
        for side in ("min", "max"):
            slow = unit.slow_corner(side)
            sets.append(Extreme(unit.name, side, corner(unit.name, side), slow=bool(slow)))
            if slow:
                sets.append(Extreme(unit.name, f"{side}-small",
                                    corner(unit.name, side, **slow.small)))
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
