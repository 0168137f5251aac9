"""The waveform tracer: one transaction of a unit in Amaranth's Python simulator, every shown
signal (:class:`Probe`) sampled once per clock cycle (the value it holds between two rising
edges, after the testbench has set the inputs) into a :class:`Trace`; and what a scenario
needs to check the transaction against the golden model (:func:`expect`, :func:`taken`) and to
drive streams (:func:`send`)."""

from dataclasses import dataclass

from .. import stream_sim

__all__ = ["Probe", "Trace", "record", "send", "expect", "taken"]


@dataclass
class Probe:
    """A shown signal: ``label``, the value to sample, how to print a sample (buses), and for
    a stream's payload the label of its ``valid`` (the payload is drawn only while it is
    high)."""
    label: str
    value: object
    text: object = str
    bit: bool = False
    valid: str = None


class Trace:
    """The samples of each probe, one per clock cycle."""

    def __init__(self, probes):
        self.probes = probes
        self.samples = {probe.label: [] for probe in probes}
        self.cycles = 0

    def column(self, label):
        return self.samples[label]


def record(unit, params, drive, probes, *, max_cycles=400):
    """Simulate ``unit`` (a registry entry) at ``params``; ``drive(ctx, dut, step)`` sets
    inputs and calls ``await step()`` once per cycle (``step`` samples every probe, then ticks
    the clock). ``probes(dut)`` lists the :class:`Probe` objects. Returns ``(dut, trace)``."""
    from amaranth.sim import Simulator

    dut = unit.build(params)
    trace = Trace(probes(dut))

    async def testbench(ctx):
        async def step():
            if trace.cycles >= max_cycles:
                raise RuntimeError(f"{unit.name}: the transaction took over {max_cycles} "
                                   "cycles")
            for probe in trace.probes:
                trace.samples[probe.label].append(ctx.get(probe.value))
            trace.cycles += 1
            await ctx.tick()
        await drive(ctx, dut, step)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return dut, trace


async def send(ctx, step, *streams):
    """Offer each ``(stream, payloads)`` back to back, every probe sampled each cycle (``step``
    is the tracer's: it samples, then ticks); see :func:`lowbit.sim_tests.stream_sim.send`."""
    await stream_sim.send(ctx, streams, tick=step)


def expect(unit, what, got, expected):
    """Stop (no figure) unless the simulated ``got`` equals the golden model's ``expected``."""
    if got != expected:
        raise RuntimeError(f"{unit}: {what} {got} differ from the golden model's {expected}")


def taken(trace, valid, ready, payload):
    """Payload samples of the cycles in which a stream transferred a beat."""
    return [p for v, r, p in zip(trace.column(valid), trace.column(ready),
                                 trace.column(payload)) if v and r]
