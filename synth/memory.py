"""Memories as macros on the standard-cell target: their shapes, their cost model, their views.

The ``asic`` target (``lowbit.synth.asic``) keeps every writable memory that Yosys infers
(``$mem_v2``, from Amaranth's ``Memory``) out of the logic: it is not mapped to flip-flops and
multiplexers and never reaches ABC. Each becomes an instance of a macro, one cell per shape,
named ``lowbit_mem_<width>x<depth>_<ports>`` (:class:`MemoryShape`), with scalar pins. Read-only
memories (constant tables) stay logic, as a standard-cell flow maps a ROM.

**The memory model** (:data:`MODEL`, :func:`memory_cost`): a clock-gated flip-flop register
file built from the library's own cells, so that its figures are consistent with the logic's
(the same corner, the same Liberty tables; the published OpenRAM sky130 macros are larger per
bit than this at the sizes the units use, and their Liberty files are not in the repository).
For a memory of ``W`` bits x ``D`` words with ``R`` read ports (``Rs`` of them registered) and
``P`` write ports of ``G`` enable granules each (the write-enable groups the design uses):

* storage: ``W D`` ``dfxtp_1``; a ``P:1`` ``mux2_1`` chain in front of each bit when ``P > 1``;
* write: one ``dlclkp_1`` clock gate per word and granule (``D G`` per write port; the stored
  flip-flops are clocked only when written) and one ``and2_1`` per gate (the word line's last
  stage; the predecoders, O(sqrt D) gates, are left out);
* read: per read port a 4:1 tree of ``mux4_1``, ``W ceil((D - 1) / 3)`` cells, ``L = ceil(log4
  D)`` levels; a registered port adds ``W`` ``dfxtp_1`` and one ``dlclkp_1`` (its enable);
* every pin of the macro is buffered by one ``buf_2`` (its input capacitance is the pin's), the
  clock included.

Area and leakage are the sums over these cells (``area``, ``cell_leakage_power``). Energy is
computed from the cells' ``internal_power`` tables at a nominal input transition
(:data:`NOMINAL_SLEW_NS`) and each node's load (the pins it drives, no wire), plus ``0.5 C V^2``
per transition of that load, per event the gate-level simulation counts (the macro's
simulation model counts them exactly, :func:`macro_verilog`):

* ``cycle``: every clock cycle, the clock buffer and tree (``D G + Rs`` gate clock pins) rise
  and fall;
* ``write``: per granule written, its clock gate's output rises and falls into ``W / G`` clock
  pins, and its word line (``and2_1``) rises and falls;
* ``bit_change``: per stored bit whose value changes, its ``dfxtp_1`` output switches into the
  ``R`` multiplexer inputs that read it;
* ``read``: per registered read, the port's clock gate fires into ``W`` clock pins;
* ``read_bit_change``: per read-data bit that changes, ``L`` multiplexer outputs switch along
  its path (and, registered, the output flip-flop's);
* ``input_toggle``: per transition of an address, data or enable pin, its buffer drives the
  fan-out inside (address bits: the select pins of one multiplexer level, ``W D / 4^(l+1)``;
  write data: ``D`` flip-flop D pins; write enables: ``D`` word-line ANDs).

The nets outside the macro (its pins' loads, the read data it drives) are the logic's, counted
by the power flow as every other net. What the model leaves out (wires inside the macro, the
predecoders, glitches) makes it a lower bound, like the zero-delay logic figures.

Timing (the macro's Liberty view, :func:`macro_liberty`): a registered read's data leaves at the
clock buffer + clock gate + ``dfxtp_1`` clock-to-Q delay; an address must arrive a buffer + ``L``
multiplexer levels + the flip-flop's setup before the edge; write data a buffer + the setup;
enables a buffer (+ ``and2_1``) + the clock gate's setup. Delays at the nominal transition and
the load the stage drives.
"""

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lowbit.core.errors import LowbitError

__all__ = ["MODEL", "MACRO_PREFIX", "NOMINAL_SLEW_NS", "MemoryShape", "MemoryCost",
           "memory_cost", "extract_macros", "macro_liberty", "macro_verilog", "read_counts",
           "macro_energy", "macro_energy_w", "read_marks", "EVENTS"]

MODEL = "clock-gated flip-flop register file from the library's cells"
MACRO_PREFIX = "lowbit_mem_"
GENERIC_CELL = "lowbit_macro"      # the type Yosys gives every writable $mem_v2 (chtype)
NOMINAL_SLEW_NS = 0.1
EVENTS = ("cycle", "write", "bit_change", "read", "read_bit_change", "input_toggle")
REFERENCE_CELLS = ("dfxtp_1", "dlclkp_1", "mux4_1", "mux2_1", "and2_1", "buf_2")


@dataclass(frozen=True)
class MemoryShape:
    """One macro shape: ``width`` bits x ``depth`` words, ``abits`` address bits, ``offset``
    (the first address), ``read_clocked`` (one bool per read port: registered or not),
    ``read_transparent`` (per read port, the write ports it is transparent for),
    ``read_reset`` (per read port: (sync reset used, async reset used, value, init, enable
    over reset)), ``write_granules`` (per write port: its enable groups as bit ranges)."""
    width: int
    depth: int
    abits: int
    offset: int
    read_clocked: tuple
    read_transparent: tuple
    read_reset: tuple
    write_granules: tuple

    @property
    def read_ports(self):
        return len(self.read_clocked)

    @property
    def write_ports(self):
        return len(self.write_granules)

    @property
    def bits(self):
        return self.width * self.depth

    @property
    def name(self):
        kinds = "".join("s" if c else "a" for c in self.read_clocked)
        granules = "_".join(str(len(g)) for g in self.write_granules)
        extra = ""
        if any(self.read_transparent) or any(r[0] or r[1] for r in self.read_reset) \
                or self.offset:
            import hashlib
            extra = "_" + hashlib.sha256(repr(self).encode()).hexdigest()[:6]
        return (f"{MACRO_PREFIX}{self.width}x{self.depth}_r{kinds}_w{granules}{extra}")

    def pins(self):
        """``[(pin, direction, role)]`` of the macro in order; role one of ``clk``, ``en``,
        ``addr``, ``data``, ``srst``, ``arst``, ``wen``, ``out``."""
        pins = []
        for r in range(self.read_ports):
            pins += [(f"RD_CLK_{r}", "input", "clk"), (f"RD_EN_{r}", "input", "en"),
                     (f"RD_SRST_{r}", "input", "srst"), (f"RD_ARST_{r}", "input", "arst")]
            pins += [(f"RD_ADDR_{r}_{i}", "input", "addr") for i in range(self.abits)]
            pins += [(f"RD_DATA_{r}_{i}", "output", "out") for i in range(self.width)]
        for p in range(self.write_ports):
            pins += [(f"WR_CLK_{p}", "input", "clk")]
            pins += [(f"WR_EN_{p}_{i}", "input", "wen") for i in range(self.width)]
            pins += [(f"WR_ADDR_{p}_{i}", "input", "addr") for i in range(self.abits)]
            pins += [(f"WR_DATA_{p}_{i}", "input", "data") for i in range(self.width)]
        return pins


@dataclass(frozen=True)
class MemoryCost:
    """The model's figures for one shape: ``cells`` (reference cell -> count), ``area_um2``,
    ``leakage_w``, ``energy_pj`` (per event of :data:`EVENTS`), ``pin_cap_pf`` (every pin),
    and the timing view: ``clk_to_q_ns`` (registered read data), ``read_delay_ns`` (address
    to data, unregistered), ``setup_ns`` (per role: addr, data, en, wen)."""
    shape: MemoryShape
    cells: dict
    area_um2: float
    leakage_w: float
    energy_pj: dict
    pin_cap_pf: float
    clk_to_q_ns: float
    read_delay_ns: float
    setup_ns: dict
    model: str = MODEL

    def as_dict(self):
        record = asdict(self)
        record["shape"] = {"name": self.shape.name, "width": self.shape.width,
                           "depth": self.shape.depth, "bits": self.shape.bits,
                           "read_ports": self.shape.read_ports,
                           "write_ports": self.shape.write_ports}
        return record


# --- the model ---------------------------------------------------------------------------------

class _Cells:
    """The reference cells of a library, with the few numbers the model reads from them."""

    def __init__(self, liberty):
        from .liberty import read_cells
        text = Path(liberty).read_text(errors="replace")
        names = re.findall(r'^\s*cell\s*\(\s*"?([\w$]+)"?\s*\)', text, re.M)
        self.name = {}
        for suffix in REFERENCE_CELLS:
            found = next((n for n in names if n.endswith(f"__{suffix}")), None)
            if found is None:
                raise LowbitError(f"{Path(liberty).name}: the memory model needs a cell "
                                  f"*__{suffix}; this library has none")
            self.name[suffix] = found
        self.lib = read_cells(liberty, list(self.name.values()))

    def cell(self, suffix):
        return self.lib.cells[self.name[suffix]]

    def area(self, suffix):
        return self.cell(suffix).number("area")

    def leakage_w(self, suffix):
        return self.cell(suffix).number("cell_leakage_power", 0.0) * self.lib.leakage_unit

    def pin(self, suffix, pin):
        return next(p for p in self.cell(suffix).sub("pin") if p.args == [pin])

    def cap_pf(self, suffix, pin):
        return self.pin(suffix, pin).number("capacitance") * self.lib.cap_unit / 1e-12

    def internal_pj(self, suffix, pin, load_pf=0.0, related=None):
        """Energy per transition of ``pin`` (mean of rise and fall) at the nominal slew."""
        from .liberty import internal_energy as _energy
        groups = self.pin(suffix, pin).sub("internal_power")
        if related is not None:
            groups = [g for g in groups if g.attrs.get("related_pin") == related] or groups
        if not groups:
            return 0.0
        e = sum(_energy(g, NOMINAL_SLEW_NS, load_pf) for g in groups) / len(groups)
        return e * self.lib.cap_unit * 1e12   # cap_unit x V^2 in J -> pJ

    def delay_ns(self, suffix, pin, related, load_pf):
        from .liberty import interpolate
        timing = [t for t in self.pin(suffix, pin).sub("timing")
                  if t.attrs.get("related_pin") == related]
        values = [interpolate(g, NOMINAL_SLEW_NS, load_pf) for t in timing[:1] for g in t.groups
                  if g.kind in ("cell_rise", "cell_fall")]
        return max(values) * self.lib.time_unit / 1e-9 if values else 0.0

    def setup_ns(self, suffix, pin, related):
        from .liberty import interpolate
        timing = [t for t in self.pin(suffix, pin).sub("timing")
                  if t.attrs.get("related_pin") == related
                  and t.attrs.get("timing_type") == "setup_rising"]
        values = [interpolate(g, NOMINAL_SLEW_NS, NOMINAL_SLEW_NS) for t in timing[:1]
                  for g in t.groups if g.kind in ("rise_constraint", "fall_constraint")]
        return max(values) * self.lib.time_unit / 1e-9 if values else 0.0

    def switch_pj(self, load_pf):
        return 0.5 * load_pf * self.lib.voltage ** 2   # pF x V^2 = pJ


_MODELS = {}


def _cells(liberty):
    key = str(liberty)
    if key not in _MODELS:
        _MODELS[key] = _Cells(liberty)
    return _MODELS[key]


def _levels(depth):
    return max(1, math.ceil(math.log(max(depth, 2), 4)))


def memory_cost(liberty, shape):
    """The :class:`MemoryCost` of ``shape`` in the plain Liberty file ``liberty`` (module
    docstring: the model)."""
    c = _cells(liberty)
    W, D = shape.width, shape.depth
    R, P = shape.read_ports, shape.write_ports
    Rs = sum(1 for clocked in shape.read_clocked if clocked)
    G = sum(len(g) for g in shape.write_granules)          # gates over all write ports
    L = _levels(D)
    mux4_per_bit = math.ceil((D - 1) / 3) if D > 1 else 0
    cells = {"dfxtp_1": W * D + Rs * W,
             "mux2_1": W * D * max(0, P - 1),
             "dlclkp_1": D * G + Rs,
             "and2_1": D * G,
             "mux4_1": R * W * mux4_per_bit,
             "buf_2": len(shape.pins()) - R * W}           # every input pin
    cells = {k: v for k, v in cells.items() if v}
    area = sum(n * c.area(k) for k, n in cells.items())
    leakage = sum(n * c.leakage_w(k) for k, n in cells.items())

    ff_clk, ff_d = c.cap_pf("dfxtp_1", "CLK"), c.cap_pf("dfxtp_1", "D")
    gate_clk, gate_en = c.cap_pf("dlclkp_1", "CLK"), c.cap_pf("dlclkp_1", "GATE")
    mux_in, mux_sel = c.cap_pf("mux4_1", "A0"), c.cap_pf("mux4_1", "S0")
    and_in = c.cap_pf("and2_1", "A")
    buf_in = c.cap_pf("buf_2", "A")

    def node(suffix, pin, load, related=None):
        """Energy of one transition of a cell output driving ``load`` pF."""
        return c.internal_pj(suffix, pin, load, related) + c.switch_pj(load)

    tree = (D * G + Rs) * gate_clk
    cycle = 2 * (node("buf_2", "X", tree) + (D * G + Rs) * c.internal_pj("dlclkp_1", "CLK"))
    granule = W / max(G, 1) * max(P, 1)                     # bits per granule
    write = 2 * (node("dlclkp_1", "GCLK", granule * ff_clk)
                 + granule * c.internal_pj("dfxtp_1", "CLK")
                 + node("and2_1", "X", gate_en))
    bit_change = node("dfxtp_1", "Q", R * mux_in)
    read = 2 * (node("dlclkp_1", "GCLK", W * ff_clk) + W * c.internal_pj("dfxtp_1", "CLK")) \
        if Rs else 0.0
    read_bit = L * node("mux4_1", "X", mux_in)
    if Rs:
        read_bit += c.internal_pj("dfxtp_1", "D") + node("dfxtp_1", "Q", buf_in)
    # One input pin's buffer into its fan-out inside the macro (averaged over the pins).
    loads = []
    for _, direction, role in shape.pins():
        if role == "addr":
            loads += [W * D / 4 * mux_sel / max(1, L)]     # one level's selects, on average
        elif role == "data":
            loads += [D * ff_d]
        elif role == "wen":
            loads += [D * and_in / max(1, W // max(G, 1))]
        elif role in ("en", "srst", "arst"):
            loads += [gate_en]
    toggle = sum(node("buf_2", "X", load) for load in loads) / max(1, len(loads))
    energy = {"cycle": cycle, "write": write, "bit_change": bit_change, "read": read,
              "read_bit_change": read_bit, "input_toggle": toggle}

    buf_delay = c.delay_ns("buf_2", "X", "A", tree / max(1, D * G + Rs))
    mux_delay = c.delay_ns("mux4_1", "X", "S0", mux_in)
    clk_to_q = (buf_delay + c.delay_ns("dlclkp_1", "GCLK", "CLK", W * ff_clk)
                + c.delay_ns("dfxtp_1", "Q", "CLK", buf_in))
    setup = {"addr": buf_delay + L * mux_delay + c.setup_ns("dfxtp_1", "D", "CLK"),
             "data": buf_delay + c.setup_ns("dfxtp_1", "D", "CLK"),
             "en": buf_delay + c.setup_ns("dlclkp_1", "GATE", "CLK"),
             "wen": buf_delay + c.delay_ns("and2_1", "X", "A", gate_en)
             + c.setup_ns("dlclkp_1", "GATE", "CLK")}
    return MemoryCost(shape=shape, cells=cells, area_um2=round(area, 3), leakage_w=leakage,
                      energy_pj=energy, pin_cap_pf=buf_in, clk_to_q_ns=round(clk_to_q, 4),
                      read_delay_ns=round(buf_delay + L * mux_delay, 4),
                      setup_ns={k: round(v, 4) for k, v in setup.items()})


# --- the netlist: generic macro cells -> one scalar-pinned cell per shape --------------------

_BLOCK = re.compile(r"^(\s*)" + GENERIC_CELL + r"\s*#\((.*?)\)\s*(\S+)\s*\((.*?)\);", re.M | re.S)
_PARAM = re.compile(r"\.(\w+)\(([^()]*)\)")
_CONN = re.compile(r"\.(\w+)\(((?:[^()]|\([^()]*\))*)\)")
_DECL = re.compile(r"^\s*(?:input|output|inout|wire|reg)\s+(?:signed\s+)?\[(\d+):(\d+)\]\s+"
                   r"(\\\S+|[\w$]+)\s*;", re.M)


def _value(text):
    """A Verilog constant as Yosys writes parameters: ``32'b...``, ``"str"``, an integer;
    x bits read as 0."""
    text = text.strip()
    if text.startswith('"'):
        return text.strip('"')
    match = re.fullmatch(r"(\d+)'([bdh])([0-9a-fA-FxXzZ_]+)", text)
    if match is None:
        return int(text)
    digits = re.sub(r"[xXzZ]", "0", match.group(3).replace("_", ""))
    return int(digits, {"b": 2, "d": 10, "h": 16}[match.group(2)])


def _bits_of(width, text):
    """``text`` (a parameter's Verilog constant) as ``width`` bits, LSB first (x as 0)."""
    value = _value(text) if text else 0
    return [(value >> i) & 1 for i in range(width)]


def _expand(expr, widths):
    """The bits of a connection, LSB first: names (``\\esc``, ``n1``, ``a[3]``, ``a[7:0]``, a
    bus by name), constants, concatenations."""
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        parts, depth, current = [], 0, ""
        for ch in expr[1:-1]:
            if ch == "," and depth == 0:
                parts.append(current)
                current = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            current += ch
        parts.append(current)
        bits = []
        for part in reversed(parts):          # a concatenation is MSB first
            bits += _expand(part, widths)
        return bits
    const = re.fullmatch(r"(\d+)'([bh])([0-9a-fA-FxXzZ]+)", expr)
    if const:
        width = int(const.group(1))
        text = const.group(3)
        binary = text if const.group(2) == "b" else "".join(
            "xxxx" if d in "xXzZ" else format(int(d, 16), "04b") for d in text)
        binary = binary.rjust(width, "0")[-width:]
        return [f"1'b{b if b in '01' else '0'}" for b in reversed(binary)]
    name, _, rest = expr.partition("[") if not expr.startswith("\\") else (expr, "", "")
    if expr.startswith("\\"):
        head = expr.split()[0]
        tail = expr[len(head):].strip()
        if tail.startswith("["):
            return _select(head, tail, widths)
        return _whole(head, widths)
    if rest:
        return _select(name.strip(), "[" + rest, widths)
    return _whole(name.strip(), widths)


def _whole(name, widths):
    if name not in widths:
        return [name]
    msb, lsb = widths[name]
    step = 1 if msb >= lsb else -1
    return [f"{name}[{i}]" if not name.startswith("\\") else f"{name} [{i}]"
            for i in range(lsb, msb + step, step)]


def _select(name, select, widths):
    inner = select.strip()[1:-1]
    sep = " " if name.startswith("\\") else ""
    if ":" in inner:
        hi, lo = (int(v) for v in inner.split(":"))
        step = 1 if hi >= lo else -1
        return [f"{name}{sep}[{i}]" for i in range(lo, hi + step, step)]
    return [f"{name}{sep}[{int(inner)}]"]


def _net(bit):
    return bit if bit.startswith("1'b") or not bit.startswith("\\") or bit.endswith(" ") \
        else bit + " "


def extract_macros(text):
    """Replace every generic macro cell of a Yosys netlist ``text`` by an instance of its
    shape's cell with scalar pins. Returns ``(new text, [(instance, MemoryShape,
    {pin: net})])``. Raises ``LowbitError`` for a memory shape the model does not cover
    (wide ports)."""
    widths = {m.group(3): (int(m.group(1)), int(m.group(2))) for m in _DECL.finditer(text)}
    found = []

    def replace(match):
        indent, params_text, instance, conns_text = match.groups()
        params = {k: v for k, v in _PARAM.findall(params_text)}
        conns = {k: _expand(v, widths) for k, v in _CONN.findall(conns_text)}
        width, depth = _value(params["WIDTH"]), _value(params["SIZE"])
        abits, offset = _value(params["ABITS"]), _value(params["OFFSET"])
        R, P = _value(params["RD_PORTS"]), _value(params["WR_PORTS"])
        if any(_bits_of(R, params.get("RD_WIDE_CONTINUATION"))) or \
                any(_bits_of(P, params.get("WR_WIDE_CONTINUATION"))):
            raise LowbitError(f"memory {instance}: wide ports are not in the memory model")
        clocked = tuple(bool(b) for b in _bits_of(R, params["RD_CLK_ENABLE"]))
        transparency = _bits_of(R * P, params.get("RD_TRANSPARENCY_MASK"))
        transparent = tuple(tuple(p for p in range(P) if transparency[r * P + p])
                            for r in range(R))
        srst_v = _bits_of(R * width, params.get("RD_SRST_VALUE"))
        arst_v = _bits_of(R * width, params.get("RD_ARST_VALUE"))
        init_v = _bits_of(R * width, params.get("RD_INIT_VALUE"))
        ce = _bits_of(R, params.get("RD_CE_OVER_SRST"))

        def used(port, r):
            return conns[port][r] not in ("1'b0",) and not _tie_low(conns[port][r], text)

        resets = tuple((used("RD_SRST", r), used("RD_ARST", r),
                        _int(srst_v[r * width:(r + 1) * width]),
                        _int(arst_v[r * width:(r + 1) * width]),
                        _int(init_v[r * width:(r + 1) * width]), bool(ce[r]))
                       for r in range(R))
        granules = []
        for p in range(P):
            enables = conns["WR_EN"][p * width:(p + 1) * width]
            groups, start = [], 0
            for i in range(1, width + 1):
                if i == width or enables[i] != enables[start]:
                    groups.append((start, i))
                    start = i
            granules.append(tuple(groups))
        shape = MemoryShape(width=width, depth=depth, abits=abits, offset=offset,
                            read_clocked=clocked, read_transparent=transparent,
                            read_reset=resets, write_granules=tuple(granules))
        nets = {}
        for r in range(R):
            nets[f"RD_CLK_{r}"] = conns["RD_CLK"][r]
            nets[f"RD_EN_{r}"] = conns["RD_EN"][r]
            nets[f"RD_SRST_{r}"] = conns["RD_SRST"][r]
            nets[f"RD_ARST_{r}"] = conns["RD_ARST"][r]
            for i in range(abits):
                nets[f"RD_ADDR_{r}_{i}"] = conns["RD_ADDR"][r * abits + i]
            for i in range(width):
                nets[f"RD_DATA_{r}_{i}"] = conns["RD_DATA"][r * width + i]
        for p in range(P):
            nets[f"WR_CLK_{p}"] = conns["WR_CLK"][p]
            for i in range(width):
                nets[f"WR_EN_{p}_{i}"] = conns["WR_EN"][p * width + i]
                nets[f"WR_DATA_{p}_{i}"] = conns["WR_DATA"][p * width + i]
            for i in range(abits):
                nets[f"WR_ADDR_{p}_{i}"] = conns["WR_ADDR"][p * abits + i]
        found.append((instance.strip(), shape, nets))
        pins = ",\n".join(f"{indent}  .{pin}({_net(nets[pin])})" for pin, _, _ in shape.pins())
        return f"{indent}{shape.name} {instance} (\n{pins}\n{indent});"

    new = _BLOCK.sub(replace, text)
    return new, found


def _int(bits):
    return sum(b << i for i, b in enumerate(bits))


def _tie_low(net, text):
    """Whether ``net`` is driven by a tie cell's LO output (hilomap's constant 0)."""
    name = re.escape(net.strip())
    return re.search(r"\.LO\(\s*" + name + r"\s*\)", text) is not None


# --- the views: Liberty (timing, area, leakage, pin loads) and Verilog (simulation) -----------

def macro_liberty(liberty, shapes):
    """A Liberty library of the macros ``shapes`` (one cell each) in the units of ``liberty``:
    area, leakage, pin capacitances, and the timing arcs of :func:`memory_cost`."""
    c = _cells(liberty)
    lines = ["library (lowbit_macros) {", "  delay_model : table_lookup;",
             '  time_unit : "1ns";', '  voltage_unit : "1V";', '  current_unit : "1mA";',
             '  leakage_power_unit : "1nW";', "  capacitive_load_unit (1, pf);",
             f"  nom_voltage : {c.lib.voltage};", "  nom_temperature : 25;",
             "  nom_process : 1;",
             "  default_input_pin_cap : 0;", "  default_output_pin_cap : 0;"]
    for key in ("input_threshold_pct_fall", "input_threshold_pct_rise",
                "output_threshold_pct_fall", "output_threshold_pct_rise",
                "slew_derate_from_library", "slew_lower_threshold_pct_fall",
                "slew_lower_threshold_pct_rise", "slew_upper_threshold_pct_fall",
                "slew_upper_threshold_pct_rise"):   # the cells' library's, as the tools expect
        if key in c.lib.attrs:
            lines.append(f"  {key} : {c.lib.attrs[key]};")
    for shape in sorted(set(shapes), key=lambda s: s.name):
        cost = memory_cost(liberty, shape)
        lines += [f"  cell ({shape.name}) {{", f"    area : {cost.area_um2};",
                  f"    cell_leakage_power : {cost.leakage_w / 1e-9:.6f};",
                  "    dont_touch : true;", "    dont_use : true;"]
        for pin, direction, role in shape.pins():
            lines.append(f"    pin ({pin}) {{")
            lines.append(f"      direction : {direction};")
            if direction == "input":
                lines.append(f"      capacitance : {cost.pin_cap_pf:.6f};")
            if role == "clk":
                lines.append("      clock : true;")
            port = pin.split("_")
            clock = f"{port[0]}_CLK_{port[2]}"
            if role in ("addr", "data", "en", "wen") and (port[0] == "WR" or
                                                          shape.read_clocked[int(port[2])]):
                t = cost.setup_ns["addr" if role == "addr" else role]
                lines += _arc(clock, "setup_rising", "constraint", t)
            if role == "out":
                r = int(port[2])
                if shape.read_clocked[r]:
                    lines += _arc(clock, "rising_edge", "cell", cost.clk_to_q_ns)
                else:
                    for i in range(shape.abits):
                        lines += _arc(f"RD_ADDR_{r}_{i}", "combinational", "cell",
                                      cost.read_delay_ns)
            lines.append("    }")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _arc(related, kind, tables, value):
    out = ["      timing () {", f'        related_pin : "{related}";',
           f"        timing_type : {kind};"]
    names = ("rise_constraint", "fall_constraint") if tables == "constraint" else \
        ("cell_rise", "cell_fall", "rise_transition", "fall_transition")
    for name in names:
        v = NOMINAL_SLEW_NS if name.endswith("transition") else value
        out.append(f'        {name} (scalar) {{ values ("{v:.4f}"); }}')
    out.append("      }")
    return out


def macro_verilog(shape):
    """A behavioural simulation model of ``shape`` for Icarus: the memory's semantics
    (``$mem_v2``: registered or asynchronous reads with enable, resets and transparency; per-bit
    write enables), words initialised to 0, and counters of the model's events from the moment
    ``power_tb.measure`` rises (only under ``LOWBIT_POWER_TB``), printed at ``$finish`` as one
    ``LOWBIT_MACRO <instance> <event>=<count> ...`` line."""
    W, D, A = shape.width, shape.depth, shape.abits
    R, P = shape.read_ports, shape.write_ports
    ports = [pin for pin, _, _ in shape.pins()]
    lines = [f"module {shape.name} ({', '.join(ports)});"]
    for pin, direction, _ in shape.pins():
        lines.append(f"  {direction} {pin};")
    lines += [f"  reg [{W - 1}:0] mem [0:{D - 1}];",
              "  integer i, b, cycles = 0, writes = 0, bit_changes = 0, reads = 0,"
              " read_bit_changes = 0, input_toggles = 0;",
              "  reg counting = 0;",
              f"  initial for (i = 0; i < {D}; i = i + 1) mem[i] = 0;",
              "`ifdef LOWBIT_POWER_TB",
              "  always @(posedge power_tb.measure) counting = 1;",
              "`endif"]

    def bus(prefix, n):
        return "{" + ", ".join(f"{prefix}_{i}" for i in reversed(range(n))) + "}"

    inputs = [pin for pin, d, role in shape.pins() if d == "input" and role != "clk"]
    lines += [f"  wire [{len(inputs) - 1}:0] in_now = {{{', '.join(inputs)}}};",
              f"  reg [{len(inputs) - 1}:0] in_before = 0;"]
    clock = "RD_CLK_0" if R else "WR_CLK_0"
    lines += [f"  always @(posedge {clock}) begin",
              "    if (counting) begin",
              "      cycles = cycles + 1;",
              f"      for (b = 0; b < {len(inputs)}; b = b + 1)",
              "        if (in_now[b] !== in_before[b]) input_toggles = input_toggles + 1;",
              "    end",
              "    in_before = in_now;",
              "  end"]
    for p in range(P):
        lines += [f"  wire [{A - 1}:0] wa{p} = {bus(f'WR_ADDR_{p}', A)} - {shape.offset};",
                  f"  wire [{W - 1}:0] wd{p} = {bus(f'WR_DATA_{p}', W)};",
                  f"  wire [{W - 1}:0] we{p} = {bus(f'WR_EN_{p}', W)};"]
    for r in range(R):
        srst, arst, srst_v, arst_v, init_v, ce = shape.read_reset[r]
        lines += [f"  wire [{A - 1}:0] ra{r} = {bus(f'RD_ADDR_{r}', A)} - {shape.offset};",
                  f"  reg [{W - 1}:0] new{r};"]
        if shape.read_clocked[r]:
            lines += [f"  reg [{W - 1}:0] rd{r} = {W}'d{init_v};"]
            edge = f"posedge RD_CLK_{r}" + (f" or posedge RD_ARST_{r}" if arst else "")
            lines += [f"  always @({edge}) begin"]
            if arst:
                lines += [f"    if (RD_ARST_{r}) rd{r} <= {W}'d{arst_v}; else"]
            body = [f"      new{r} = mem[ra{r}];"]
            for p in shape.read_transparent[r]:
                body += [f"      if (wa{p} == ra{r}) new{r} = (new{r} & ~we{p}) | (wd{p} & we{p});"]
            body += ["      if (counting) begin", "        reads = reads + 1;",
                     f"        for (b = 0; b < {W}; b = b + 1) if (new{r}[b] !== rd{r}[b])"
                     " read_bit_changes = read_bit_changes + 1;", "      end",
                     f"      rd{r} <= new{r};"]
            if srst and not ce:
                lines += [f"    if (RD_SRST_{r}) rd{r} <= {W}'d{srst_v};",
                          f"    else if (RD_EN_{r}) begin", *body, "    end"]
            elif srst:
                lines += [f"    if (RD_EN_{r}) begin",
                          f"      if (RD_SRST_{r}) rd{r} <= {W}'d{srst_v}; else begin",
                          *body, "      end", "    end"]
            else:
                lines += [f"    if (RD_EN_{r}) begin", *body, "    end"]
            lines += ["  end"]
        else:
            lines += [f"  wire [{W - 1}:0] rd{r} = mem[ra{r}];",
                      f"  reg [{W - 1}:0] seen{r} = 0;",
                      f"  always @(posedge {clock}) begin",
                      "    if (counting)",
                      f"      for (b = 0; b < {W}; b = b + 1) if (rd{r}[b] !== seen{r}[b])"
                      " read_bit_changes = read_bit_changes + 1;",
                      f"    seen{r} = rd{r};", "  end"]
        lines += [f"  assign {bus(f'RD_DATA_{r}', W)} = rd{r};"]
    for p in range(P):
        lines += [f"  always @(posedge WR_CLK_{p}) begin"]
        for lo, hi in shape.write_granules[p]:
            lines += [f"    if (counting && we{p}[{lo}]) writes = writes + 1;"]
        lines += [f"    for (b = 0; b < {W}; b = b + 1)",
                  f"      if (we{p}[b]) begin",
                  f"        if (counting && mem[wa{p}][b] !== wd{p}[b]) bit_changes = bit_changes + 1;",
                  f"        mem[wa{p}][b] <= wd{p}[b];",
                  "      end",
                  "  end"]
    lines += ["`ifdef LOWBIT_POWER_TB",
              "  always @(power_tb.mark) $display(\"LOWBIT_MACRO_MARK %m cycle=%0d write=%0d "
              "bit_change=%0d read=%0d read_bit_change=%0d input_toggle=%0d\", cycles, writes, "
              "bit_changes, reads, read_bit_changes, input_toggles);",
              "`endif"]
    lines += ["  final $display(\"LOWBIT_MACRO %m cycle=%0d write=%0d bit_change=%0d read=%0d "
              "read_bit_change=%0d input_toggle=%0d\", cycles, writes, bit_changes, reads, "
              "read_bit_changes, input_toggles);",
              "endmodule"]
    return "\n".join(lines) + "\n"


_COUNTS = re.compile(r"^LOWBIT_MACRO (\S+) (.*)$", re.M)


def read_counts(text):
    """``{instance path: {event: count}}`` from a simulation log (:func:`macro_verilog`)."""
    found = {}
    for path, rest in _COUNTS.findall(text):
        found[path] = {k: int(v) for k, v in (kv.split("=") for kv in rest.split())}
    return found


_MARKS = re.compile(r"^LOWBIT_MACRO_MARK (\S+) (.*)$", re.M)


def read_marks(text):
    """``{instance path: [{event: count so far}, ...]}``, one entry per ``mark`` of the
    testbench, in order (:func:`macro_verilog`)."""
    found = {}
    for path, rest in _MARKS.findall(text):
        found.setdefault(path, []).append({k: int(v) for k, v in
                                           (kv.split("=") for kv in rest.split())})
    return found


def macro_energy(cost, counts):
    """``{event: pJ}`` and the total dynamic energy of one macro over a window with ``counts``
    (its :func:`read_counts` entry)."""
    parts = {event: cost.energy_pj[event] * counts.get(event, 0) for event in EVENTS}
    return parts, sum(parts.values())


def macro_energy_w(energy_pj, counts, clock_mhz):
    """Average power in W of a macro with ``energy_pj`` per event and ``counts`` over
    ``counts["cycle"]`` cycles at ``clock_mhz``."""
    cycles = counts.get("cycle", 0)
    if not cycles:
        return 0.0
    joules = sum(energy_pj[e] * counts.get(e, 0) for e in EVENTS) * 1e-12
    return joules * clock_mhz * 1e6 / cycles
