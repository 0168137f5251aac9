"""A timing harness that lets a unit of any port width be placed and routed on five pins.

Place-and-route needs every unit port to end at a flip-flop, otherwise the unit's paths run to
I/O pins (untimed, or timed against an arbitrary I/O budget) and a unit wider than the package
would not fit at all. The harness puts registers on both sides of the unit::

    sin -> [input shift] -> unit -> [capture] -> [shift-out] -> sout
                                                       ^ load

* The input shift register shifts ``sin`` in every cycle and drives every unit input bit, so each
  input is a flip-flop output that synthesis cannot treat as a constant.
* The capture register samples every unit output bit every cycle, so each output is a flip-flop
  input and no unit logic is unobservable.
* The shift-out register loads the capture register when ``load`` is high and shifts towards
  ``sout`` otherwise. Its load multiplexer sits behind the capture register, so the harness adds
  no logic to any path through the unit.
* The unit's reset is the top-level ``rst`` pin registered once, so the reset fan-out is timed
  as a register-to-register path like in any real design, not as a pin-to-register path.

The harness registers have no reset (they need none), so they cost flip-flops only, apart from
one 2:1 multiplexer per shift-out bit.
"""

from amaranth import Cat, ClockDomain, ClockSignal, Module, ResetSignal, Signal, Value
from amaranth.hdl import DomainRenamer
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.errors import LowbitError

__all__ = ["Harness", "port_bits"]


def port_bits(component):
    """The unit's ports as two lists of values, ``(inputs, outputs)``.

    Ports of nested interfaces (for example ``amaranth.lib.stream`` signatures) are flattened,
    with the flow seen from the unit: a stream sink contributes ``payload`` and ``valid`` to the
    inputs and ``ready`` to the outputs.
    """
    inputs, outputs = [], []
    for _path, member, value in component.signature.flatten(component):
        (inputs if member.flow == In else outputs).append(Value.cast(value))
    return inputs, outputs


class Harness(wiring.Component):
    """Wraps ``unit`` (a fresh, not yet elaborated ``wiring.Component`` on the ``sync`` domain).

    Ports: ``sin`` (serial input), ``load`` (copy the capture register into the shift-out
    register), ``sout`` (serial output); ``clk`` and ``rst`` come from the ``sync`` domain.
    """

    sin: In(1)
    load: In(1)
    sout: Out(1)

    def __init__(self, unit):
        self._unit = unit
        self._inputs, self._outputs = port_bits(unit)
        if not self._outputs:
            raise LowbitError("cannot time a unit without outputs: nothing to observe")
        super().__init__()

    def elaborate(self, platform):
        m = Module()

        # The unit runs on the same clock with a registered copy of the reset.
        m.domains.unit = unit_domain = ClockDomain("unit", local=True)
        rst_q = Signal(reset_less=True)
        m.d.sync += rst_q.eq(ResetSignal("sync"))
        m.d.comb += [unit_domain.clk.eq(ClockSignal("sync")), unit_domain.rst.eq(rst_q)]
        m.submodules.unit = DomainRenamer("unit")(self._unit)

        shift_in = Signal(sum(len(value) for value in self._inputs), reset_less=True)
        # `eq` truncates the one-bit-wider concatenation: the oldest bit falls off the top.
        m.d.sync += shift_in.eq(Cat(self.sin, shift_in))
        m.d.comb += Cat(*self._inputs).eq(shift_in)

        capture = Signal(sum(len(value) for value in self._outputs), reset_less=True)
        shift_out = Signal(len(capture), reset_less=True)
        m.d.sync += capture.eq(Cat(*self._outputs))
        with m.If(self.load):
            m.d.sync += shift_out.eq(capture)
        with m.Else():
            m.d.sync += shift_out.eq(shift_out >> 1)
        m.d.comb += self.sout.eq(shift_out[0])
        return m

