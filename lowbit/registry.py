"""The unit registry: the one place that lists every unit, its parameters and its baseline."""

import inspect
from dataclasses import dataclass, field
from importlib import import_module

from .core.errors import LowbitError
from .core.params import Param

__all__ = ["Unit", "Registry"]


@dataclass(frozen=True)
class Unit:
    """A hardware unit as the CLI, the testbenches and the reports see it.

    ``component`` and ``golden`` are ``"module:attribute"`` references, imported on use, so
    that listing units imports no hardware. Both are called with the resolved parameters as
    keyword arguments (``golden`` receives only the parameters its signature names: the
    golden model does not care about pipelining). ``baseline`` names the unit this one is
    measured against, and ``baseline_params`` maps this unit's parameters to the baseline's
    (for instance the same accumulator width). ``throughput``, where given, maps parameters to
    ``{mode: multiply-accumulates per cycle}`` (e.g. per precision), for the sweep tables.
    """
    name: str
    summary: str
    params: tuple[Param, ...]
    component: str
    golden: str
    testbench: str
    source: str = ""
    baseline: str | None = None
    baseline_params: object = field(default=None, compare=False)
    throughput: object = field(default=None, compare=False)

    def param(self, name):
        for p in self.params:
            if p.name == name:
                return p
        if not self.params:
            raise LowbitError(f"unit {self.name} has no parameters (given {name!r})")
        raise LowbitError(f"unit {self.name} has no parameter {name!r}: its parameters are "
                          f"{', '.join(p.name for p in self.params)}")

    def defaults(self):
        return {p.name: p.default for p in self.params}

    def resolve(self, overrides=None):
        """Defaults updated with ``overrides`` (a mapping of name to text or value), checked.

        Each value is parsed and range-checked here; bounds that depend on other parameters
        are checked by the component's constructor (:meth:`build`), before anything is written.
        """
        params = self.defaults()
        for name, value in (overrides or {}).items():
            params[name] = self.param(name).parse(value)
        return params

    def build(self, params):
        """A fresh component instance for ``params`` (components elaborate only once)."""
        return _resolve_ref(self.component)(**params)

    def golden_model(self, params):
        """The golden model object for ``params``."""
        cls = _resolve_ref(self.golden)
        accepted = inspect.signature(cls).parameters
        return cls(**{k: v for k, v in params.items() if k in accepted})

    def baseline_for(self, params):
        """``(baseline unit name, its parameters)`` matching ``params``, or ``None``."""
        if self.baseline is None:
            return None
        return self.baseline, dict(self.baseline_params(params)) if self.baseline_params else {}


def _resolve_ref(ref):
    module, _, attr = ref.partition(":")
    return getattr(import_module(module), attr)


class Registry:
    """An ordered collection of :class:`Unit`, looked up by name."""

    def __init__(self, units=()):
        self._units = {}
        for unit in units:
            self.add(unit)

    def add(self, unit):
        if unit.name in self._units:
            raise ValueError(f"unit {unit.name} is registered twice")
        self._units[unit.name] = unit

    def __iter__(self):
        return iter(self._units.values())

    def __getitem__(self, name):
        try:
            return self._units[name]
        except KeyError:
            raise LowbitError(f"unknown unit {name!r}: the units are "
                              f"{', '.join(self._units)}") from None

    def names(self):
        return list(self._units)
