"""The unit registry: the one place that lists every unit, its parameters, its baseline and
everything the tools know about it (its testbench facts, waveform scenario, formal proofs,
mutants, slow corners, code width and the accuracy formats it computes)."""

from dataclasses import dataclass, field
from importlib import import_module

from .core.errors import LowbitError
from .core.params import Param, ParameterError

__all__ = ["Unit", "Registry", "SlowCorner", "Format", "resolve_ref"]


@dataclass(frozen=True)
class SlowCorner:
    """An extreme corner (``side`` ``"min"`` or ``"max"``) that takes too long for the default
    suite: ``why`` says so, as measured; ``small`` holds the parameters its ``-small`` stand-in
    fixes (the same corner of a smaller instance, every width still at its extreme)."""
    side: str
    why: str
    small: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Format:
    """An accuracy-table format that a unit computes: rows whose key is ``prefix`` (or starts
    with it, see :meth:`matches`), the parameters the unit must have for it, and for the
    bit-plane array the ``(p, q)`` job it runs."""
    prefix: str
    params: dict = field(default_factory=dict, compare=False)
    job: tuple | None = None

    def matches(self, key):
        """A prefix ending in ``-`` matches any key it starts; another matches the key itself
        or the key followed by ``-...``."""
        if key == self.prefix:
            return True
        return key.startswith(self.prefix) and (self.prefix.endswith("-") or
                                                key[len(self.prefix)] == "-")


@dataclass(frozen=True)
class Unit:
    """A hardware unit as the CLI, the testbenches and the reports see it.

    ``component`` and ``golden`` are ``"module:attribute"`` references, imported on use, so
    that listing units imports no hardware. The component is called with every resolved
    parameter as a keyword argument; the golden model with exactly the parameters declared
    ``golden=True`` (all but the hardware-only ones such as ``pipeline`` and ``epc``, which do
    not change what is computed), so a misspelt or unknown argument is an error, never dropped.
    ``baseline`` names the unit this one is measured against, and ``baseline_params`` maps this
    unit's parameters to the baseline's (for instance the same accumulator width).
    ``throughput``, where given, maps parameters to ``{mode: units of work per cycle}`` (e.g.
    per precision), for the sweep tables; ``work`` says what one unit of work is (``"MAC"``,
    ``"binary MAC"``, ``"element"``). ``implementations`` names the parameters that choose an
    implementation without changing the arithmetic: the flow builds each value and keeps the
    smallest, for units and baselines alike.

    What the tools know about the unit lives here too, each field optional (the references are
    ``"module:attribute"`` strings into the unit's own modules, imported on use):

    - ``variant``: which variant of a shared testbench this unit is (``"exaq"``, ``"binary"``);
      the runner passes it to the testbench (``Bench.variant``), which never sniffs port names.
    - ``testbench_meta``: a callable ``(component, params) -> dict`` (or a reference to one) of
      JSON facts the testbench needs, such as cycle formulas tabulated per row length; the
      runner merges it into the metadata it passes (``Bench.meta``), so no testbench builds the
      component a second time.
    - ``scenario``: the waveform scenario (a function returning it).
    - ``proofs``: the formal proofs (``Proof`` objects) that cover the unit; a proof of a part
      two units share is named by both.
    - ``mutants``: a ``MutantSet`` (sim_tests/mutants.py): the unit's mutants and the checks
      that must kill them.
    - ``slow_corners``: the :class:`SlowCorner` extremes kept out of the default suite.
    - ``code_bits``: the weight (code) width the report plots the unit against: an ``int``, the
      name of the parameter that holds it, or a callable of the parameters.
    - ``formats``: the accuracy-table :class:`Format` rows the unit computes.
    - ``docs``: the unit's documentation page, relative to the repository (``docs/x.md``).
    - ``workload``: the operand streams ``lowbit power`` measures the unit's netlist on: a
      reference to ``f(unit, params, *, data, seed, cycles) -> Workload`` in its family's
      module of ``lowbit.synth.workloads`` (``"lowbit.synth.workloads.dot:dot_workload"``).
    - ``target_params``: ``{target family: overrides}`` for a family the defaults do not fit
      (btc_array's plane buffers on the iCE40 UP5K): the flow builds the unit, and its
      baseline through ``baseline_params``, at :meth:`params_for` of that family.
    - ``in_flow``: whether ``lowbit flow`` without unit names runs the unit (False for a
      composition of units with no baseline and a command of its own, the attention block:
      ``lowbit block``); naming it runs it.
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
    work: str = "MAC"
    implementations: tuple[str, ...] = ()
    variant: str = ""
    testbench_meta: object = field(default=None, compare=False)
    scenario: str | None = None
    proofs: tuple[str, ...] = ()
    mutants: str | None = None
    slow_corners: tuple[SlowCorner, ...] = ()
    code_bits: object = field(default=None, compare=False)
    formats: tuple[Format, ...] = ()
    docs: str | None = None
    workload: str | None = None
    target_params: dict = field(default_factory=dict, compare=False)
    in_flow: bool = True

    def params_for(self, target, overrides=None):
        """:meth:`resolve` of ``overrides`` on top of the unit's ``target_params`` for the
        family of ``target`` (``ice40-dsp`` is ``ice40``): the parameters the flow builds the
        unit at on that target."""
        family = target.split("-")[0]
        return self.resolve({**self.target_params.get(family, {}), **(overrides or {})})

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
        return resolve_ref(self.component)(**params)

    def golden_args(self, params):
        """The golden model's keyword arguments for ``params``: every parameter declared
        ``golden`` (hardware-only ones such as ``pipeline`` are not passed). A name that is no
        parameter of the unit is an error."""
        for name in params:
            self.param(name)
        return {p.name: params[p.name] for p in self.params if p.golden and p.name in params}

    def golden_model(self, params):
        """The golden model object for ``params``, called with :meth:`golden_args`."""
        return resolve_ref(self.golden)(**self.golden_args(params))

    def accepted_range(self, name, params=None):
        """``(lo, hi)`` of integer parameter ``name`` that the component accepts with the other
        parameters at ``params`` (default: the defaults), asked from the component itself:
        it is built (never elaborated) at the declared bounds, a bound it narrows comes back in
        its :class:`ParameterError`, and a value another parameter's check refuses (``in_bits``
        at or below ``in_frac``) is stepped inward until the component takes it. The declared
        ``(lo, hi)`` where it narrows none (or accepts no value at all)."""
        from lowbit.hdl.component import unelaborated

        param = self.param(name)
        base = self.resolve(params)

        def accepted(value):
            """``None`` if the component takes ``value``, else the bound it states for this
            parameter (or the value itself if it refuses it by another parameter's check)."""
            try:
                unelaborated(self.build(dict(base, **{name: value})))   # its checks only
                return None
            except ParameterError as error:
                if error.name == name and error.lo is not None:
                    return error.lo if value < error.lo else error.hi
                return value

        def bound(start, step):
            value, tries = start, 0
            while param.lo <= value <= param.hi and tries < 256:
                found = accepted(value)
                if found is None:
                    return value
                moved = found if found != value else value + step
                value, tries = (moved if (moved - value) * step > 0 else value + step), tries + 1
            return None

        lo, hi = bound(param.lo, 1), bound(param.hi, -1)
        return (param.lo, param.hi) if lo is None or hi is None else (lo, hi)

    # What the tools know about the unit.

    def testbench_facts(self, component, params):
        """The JSON facts the unit's testbench needs beyond latency and ports (``{}`` if
        none): its ``variant`` and what ``testbench_meta`` computes from the built
        ``component``."""
        facts = {"variant": self.variant}
        if self.testbench_meta is not None:
            meta = self.testbench_meta
            facts.update((resolve_ref(meta) if isinstance(meta, str) else meta)(component, params))
        return facts

    def scenario_function(self):
        """The waveform scenario function, or ``None`` if the unit has none."""
        return resolve_ref(self.scenario) if self.scenario else None

    def proof_objects(self):
        """The formal proofs that cover the unit, in declaration order."""
        return [resolve_ref(ref) for ref in self.proofs]

    def workload_function(self):
        """The unit's workload function (see ``workload``), or ``None`` if it has none."""
        return resolve_ref(self.workload) if self.workload else None

    def mutant_set(self):
        """The unit's ``MutantSet`` (its mutants and their checks), or ``None``."""
        return resolve_ref(self.mutants) if self.mutants else None

    def slow_corner(self, side):
        """The :class:`SlowCorner` of ``side``, or ``None`` if that corner is quick."""
        return next((c for c in self.slow_corners if c.side == side), None)

    def code_bits_for(self, params):
        """The weight (code) width the reports plot the unit at ``params`` against, or
        ``None`` if it has none."""
        bits = self.code_bits
        if bits is None or isinstance(bits, int):
            return bits
        if isinstance(bits, str):
            return params.get(bits, self.param(bits).default)
        return bits(params)

    def format_for(self, key):
        """The :class:`Format` of accuracy row ``key`` that this unit computes, or ``None``."""
        return next((f for f in self.formats if f.matches(key)), None)

    def baseline_for(self, params):
        """``(baseline unit name, its parameters)`` matching ``params``, or ``None``."""
        if self.baseline is None:
            return None
        return self.baseline, dict(self.baseline_params(params)) if self.baseline_params else {}


def resolve_ref(ref):
    """The object a ``"module:attribute"`` reference names (``attribute`` may be dotted)."""
    module, _, attr = ref.partition(":")
    obj = import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


_resolve_ref = resolve_ref   # the old private name


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

    def format_hardware(self, key):
        """``(unit name, parameters it must have, (p, q) job or None)`` of the unit that
        computes accuracy row ``key``, or ``None`` (the FP32 reference, or a row no unit
        computes). The longest matching prefix wins (``dint4-pm-`` before ``dint4-``)."""
        found = [(len(f.prefix), unit.name, f) for unit in self for f in unit.formats
                 if f.matches(key)]
        if not found:
            return None
        _, name, fmt = max(found, key=lambda t: t[0])
        return name, dict(fmt.params), fmt.job
