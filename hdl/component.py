"""The base class of every lowbit unit: a ``wiring.Component`` whose refused parameters leave
no trace.

Amaranth warns (``UnusedElaboratable``) about every elaboratable that is garbage-collected
without having been elaborated. A component whose constructor refuses its parameters was never
a usable circuit, so that warning would only bury the one-line :class:`ParameterError` under
noise: :class:`Component` marks such an instance as accounted for, and lets the error through.
"""

import functools

from amaranth.hdl import Signal, Value
from amaranth.lib import wiring

from lowbit.core.params import ParameterError

__all__ = ["Component", "named", "unelaborated"]


class Component(wiring.Component):
    """``wiring.Component``, except that an ``__init__`` raising :class:`ParameterError` does
    not leave an ``UnusedElaboratable`` warning behind (for the instance or for the
    sub-components it had already built)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_lowbit_checked", False):
            return

        @functools.wraps(init)
        def checked_init(self, *args, **kwargs):
            try:
                init(self, *args, **kwargs)
            except ParameterError:
                _silence(self)
                raise

        checked_init._lowbit_checked = True
        cls.__init__ = checked_init


def unelaborated(component):
    """``component``, built only to read its formulas, widths or ports, marked as never to be
    elaborated (with every elaboratable it holds, e.g. the attention block's sub-units), so
    that dropping it leaves no ``UnusedElaboratable`` warning. Returns ``component``."""
    _silence(component)
    return component


def _silence(component, seen=None):
    # The instance and any elaboratable it holds (a sub-unit built in ``__init__``, before a
    # later check failed or for its formulas), and theirs.
    seen = set() if seen is None else seen
    if id(component) in seen or not hasattr(component, "_MustUse__used"):
        return
    seen.add(id(component))
    component._MustUse__used = True
    for value in vars(component).values():
        _silence(value, seen)


def named(m, name, value):
    """``value`` (an expression) as a signal called ``name`` of exactly its shape, driven in
    ``m``'s comb domain. Amaranth gives every operator inside an expression a machine name
    (``$12``) in the Verilog; a sub-expression assigned to a signal of its own shape takes that
    signal's name instead, so a waveform shows ``round_up`` rather than ``$12``."""
    value = Value.cast(value)
    signal = Signal(value.shape(), name=name)
    m.d.comb += signal.eq(value)
    return signal
