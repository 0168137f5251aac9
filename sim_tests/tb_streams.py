"""cocotb tests of the stream objects themselves (sim_tests/streams.py), on the PoT dequantizer
(a one-stage stream unit): the monitor catches each broken stream rule, and a source and sink
with random pauses carry every word. sim_tests/test_streams.py runs them."""

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from .streams import StreamMonitor, StreamSink, StreamSource, random_pauses
from .tb_support import Bench, expect_equal

IDLE = {"i__valid": 0, "i__payload": 0, "o__ready": 1}


async def _stall_output(bench):
    """Fill the unit with the output stalled, until its input is not ready."""
    dut = bench.dut
    await FallingEdge(dut.clk)
    dut.o__ready.value = 0
    dut.i__valid.value = 1
    dut.i__payload.value = 1
    while True:
        await RisingEdge(dut.clk)
        if not dut.i__ready.value:
            return


@cocotb.test()
async def source_and_sink_with_random_pauses(dut):
    """Every word through, in order, under random gaps and back-pressure; the monitor sees
    the same words as the sink."""
    bench = Bench(dut)
    await bench.start(IDLE)
    rng = bench.rng("pauses")
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    monitor = StreamMonitor(dut, "o")
    source.set_pause_generator(random_pauses(rng, 0.4))
    sink.set_pause_generator(random_pauses(rng, 0.5))
    codes, scales = rng.integers(0, 16, 300), rng.integers(0, 1 << 16, 300)
    for c, s in zip(codes, scales):
        source.send_nowait(bench.pack("i__payload", {"i__payload.code": c,
                                                     "i__payload.scale": s}))
    got = [await sink.recv_word() for _ in codes]
    expect_equal("weights", got, bench.model.dequant(codes, scales), code=codes, scale=scales)
    assert monitor.words == got


@cocotb.test(expect_error=AssertionError)
async def monitor_catches_valid_dropped_while_stalled(dut):
    bench = Bench(dut)
    await bench.start(IDLE)
    StreamMonitor(dut, "i")
    await _stall_output(bench)
    await FallingEdge(dut.clk)
    dut.i__valid.value = 0           # withdrawn before it was taken
    for _ in range(3):
        await RisingEdge(dut.clk)


@cocotb.test(expect_error=AssertionError)
async def monitor_catches_payload_changed_while_stalled(dut):
    bench = Bench(dut)
    await bench.start(IDLE)
    StreamMonitor(dut, "i")
    await _stall_output(bench)
    await FallingEdge(dut.clk)
    dut.i__payload.value = 2         # changed before it was taken
    for _ in range(3):
        await RisingEdge(dut.clk)


@cocotb.test(expect_error=AssertionError)
async def monitor_catches_a_transfer_during_reset(dut):
    bench = Bench(dut)
    await bench.start(IDLE)
    StreamMonitor(dut, "i")
    await FallingEdge(dut.clk)
    dut.i__valid.value = 1           # offered during reset, and the unit is ready
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)


@cocotb.test()
async def reset_drops_valid_and_ready(dut):
    """While ``rst`` is high the source offers nothing and the sink is not ready; afterwards
    both carry on with the queued words, and what the unit takes after the reset comes out
    exact (what was inside it is dropped)."""
    bench = Bench(dut)
    await bench.start(IDLE)
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    inputs, outputs = StreamMonitor(dut, "i"), StreamMonitor(dut, "o")
    rng = bench.rng("reset")
    for c, s in zip(rng.integers(0, 16, 40), rng.integers(0, 1 << 16, 40)):
        source.send_nowait(bench.pack("i__payload", {"i__payload.code": c,
                                                     "i__payload.scale": s}))
    sink.pause = True
    for _ in range(5):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 1
    for _ in range(3):
        await FallingEdge(dut.clk)
        assert not dut.i__valid.value and not dut.o__ready.value
    dut.rst.value = 0
    first_in, first_out = len(inputs), len(outputs)
    sink.pause = False
    await source.wait()
    for _ in range(4):
        await FallingEdge(dut.clk)
    taken = [bench.unpack("i__payload", w) for w in inputs.words[first_in:]]
    assert taken, "nothing went in after the reset"
    codes = [t["i__payload.code"] for t in taken]
    scales = [t["i__payload.scale"] for t in taken]
    expect_equal("weights after the reset", outputs.words[first_out:],
                 bench.model.dequant(codes, scales), code=codes, scale=scales)
