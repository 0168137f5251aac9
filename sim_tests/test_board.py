"""Board builds: the UART host bridge in simulation, bit-exact against the golden models, and
one real bitstream per board family (utilisation within the device, Fmax above the board clock).

The bridge runs in Amaranth's Python simulator: at the byte-stream level for the protocol
(many commands, cheap), and once through ``BoardTop`` with a bit-level UART model written here
(independent of ``hdl/uart.py``), so a bit-order or framing mistake in the UART cannot cancel
out between the two ends.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In
from amaranth.sim import Simulator

from lowbit.cli import main
from lowbit.core.errors import LowbitError
from lowbit.hdl.host_bridge import HostBridge, HostPort, Op, Status, command, reply_length
from lowbit.sim_tests import stream_sim
from lowbit.synth import board
from lowbit.synth.board import BoardTop, build_board
from lowbit.units import UNITS


class ByteHost:
    """The host end of the bridge's byte streams inside a testbench: send a command, wait for
    the whole reply (the protocol's one-command-at-a-time rule)."""

    def __init__(self, ctx, bridge):
        self.ctx, self.bridge = ctx, bridge
        self.ports = {p.name: p for p in bridge.ports}

    async def send(self, data):
        await stream_sim.send(self.ctx, [(self.bridge.rx, list(data))])

    async def receive(self, count):
        return bytes(await stream_sim.receive(self.ctx, self.bridge.tx, count))

    async def transact(self, data, count):
        await self.send(data)
        return await self.receive(count)


async def mac_session(host, weights, acts, valid, clear, latency):
    """Per cycle: WRITE the four inputs, STEP 1, READ ``acc``; then ``latency`` idle cycles.
    Returns the accumulator read after each cycle."""
    ports = host.ports
    reads = []
    idle = dict(weight=0, act=0, valid=0, clear=0)
    for t in range(len(weights) + latency):
        values = (dict(weight=weights[t], act=acts[t], valid=valid[t], clear=clear[t])
                  if t < len(weights) else idle)
        for name, value in values.items():
            assert await host.transact(command(Op.WRITE, ports[name], int(value)), 1) == b"K"
        assert await host.transact(command(Op.STEP, steps=1), 1) == b"K"
        reply = await host.transact(command(Op.READ, ports["acc"]),
                                    reply_length(Op.READ, ports["acc"]))
        assert reply[0] == Status.OK
        reads.append(ports["acc"].unpack(int.from_bytes(reply[1:], "little")))
    return reads


def random_mac_inputs(unit, params, component, rng, cycles, drift=False):
    """Random MAC inputs; with ``drift`` the products are positive for the first half and
    negative for the second, so the sum runs into both bounds of a narrow accumulator."""
    model = unit.golden_model(params)
    shape = component.signature.members["weight"].shape
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    weights = rng.integers(lo, lo + (1 << shape.width), cycles)
    acts = rng.integers(-128, 128, cycles)
    if drift:
        weight_sign = np.sign(model.product(weights, np.ones(cycles, dtype=np.int64)))
        wanted = np.where(np.arange(cycles) < cycles // 2, 1, -1)
        acts = wanted * weight_sign * rng.integers(64, 128, cycles)
    valid = (rng.random(cycles) < 0.8).astype(int)
    clear = (rng.random(cycles) < (0.02 if drift else 0.15)).astype(int)
    return model, weights, acts, valid, clear


def expected_reads(golden, latency, extra):
    """What READ after STEP t shows: the sum ``latency - 1`` cycles back (0 before that)."""
    return [0] * (latency - 1) + [int(v) for v in golden] + [int(golden[-1])] * extra


def run_sim(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("params", [{}, {"pipeline": 0, "acc_bits": 16, "overflow": "saturate"}])
def test_bridge_runs_pot_mac_cycle_exact(params):
    saturate = params.get("overflow") == "saturate"
    unit = UNITS["pot_mac"]
    params = unit.resolve(params)
    component = unit.build(params)
    bridge = HostBridge(component, wait_cycles=64)
    model, weights, acts, valid, clear = random_mac_inputs(unit, params, component,
                                                           np.random.default_rng(7),
                                                           60 if saturate else 40,
                                                           drift=saturate)
    reads = []

    async def testbench(ctx):
        reads.extend(await mac_session(ByteHost(ctx, bridge), weights, acts, valid, clear,
                                       component.latency))

    run_sim(bridge, testbench)
    golden = model.run(weights, acts, valid, clear)
    assert reads == expected_reads(golden, component.latency, 1)
    if saturate:  # the run reaches both bounds, so saturation is what is checked
        assert {-(1 << 15), (1 << 15) - 1} <= set(golden.tolist())


def test_bridge_streams_pot_dot_with_backpressure_and_timeouts():
    """PUSH until the unit stops taking beats (its pipeline and the read slot are full, so
    PUSH times out), then READ every sum: each equals the golden dot product, in order; one
    more READ times out; RESET empties the slot and the pipeline."""
    unit = UNITS["pot_dot"]
    params = unit.resolve({})
    bridge = HostBridge(unit.build(params), wait_cycles=32)
    ports = {p.name: p for p in bridge.ports}
    rng = np.random.default_rng(3)
    lanes = params["lanes"]
    weights = rng.integers(0, 16, (12, lanes))
    acts = rng.integers(-128, 128, (12, lanes))
    log = {}

    async def testbench(ctx):
        host = ByteHost(ctx, bridge)
        pushed = 0
        for w, a in zip(weights, acts):
            beat = {"weights": [int(x) for x in w], "acts": [int(x) for x in a]}
            assert await host.transact(command(Op.WRITE, ports["i"], beat), 1) == b"K"
            status = await host.transact(command(Op.PUSH, ports["i"]), 1)
            if status == b"T":
                break
            assert status == b"K"
            pushed += 1
        log["pushed"] = pushed
        sums = []
        for _ in range(pushed):
            reply = await host.transact(command(Op.READ, ports["o"]), 1 + ports["o"].nbytes)
            assert reply[0] == Status.OK
            sums.append(ports["o"].unpack(int.from_bytes(reply[1:], "little")))
        log["sums"] = sums
        log["empty_read"] = await host.transact(command(Op.READ, ports["o"]), 1)
        # A beat in flight, then RESET: nothing comes out.
        assert await host.transact(command(Op.PUSH, ports["i"]), 1) == b"K"
        assert await host.transact(command(Op.RESET), 1) == b"K"
        log["after_reset"] = await host.transact(command(Op.READ, ports["o"]), 1)

    run_sim(bridge, testbench)
    golden = unit.golden_model(params).dot(weights, acts)
    # the pipeline (latency stages) plus the read slot hold the beats pushed before the stall
    assert log["pushed"] == bridge._unit.latency + 1
    assert log["sums"] == [int(v) for v in golden[:log["pushed"]]]
    assert log["empty_read"] == b"T" and log["after_reset"] == b"T"


def test_bridge_runs_exaq_softmax_rows_through_three_streams():
    """Per row: the logits pushed one beat each with `last`, then the row's cfg (clip, table;
    the unit takes it as the row leaves its input stage), then the outputs read: every output
    equals the golden model's, and `last` closes each row."""
    unit = UNITS["exaq_softmax"]
    params = unit.resolve({"max_len": 8})
    bridge = HostBridge(unit.build(params), wait_cycles=256)
    ports = {p.name: p for p in bridge.ports}
    model = unit.golden_model(params)
    rng = np.random.default_rng(5)
    rows = [(rng.integers(-128, 128, n), int(rng.integers(1, 512))) for n in (6, 8, 1)]
    got = []

    async def testbench(ctx):
        host = ByteHost(ctx, bridge)

        async def push(port, value):
            assert await host.transact(command(Op.WRITE, ports[port], value), 1) == b"K"
            assert await host.transact(command(Op.PUSH, ports[port]), 1) == b"K"

        for x, clip in rows:
            for k, value in enumerate(x):
                await push("i", {"data": [int(value)], "count": 1, "last": k == len(x) - 1})
            await push("cfg", {"clip": clip, "lut": [int(v) for v in model.lut(clip)]})
            beats = []
            for _ in x:
                reply = await host.transact(command(Op.READ, ports["o"]), 1 + ports["o"].nbytes)
                assert reply[0] == Status.OK
                beat = ports["o"].unpack(int.from_bytes(reply[1:], "little"))
                beats.append((int(beat.data[0]), int(beat.count), int(beat.last)))
            got.append(beats)

    run_sim(bridge, testbench)
    for (x, clip), beats in zip(rows, got):
        expected = model.softmax(x, clip)
        assert [b[0] for b in beats] == [int(v) for v in expected]
        assert [b[1:] for b in beats] == [(1, 0)] * (len(x) - 1) + [(1, 1)]


def test_bridge_refuses_commands_a_port_does_not_take():
    unit = UNITS["int_dot"]
    bridge = HostBridge(unit.build(unit.resolve({})), wait_cycles=8)
    ports = {p.name: p for p in bridge.ports}
    replies = []

    async def testbench(ctx):
        host = ByteHost(ctx, bridge)
        for byte in (Op.PUSH | ports["o"].index,   # push to a source
                     Op.READ | ports["i"].index,   # read a sink
                     Op.WRITE | 5,                 # no port 5
                     0x70, 0x00):                  # no such operation
            replies.append(await host.transact(bytes([byte]), 1))
        replies.append(await host.transact(command(Op.STEP, steps=300), 1))

    run_sim(bridge, testbench)
    assert replies == [b"?"] * 5 + [b"K"]


def test_host_port_bits():
    acc = HostPort(4, "acc", "out", signed(32))
    assert (acc.width, acc.nbytes, acc.writable) == (32, 4, False)
    assert acc.unpack(acc.pack(-5)) == -5 and acc.pack(-1) == 0xFFFFFFFF
    layout = data.StructLayout({"code": unsigned(4), "scale": unsigned(16)})
    beat = HostPort(0, "i", "sink", layout)
    assert (beat.width, beat.nbytes, beat.writable) == (20, 3, True)
    assert beat.pack({"code": 0x9, "scale": 0xABCD}) == 0xABCD9   # first field in the low bits
    assert beat.unpack(0xABCD9).scale == 0xABCD


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_every_unit_converts_behind_the_uart_bridge(unit):
    # btc_array at its defaults moves 4107 input bits and takes seconds to convert; a small
    # array exercises the same ports. The board builds in docs/boards.md cover the defaults.
    overrides = {"rows": 2, "cols": 2, "k_slice": 8} if unit == "btc_array" else {}
    spec = UNITS[unit]
    component = spec.build(spec.resolve(overrides))
    top = BoardTop(component, 8)
    text = rtlil.convert(top, ports=[top.uart_rx.rx, top.uart_tx.tx])
    assert "module" in text
    # the host's port numbers are the signature's members in order, with their flow
    members = component.signature.members
    assert [p.name for p in top.bridge.ports] == list(members)
    for port in top.bridge.ports:
        member = members[port.name]
        flow = "in" if member.flow == In else "out"
        assert port.kind == (flow if member.is_port else {"in": "sink", "out": "source"}[flow])
    if unit == "exaq_softmax":
        assert [(p.index, p.name, p.kind) for p in top.bridge.ports] == [
            (0, "i", "sink"), (1, "o", "source"), (2, "cfg", "sink")]


# --- through the UART pins, with an independent bit-level model of the host's UART ---------

DIVISOR = 8


async def uart_send(ctx, line, data):
    """8N1, least significant bit first, ``DIVISOR`` cycles per bit."""
    for byte in data:
        for bit in [0, *((byte >> k) & 1 for k in range(8)), 1]:
            ctx.set(line, bit)
            await ctx.tick().repeat(DIVISOR)


def uart_monitor(line, received):
    """A background testbench decoding frames from ``line`` into ``received`` (mid-bit
    sampling)."""

    async def process(ctx):
        while True:
            while ctx.get(line):  # (no `until`: the simulation ends while this waits)
                await ctx.tick()
            await ctx.tick().repeat(DIVISOR // 2)
            assert ctx.get(line) == 0, "start bit shorter than half a bit"
            bits = []
            for _ in range(9):
                await ctx.tick().repeat(DIVISOR)
                bits.append(ctx.get(line))
            assert bits[8] == 1, "missing stop bit"
            received.append(sum(b << k for k, b in enumerate(bits[:8])))
    return process


def test_uart_round_trip_runs_int_mac_bit_exact():
    unit = UNITS["int_mac"]
    params = unit.resolve({})
    component = unit.build(params)
    top = BoardTop(component, DIVISOR, wait_cycles=64)
    model, weights, acts, valid, clear = random_mac_inputs(unit, params, component,
                                                           np.random.default_rng(11), 5)
    received, reads = [], []

    class UartHost(ByteHost):
        async def send(self, data):
            await uart_send(self.ctx, top.uart_rx.rx, data)

        async def receive(self, count):
            start = len(received)
            while len(received) < start + count:
                await self.ctx.tick()
            return bytes(received[start:start + count])

    async def testbench(ctx):
        ctx.set(top.uart_rx.rx, 1)
        await ctx.tick().repeat(4)
        reads.extend(await mac_session(UartHost(ctx, top.bridge), weights, acts, valid, clear,
                                       component.latency))

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(uart_monitor(top.uart_tx.tx, received), background=True)
    sim.add_testbench(testbench)
    sim.run()
    golden = model.run(weights, acts, valid, clear)
    assert reads == expected_reads(golden, component.latency, 1)


# --- real bitstreams -------------------------------------------------------------------------

def check_build(result, board_capacity_cell):
    assert result["fits"]
    assert Path(result["bitstream"]).stat().st_size > 0
    logic = result["logic_cells"]
    assert logic["cell"] == board_capacity_cell and 0 < logic["used"] <= logic["available"]
    for kind in ("bram", "dsp"):
        assert result[kind]["used"] <= result[kind]["available"]
    assert result["fmax_mhz"] >= result["clock_mhz"] and result["timing_met"]
    written = json.loads(Path(result["bitstream"]).with_suffix(".board.json").read_text())
    assert written["fmax_mhz"] == result["fmax_mhz"] and written["ports"] == result["ports"]


def test_icebreaker_bitstream_of_pot_mac(build_root):
    result = build_board(UNITS["pot_mac"], {}, "icebreaker", build_root=build_root)
    check_build(result, "ICESTORM_LC")
    assert result["clock_mhz"] == 12 and result["uart_divisor"] == 104
    assert result["luts"] > 0 and result["ffs"] > 32  # at least the accumulator


def test_ulx3s_bitstream_of_dint_mac(build_root):
    result = build_board(UNITS["dint_mac"], {}, "ulx3s", build_root=build_root)
    check_build(result, "TRELLIS_COMB")
    assert result["clock_mhz"] == 25 and result["device"] == "LFE5U-25F-BG381"
    assert result["ff_cells"]["used"] == result["ffs"]


# nextpnr-ice40's log of int_array (4 x 4 INT8 MACs) on the UP5K with LUT multipliers
TOO_BIG_LOG = """Info: Device utilisation:
Info: \t         ICESTORM_LC:    5445/   5280   103%
Info: \t        ICESTORM_RAM:       0/     30     0%
Info: \t               SB_IO:       3/     39     7%
ERROR: Failed to expand region (0, 0) |_> (25, 31) of 5445 ICESTORM_LCs
"""


def fake_build(folder, log_text, status):
    """A build folder whose script writes ``log_text`` as nextpnr's log and exits ``status``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.log.txt").write_text(log_text)
    (folder / "build_x.sh").write_text(f"cp x.log.txt x.tim\nexit {status}\n")
    return folder


def test_a_design_that_does_not_fit_is_one_line(build_root, monkeypatch, tmp_path):
    folder = fake_build(build_root / "board-fake" / "too-big", TOO_BIG_LOG, 1)
    with pytest.raises(board._DoesNotFit) as failure:
        board._run_build(folder, "x", None)
    assert failure.value.over == {"ICESTORM_LC": (5445, 5280)}

    def too_big(*args):
        raise failure.value
    monkeypatch.setattr(board, "_run_build", too_big)
    with pytest.raises(LowbitError) as error:
        build_board(UNITS["pot_mac"], {}, "icebreaker", build_root=tmp_path)
    assert str(error.value).startswith("pot_mac does not fit the icebreaker (iCE40UP5K-SG48): "
                                       "needs 5445/5280 ICESTORM_LC (103 %)")
    written = json.loads((tmp_path / "board/icebreaker/pot_mac/pot_mac.board.json").read_text())
    assert written["fits"] is False and written["over"]["ICESTORM_LC"]["used"] == 5445


def test_a_failing_tool_is_one_line_with_its_error(build_root):
    folder = fake_build(build_root / "board-fake" / "broken",
                        "Info: reading\nERROR: IO pin 'uart_0__tx__io' constrained twice\n", 1)
    with pytest.raises(LowbitError, match="exit status 1\\): ERROR: IO pin 'uart_0__tx__io' "
                                          "constrained twice; full log: .*x.tim"):
        board._run_build(folder, "x", None)


@pytest.mark.parametrize("args, message", [
    (["board", "pot_mac", "--board", "de10"], "invalid choice: 'de10'"),
    (["board", "no_unit", "--board", "icebreaker"], "unknown unit 'no_unit'"),
    (["board", "pot_mac", "--board", "icebreaker", "-p", "bits=9"], "bits=9 is out of range"),
    (["board", "pot_mac", "--board", "icebreaker", "--baud", "9000000"],
     "baud rate 9000000 is out of range"),
])
def test_board_command_bad_input(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lowbit: error: ") and message in err[0]


def test_board_command_exit_status_1_when_timing_fails(monkeypatch, capsys, tmp_path):
    result = {"unit": "pot_mac", "board": "icebreaker", "device": "iCE40UP5K-SG48",
              "params": {"bits": 4}, "luts": 300, "ffs": 150, "carry": 80,
              "logic_cells": {"cell": "ICESTORM_LC", "used": 400, "available": 5280},
              "ff_cells": None, "bram": {"cell": "ICESTORM_RAM", "used": 0, "available": 30},
              "dsp": {"cell": "ICESTORM_DSP", "used": 0, "available": 8},
              "fmax_mhz": 10.5, "clock_mhz": 12.0, "timing_met": False,
              "bitstream": str(tmp_path / "pot_mac.bin"), "seconds": 20.0}
    monkeypatch.setattr(board, "build_board", lambda *args, **kwargs: result)
    assert main(["board", "pot_mac", "--board", "icebreaker"]) == 1
    out = capsys.readouterr().out
    assert "Fmax 10.5 MHz vs the 12 MHz board clock: FAILED" in out
    assert "400/5280 (8 %) ICESTORM_LC" in out
