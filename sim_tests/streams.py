"""Stream drivers of the cocotb testbenches: a source, a sink and a monitor as objects on one
stream port of a unit, back-pressure and gaps from injected pause generators, and the stream
rules checked by the monitor on every clock cycle.

An Amaranth ``stream.Signature`` port ``i`` becomes the Verilog ports ``i__valid``,
``i__ready`` and ``i__payload`` (one vector, however the payload is structured: a testbench
packs it with :meth:`~lowbit.sim_tests.tb_support.Bench.pack`). cocotbext-axi's
``define_stream`` builds its stream source, sink and monitor for any such naming; the source
and sink here are those classes for the signals ``payload``, ``valid`` and ``ready`` joined to
the port name by ``__``, so they behave as cocotbext-axi's ``AxiStreamSource`` and
``AxiStreamSink``: ``send_nowait(word)`` queues a payload word, the sink collects every word
it takes (``recv_word``), ``set_pause_generator(iterator)`` injects one pause flag per cycle
(``True``: offer no new word, or hold ``ready`` low, in that cycle), and while the unit's
``rst`` is high the source drops ``valid`` and the sink ``ready``. A source never takes back a
word it offers: a pause only delays the next one.

The monitor is this module's own (cocotbext-axi's records transfers only): it samples the port
at every rising edge, as the unit does, records each transfer's word and time, and checks

* while ``valid`` is high and ``ready`` low, the next edge still sees ``valid`` and the same
  payload (the stream rule, for whichever side produces the port's payload);
* no transfer happens at an edge during reset (``rst`` high: the unit drops whatever it would
  take or give).

A broken rule fails the running test with the cycle, the port and the values.

Timing (cocotbext-axi's): the source and the sink change their signals just after a rising
edge, so a word queued before edge ``n`` is offered from edge ``n`` on and can be taken at edge
``n + 1`` at the earliest.

Example::

    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    monitor = StreamMonitor(dut, "o")
    sink.set_pause_generator(random_pauses(rng, 0.5))    # ready low half of the cycles
    for word in words:
        source.send_nowait(word)
    got = [await sink.recv_word() for _ in words]
"""

import logging
import warnings

import cocotb
from cocotb.queue import Queue
from cocotb.triggers import RisingEdge
from cocotb.utils import get_sim_time

# cocotbext-axi 0.1.28 still calls APIs that cocotb 2 deprecates (setimmediatevalue, Task.kill,
# Edge); they work, and the library is pinned, so its warnings are only noise in the sim logs.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.axi")
from cocotbext.axi.stream import define_stream  # noqa: E402

__all__ = ["StreamBus", "StreamTransaction", "StreamSource", "StreamSink", "StreamMonitor",
           "random_pauses", "stream_ports"]

StreamBus, StreamTransaction, _Source, _Sink, _ = define_stream(
    "AmaranthStream", signals=["payload", "valid", "ready"])

SEPARATOR = "__"   # Amaranth's flattening of a port path (``i.payload`` -> ``i__payload``)


def stream_ports(names):
    """The stream port names among Verilog port ``names``: those with ``__valid``,
    ``__ready`` and ``__payload`` members."""
    names = set(names)
    return sorted(n[:-len("__valid")] for n in names if n.endswith("__valid")
                  and {n[:-5] + "ready", n[:-5] + "payload"} <= names)


def random_pauses(rng, p):
    """A pause generator: ``True`` with probability ``p`` each cycle, from the NumPy generator
    ``rng`` (so a seeded test stalls the same way every run); ``None`` for ``p <= 0``."""
    if p <= 0:
        return None
    if p >= 1:
        return iter(lambda: True, None)
    return iter(lambda: bool(rng.random() < p), None)


def _bus(dut, port):
    return StreamBus.from_prefix(dut, port, bus_separator=SEPARATOR)


def _quiet(driver, dut, port):
    # The library logs every reset at INFO; the soak tests reset hundreds of times.
    driver.log = logging.getLogger(f"cocotb.{dut._name}.{port}")
    driver.log.setLevel(logging.WARNING)


class StreamSource(_Source):
    """cocotbext-axi's stream source on the stream port ``port`` of ``dut`` (clock ``clk`` and
    reset ``rst`` unless given). ``send_nowait``/``send`` take a payload word (an integer of
    the flattened payload vector) or a :data:`StreamTransaction`."""

    def __init__(self, dut, port, *, clock=None, reset=None):
        self.port = port
        super().__init__(_bus(dut, port), clock or dut.clk, dut.rst if reset is None else reset)
        _quiet(self, dut, port)

    @staticmethod
    def _transaction(word):
        return word if isinstance(word, StreamTransaction) else \
            StreamTransaction(payload=int(word))

    def send_nowait(self, word):
        super().send_nowait(self._transaction(word))

    async def send(self, word):
        await super().send(self._transaction(word))


class StreamSink(_Sink):
    """cocotbext-axi's stream sink on the stream port ``port`` of ``dut``: drives ``ready``
    (low during a pause or a reset) and keeps every word it takes."""

    def __init__(self, dut, port, *, clock=None, reset=None):
        self.port = port
        super().__init__(_bus(dut, port), clock or dut.clk, dut.rst if reset is None else reset)
        _quiet(self, dut, port)

    async def recv_word(self):
        """The next word taken, as an integer."""
        return int((await self.recv()).payload)

    def recv_word_nowait(self):
        return int(self.recv_nowait().payload)


class StreamMonitor:
    """Watch the stream port ``port`` of ``dut`` at every rising edge of ``clock`` (``clk``):
    record each transfer and check the stream rules (see the module's docstring).

    ``words`` and ``times`` list every transfer's payload (an integer) and simulation time
    (``unit``, ns by default); :meth:`recv` waits for the next transfer's word. A violation
    raises ``AssertionError`` in the monitor's task, which fails the test.
    """

    def __init__(self, dut, port, *, clock=None, reset=None, unit="ns"):
        self.port, self.unit = port, unit
        self.clock = clock or dut.clk
        self.reset = dut.rst if reset is None else reset
        self.valid = getattr(dut, f"{port}{SEPARATOR}valid")
        self.ready = getattr(dut, f"{port}{SEPARATOR}ready")
        self.payload = getattr(dut, f"{port}{SEPARATOR}payload")
        self.words, self.times = [], []
        self.queue = Queue()
        self._task = cocotb.start_soon(self._watch())

    def __len__(self):
        return len(self.words)

    async def recv(self):
        return await self.queue.get()

    def stop(self):
        self._task.cancel()

    async def _watch(self):
        edge = RisingEdge(self.clock)
        held = None        # the payload of a word offered and not taken at the last edge
        while True:
            await edge
            valid, ready = bool(self.valid.value), bool(self.ready.value)
            if self.reset.value:
                assert not (valid and ready), (
                    f"{self.port}: a transfer during reset, at {self._now()}")
                held = None
                continue
            if not valid:    # (a wide payload is read only when it matters)
                assert held is None, (
                    f"{self.port}: valid dropped at {self._now()} while the word offered "
                    f"before was not taken ({_text(held)})")
                continue
            payload = self.payload.value
            if held is not None:
                assert payload == held, (
                    f"{self.port}: the payload changed at {self._now()} while the word "
                    f"offered before was not taken (offered {_text(held)}, now "
                    f"{_text(payload)})")
            held = None if ready else payload
            if ready:
                word = int(payload)    # an X or Z bit in a transferred word raises here
                self.words.append(word)
                self.times.append(get_sim_time(self.unit))
                self.queue.put_nowait(word)

    def _now(self):
        return f"{get_sim_time(self.unit):g} {self.unit}"


def _text(value):
    """A sampled vector in hex, or its bits where some are X or Z."""
    return hex(int(value)) if value.is_resolvable else str(value)
