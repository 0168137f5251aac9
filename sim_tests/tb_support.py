"""What every cocotb testbench of the project shares: its parameters, clock, reset, seeding and
the per-test summary lines that `lowbit sim` and pytest read back (see runner.py)."""

import json
import os
import zlib

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from lowbit.units import UNITS
from lowbit.widths import signed_range, unsigned_range

__all__ = ["Bench", "port_domain"]

CLOCK_PERIOD_NS = 10


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
        self.ports = {name: tuple(shape) for name, shape in meta["ports"].items()}
        self.model = self.unit.golden_model(self.params)
        self._summary = os.environ.get("LOWBIT_SUMMARY")

    def rng(self, test_name):
        """A generator seeded by the run's seed and the test's name: reproducible per test."""
        return np.random.default_rng([cocotb.RANDOM_SEED, zlib.crc32(test_name.encode())])

    def domain(self, port):
        return port_domain(*self.ports[port])

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
