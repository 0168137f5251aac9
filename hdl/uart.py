"""A small 8N1 UART: a transmitter and a receiver with byte streams on the logic side.

Both sides use ``divisor`` clock cycles per bit (``round(clock / baud)``; at 12 MHz and
115200 baud, 104, 0.16 % slow, well inside the few per cent 8N1 tolerates). Frame: one start
bit (0), eight data bits least significant first, one stop bit (1); the line idles at 1.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from lowbit.core.params import check_int
from .component import Component

__all__ = ["UartTx", "UartRx", "MIN_DIVISOR", "FRAME_BITS"]

MIN_DIVISOR = 4  # the receiver samples mid-bit: half a bit must be at least two cycles
FRAME_BITS = 10  # start + 8 data + stop


class UartTx(Component):
    """Serialises each byte of the ``i`` stream onto ``tx``.

    Ports: ``i`` (stream of 8-bit payloads; ``ready`` while the line is idle, so a byte is
    taken at most once per ``FRAME_BITS x divisor`` cycles); ``tx`` (the line, 1 when idle).
    The start bit begins the cycle after the byte is taken.
    """

    def __init__(self, divisor):
        self.divisor = check_int("divisor", divisor, MIN_DIVISOR, 1 << 20)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        frame = Signal(FRAME_BITS, init=(1 << FRAME_BITS) - 1)  # idle line: all ones
        bits_left = Signal(range(FRAME_BITS + 1))
        timer = Signal(range(self.divisor))
        m.d.comb += [self.tx.eq(frame[0]), self.i.ready.eq(bits_left == 0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [frame.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))),
                         bits_left.eq(FRAME_BITS), timer.eq(self.divisor - 1)]
        with m.Elif(bits_left != 0):
            with m.If(timer == 0):
                # Shift in ones, so the line idles high after the stop bit.
                m.d.sync += [frame.eq(Cat(frame[1:], Const(1, 1))), bits_left.eq(bits_left - 1),
                             timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UartRx(Component):
    """Deserialises frames from ``rx`` into the ``o`` byte stream.

    ``rx`` passes a two-flip-flop synchroniser (it comes from a pin). A start bit must still be
    low half a bit after its falling edge (else it was a glitch); each data bit and the stop
    bit are sampled mid-bit. A frame whose stop bit is 0 is dropped and pulses ``error``.
    ``o.valid`` holds until ``o.ready``; a byte that completes while the previous one is still
    waiting replaces it (and pulses ``error``): the consumer must take a byte within a frame.
    """

    def __init__(self, divisor):
        self.divisor = check_int("divisor", divisor, MIN_DIVISOR, 1 << 20)
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)), "error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(self.divisor))
        data = Signal(8)
        bit = Signal(range(8))
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.comb += self.o.payload.eq(data)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    m.next = "IDLE"  # shorter than half a bit: a glitch
                with m.Else():
                    m.d.sync += [timer.eq(self.divisor - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [data.eq(Cat(data[1:], line)), bit.eq(bit + 1),
                                 timer.eq(self.divisor - 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(line):
                        m.d.sync += self.o.valid.eq(1)
                    # a bad stop bit, or a good one that overwrites an unread byte
                    m.d.comb += self.error.eq(~line | (self.o.valid & ~self.o.ready))
                    m.next = "IDLE"
        return m
