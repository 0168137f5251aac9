"""Energy per operation of a unit's standard-cell netlist on real operands (``lowbit power``).

The measurement, for one unit and one workload:

1. Map the bare unit to the Liberty library with the ``asic`` target's commands
   (``lowbit.synth.asic``), with every internal net renamed ``n<k>`` and split into bits.
2. Turn the library's cells into simulation models: Yosys reads the Liberty file without
   ``-lib`` and builds each cell from its ``function`` and ``ff`` groups; ``write_verilog``
   writes them out (once per library, beside its plain copy).
3. Simulate the gate-level netlist in Icarus on the workload (``lowbit.synth.workloads``): one
   input vector per clock cycle, applied just after the rising edge as flip-flops would, the
   outputs recorded every cycle, and a VCD of every net of the unit over the measured cycles.
   The recorded outputs are checked against the unit's golden model: the netlist measured is
   the circuit tested.
4. Count, per net, its transitions per clock cycle and the fraction of time it is high, and
   hand them to OpenSTA's ``report_power`` on the same netlist, with an ideal clock at the chosen
   frequency, ``set_input_delay 0`` on the inputs and the input capacitance of one of the
   library's plain flip-flops (``dfxtp_1``'s D) as the load on every output.
5. Energy per operation = total power / clock frequency x cycles / operations in the window.

The simulation has zero delay, so glitches (a net that switches several times in one cycle
before it settles) are not counted: the dynamic energy is that of the settled transitions, a
lower bound, for unit and baseline alike (docs/power.md).
"""

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lowbit.core.errors import LowbitError
from lowbit.hdl.component import unelaborated
from lowbit.verilog import to_verilog

from .asic import DELAY_TARGET_PS, map_design, resolve_liberty, reusable_netlist
from .liberty import internal_energy as _energy
from .liberty import library_id
from .memory import MODEL as MEMORY_MODEL
from .sta import power_tcl, read_dump, read_power, run_sta, sta_version
from .tools import tool_versions
from .workloads import built, make_workload, port_widths
from .workloads.mac import accumulator_workload

__all__ = ["DEFAULT_CLOCK_MHZ", "DEFAULT_CYCLES", "GLITCH_NOTE", "PowerResult", "cell_models",
           "simulate_netlist", "read_vcd", "net_activities", "netlist_power", "liberty_power",
           "measure_power", "measure_component", "mac_breakdown", "format_power_table"]

DEFAULT_CLOCK_MHZ = 100.0
DEFAULT_CYCLES = 2048
RESET_CYCLES = 2
GLITCH_NOTE = ("zero-delay gate-level simulation: glitches are not counted, so dynamic energy "
               "is that of settled transitions (a lower bound, for unit and baseline alike)")
OUTPUT_LOAD_CELL = ("dfxtp_1", "D")   # every output drives one plain flip-flop's D input


def _run(command, *, cwd, log, what):
    with open(cwd / log, "w") as out:
        status = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT).returncode
    if status != 0:
        tail = (cwd / log).read_text(errors="replace").strip().splitlines()[-1:]
        raise LowbitError(f"{what} failed (exit status {status}){': ' + tail[0] if tail else ''}; "
                          f"see {cwd / log}")


def cell_models(liberty):
    """Verilog simulation models of every cell of the plain Liberty file ``liberty`` (a path),
    written once beside it by Yosys' ``read_liberty`` (no ``-lib``) and ``write_verilog``."""
    from .tools import run_tool
    liberty = Path(liberty)
    models = liberty.with_suffix(".cells0.v")
    if models.is_file():
        return models
    folder = liberty.parent
    part = f"{models.name}.{os.getpid()}.part"
    script = folder / f"cells.{os.getpid()}.ys"
    script.write_text(f"read_liberty -ignore_miss_func -ignore_miss_dir -ignore_miss_data_latch "
                      f"{liberty.name}\nwrite_verilog -noattr {part}\n")
    run_tool("yosys", ["-q", "-l", f"{script.stem}.log", "-s", script.name], cwd=folder,
             log=f"{script.stem}.stdout", error_log=f"{script.stem}.log")
    # Flip-flops without reset power up at 0 rather than x: an x in a register that the logic
    # later masks would otherwise spread through the cells' gate-level equations (x-pessimism)
    # into outputs the RTL defines.
    text = (folder / part).read_text()
    (folder / part).write_text(re.sub(r"^(\s*reg\s+(?:\[[^\]]*\]\s*)?[\w$]+)\s*;", r"\1 = 0;",
                                      text, flags=re.M))
    os.replace(folder / part, models)
    return models


def require_icarus():
    missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
    if missing:
        raise LowbitError(f"Icarus Verilog is missing ({', '.join(missing)} not on PATH): "
                          f"install it with `apt-get install iverilog`")


def _testbench(top, inputs, outputs, n_vectors, reset_cycles, clock_port="clk", reset_port="rst",
               streams=None, marks=()):
    """A Verilog testbench: reset, then one vector of ``stim.hex`` per cycle, outputs to
    ``out.hex`` every cycle (once that cycle's vector has settled), a VCD of the unit's nets.

    ``streams``: ``{name: beats}`` of input streams driven as a stream source would, not by
    the vectors: ``name__valid`` high while beats are left, ``name__payload`` the next beat
    (from ``stream_<name>.hex``), advanced on every clock edge where the unit's
    ``name__ready`` is high. ``marks``: cycles at whose start the event ``mark`` fires (the
    memory macros print their counts there, windows of the measurement)."""
    streams = dict(streams or {})
    in_bits = sum(w for _, w in inputs)
    out_bits = sum(w for _, w in outputs)
    out_at = {}
    lo = 0
    for name, width in outputs:
        out_at[name] = (lo, width)
        lo += width
    lines = ["`timescale 1ns/1ps", "module power_tb;",
             f"  reg {clock_port} = 0;", f"  reg {reset_port} = 1;",
             "  reg measure = 0;   // memory macros count their events from here on",
             f"  reg [{max(in_bits, 1) - 1}:0] vec = 0;",
             f"  wire [{max(out_bits, 1) - 1}:0] out;",
             f"  reg [{max(in_bits, 1) - 1}:0] stim [0:{n_vectors - 1}];",
             "  integer k, f;",
             f"  always #5 {clock_port} = ~{clock_port};"]
    conns = [f".{clock_port}({clock_port})", f".{reset_port}({reset_port})"]
    widths = dict(inputs)
    lines.append("  event mark;")
    for s, count in streams.items():
        width = widths[f"{s}__payload"]
        ready_lo, _ = out_at[f"{s}__ready"]
        lines += [f"  reg [{width - 1}:0] {s}_beats [0:{max(count, 1) - 1}];",
                  f"  integer {s}_k = 0;",
                  f"  wire {s}_valid = {s}_k < {count};",
                  f"  wire [{width - 1}:0] {s}_payload = {s}_valid ? {s}_beats[{s}_k] : 0;",
                  f"  always @(posedge {clock_port})",
                  f"    if (!{reset_port} && {s}_valid && out[{ready_lo}]) {s}_k <= {s}_k + 1;"]
    lo = 0
    for name, width in inputs:
        if name == reset_port:
            continue
        stream = name.rsplit("__", 1)
        if len(stream) == 2 and stream[0] in streams and stream[1] in ("valid", "payload"):
            conns.append(f".{name}({stream[0]}_{stream[1]})")
        else:
            conns.append(f".{name}(vec[{lo + width - 1}:{lo}])")
        lo += width
    lo = 0
    for name, width in outputs:
        conns.append(f".{name}(out[{lo + width - 1}:{lo}])")
        lo += width
    lines += [f"  {top} dut ({', '.join(conns)});",
              "  initial begin",
              '    $readmemh("stim.hex", stim);',
              *(f'    $readmemh("stream_{s}.hex", {s}_beats);' for s in streams),
              '    f = $fopen("out.hex", "w");',
              f"    repeat ({reset_cycles}) @(posedge {clock_port});",
              f"    #1 {reset_port} = 0;",
              '    $dumpfile("activity.vcd");',
              "    $dumpvars(1, dut);",
              "    measure = 1;",
              f"    for (k = 0; k < {n_vectors}; k = k + 1) begin",
              "      vec = stim[k];",
              *([f"      if ({' || '.join(f'k == {m}' for m in marks)}) -> mark;"]
                if marks else []),
              '      #1 $fwrite(f, "%h\\n", out);',
              f"      @(posedge {clock_port}); #1;",
              "    end",
              '    $fwrite(f, "%h\\n", out);',
              "    $fclose(f);",
              "    $finish;",
              "  end",
              "endmodule"]
    return "\n".join(lines) + "\n"


def simulate_netlist(run, netlist, top, models, inputs, outputs, vectors, *, cycles=None,
                     macros=None, streams=None, marks=()):
    """Simulate ``run/netlist`` (top module ``top``) with Icarus on ``vectors``.

    ``inputs``/``outputs``: ``[(port name, width)]`` (clock ``clk`` and reset ``rst`` apart);
    ``vectors``: ``{input name: int array}``, one value per cycle (two's complement allowed);
    ``cycles`` the number of cycles where ``vectors`` is empty; ``macros`` the simulation
    models of the netlist's memory macros (``lowbit.synth.memory.macro_verilog``), whose event
    counts over the measured cycles end up in ``run/vvp.log``; ``streams``: ``{name: [payload
    ints]}`` of input streams driven with back-pressure (see ``_testbench``) rather than by
    the vectors; ``marks``: cycles where the macros also print their counts so far.
    Returns ``({output name: int array of unsigned values}, vcd path, cycles)``; output entry
    ``k`` is the value while vector ``k`` is applied (registers: after ``k`` clock edges;
    entry ``n`` after the last edge); None
    where a bit is undefined (registers without reset before the first beat reaches them).
    """
    require_icarus()
    n = len(next(iter(vectors.values()))) if vectors else int(cycles)
    packed = [0] * n
    lo = 0
    for name, width in inputs:
        values = np.asarray(vectors.get(name, np.zeros(n, dtype=np.int64)), dtype=object)
        mask = (1 << width) - 1
        for k in range(n):
            packed[k] |= (int(values[k]) & mask) << lo
        lo += width
    digits = max(1, (lo + 3) // 4)
    (run / "stim.hex").write_text("".join(f"{v:0{digits}x}\n" for v in packed))
    streams = dict(streams or {})
    widths = dict(inputs)
    for name, beats in streams.items():
        digits = max(1, (widths[f"{name}__payload"] + 3) // 4)
        (run / f"stream_{name}.hex").write_text("".join(f"{int(v):0{digits}x}\n"
                                                        for v in beats) or "0\n")
    (run / "power_tb.v").write_text(_testbench(
        top, inputs, outputs, n, RESET_CYCLES, streams={k: len(v) for k, v in streams.items()},
        marks=marks))
    _run(["iverilog", "-g2012", "-DLOWBIT_POWER_TB", "-s", "power_tb", "-o", "power_tb.vvp",
          "power_tb.v", os.path.relpath(netlist, run), os.path.relpath(models, run),
          *([os.path.relpath(macros, run)] if macros else [])],
         cwd=run, log="iverilog.log", what="iverilog")
    _run(["vvp", "-n", "power_tb.vvp"], cwd=run, log="vvp.log", what="vvp")
    if not outputs:
        return {}, run / "activity.vcd", n
    total = sum(width for _, width in outputs)
    lines = (run / "out.hex").read_text().split()
    bits = ["".join("xxxx" if d in "xXzZ" else format(int(d, 16), "04b") for d in line)
            .rjust(total, "0")[-total:] for line in lines]
    result, lo = {}, 0
    for name, width in outputs:   # LSB first; a field with an undefined bit is None
        hi = total - lo
        fields = [b[hi - width:hi] for b in bits]
        result[name] = np.array([None if "x" in f else int(f, 2) for f in fields], dtype=object)
        lo += width
    return result, run / "activity.vcd", n


_VAR = re.compile(r"\$var\s+\w+\s+(\d+)\s+(\S+)\s+(\S+)(?:\s+\[(\d+)(?::(\d+))?\])?\s+\$end")


def _vcd_nets(path):
    """``(aliases, widths, body)`` of a VCD file: ``aliases[id]``, for each net the identifier
    stands for, its bit names (MSB first); ``widths[id]`` its width; ``body`` the text after
    the header (the value changes)."""
    header, _, body = Path(path).read_text().partition("$enddefinitions")
    aliases = {}
    for width, ident, name, msb, lsb in _VAR.findall(header):
        if int(width) == 1:
            names = [f"{name}[{msb}]" if msb else name]
        else:
            hi, lo = int(msb), int(lsb)
            step = -1 if hi >= lo else 1
            names = [f"{name}[{i}]" for i in range(hi, lo + step, step)]
        aliases.setdefault(ident, []).append(names)
    return aliases, {ident: len(lists[0]) for ident, lists in aliases.items()}, body


def _vcd_changes(body):
    """The value changes of a VCD body in order: ``(None, time)`` at each time mark, else
    ``(identifier, value)`` (lower case; real-valued changes skipped). Icarus writes one change
    or time per line."""
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith("$"):
            continue
        head = line[0]
        if head == "#":
            yield None, int(line[1:])
        elif head in "bB":
            value, _, ident = line[1:].partition(" ")
            yield ident.strip(), value.lower()
        elif head not in "rR":
            yield line[1:], head.lower()


def read_vcd(path):
    """Per-bit ``{net: (transitions, time high, )}`` and the dumped time span of a VCD file.

    Returns ``(stats, span)``: ``stats[name] = [transitions, time high]``, one entry per bit
    (``bus[i]`` for vectors); transitions between 0 and 1 only (from or to x/z do not count).
    The netlists the power flow simulates are split into single bits, so a VCD is nearly all
    scalar changes (``0n``, ``1n``): those take a path of their own, in flat dictionaries.
    """
    aliases, widths, body = _vcd_nets(path)
    state = {ident: ["x"] * w for ident, w in widths.items() if w > 1}
    since = {ident: [0] * w for ident, w in widths.items() if w > 1}
    counts = {ident: [[0, 0] for _ in range(w)] for ident, w in widths.items() if w > 1}
    scalars = [ident for ident, w in widths.items() if w == 1]
    bit = dict.fromkeys(scalars, "x")                 # each scalar's value,
    bit_since = dict.fromkeys(scalars, 0)             # since when,
    flips = dict.fromkeys(scalars, 0)                 # its 0 <-> 1 transitions
    high = dict.fromkeys(scalars, 0)                  # and its time at 1
    now, start = 0, None

    def update(ident, value):
        width = widths.get(ident)
        if width is None:
            return
        value = value.rjust(width, "0" if value[0] in "01" else value[0])[-width:]
        old, t0, count = state[ident], since[ident], counts[ident]
        for i, (a, b) in enumerate(zip(old, value)):
            if a == b:
                continue
            if a == "1":
                count[i][1] += now - t0[i]
            if {a, b} == {"0", "1"}:
                count[i][0] += 1
            old[i], t0[i] = b, now

    def change_bit(ident, old, value):
        if old == "1":
            high[ident] += now - bit_since[ident]
        if old + value in ("01", "10"):
            flips[ident] += 1
        bit[ident], bit_since[ident] = value, now

    for line in body.splitlines():
        head = line[:1]
        if head in ("0", "1", "x", "z", "X", "Z") and head:
            ident, value = line[1:].strip(), head.lower()
            old = bit.get(ident)
            if old is None:
                if ident in widths:          # a vector written as a scalar change
                    update(ident, value)
                continue
            if old != value:
                change_bit(ident, old, value)
            continue
        line = line.strip()
        if not line or line[0] == "$":
            continue
        head = line[0]
        if head == "#":
            now = int(line[1:])
            if start is None:
                start = now
        elif head in "bB":
            value, _, ident = line[1:].partition(" ")
            ident = ident.strip()
            if ident in bit:                 # a scalar written as a vector change
                value = value.lower()[-1:]
                if bit[ident] != value:
                    change_bit(ident, bit[ident], value)
            else:
                update(ident, value.lower())
        elif head not in "rR":
            update(line[1:], head.lower())
    end = now
    stats = {}
    for ident, lists in aliases.items():
        if ident in bit:
            if bit[ident] == "1":
                high[ident] += end - bit_since[ident]
            for names in lists:
                stats[names[0]] = [flips[ident], high[ident]]
            continue
        for i in range(widths[ident]):
            if state[ident][i] == "1":
                counts[ident][i][1] += end - since[ident][i]
            for names in lists:
                stats[names[i]] = counts[ident][i]
    return stats, end - (start or 0)


def window_transitions(path, bounds):
    """Per-bit transitions (0 <-> 1) of a VCD file in each window ``[bounds[i], bounds[i+1])``
    of simulation time: a list of ``{net: transitions}``, one per window."""
    aliases, widths, body = _vcd_nets(path)
    state = {ident: ["x"] * w for ident, w in widths.items()}
    windows = len(bounds) - 1
    counts = {ident: [[0] * windows for _ in range(w)] for ident, w in widths.items()}
    now, slot = 0, -1
    import bisect

    def update(ident, value):
        width = widths.get(ident)
        if width is None:
            return
        value = value.rjust(width, "0" if value[0] in "01" else value[0])[-width:]
        old = state[ident]
        for i, (a, b) in enumerate(zip(old, value)):
            if a != b:
                if {a, b} == {"0", "1"} and 0 <= slot < windows:
                    counts[ident][i][slot] += 1
                old[i] = b

    for ident, value in _vcd_changes(body):
        if ident is None:
            now = value
            slot = bisect.bisect_right(bounds, now) - 1
        else:
            update(ident, value)
    found = [{} for _ in range(windows)]
    for ident, lists in aliases.items():
        for i in range(widths[ident]):
            for names in lists:
                for w in range(windows):
                    found[w][names[i]] = counts[ident][i][w]
    return found


def net_activities(stats, span, cycles, *, clock="clk"):
    """``{net: (transitions per cycle, duty)}`` from :func:`read_vcd`, the clock left out."""
    return {name: (transitions / cycles, (high / span) if span else 0.0)
            for name, (transitions, high) in stats.items() if name != clock}


def netlist_power(run, netlist, top, liberty, *, clock_mhz, activities, output_load_pf,
                  inputs=(), macros=None, macro_liberty=None, windows=None):
    """Power of ``netlist`` with ``activities`` (``{net: (transitions per cycle, duty)}``).

    OpenSTA reads the design, sets the activity on every pin and computes loads and transition
    times; :func:`liberty_power` computes the power from them and the Liberty tables. Returns
    ``(liberty_power groups, OpenSTA's own report_power groups)``, both ``{group: {kind: W}}``.
    ``macros``/``macro_liberty``: the memory macros (see :func:`liberty_power`) and their
    Liberty view, which OpenSTA reads after the cells' library. ``windows``: a list of
    ``(activities, macros)`` of parts of the run; then a third element is returned, the
    :func:`liberty_power` groups of each (the same loads and slews: one OpenSTA run).
    """
    libraries = [os.path.relpath(liberty, run)]
    if macro_liberty is not None:
        libraries.append(os.path.relpath(macro_liberty, run))
    text = run_sta(run, "sta_power", power_tcl(
        os.path.relpath(netlist, run), top, libraries, clock_mhz=clock_mhz,
        output_load_pf=output_load_pf, activities=activities))
    nets, instances = read_dump(text)
    whole = liberty_power(liberty, nets, instances, activities, clock_mhz=clock_mhz,
                          inputs=inputs, macros=macros)
    if windows is None:
        return whole, read_power(text)
    return whole, read_power(text), [
        liberty_power(liberty, nets, instances, acts, clock_mhz=clock_mhz, inputs=inputs,
                      macros=part) for acts, part in windows]


_LIBRARIES = {}


def _library(liberty, cells):
    """The cells ``cells`` of the plain Liberty file (cached per file across calls)."""
    from .liberty import read_cells
    key = str(liberty)
    known = _LIBRARIES.setdefault(key, {})
    missing = sorted(set(cells) - set(known.get("cells", {})))
    if missing or "lib" not in known:
        lib = read_cells(liberty, missing)
        known["lib"] = lib
        known.setdefault("cells", {}).update(lib.cells)
    lib = known["lib"]
    return lib, known["cells"]


def liberty_power(liberty, nets, instances, activities, *, clock_mhz, clock="clk", inputs=(),
                  macros=None):
    """Power from the Liberty data, the measured activities and OpenSTA's loads and slews.

    * switching: every net, ``0.5 C V^2`` per transition, ``C`` its total capacitance (pins,
      wire-load model, output load); charged to the cell that drives it, or to ``inputs`` for
      the unit's input ports and the clock (their drivers are outside the unit, their load is
      the unit's);
    * internal: every output pin, the energy of its ``internal_power`` tables at the related
      input's transition time and the output's capacitance, averaged over rise and fall and,
      if several inputs are related, weighted by their activities, times its transitions;
      every input pin with its own tables (clock pins, data pins of flip-flops), the same at
      its transition time;
    * leakage: ``cell_leakage_power`` of every cell;
    * memory macros (``macros``: ``{instance: (energy per event in pJ, event counts,
      leakage in W)}``, ``lowbit.synth.memory``): internal energy = the model's energy per
      event times the events the simulation counted over ``counts["cycle"]`` cycles,
      switching of the nets their outputs drive as for any driver, the model's leakage; in
      the group ``memory``.

    ``nets``/``instances``: from ``lowbit.synth.sta.read_dump``; ``activities``:
    ``{net: (transitions per cycle, duty)}`` (the clock net makes 2 per cycle).
    Returns ``{group: {"internal", "switching", "leakage", "total"}}`` in W for the groups
    ``total``, ``sequential``, ``combinational``, ``inputs``, ``memory``.
    """
    from .memory import MACRO_PREFIX, macro_energy_w
    macros = {_plain(name): value for name, value in (macros or {}).items()}
    lib, cells = _library(liberty, {cell for cell, _ in instances.values()
                                    if not cell.startswith(MACRO_PREFIX)})
    f = clock_mhz * 1e6
    v2 = lib.voltage ** 2
    energy_unit = lib.cap_unit   # internal-power tables: capacitive_load_unit x (1 V)^2
    groups = {g: {"internal": 0.0, "switching": 0.0, "leakage": 0.0}
              for g in POWER_GROUPS}

    def rate(net):
        if net == clock:
            return 2.0
        return activities.get(net, (0.0, 0.0))[0]

    driven = set()
    for name, (cell, pins) in instances.items():
        if cell.startswith(MACRO_PREFIX):
            if _plain(name) not in macros:
                raise LowbitError(f"memory macro {name} ({cell}): no event counts from the "
                                  f"simulation")
            energy, counts, leakage = macros[_plain(name)]
            bucket = groups["memory"]
            bucket["leakage"] += leakage
            bucket["internal"] += macro_energy_w(energy, counts, clock_mhz)
            for pin_name, (direction, net, _) in pins.items():
                if direction == "output":
                    driven.add(net)
                    bucket["switching"] += 0.5 * nets.get(net, 0.0) * v2 * rate(net) * f
            continue
        group = cells[cell]
        sequential = bool(group.sub("ff") or group.sub("latch") or group.sub("statetable"))
        bucket = groups["sequential" if sequential else "combinational"]
        bucket["leakage"] += group.number("cell_leakage_power", 0.0) * lib.leakage_unit
        by_pin = {p.args[0]: p for p in group.groups if p.kind == "pin"}
        for pin_name, (direction, net, slew) in pins.items():
            pin = by_pin.get(pin_name)
            if pin is None:
                continue
            powers = pin.sub("internal_power")
            if direction == "output":
                driven.add(net)
                cap_pf = nets.get(net, 0.0) / 1e-12
                bucket["switching"] += 0.5 * nets.get(net, 0.0) * v2 * rate(net) * f
                if not powers:
                    continue
                related = {}
                for pw in powers:
                    related.setdefault(pw.attrs.get("related_pin", ""), []).append(pw)
                weights = {r: rate(pins[r][1]) if r in pins else 0.0 for r in related}
                total_weight = sum(weights.values())
                energy = 0.0
                for r, pws in related.items():
                    w = weights[r] / total_weight if total_weight else 1.0 / len(related)
                    r_slew = pins[r][2] if r in pins else 0.0
                    energy += w * sum(_energy(pw, r_slew, cap_pf) for pw in pws) / len(pws)
                bucket["internal"] += energy * energy_unit * rate(net) * f
            elif powers:
                energy = sum(_energy(pw, slew) for pw in powers) / len(powers)
                bucket["internal"] += energy * energy_unit * rate(net) * f
    for net, cap in nets.items():
        if net not in driven and (net == clock or net in inputs):
            groups["inputs"]["switching"] += 0.5 * cap * v2 * rate(net) * f
    for bucket in groups.values():
        bucket["total"] = bucket["internal"] + bucket["switching"] + bucket["leakage"]
    groups["total"] = {k: sum(groups[g][k] for g in POWER_GROUPS)
                       for k in ("internal", "switching", "leakage", "total")}
    return groups


POWER_GROUPS = ("sequential", "combinational", "inputs", "memory")


def _plain(name):
    """An instance name without Verilog/OpenSTA escapes and the testbench's path."""
    name = name.replace("\\", "").replace(" ", "")
    return name.removeprefix("power_tb.dut.")


def _pin_cap(liberty, cell_suffix, pin):
    from .liberty import read_cells
    text = Path(liberty).read_text(errors="replace")
    name = re.search(r'cell\s*\(\s*"?(\w+__' + re.escape(cell_suffix) + r')"?\s*\)', text).group(1)
    lib = read_cells(liberty, [name])
    return float(lib.cells[name].sub("pin", pin)[0].attrs["capacitance"]) * lib.cap_unit / 1e-12


@dataclass(frozen=True)
class PowerResult:
    """Energy of one unit on one workload (``as_dict`` for JSON).

    ``energy_pj`` per operation: ``total``, ``internal``, ``switching``, ``leakage``;
    ``energy_by_group_pj`` per operation for ``sequential`` and ``combinational`` cells and
    the ``inputs`` (the unit's input and clock nets, driven from outside);
    ``energy_detail_pj``: ``{group: {kind: pJ per op}}`` (groups as above plus ``total``);
    ``opensta_report_power_pj``: OpenSTA's own ``report_power`` total on the same activities,
    for comparison (it counts internal energy twice in this OpenSTA version, docs/power.md);
    ``power_mw`` the average power at ``clock_mhz``; ``ops`` operations (``op``: "MAC", ...)
    in ``cycles`` measured cycles; ``vectors_checked`` outputs compared with the golden model;
    ``memory``: the memory macros (``lowbit.synth.memory``: model, bits, area, and per macro
    its counted events, energy per event and pJ per operation; their energy is the group
    ``memory``); ``windows``: for a workload cut into windows (a stream workload's stages),
    per window its ``name``, ``cycles``, ``energy_pj``, ``by_group_pj`` and the macros'
    ``memory_events`` in it.
    """
    unit: str
    params: dict
    data: str
    seed: int
    clock_mhz: float
    cycles: int
    ops: int
    op: str
    energy_pj: dict
    energy_by_group_pj: dict
    energy_detail_pj: dict
    opensta_report_power_pj: float
    power_mw: float
    area_um2: float
    sequential_area_um2: float
    toggle_rate: float
    vectors_checked: int
    liberty: str
    tool_versions: dict
    seconds: float
    note: str = GLITCH_NOTE
    memory: dict = field(default_factory=dict)
    windows: list = field(default_factory=list)
    mode: str | None = None

    def as_dict(self):
        from dataclasses import asdict
        return asdict(self)


def measure_power(unit, params=None, *, data="random", clock_mhz=DEFAULT_CLOCK_MHZ,
                  liberty=None, seed=1, cycles=DEFAULT_CYCLES, build_dir=Path("build/power"),
                  workload=None, mapped=None):
    """Measure one unit (its registry entry, ``lowbit.registry.Unit``) with ``params``;
    returns a :class:`PowerResult`. Raises ``LowbitError`` on bad input, a failing tool, or a
    netlist whose outputs differ from the golden model. ``mapped``: the folder of an ``asic``
    area run of the same unit (``lowbit.synth.asic.run_dir``), whose netlist is simulated if
    it is this very Verilog mapped to this library by today's commands
    (:func:`~lowbit.synth.asic.reusable_netlist`), instead of mapping it again."""
    _check_clock(clock_mhz)
    params = unit.resolve(params or {})
    work = workload or make_workload(unit, params, data=data, seed=seed, cycles=cycles)
    component = unit.build(params)
    try:
        return measure_component(component, work, name=unit.name, params=params, data=data,
                                 seed=seed, clock_mhz=clock_mhz, liberty=liberty,
                                 build_dir=build_dir, mapped=mapped)
    except LowbitError:   # refused before its Verilog was written (a bad --liberty): one line
        unelaborated(component)
        raise


def _check_clock(clock_mhz):
    if not (1.0 <= float(clock_mhz) <= 5000.0):
        raise LowbitError(f"--clock {clock_mhz}: the clock must be 1..5000 MHz")


def measure_component(component, work, *, name, params, data, seed, clock_mhz, liberty,
                      build_dir, mapped=None):
    """Measure any ``wiring.Component`` (``name`` for its folder and record) on the
    :class:`~lowbit.synth.workloads.Workload` ``work``; see :func:`measure_power`."""
    _check_clock(clock_mhz)
    build_dir = Path(build_dir)
    lib, source = resolve_liberty(liberty, build_dir)
    versions = {**tool_versions(["yosys"]), "opensta": sta_version()}
    start = time.monotonic()
    from lowbit.core.params import params_tag
    cycles = len(next(iter(work.vectors.values())))
    run = build_dir / f"{name}-{params_tag(params)}" / f"{data}-seed{seed}-n{cycles}"
    run.mkdir(parents=True, exist_ok=True)
    inputs, outputs = port_widths(component)
    top = re.sub(r"\W", "_", name)
    verilog = to_verilog(component, top)
    (run / "unit.v").write_text(verilog)
    netlist = run / "power_netlist.v"
    reused = reusable_netlist(mapped, verilog, lib) if mapped is not None else None
    if reused is not None:   # the area run's netlist of this very Verilog and library
        shutil.copyfile(reused[0], netlist)
        stat = reused[1]
        (run / "power_stat.json").write_text(json.dumps({"design": stat}) + "\n")
        (run / "power_netlist.from").write_text(f"{reused[0]}\n")
    else:
        stat = map_design(run, "power", "unit.v", top, lib, DELAY_TARGET_PS, plain_names=True)
    records = stat.get("macros", [])
    macro_models = run / "power_macros.v" if records else None
    macro_view = run / "power_macros.lib" if records else None
    if records and reused is not None:   # the area run's views of the same macros
        for suffix in ("v", "lib"):
            shutil.copyfile(Path(mapped) / f"area_macros.{suffix}", run / f"power_macros.{suffix}")
    streams = getattr(work, "streams", None)          # a stream workload (workloads/block.py)
    windows = list(getattr(work, "windows", ()) or ())  # [(name, first cycle)], in order
    got, vcd, n = simulate_netlist(run, netlist, top, cell_models(lib), inputs, outputs,
                                   work.vectors, macros=macro_models, streams=streams,
                                   marks=tuple(c for _, c in windows if c > 0))
    problem = work.check(got)
    if problem:
        raise LowbitError(f"{name}: the gate-level netlist disagrees with the golden model "
                          f"({problem}); see {run}")
    stats, span = read_vcd(vcd)
    activities = net_activities(stats, span, n)
    input_nets = {net for net in activities if net.split("[")[0] in {n for n, _ in inputs}}
    from .memory import read_counts
    counts = {_plain(path): c for path, c in read_counts((run / "vvp.log").read_text()).items()}
    macros = {}
    for record in records:
        instance = _plain(record["instance"])
        if instance not in counts:
            raise LowbitError(f"{name}: memory macro {record['instance']} printed no event "
                              f"counts in the simulation; see {run / 'vvp.log'}")
        macros[instance] = (record["energy_pj"], counts[instance], record["leakage_nw"] * 1e-9)
    parts = _windows(run, vcd, windows, n, stats, span, records, macros) if windows else None
    power, opensta, *by_window = netlist_power(
        run, netlist, top, lib, clock_mhz=clock_mhz, activities=activities, inputs=input_nets,
        output_load_pf=_pin_cap(lib, *OUTPUT_LOAD_CELL), macros=macros,
        macro_liberty=macro_view, windows=[(a, m) for _, _, a, m in parts] if parts else None)
    window_records = []
    for (wname, wcycles, _, _), groups in zip(parts or [], by_window[0] if by_window else []):
        to_pj = 1e12 / (clock_mhz * 1e6) * wcycles      # W over the window -> pJ
        window_records.append({
            "name": wname, "cycles": wcycles,
            "energy_pj": groups["total"]["total"] * to_pj,
            "by_group_pj": {g: groups[g]["total"] * to_pj for g in POWER_GROUPS},
            "memory_events": {inst: m[1] for inst, m in _window_macros(parts, wname).items()}})
    per_op = 1e12 / (clock_mhz * 1e6) * n / max(work.ops, 1)   # W -> pJ per op
    memory_area = sum(r["area_um2"] for r in records)
    memory = {"model": MEMORY_MODEL, "bits": sum(r["bits"] for r in records),
              "area_um2": round(memory_area, 3),
              "macros": [{"instance": r["instance"], "cell": r["cell"], "bits": r["bits"],
                          "area_um2": r["area_um2"], "leakage_nw": r["leakage_nw"],
                          "energy_per_event_pj": r["energy_pj"],
                          "events": counts[_plain(r["instance"])],
                          "pj_per_op": {e: r["energy_pj"][e] * counts[_plain(r["instance"])]
                                        .get(e, 0) / max(work.ops, 1)
                                        for e in r["energy_pj"]}}
                         for r in records]}
    total = power["total"]
    toggles = [a for a, _ in activities.values()]
    result = PowerResult(
        unit=name, params=params, data=data, seed=seed, clock_mhz=float(clock_mhz),
        cycles=n, ops=int(work.ops), op=work.op, mode=work.mode,
        energy_pj={k: total[k] * per_op for k in ("total", "internal", "switching", "leakage")},
        energy_by_group_pj={g: power[g]["total"] * per_op for g in POWER_GROUPS},
        energy_detail_pj={g: {k: v * per_op for k, v in kinds.items()}
                          for g, kinds in power.items()},
        opensta_report_power_pj=opensta["total"]["total"] * per_op,
        power_mw=total["total"] * 1e3, area_um2=round(float(stat["area"]) + memory_area, 3),
        sequential_area_um2=round(float(stat.get("sequential_area", 0.0)), 3),
        toggle_rate=float(np.mean(toggles)) if toggles else 0.0,
        vectors_checked=int(work.checked), liberty=library_id(source), tool_versions=versions,
        seconds=round(time.monotonic() - start, 2), memory=memory, windows=window_records)
    (run / "power.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return result


def _window_macros(parts, name):
    return next(m for n, _, _, m in parts if n == name)


def _windows(run, vcd, windows, n, stats, span, records, macros):
    """``[(name, cycles, activities, macros)]`` of the windows of a run: ``windows`` is
    ``[(name, first cycle)]`` in order (the last runs to cycle ``n``); per net its
    transitions in the window over the window's cycles (the duty of the whole run); per macro
    its events in the window (the differences of its counts at the marks)."""
    from .memory import read_marks
    starts = [c for _, c in windows] + [n]
    cycle_ps = 10_000   # the testbench's clock period (``always #5``, 1 ns units, ps steps)
    first = _first_time(vcd)
    bounds = [first + c * cycle_ps for c in starts[:-1]] + [float("inf")]
    counts = window_transitions(vcd, bounds)
    marks = {_plain(k): v for k, v in read_marks((run / "vvp.log").read_text()).items()}
    found = []
    for i, (wname, c0) in enumerate(windows):
        cycles = max(1, starts[i + 1] - c0)
        duty = {net: (high / span if span else 0.0) for net, (_, high) in stats.items()}
        acts = {net: (t / cycles, duty.get(net, 0.0)) for net, t in counts[i].items()
                if net != "clk"}
        part = {}
        for instance, (energy, total, leakage) in macros.items():
            at = [dict.fromkeys(total, 0)] + marks.get(instance, []) + [total]
            if windows[0][1] > 0:
                at = at[1:]
            before, after = at[i], at[i + 1]
            part[instance] = (energy, {e: after[e] - before.get(e, 0) for e in after}, leakage)
        found.append((wname, cycles, acts, part))
    return found


def _first_time(vcd):
    with open(vcd) as f:
        for line in f:
            if line.startswith("#"):
                return int(line[1:])
    return 0


def mac_breakdown(unit, params=None, *, data="minilm", clock_mhz=DEFAULT_CLOCK_MHZ,
                  liberty=None, seed=1, cycles=DEFAULT_CYCLES, build_dir=Path("build/power")):
    """Where a MAC's area and energy go (``unit`` a registry entry of a MAC): the whole MAC, and its accumulator alone (the
    pipeline registers, the adder and the sum's flip-flops: ``lowbit.hdl.accumulator``) fed
    the very products the MAC forms on the same beats; the rest is the multiplier.

    Returns ``{"mac": PowerResult, "accumulator": PowerResult, "multiplier": {"area_um2",
    "energy_pj"}}`` (the multiplier as the difference).
    """
    from lowbit.hdl.accumulator import Accumulator
    unit_name = unit.name
    params = unit.resolve(params or {})
    work = make_workload(unit, params, data=data, seed=seed, cycles=cycles)
    common = dict(data=data, seed=seed, clock_mhz=clock_mhz, liberty=liberty,
                  build_dir=build_dir)
    mac = measure_power(unit, params, workload=work, **common)
    component = built(unit, params)   # only its widths are read
    acc = Accumulator(product_bits=component.product_bits, acc_bits=component.acc_bits,
                      overflow=component.overflow, stages=component.pipeline)
    acc_work = accumulator_workload(unit, params, work)
    part = measure_component(acc, acc_work, name=f"{unit_name}.accumulator", params=params,
                             **common)
    return {"mac": mac, "accumulator": part,
            "multiplier": {"area_um2": mac.area_um2 - part.area_um2,
                           "energy_pj": mac.energy_pj["total"] - part.energy_pj["total"]}}


def format_power_table(results):
    """A plain-text table of :class:`PowerResult` rows, and the glitch note under it."""
    header = ("unit", "data", "clock/MHz", "area/um^2", "ops", "pJ/op", "internal", "switching",
              "leakage", "seq", "comb", "inputs", "memory", "mW")
    rows = [(r.unit, r.data, f"{r.clock_mhz:g}", f"{r.area_um2:.0f}", f"{r.ops} {r.op}",
             f"{r.energy_pj['total']:.4f}", f"{r.energy_pj['internal']:.4f}",
             f"{r.energy_pj['switching']:.4f}", f"{r.energy_pj['leakage']:.5f}",
             f"{r.energy_by_group_pj['sequential']:.4f}",
             f"{r.energy_by_group_pj['combinational']:.4f}",
             f"{r.energy_by_group_pj['inputs']:.4f}",
             f"{r.energy_by_group_pj.get('memory', 0.0):.4f}", f"{r.power_mw:.4f}")
            for r in results]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows),
                      f"(pJ per operation; {GLITCH_NOTE})"])
