"""A byte-command bridge that lets a host drive any unit through one byte stream each way.

The bridge reads the unit's ``wiring.Signature`` and numbers its top-level members in order
(port 0, 1, ...): a plain input, a plain output, an ``amaranth.lib.stream`` sink (the unit
consumes) or a stream source (the unit produces). Values and stream payloads travel as their
raw bits (the flattened Verilog vector, a struct's first field in the low bits), padded to
whole bytes, least significant byte first. No unit needs code of its own.

The unit runs on a clock enable that only the bridge raises, so the host sees the unit as a
synchronous machine it advances on purpose: between commands the unit stands still and its
outputs are stable. Commands (one byte: operation in the high nibble, port in the low one);
every command is answered, first with one status byte, ``K`` (done), ``T`` (timed out) or
``?`` (not a command for that port), so the host sends the next command after the reply:

==========  =======================  ==========================================================
byte        then the host sends      the bridge
==========  =======================  ==========================================================
``0x1p``    ``bytes(p)`` bytes       WRITE: loads them into port p's register (a plain input's
                                     value, or a sink's payload); replies ``K``.
``0x2p``    -                        PUSH: offers sink p's payload (valid) and runs the unit
                                     until it takes it: ``K``; ``T`` after ``wait_cycles``.
``0x3p``    -                        READ: a plain output: ``K`` and its value now. A source:
                                     runs the unit until a payload arrives (``T`` after
                                     ``wait_cycles``), replies ``K`` and it, and frees the slot.
``0x40``    2 bytes, n (LE)          STEP: runs the unit for exactly n cycles; ``K``.
``0x50``    -                        RESET: one unit cycle with its reset high; empties the
                                     push and read slots (registers keep their values); ``K``.
==========  =======================  ==========================================================

While the unit runs (STEP, PUSH, READ), each source whose slot is empty is ready and a
payload it offers is captured into the slot (one per source), which holds it for READ; a full
slot holds the source back (``ready`` low), as a stream allows. A plain input keeps its value
in every unit cycle until the next WRITE, so a strobe such as a MAC's ``valid`` is WRITE 1,
STEP 1, WRITE 0. Cycle-exact: after WRITEs, STEP n gives the unit's outputs n cycles later.
"""

from dataclasses import dataclass

from amaranth.hdl import (Cat, ClockDomain, ClockSignal, EnableInserter, DomainRenamer, Module,
                          ResetSignal, Shape, Signal, Value)
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from lowbit.core.errors import LowbitError
from lowbit.core.params import check_int
from .component import Component

__all__ = ["HostPort", "HostBridge", "host_ports", "Op", "Status", "STEP_MAX",
           "MAX_PORTS", "command", "reply_length"]

MAX_PORTS = 16
STEP_MAX = (1 << 16) - 1


class Op:
    """Operation codes: the high nibble of a command byte."""
    WRITE = 0x10
    PUSH = 0x20
    READ = 0x30
    STEP = 0x40
    RESET = 0x50


class Status:
    """The first byte of every reply."""
    OK = ord("K")
    TIMEOUT = ord("T")
    BAD = ord("?")


@dataclass(frozen=True)
class HostPort:
    """One top-level member of a unit's signature as the host sees it.

    ``kind`` is ``"in"`` / ``"out"`` (a plain port, flow seen from the unit) or ``"sink"`` /
    ``"source"`` (a stream the unit consumes / produces); ``shape`` is the port's shape or the
    stream's payload shape (a ``data.Layout`` or a ``Shape``); ``nbytes`` the bytes it travels in.
    """
    index: int
    name: str
    kind: str
    shape: object

    @property
    def width(self):
        return Shape.cast(self.shape).width

    @property
    def nbytes(self):
        return (self.width + 7) // 8

    @property
    def writable(self):
        return self.kind in ("in", "sink")

    def pack(self, value):
        """``value`` (an integer, or for a layout a mapping/sequence of field values) -> the
        bits as a non-negative integer."""
        if isinstance(self.shape, data.Layout):
            value = self.shape.const(value).as_value().value
        return int(value) & ((1 << self.width) - 1)

    def unpack(self, bits):
        """The bits (an integer) -> an integer (two's complement for a signed shape) or, for a
        layout, an ``amaranth.lib.data.Const`` whose fields read as the hardware sees them."""
        bits &= (1 << self.width) - 1
        if isinstance(self.shape, data.Layout):
            return self.shape.from_bits(bits)
        if Shape.cast(self.shape).signed and bits >> (self.width - 1):
            return bits - (1 << self.width)
        return bits

    def as_dict(self):
        return {"index": self.index, "name": self.name, "kind": self.kind, "width": self.width,
                "bytes": self.nbytes}


def host_ports(component):
    """The unit's top-level members as ``HostPort``s, in signature order.

    Raises ``LowbitError`` for a member that is neither a plain port nor a stream with both
    ``valid`` and ``ready`` (the bridge needs the handshake), or for more than ``MAX_PORTS``.
    """
    ports = []
    for index, (name, member) in enumerate(component.signature.members.items()):
        if member.is_port:
            kind, shape = ("in" if member.flow == In else "out"), member.shape
        elif isinstance(member.signature, stream.Signature):
            signature = member.signature
            if signature.always_valid or signature.always_ready:
                raise LowbitError(f"stream port {name!r} has no valid/ready handshake: the "
                                  f"host bridge needs both")
            kind = "sink" if member.flow == In else "source"
            shape = signature.members["payload"].shape
        else:
            raise LowbitError(f"port {name!r} is an interface the host bridge does not know "
                              f"(only plain ports and amaranth.lib.stream)")
        ports.append(HostPort(index, name, kind, shape))
    if len(ports) > MAX_PORTS:
        raise LowbitError(f"the host bridge addresses at most {MAX_PORTS} ports; the unit has "
                          f"{len(ports)}")
    return ports


def command(op, port=None, value=None, steps=None):
    """The bytes of one command: ``command(Op.WRITE, port, value)``, ``command(Op.PUSH,
    port)``, ``command(Op.READ, port)``, ``command(Op.STEP, steps=n)``, ``command(Op.RESET)``."""
    if op == Op.STEP:
        check_int("steps", steps, 0, STEP_MAX)
        return bytes([Op.STEP]) + steps.to_bytes(2, "little")
    if op == Op.RESET:
        return bytes([Op.RESET])
    head = bytes([op | port.index])
    if op == Op.WRITE:
        return head + port.pack(value).to_bytes(port.nbytes, "little")
    return head


def reply_length(op, port=None):
    """Bytes the bridge answers a good command with (status byte included)."""
    return 1 + (port.nbytes if op == Op.READ else 0)


class HostBridge(Component):
    """Drives ``unit`` (a fresh ``wiring.Component`` on ``sync``) from the byte commands above.

    Ports: ``rx`` (command bytes from the host; ``ready`` when the bridge takes a byte, which
    is within a cycle of ``valid`` whenever the host waits for replies as the protocol says),
    ``tx`` (reply bytes). ``wait_cycles`` bounds the unit cycles a PUSH or a READ of a source
    waits. Attribute ``ports``: the ``HostPort`` list.
    """

    def __init__(self, unit, *, wait_cycles=1 << 20):
        self._unit = unit
        self.ports = host_ports(unit)
        self.wait_cycles = check_int("wait_cycles", wait_cycles, 1, 1 << 32)
        super().__init__({"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        run = Signal()        # the unit's clock enable this cycle
        unit_reset = Signal()
        m.domains.unit = unit_domain = ClockDomain("unit", local=True)
        m.d.comb += [unit_domain.clk.eq(ClockSignal("sync")),
                     unit_domain.rst.eq(ResetSignal("sync", allow_reset_less=True) | unit_reset)]
        m.submodules.unit = EnableInserter({"unit": run})(DomainRenamer("unit")(self._unit))

        port_sel = Signal(range(MAX_PORTS))
        index = Signal(range(max([2, *(p.nbytes for p in self.ports)])))  # byte counter
        steps = Signal(16)
        waited = Signal(range(self.wait_cycles + 1))
        status = Signal(8)
        with_data = Signal()  # the reply continues with the selected port's bytes
        byte = self.rx.payload

        # Per port: the registers the host writes, the slots it reads, their handshakes.
        shift_in = Signal()   # the received byte goes into the selected port's register
        clear_slots = Signal()  # RESET: no offers, no payloads held
        withdraw = Signal()   # a PUSH gave up: no offers
        release = Signal()    # the selected source's slot has been sent
        taken = Signal()      # the selected sink took its payload this cycle
        takers = []
        full_sel = Signal()   # the selected source's slot holds a payload
        out_byte = Signal(8)
        last_byte = Signal()
        pending = {}
        for port in self.ports:
            iface = getattr(self._unit, port.name)
            selected = port_sel == port.index
            if port.kind != "out":  # a plain output is read as it is: the unit stands still
                register = Signal(8 * port.nbytes, name=f"{port.name}_bits")
            if port.writable:
                target = Value.cast(iface if port.kind == "in" else iface.payload)
                m.d.comb += target.eq(register[:port.width])
                with m.If(shift_in & selected):  # least significant byte first
                    m.d.sync += register.eq(Cat(register[8:], byte) if port.nbytes > 1 else byte)
            if port.kind == "sink":
                pending[port.index] = flag = Signal(name=f"{port.name}_pending")
                m.d.comb += iface.valid.eq(flag)
                with m.If(run & iface.valid & iface.ready):
                    m.d.sync += flag.eq(0)
                takers.append(selected & run & iface.valid & iface.ready)
                with m.If(clear_slots | withdraw):
                    m.d.sync += flag.eq(0)
            if port.kind == "source":
                full = Signal(name=f"{port.name}_full")
                m.d.comb += iface.ready.eq(~full)
                with m.If(run & iface.valid & ~full):
                    m.d.sync += [register.eq(Value.cast(iface.payload)), full.eq(1)]
                with m.If(clear_slots | (release & selected)):
                    m.d.sync += full.eq(0)
                with m.If(selected):
                    m.d.comb += full_sel.eq(full)
            if port.kind in ("out", "source"):
                value = Value.cast(iface) if port.kind == "out" else register
                with m.If(selected):
                    m.d.comb += [out_byte.eq(value.word_select(index, 8) if port.nbytes > 1
                                             else value),
                                 last_byte.eq(index == port.nbytes - 1)]
        m.d.comb += taken.eq(Cat(*takers).any() if takers else 0)

        def reply(code, data=False):
            m.d.sync += [status.eq(code), with_data.eq(data)]
            m.next = "REPLY"

        with m.FSM():
            with m.State("COMMAND"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    m.d.sync += [port_sel.eq(byte[:4]), index.eq(0), waited.eq(0)]
                    with m.Switch(byte):
                        for port in self.ports:
                            if port.writable and port.nbytes:
                                with m.Case(Op.WRITE | port.index):
                                    m.d.sync += index.eq(port.nbytes - 1)
                                    m.next = "WRITE"
                            if port.writable and not port.nbytes:
                                with m.Case(Op.WRITE | port.index):
                                    reply(Status.OK)
                            if port.kind == "sink":
                                with m.Case(Op.PUSH | port.index):
                                    m.d.sync += pending[port.index].eq(1)
                                    m.next = "PUSH"
                            if port.kind == "out":
                                with m.Case(Op.READ | port.index):
                                    reply(Status.OK, data=port.nbytes > 0)
                            if port.kind == "source":
                                with m.Case(Op.READ | port.index):
                                    m.next = "AWAIT"
                        with m.Case(Op.STEP):
                            m.d.sync += index.eq(1)
                            m.next = "STEP_COUNT"
                        with m.Case(Op.RESET):
                            m.next = "RESET"
                        with m.Default():
                            reply(Status.BAD)
            with m.State("WRITE"):
                m.d.comb += [self.rx.ready.eq(1), shift_in.eq(self.rx.valid)]
                with m.If(self.rx.valid):
                    m.d.sync += index.eq(index - 1)
                    with m.If(index == 0):
                        reply(Status.OK)
            with m.State("PUSH"):
                m.d.comb += run.eq(1)
                m.d.sync += waited.eq(waited + 1)
                with m.If(taken):
                    reply(Status.OK)
                with m.Elif(waited == self.wait_cycles - 1):
                    m.d.comb += withdraw.eq(1)
                    reply(Status.TIMEOUT)
            with m.State("AWAIT"):
                m.d.comb += run.eq(~full_sel & (waited != self.wait_cycles))
                m.d.sync += waited.eq(waited + 1)
                with m.If(full_sel):
                    reply(Status.OK, data=True)
                with m.Elif(waited == self.wait_cycles):
                    reply(Status.TIMEOUT)
            with m.State("STEP_COUNT"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    m.d.sync += [steps.eq(Cat(steps[8:], byte)), index.eq(index - 1)]
                    with m.If(index == 0):
                        m.next = "STEP"
            with m.State("STEP"):
                with m.If(steps == 0):
                    reply(Status.OK)
                with m.Else():
                    m.d.comb += run.eq(1)
                    m.d.sync += steps.eq(steps - 1)
            with m.State("RESET"):
                m.d.comb += [run.eq(1), unit_reset.eq(1), clear_slots.eq(1)]
                reply(Status.OK)
            with m.State("REPLY"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(status)]
                with m.If(self.tx.ready):
                    with m.If(with_data):
                        m.next = "DATA"
                    with m.Else():
                        m.next = "COMMAND"
            with m.State("DATA"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(out_byte)]
                with m.If(self.tx.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(last_byte):
                        m.d.comb += release.eq(1)
                        m.next = "COMMAND"
        return m
