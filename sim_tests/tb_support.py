"""What every cocotb testbench of the project shares: its parameters, clock, reset, seeding,
the soak scale and the per-test summary lines that `lowbit sim` and pytest read back (see
runner.py)."""

import json
import os
import zlib

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from lowbit.units import UNITS
from lowbit.core.widths import signed_range, unsigned_range

__all__ = ["Bench", "StreamRun", "StreamFeeder", "port_domain", "SOAK", "soak",
           "reset_with_items_inside"]

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
        self.unit = UNITS[os.environ["LOWBIT_UNIT"]]
        self.params = json.loads(os.environ["LOWBIT_PARAMS"])
        meta = json.loads(os.environ["LOWBIT_META"])
        self.latency = meta["latency"]
        # Verilog port name -> [(field path, bit offset, width, signed)]
        self.fields = {name: [tuple(f) for f in fields] for name, fields in meta["ports"].items()}
        self.model = self.unit.golden_model(self.params)
        self._summary = os.environ.get("LOWBIT_SUMMARY")

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


class StreamRun:
    """Push words into one input stream and collect an output stream, cycle by cycle.

    Each cycle, at the falling edge: drive the input (``valid`` with probability
    ``p_valid`` while words remain) and the output's ``ready`` (probability ``p_ready``);
    then, in the settled ReadOnly phase, note which handshakes the coming rising edge makes.
    It checks the stream rules on the output as it goes: while ``valid & ~ready``, the next
    cycle must still be valid with the same payload. ``accepted`` and ``delivered`` hold the
    cycle numbers of every input and output handshake.
    """

    def __init__(self, bench, rng, *, source="i", sink="o", p_valid=1.0, p_ready=1.0):
        self.bench, self.rng = bench, rng
        self.source, self.sink = source, sink
        self.p_valid, self.p_ready = p_valid, p_ready
        self.accepted, self.delivered, self.outputs = [], [], []
        self.cycle = 0
        self._held = None  # (payload) of an output offered but not taken last cycle

    def _signal(self, port, name):
        return getattr(self.bench.dut, f"{port}__{name}")

    async def run(self, words, *, expect, max_cycles, feeders=()):
        """Send ``words`` (integers of the input payload vector) until ``expect`` outputs
        were taken or ``max_cycles`` passed; returns the output payload integers.
        ``feeders`` (:class:`StreamFeeder`) drive further input streams in the same cycles."""
        from cocotb.triggers import FallingEdge, ReadOnly
        pending = list(words)
        while len(self.outputs) < expect and self.cycle < max_cycles:
            await FallingEdge(self.bench.dut.clk)
            offering = bool(pending) and self.rng.random() < self.p_valid
            self._signal(self.source, "valid").value = int(offering)
            if offering:
                self._signal(self.source, "payload").value = pending[0]
            for feeder in feeders:
                feeder.drive()
            ready = self.rng.random() < self.p_ready
            self._signal(self.sink, "ready").value = int(ready)
            await ReadOnly()
            if offering and self._signal(self.source, "ready").value:
                self.accepted.append(self.cycle)
                pending.pop(0)
            for feeder in feeders:
                feeder.sample(self.cycle)
            out_valid = bool(self._signal(self.sink, "valid").value)
            payload = int(self._signal(self.sink, "payload").value) if out_valid else None
            if self._held is not None:
                assert out_valid and payload == self._held, (
                    f"cycle {self.cycle}: output changed while stalled "
                    f"(valid={out_valid}, payload={payload}, held {self._held})")
            self._held = payload if out_valid and not ready else None
            if out_valid and ready:
                self.delivered.append(self.cycle)
                self.outputs.append(payload)
            self.cycle += 1
        return self.outputs

    def idle(self):
        """Inputs quiet: no valid, output ready."""
        self._signal(self.source, "valid").value = 0
        self._signal(self.sink, "ready").value = 1

    async def drain(self, cycles, feeders=()):
        """After :meth:`run`: ``cycles`` more cycles with the inputs quiet and the output
        ready; any output item offered meanwhile (one the unit should not have made, e.g. a
        duplicate) is appended to ``outputs``, so that a count check sees it."""
        from cocotb.triggers import FallingEdge, ReadOnly
        for _ in range(cycles):
            await FallingEdge(self.bench.dut.clk)
            self.idle()
            for feeder in feeders:
                feeder.idle()
            await ReadOnly()
            if self._signal(self.sink, "valid").value:
                self.delivered.append(self.cycle)
                self.outputs.append(int(self._signal(self.sink, "payload").value))
            self.cycle += 1
        await FallingEdge(self.bench.dut.clk)   # leave the ReadOnly phase


async def reset_with_items_inside(bench, rng, words, *, cycles, quiet_cycles, feeders=()):
    """Reset in the middle of a transaction: offer ``words`` (with random gaps) to a unit
    whose output is stalled, for ``cycles`` cycles, so that items are inside it and its
    output waits; assert reset; then check that no output appears for ``quiet_cycles``
    cycles with the inputs quiet. Returns how many words the unit took before the reset."""
    from cocotb.triggers import FallingEdge, ReadOnly
    stalled = StreamRun(bench, rng, p_valid=0.8, p_ready=0.0)
    await stalled.run(words, expect=1, max_cycles=cycles, feeders=feeders)
    await FallingEdge(bench.dut.clk)  # leave the ReadOnly phase the run ended in
    stalled.idle()
    for feeder in feeders:
        feeder.idle()
    await bench.reset()
    for cycle in range(quiet_cycles):
        await FallingEdge(bench.dut.clk)
        await ReadOnly()
        assert not getattr(bench.dut, f"{stalled.sink}__valid").value, (
            f"an output appeared {cycle} cycles after the reset: an item survived it")
    await FallingEdge(bench.dut.clk)
    return len(stalled.accepted)


class StreamFeeder:
    """Words for one more input stream of a :class:`StreamRun` (e.g. a per-row configuration
    stream beside the data stream), driven in the same cycles with its own ``p_valid``.

    Pass it to :meth:`StreamRun.run` as ``feeders=[...]``; ``accepted`` holds the cycle of
    every handshake, ``pending`` the words not yet taken.
    """

    def __init__(self, bench, rng, port, words, *, p_valid=1.0):
        self.bench, self.rng, self.port, self.p_valid = bench, rng, port, p_valid
        self.pending = list(words)
        self.accepted = []
        self._offering = False

    def _signal(self, name):
        return getattr(self.bench.dut, f"{self.port}__{name}")

    def drive(self):
        """At the falling edge: offer the next word with probability ``p_valid``."""
        self._offering = bool(self.pending) and self.rng.random() < self.p_valid
        self._signal("valid").value = int(self._offering)
        if self._offering:
            self._signal("payload").value = self.pending[0]

    def sample(self, cycle):
        """In the ReadOnly phase: note the handshake the coming rising edge makes."""
        if self._offering and self._signal("ready").value:
            self.accepted.append(cycle)
            self.pending.pop(0)

    def idle(self):
        self._signal("valid").value = 0
