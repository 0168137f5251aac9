"""What every cocotb testbench of the project shares: its parameters, clock, reset, seeding,
the soak scale, the per-test summary lines that `lowbit sim` and pytest read back (see
runner.py), the comparison with the golden model (:func:`first_mismatch`,
:func:`expect_equal`) and :class:`StreamRun`, a whole stream transaction on the stream objects
of :mod:`lowbit.sim_tests.streams`."""

import json
import os
import zlib
from importlib import import_module

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from lowbit.core.widths import signed_range, unsigned_range

from .streams import StreamMonitor, StreamSink, StreamSource, random_pauses, stream_ports

__all__ = ["Bench", "StreamRun", "StreamFeeder", "port_domain", "SOAK", "soak",
           "reset_with_items_inside", "reset_rounds", "full_rate_run", "stalled_run", "first_mismatch",
           "expect_equal"]

CLOCK_PERIOD_NS = 10


def _soak_scale():
    text = os.environ.get("LOWBIT_SOAK", "1")
    try:
        scale = float(text)
    except ValueError:
        scale = -1.0
    if not scale > 0:
        raise ValueError(f"LOWBIT_SOAK={text!r}: the soak scale must be a number above 0")
    return scale


# How much longer the random (stall, reset) tests run than their usual length: the
# environment variable LOWBIT_SOAK, read once, 1 by default. sim_tests/test_soak.py runs every
# unit with a small scale in the default suite and a large one as the `slow` benchmark.
SOAK = _soak_scale()


def soak(count, least=1):
    """``count`` (vectors, rows, jobs or rounds of a random test) times the soak scale,
    rounded, at least ``least``."""
    return max(least, round(count * SOAK))


def _resolve(ref):
    """The object a ``"module:attribute"`` reference names."""
    module, _, attr = ref.partition(":")
    return getattr(import_module(module), attr)


def port_domain(width, is_signed):
    """Every integer a port of this shape can carry, as an int64 array."""
    lo, hi = signed_range(width) if is_signed else unsigned_range(width)
    return np.arange(lo, hi + 1, dtype=np.int64)


class Bench:
    """The environment of one testbench run.

    Inputs are driven and outputs sampled at the falling clock edge, so that a value sampled
    at falling edge k is the registered state after rising edge k - 1/2: with this convention
    an input driven at edge k reaches a registered output exactly ``latency`` edges later.
    """

    def __init__(self, dut):
        self.dut = dut
        self.unit_name = os.environ["LOWBIT_UNIT"]
        self.params = json.loads(os.environ["LOWBIT_PARAMS"])
        # What the runner knows of the circuit and the unit (runner.testbench_meta): latency,
        # ports, the unit's variant, its golden model and arguments, and its testbench facts.
        self.meta = meta = json.loads(os.environ["LOWBIT_META"])
        self.latency = meta["latency"]
        self.variant = meta.get("variant", "")
        # Verilog port name -> [(field path, bit offset, width, signed)]
        self.fields = {name: [tuple(f) for f in fields] for name, fields in meta["ports"].items()}
        self.model = _resolve(meta["golden"])(**meta["golden_args"])
        self._summary = os.environ.get("LOWBIT_SUMMARY")
        self._streams = {}

    def _stream_object(self, kind, port):
        if not self._streams:   # every stream port's monitor, from the same edge on
            for name in stream_ports(self.fields):
                self._streams["monitor", name] = StreamMonitor(self.dut, name)
        if (kind, port) not in self._streams:
            make = {"source": StreamSource, "sink": StreamSink}.get(kind)
            if make is None:
                raise KeyError(f"{port!r} is not a stream port of {self.unit_name}")
            self._streams[kind, port] = make(self.dut, port)
        return self._streams[kind, port]

    def source(self, port="i"):
        """The :class:`~lowbit.sim_tests.streams.StreamSource` driving input stream ``port``
        (one per port and test, made on first use)."""
        return self._stream_object("source", port)

    def sink(self, port="o"):
        """The :class:`~lowbit.sim_tests.streams.StreamSink` taking output stream ``port``."""
        return self._stream_object("sink", port)

    def monitor(self, port):
        """The :class:`~lowbit.sim_tests.streams.StreamMonitor` of stream ``port``. Every
        stream port of the unit is monitored from the first call of :meth:`source`,
        :meth:`sink` or :meth:`monitor` on, so their cycles compare."""
        return self._stream_object("monitor", port)

    def rng(self, test_name):
        """A generator seeded by the run's seed and the test's name: reproducible per test."""
        return np.random.default_rng([cocotb.RANDOM_SEED, zlib.crc32(test_name.encode())])

    def domain(self, port):
        """Every value a scalar port can carry."""
        (_, _, width, is_signed), = self.fields[port]
        return port_domain(width, is_signed)

    def field_domain(self, port, field):
        """Every value the fields ``<port>.<field>.*`` can carry (they share one shape)."""
        shapes = {(w, s) for path, _, w, s in self.fields[port]
                  if path.startswith(f"{port}.{field}.")}
        (width, is_signed), = shapes
        return port_domain(width, is_signed)

    def field_domain_scalar(self, path):
        """Every value the single field ``path`` (e.g. ``i__payload.code``) can carry."""
        port = path.split(".")[0]
        (width, is_signed), = {(w, s) for p, _, w, s in self.fields[port] if p == path}
        return port_domain(width, is_signed)

    def pack(self, port, values):
        """The integer of a port's flattened vector from ``{field path: value}``."""
        word = 0
        for path, offset, width, _ in self.fields[port]:
            word |= (int(values[path]) & ((1 << width) - 1)) << offset
        return word

    def unpack(self, port, word):
        """``{field path: value}`` from the integer of a port's vector (signed fields signed)."""
        values = {}
        for path, offset, width, is_signed in self.fields[port]:
            v = (word >> offset) & ((1 << width) - 1)
            values[path] = v - (1 << width) if is_signed and v >> (width - 1) else v
        return values

    async def start(self, idle):
        """Start the clock and hold reset for two cycles with ``idle`` values on the inputs."""
        Clock(self.dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
        self.drive(idle)
        await self.reset()

    async def reset(self, cycles=2):
        self.dut.rst.value = 1
        for _ in range(cycles):
            await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    def drive(self, values):
        for name, value in values.items():
            getattr(self.dut, name).value = int(value)

    def read_signed(self, name):
        return getattr(self.dut, name).value.to_signed()

    def record(self, test, vectors, **facts):
        """Append this test's counts to the summary file that the runner reads."""
        if self._summary:
            with open(self._summary, "a") as f:
                f.write(json.dumps({"test": test, "vectors": int(vectors), **facts}) + "\n")

    def record_counts(self, test, vectors, *, sent, received, checked, **facts):
        """Assert that every input item sent produced exactly one output item and that every
        output item was compared with the golden model (``sent == received == checked``, in
        the test's own unit: beats, or jobs for the matrix units), then record the counts and
        the soak scale."""
        assert sent == received == checked, (
            f"{test}: {sent} items sent, {received} received, {checked} checked")
        self.record(test, vectors, sent=int(sent), received=int(received),
                    checked=int(checked), soak=SOAK, **facts)




def _show(value, fmt):
    if isinstance(value, np.ndarray):
        return str(value.tolist())
    if isinstance(value, (list, tuple)):
        return str([_show(v, fmt) for v in value]) if fmt is not str else str(list(value))
    return fmt(value)


def first_mismatch(what, got, expected, *, item="item", fmt=str, **inputs):
    """``None`` if ``got`` equals ``expected`` item for item (along the first axis: numbers,
    or arrays such as a result matrix), else one line: how many items differ, and the first
    one's index, the ``inputs`` at that index (each a sequence as long as ``expected``), what
    came and what the golden model expected. A count that differs is reported as such.
    ``fmt`` prints a value (e.g. ``lambda v: f"{v:#06x}"`` for FP16 patterns)."""
    if len(got) != len(expected):
        return f"{what}: {len(got)} items for {len(expected)} expected"
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape == e.shape and object not in (g.dtype, e.dtype) and len(e):
        bad = np.flatnonzero((g != e).reshape(len(e), -1).any(axis=1))
    else:   # ragged items, or integers wider than 64 bits
        bad = [k for k, (a, b) in enumerate(zip(got, expected)) if not np.array_equal(a, b)]
    if not len(bad):
        return None
    k = bad[0]
    where = ", ".join(f"{name} {_show(values[k], str)}" for name, values in inputs.items())
    return (f"{what}: {len(bad)} of {len(expected)} wrong; first at {item} {k}"
            f"{' (' + where + ')' if where else ''}: got {_show(got[k], fmt)}, expected "
            f"{_show(expected[k], fmt)}")


def expect_equal(what, got, expected, **options):
    """Assert that ``got`` equals ``expected`` (see :func:`first_mismatch`, which words the
    failure); returns how many items were compared."""
    problem = first_mismatch(what, got, expected, **options)
    assert problem is None, problem
    return len(expected)


class StreamFeeder:
    """Words for one more input stream of a :class:`StreamRun` (e.g. a per-row configuration
    stream beside the data stream), offered in the same cycles with its own ``p_valid``.

    Pass it to :meth:`StreamRun.run` as ``feeders=[...]``; ``accepted`` holds the cycle of
    every handshake, ``pending`` the words not yet taken.
    """

    def __init__(self, bench, rng, port, words, *, p_valid=1.0):
        self.bench, self.rng, self.port, self.p_valid = bench, rng, port, p_valid
        self.words = list(words)
        self.accepted = []

    @property
    def pending(self):
        return self.words[len(self.accepted):]

    def _start(self):
        source = self.bench.source(self.port)
        source.clear()
        source.set_pause_generator(random_pauses(self.rng, 1 - self.p_valid))
        source.pause = self.p_valid <= 0
        for word in self.words:
            source.send_nowait(word)
        self._first = len(self.bench.monitor(self.port))

    def _update(self, cycle_of):
        monitor = self.bench.monitor(self.port)
        self.accepted = [cycle_of(t) for t in monitor.times[self._first:]]

    def idle(self):
        """Offer nothing more (a word already offered stays offered, as the stream rule
        wants, until it is taken or a reset)."""
        self.bench.source(self.port).clear()


class StreamRun:
    """Push words into one input stream and collect an output stream, cycle by cycle, on the
    bench's :class:`~lowbit.sim_tests.streams.StreamSource`, ``StreamSink`` and
    ``StreamMonitor`` objects: each cycle the source offers the next word with probability
    ``p_valid`` and the sink is ready with probability ``p_ready`` (pause generators drawing
    from ``rng``); the monitors check the stream rules on every stream port as it goes.

    Cycle 0 is the first clock edge at which the run's first word can be taken; ``accepted``
    and ``delivered`` hold the cycle of every input and output handshake, ``outputs`` the
    output words, ``cycle`` how many cycles the run (and :meth:`drain`) took.
    """

    def __init__(self, bench, rng, *, source="i", sink="o", p_valid=1.0, p_ready=1.0):
        self.bench, self.rng = bench, rng
        self.input, self.output = source, sink
        self.p_valid, self.p_ready = p_valid, p_ready
        self.accepted, self.delivered, self.outputs = [], [], []
        self.cycle = 0
        self._origin = None
        self._feeders = ()

    @property
    def sink(self):
        """The output port's name."""
        return self.output

    def _cycle_of(self, time_ns):
        return round((time_ns - self._origin) / CLOCK_PERIOD_NS)

    def _update(self):
        bench = self.bench
        inputs, outputs = bench.monitor(self.input), bench.monitor(self.output)
        self.accepted = [self._cycle_of(t) for t in inputs.times[self._first_in:]]
        self.delivered = [self._cycle_of(t) for t in outputs.times[self._first_out:]]
        self.outputs = outputs.words[self._first_out:]
        for feeder in self._feeders:
            feeder._update(self._cycle_of)

    async def run(self, words, *, expect, max_cycles, feeders=()):
        """Send ``words`` (integers of the input payload vector) until ``expect`` outputs
        were taken or ``max_cycles`` passed; returns the output payload integers.
        ``feeders`` (:class:`StreamFeeder`) drive further input streams in the same cycles.
        Words not taken by then are not offered any more."""
        bench, clk = self.bench, self.bench.dut.clk
        source, sink = bench.source(self.input), bench.sink(self.output)
        await FallingEdge(clk)
        # The words go out from the next rising edge on, so the first can be taken at the
        # edge after it: cycle 0.
        self._origin = get_sim_time("ns") + CLOCK_PERIOD_NS / 2 + CLOCK_PERIOD_NS
        self._first_in = len(bench.monitor(self.input))
        self._first_out = len(bench.monitor(self.output))
        self._feeders = tuple(feeders)
        source.clear()
        source.set_pause_generator(random_pauses(self.rng, 1 - self.p_valid))
        source.pause = self.p_valid <= 0
        sink.set_pause_generator(random_pauses(self.rng, 1 - self.p_ready))
        sink.pause = self.p_ready <= 0
        for word in words:
            source.send_nowait(word)
        for feeder in self._feeders:
            feeder._start()
        await FallingEdge(clk)          # past the edge that puts the first word out
        outputs = bench.monitor(self.output)
        while self.cycle < max_cycles and len(outputs) - self._first_out < expect:
            await FallingEdge(clk)      # past cycle `self.cycle`'s edge
            self.cycle += 1
        self._update()
        self.stop_inputs()
        return self.outputs

    def stop_inputs(self):
        """Offer no more words on the input streams (a word already offered stays offered
        until it is taken or a reset, as the stream rule wants)."""
        self.bench.source(self.input).clear()
        for feeder in self._feeders:
            feeder.idle()

    def idle(self):
        """Inputs quiet (no new words), output ready every cycle."""
        self.stop_inputs()
        sink = self.bench.sink(self.output)
        sink.set_pause_generator(None)
        sink.pause = False

    async def drain(self, cycles, feeders=()):
        """After :meth:`run`: ``cycles`` more cycles with the inputs quiet and the output
        ready; any output item offered meanwhile (one the unit should not have made, e.g. a
        duplicate) joins ``outputs``, so that a count check sees it."""
        self.idle()
        for feeder in feeders:
            feeder.idle()
        for _ in range(cycles):
            await FallingEdge(self.bench.dut.clk)
            self.cycle += 1
        self._update()

    def assert_full_rate(self, count, latency):
        """After a run that never stalled (``p_valid`` and ``p_ready`` 1) of ``count`` words
        into a pipeline of one output per input: the input took a word every cycle, and each
        output left exactly ``latency`` cycles after its input."""
        assert self.accepted == list(range(count)), "the input was not ready every cycle"
        assert self.delivered == [c + latency for c in self.accepted], (
            f"outputs left at cycles {self.delivered[:4]}..., inputs entered at "
            f"{self.accepted[:4]}..., latency {latency}")


async def full_rate_run(bench, words, check, *, test="exact_latency_and_full_throughput"):
    """The never-stalled test of a unit that makes one output per input after
    ``bench.latency`` cycles: send ``words`` with ``valid`` and ``ready`` high every cycle,
    ``check(outputs)`` (the comparison with the golden model), then assert the exact latency
    and one word per cycle (:meth:`StreamRun.assert_full_rate`) and record the test."""
    run = StreamRun(bench, bench.rng("throughput-run"))
    got = await run.run(words, expect=len(words), max_cycles=len(words) + 4 * bench.latency)
    check(got)
    run.assert_full_rate(len(words), bench.latency)
    bench.record(test, len(words), latency=bench.latency)
    return run


async def stalled_run(bench, words, check, *, test="random_stalls_on_both_streams",
                      seed="stalls-run", p_valid=0.6, p_ready=0.5, max_cycles=None):
    """The random-stall test of a unit that makes one output per input: send ``words`` with
    random valid gaps and back-pressure (``p_valid``, ``p_ready``; the monitors check the
    stream rules as it goes), drain for twice the latency (a duplicate would come out then),
    ``check(outputs)`` (returns how many were compared), and record the counts, which must
    all be ``len(words)`` (none lost or duplicated)."""
    run = StreamRun(bench, bench.rng(seed), p_valid=p_valid, p_ready=p_ready)
    await run.run(words, expect=len(words),
                  max_cycles=20 * len(words) if max_cycles is None else max_cycles)
    await run.drain(2 * bench.latency + 4)
    checked = check(run.outputs)
    bench.record_counts(test, len(words), sent=len(run.accepted), received=len(run.outputs),
                        checked=checked, cycles=run.cycle)
    return run


async def reset_with_items_inside(bench, rng, words, *, cycles, quiet_cycles, feeders=()):
    """Reset in the middle of a transaction: offer ``words`` (with random gaps) to a unit
    whose output is stalled, for ``cycles`` cycles, so that items are inside it and its
    output waits; assert reset (the stream objects drop ``valid`` and ``ready`` with it);
    then check that no output appears for ``quiet_cycles`` cycles with the inputs quiet.
    Returns how many words the unit took before the reset."""
    stalled = StreamRun(bench, rng, p_valid=0.8, p_ready=0.0)
    await stalled.run(words, expect=1, max_cycles=cycles, feeders=feeders)
    taken = len(stalled.accepted)
    await bench.reset()
    valid = getattr(bench.dut, f"{stalled.output}__valid")
    for cycle in range(quiet_cycles):
        await RisingEdge(bench.dut.clk)
        assert not valid.value, (
            f"an output appeared {cycle} cycles after the reset: an item survived it")
    await FallingEdge(bench.dut.clk)
    return taken


async def reset_rounds(bench, rng, draw, *, rounds, inside=20, test="reset_drops_items_in_flight"):
    """The reset test of a unit that makes one output per input, ``rounds`` times: ``draw()``
    gives a round's ``(words, check)``; the first ``inside`` words go in with the output
    stalled and a reset meets them at a random depth of the pipeline
    (:func:`reset_with_items_inside`: nothing comes out after it); then the rest go in with
    random stalls and ``check(outputs, inside)`` compares their outputs with the golden
    results of ``words[inside:]`` (returns how many). Records the counts, which must agree."""
    sent = received = checked = 0
    for _ in range(rounds):
        words, check = draw()
        await reset_with_items_inside(bench, rng, words[:inside],
                                      cycles=int(rng.integers(1, bench.latency + 4)),
                                      quiet_cycles=bench.latency + 2)
        after = StreamRun(bench, rng, p_valid=0.8, p_ready=0.8)
        await after.run(words[inside:], expect=len(words) - inside, max_cycles=400)
        await after.drain(bench.latency + 2)
        checked += check(after.outputs, inside)
        sent, received = sent + len(after.accepted), received + len(after.outputs)
    bench.record_counts(test, checked, sent=sent, received=received, checked=checked,
                        rounds=rounds)
