"""High-fanout nets of a mapped netlist, buffered as a placed flow's repair step buffers them.

ABC buffers and sizes the logic it maps: in every netlist of the ``asic`` target the nets it
drives reach at most :data:`MAX_FANOUT` pins. It cannot buffer a net whose loads lie outside
it: the flip-flops' enable pins (``dfflibmap`` maps them before ABC runs, and ABC's constraints
give each of its outputs one flip-flop input's load), the memory macros' pins, the ports. Left
alone such a net, a pipeline's enable into a few thousand flip-flops, is driven by one
minimum-size gate: OpenSTA times it at tens of nanoseconds (57 ns on btc_array's ``enable`` at
its defaults, 2,061 loads behind a ``clkbuf_1``) and the power flow evaluates its loads' tables
at a transition far outside them. A placed flow never leaves it so (OpenROAD's
``repair_design`` buffers every net over its fanout limit), so neither does this one.

:func:`buffer_fanout` splits every net with more than :data:`MAX_FANOUT` loads into a tree of
:data:`BUFFER` cells, each driving at most :data:`MAX_FANOUT` loads, level by level until the
net's own driver drives at most :data:`MAX_FANOUT` too. Without placement the loads are grouped
in netlist order (a placed flow groups them by position: the tree's depth and cell count are
the same). Left alone: the clock (ideal in the timing, a clock tree is not logic) and constant
nets (a tie cell's output never switches). The buffers count in the area like every cell. The
same step runs for every unit and every baseline.
"""

import re
from collections import defaultdict
from pathlib import Path

from lowbit.core.errors import LowbitError

__all__ = ["MAX_FANOUT", "BUFFER", "buffer_fanout"]

# ABC's own limit in the netlists it writes for this library (no net it drives has more).
MAX_FANOUT = 10
# The tree's cell (its suffix in the library): twice the drive of the minimum buffer, as ABC's
# buffering picks for loads of this size.
BUFFER = "buf_2"

_INSTANCE = re.compile(r"^(\s*)(\\\S+|[\w$]+)\s+(\\\S+|[\w$]+)\s*\((.*?)\);\s*$", re.M | re.S)
_PIN = re.compile(r"\.(\w+)\(((?:[^()]|\([^()]*\))*)\)")
_KEYWORDS = {"module", "input", "output", "inout", "wire", "reg", "assign", "endmodule"}
_CONSTANT = re.compile(r"^\d+'[bdh][0-9a-fA-FxXzZ_]+$")


_CELL = re.compile(r'^\s*cell\s*\(\s*"?([^"\s)]+)"?\s*\)', re.M)
_PIN_GROUP = re.compile(r'\bpin\s*\(\s*"?([^"\s)]+)"?\s*\)\s*\{\s*(?:[^{}]*?)\bdirection\s*:\s*"?(\w+)', re.S)
_LIBRARY_PINS = {}


def _library_pins(liberty):
    """``{cell: {pin: direction}}`` of every cell of the Liberty file ``liberty``, read in one
    pass and kept per file (the flow's workers share it): a pin's ``direction`` is the first
    attribute of its group before any subgroup, as Liberty writers put it."""
    key = (str(liberty), liberty.stat().st_mtime_ns)
    if key not in _LIBRARY_PINS:
        text = liberty.read_text(errors="replace")
        starts = [(m.start(), m.group(1)) for m in _CELL.finditer(text)] + [(len(text), None)]
        _LIBRARY_PINS[key] = {
            name: dict(_PIN_GROUP.findall(text, start, end))
            for (start, name), (end, _) in zip(starts, starts[1:])}
    return _LIBRARY_PINS[key]


def _directions(libraries, cell_types):
    """``{cell type: {pin: direction}}`` for ``cell_types`` from the Liberty files
    ``libraries`` (the cells' library first, then e.g. the memory macros' view)."""
    found = {}
    for liberty in libraries:
        pins = _library_pins(Path(liberty))
        found.update({t: pins[t] for t in cell_types if t in pins and t not in found})
    missing = set(cell_types) - set(found)
    if missing:
        raise LowbitError(f"fanout repair: no Liberty view for cell(s) {', '.join(sorted(missing))}")
    return found


def _net(net):
    """A net as Verilog text: an escaped identifier ends at a space."""
    return net + " " if net.startswith("\\") else net


def buffer_fanout(netlist, libraries, *, prefix, clock="clk", max_fanout=MAX_FANOUT):
    """Buffer every net of the Yosys netlist file ``netlist`` (one flat module, as the
    ``asic`` target writes it) with more than ``max_fanout`` loads; rewrites the file.

    ``libraries``: the Liberty files that describe its cells (``prefix`` + :data:`BUFFER` is
    the buffer, e.g. ``sky130_fd_sc_hd__``). Returns ``{"buffers": n, "nets": m}``: the
    buffers added and the nets they split.
    """
    text = netlist.read_text()
    instances = []
    for match in _INSTANCE.finditer(text):
        cell, name, body = match.group(2), match.group(3), match.group(4)
        if cell in _KEYWORDS:
            continue
        pins = [(pin, net.strip()) for pin, net in _PIN.findall(body)]   # "\\name", no space
        instances.append([match.start(), match.end(), match.group(1), cell, name, pins])
    buffer = prefix + BUFFER
    directions = _directions(libraries, {i[3] for i in instances} | {buffer})
    pins_of = directions[buffer]
    buf_in = next(p for p, d in pins_of.items() if d == "input")
    buf_out = next(p for p, d in pins_of.items() if d == "output")

    loads, driver = defaultdict(list), {}
    for k, (_, _, _, cell, _, pins) in enumerate(instances):
        for slot, (pin, net) in enumerate(pins):
            if directions[cell].get(pin) == "output":
                driver[net] = cell
            else:
                loads[net].append((k, slot))

    def tied(net):
        return _CONSTANT.match(net) or driver.get(net, "").endswith(("__conb_1", "_tiehi", "_tielo"))

    new_wires, new_cells, split = [], [], 0
    for net in sorted(n for n, sinks in loads.items() if len(sinks) > max_fanout):
        if net == clock or tied(net):
            continue
        split += 1
        level = loads[net]
        while len(level) > max_fanout:
            parents = []
            for g in range(0, len(level), max_fanout):
                wire = f"lowbit_fanout_{len(new_wires)}"
                new_wires.append(wire)
                for k, slot in level[g:g + max_fanout]:
                    if k >= 0:
                        instances[k][5][slot] = (instances[k][5][slot][0], wire)
                    else:   # a buffer of the level below
                        new_cells[-k - 1][1] = wire
                new_cells.append([f"lowbit_fanout_buf_{len(new_cells)}", net, wire])
                parents.append((-len(new_cells), None))
            level = parents

    if not new_cells:
        return {"buffers": 0, "nets": 0}
    out, cursor = [], 0
    for n, (start, end, indent, cell, name, pins) in enumerate(instances):
        out.append(text[cursor:start])
        if n == 0:   # declared before their first use
            out.append("".join(f"{indent}wire {w};\n" for w in new_wires))
        connections = ",\n".join(f"{indent}  .{pin}({_net(net)})" for pin, net in pins)
        out.append(f"{indent}{cell} {name} (\n{connections}\n{indent});\n")
        cursor = end
    tail = text[cursor:]
    end = tail.rindex("endmodule")
    body = "".join(f"  {buffer} {name} (\n    .{buf_in}({_net(source)}),\n"
                   f"    .{buf_out}({sink})\n  );\n" for name, source, sink in new_cells)
    out.append(tail[:end] + body + tail[end:])
    netlist.write_text("".join(out))
    return {"buffers": len(new_cells), "nets": split}
