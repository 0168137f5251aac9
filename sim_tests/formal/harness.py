"""What every proof harness shares: the :class:`Harness` base (a top level whose only port is
its clock), :class:`Group` (several harnesses proved in one run), a cycle counter, the stream
rule as an assumption or an assertion, and :class:`StreamHarness`, the bounded proof that a
stream unit keeps the stream rules and loses, duplicates, invents or reorders no item."""

from amaranth.asserts import AnySeq
from amaranth.hdl import Array, Assert, Assume, ClockDomain, Elaboratable, Module, Mux, Signal, Value

__all__ = ["Harness", "CaseHarness", "Group", "group", "cycle_counter", "stall_rule",
           "StreamHarness", "PipelineStream"]


class Harness(Elaboratable):
    """A proof's top level: no ports, a reset-less ``sync`` domain (registers start from their
    init values, which is the reset state), and :meth:`build` adding the rest. Inside a group
    (``top = False``) the group's domain serves."""

    top = True
    _domain = None

    @property
    def domain(self):
        """The ``sync`` domain of a top-level harness; its clock is the harness's one port
        (an undriven clock would be a constant, and Yosys would freeze every register)."""
        if self._domain is None:
            self._domain = ClockDomain("sync", reset_less=True)
        return self._domain

    def elaborate(self, platform):
        m = Module()
        if self.top:
            m.domains.sync = self.domain
        self.build(m)
        return m

    def build(self, m):
        raise NotImplementedError


class CaseHarness(Harness):
    """Several units in one proof, each against its own specification: ``cases`` is a list of
    ``(unit, spec)``, and :meth:`build_case` builds the ``k``-th one (its free inputs, the
    unit's datapath and the assertion that it equals ``spec``)."""

    def __init__(self, cases):
        self.cases = list(cases)

    def build(self, m):
        for k, (unit, spec) in enumerate(self.cases):
            self.build_case(m, k, unit, spec)

    def build_case(self, m, k, unit, spec):
        raise NotImplementedError


class Group(Harness):
    """Several harnesses proved in one run (each keeps its own assertions)."""

    def __init__(self, harnesses):
        self.harnesses = harnesses

    def build(self, m):
        for k, harness in enumerate(self.harnesses):
            harness.top = False
            m.submodules[f"part{k}"] = harness


def group(*harnesses):
    return Group(list(harnesses))


def cycle_counter(m, last):
    """A counter of the cycles since reset, stopping at ``last``."""
    t = Signal(range(last + 1), name="cycle")
    with m.If(t != last):
        m.d.sync += t.eq(t + 1)
    return t


def stall_rule(m, stream, statement, name):
    """``statement`` (Assume or Assert) that a stream's payload and valid hold while it stalls:
    after a cycle with ``valid & ~ready``, ``valid`` is still high and the payload unchanged."""
    payload = Value.cast(stream.payload)
    stalled = Signal(name=f"{name}_stalled")
    held = Signal(payload.shape(), name=f"{name}_held")
    m.d.sync += [stalled.eq(stream.valid & ~stream.ready), held.eq(payload)]
    m.d.comb += statement(~stalled | (stream.valid & (payload == held)),
                          f"{name}: valid and payload hold while stalled")


class StreamHarness(Harness):
    """Bounded proof of a stream unit ``i -> o`` under any input and any back-pressure.

    The input stream and ``o.ready`` are free; the producer is assumed to keep the stream
    rule (no payload change while valid and not ready) and any rule the unit documents
    (:meth:`assume_input`). Asserted:

    * **stable output**: after ``o.valid & ~o.ready``, ``o.valid`` is high and the payload
      unchanged;
    * **no duplicated, spurious or reordered item**: each accepted input adds its expected
      output (:meth:`expected`) to a queue; each output transfer must find the queue non-empty
      and match its head (:meth:`matches`), which it removes;
    * **no lost item**: the unit never holds more than ``capacity`` items (so it cannot
      swallow them), and while items are owed, ``o.valid`` is never low for more than
      ``max_wait`` cycles in a row (so it cannot sit on them): the owed item comes out.
    """

    capacity = None
    max_wait = None

    def __init__(self, unit):
        self.unit = unit

    def assume_input(self, m):
        pass

    def expected(self, m):
        """``(push, item)``: when an expected output is due, and its value."""
        return self.unit.i.valid & self.unit.i.ready, Value.cast(self.unit.i.payload)

    def matches(self, m, payload, item):
        return Value.cast(payload) == item

    def build(self, m):
        dut = m.submodules.dut = self.unit
        m.d.comb += [dut.i.valid.eq(AnySeq(1)),
                     dut.i.payload.eq(AnySeq(len(Value.cast(dut.i.payload)))),
                     dut.o.ready.eq(AnySeq(1))]
        stall_rule(m, dut.i, Assume, "i")
        self.assume_input(m)
        stall_rule(m, dut.o, Assert, "o")

        push, item = self.expected(m)
        cap = self.capacity
        queue = Array(Signal(item.shape(), name=f"queue{k}") for k in range(cap))
        head, tail = Signal(range(cap), name="head"), Signal(range(cap), name="tail")
        count = Signal(range(cap + 1), name="owed")
        pop = dut.o.valid & dut.o.ready
        with m.If(push):
            m.d.sync += [queue[tail].eq(item), tail.eq(Mux(tail == cap - 1, 0, tail + 1))]
        with m.If(pop):
            m.d.sync += head.eq(Mux(head == cap - 1, 0, head + 1))
        m.d.sync += count.eq(count + push - pop)
        m.d.comb += [
            Assert(~pop | (count != 0), "no output without an owed item"),
            Assert(~pop | self.matches(m, dut.o.payload, queue[head]),
                   "each output is the next owed item"),
            Assert(~push | pop | (count != cap), f"at most {cap} items inside the unit"),
        ]
        if self.max_wait is not None:
            waiting = Signal(range(self.max_wait + 2), name="waiting")
            with m.If((count != 0) & ~dut.o.valid):
                m.d.sync += waiting.eq(Mux(waiting > self.max_wait, waiting, waiting + 1))
            with m.Else():
                m.d.sync += waiting.eq(0)
            m.d.comb += Assert(waiting <= self.max_wait,
                               f"an owed item comes out within {self.max_wait} idle cycles")


class PipelineStream(StreamHarness):
    """A unit built on :class:`~lowbit.hdl.stream_pipeline.StallingPipeline` (``latency``
    stages): it holds at most ``latency`` items and, with its output idle, moves every cycle,
    so an owed item leaves after at most ``latency - 1`` idle cycles.

    The items are *tagged*: :meth:`assume_input` restricts the inputs to ones whose output,
    by SPEC.md, is a copy of some input bits (:meth:`tag`), so each output names the input it
    came from and any loss, duplication or reordering is a mismatch. The arithmetic itself is
    the combinational proofs' business: checking it here too, under every valid/ready
    sequence, costs the solver minutes where tags cost seconds."""

    def __init__(self, unit):
        super().__init__(unit)
        self.capacity = unit.latency
        self.max_wait = unit.latency - 1

    def tag(self, m, payload):
        raise NotImplementedError

    def expected(self, m):
        tag = self.tag(m, self.unit.i.payload)
        item = Signal(tag.shape(), name="expected")
        m.d.comb += item.eq(tag)
        return self.unit.i.valid & self.unit.i.ready, item

    def matches(self, m, payload, item):
        return Value.cast(payload) == item
