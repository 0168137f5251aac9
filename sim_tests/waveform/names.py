"""How readable a unit's waveform dump is: the share of its signals that carry a machine name.

A simulator's dump of the generated Verilog lists every net of the design. Amaranth names the
nets it creates itself: the result of every operator inside an expression (``$1``, ``$100``),
a ``Signal()`` made without a name where Python gives it none (``$signal$10``) and Yosys'
helpers (``$auto$...``). A reader can do nothing with those. :func:`dump_names` dumps the unit
at ``params`` in Icarus (a zero-time run of a top that calls ``$dumpvars`` on it, so the dump
is exactly the one ``lowbit sim --waves`` gives) and returns every variable's scope and name;
:func:`auto_named` tells a machine name from a designer's one; :func:`readability` is the
measurement (``lowbit waves --names [UNIT ...] [--sources]`` prints it per unit).

A name that Amaranth made unique with a suffix (``is_zero$14``, a second ``is_zero``) starts
with the designer's word, so it counts as named.
"""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["AUTO_NAME", "auto_named", "dump_names", "readability", "auto_sources"]

# Amaranth's unnamed nets and Signal()s, Yosys' $auto$/$procmux$ helpers: a name whose first
# character is `$` (the VCD writes the Verilog escaped identifier without its backslash).
AUTO_NAME = re.compile(r"^\\?\$")


def auto_named(name):
    """Whether ``name`` (a VCD variable name, without any bit range) is a machine name."""
    return bool(AUTO_NAME.match(name))


def _vcd_vars(text):
    """``[(scope, name)]`` of every ``$var`` of a VCD file's header."""
    scope, found = [], []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "$scope":
            scope.append(words[2])
        elif words[0] == "$upscope":
            scope.pop()
        elif words[0] == "$var":
            found.append((".".join(scope), words[4]))
        elif words[0] == "$enddefinitions":
            break
    return found


def dump_names(unit, params=None):
    """``[(scope, name)]`` of every variable in an Icarus VCD dump of ``unit`` (a registry
    entry) at ``params`` (default: its defaults); the dump's own top scope is left out."""
    from lowbit.verilog import to_verilog

    params = unit.resolve(params)
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise RuntimeError("Icarus Verilog (iverilog, vvp) is not installed: "
                           "apt-get install iverilog")
    with tempfile.TemporaryDirectory(prefix="lowbit-names-") as folder:
        folder = Path(folder)
        (folder / "unit.v").write_text(to_verilog(unit.build(params), unit.name))
        (folder / "top.v").write_text(
            "module lowbit_dump_top;\n"
            f"  {unit.name} dut ();\n"
            "  initial begin $dumpfile(\"dump.vcd\"); $dumpvars(0, dut); #1 $finish; end\n"
            "endmodule\n")
        subprocess.run(["iverilog", "-g2012", "-o", "dump.vvp", "-s", "lowbit_dump_top",
                        "unit.v", "top.v"], cwd=folder, check=True, capture_output=True)
        subprocess.run(["vvp", "-n", "dump.vvp"], cwd=folder, check=True, capture_output=True)
        names = _vcd_vars((folder / "dump.vcd").read_text(errors="replace"))
    return [(scope.partition(".")[2], name) for scope, name in names]


def readability(unit, params=None):
    """``(auto, total, auto_names)`` of ``unit``'s dump: how many of its signals are machine
    named, of how many, and which."""
    names = dump_names(unit, params)
    auto = sorted({name for _, name in names if auto_named(name)})
    count = sum(auto_named(name) for _, name in names)
    return count, len(names), auto


def auto_sources(unit, params=None):
    """Where ``unit``'s machine-named nets come from: ``{"hdl/file.py:line": count}`` of the
    cells (operators, registers) whose output is a net Amaranth named itself, and of the
    ``Signal()`` made without a name, read from the RTLIL with source locations (the lines to
    give a name: assign the expression to a named ``Signal``)."""
    from amaranth.back import rtlil

    params = unit.resolve(params)
    text = rtlil.convert(unit.build(params), name=unit.name, emit_src=True)
    root = str(Path(__file__).resolve().parents[2]) + "/"
    counts, src = {}, None

    def count(where):
        where = where.replace(root, "")
        counts[where] = counts.get(where, 0) + 1

    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[:2] == ["attribute", "\\src"]:
            src = words[2].strip('"')
        elif words[0] == "wire":
            if auto_named(words[-1]) and not re.fullmatch(r"\$\d+", words[-1]) and src:
                count(src)      # a Signal() without a name
            src = None
        elif words[0] == "connect" and len(words) == 3 and words[1] in ("\\Y", "\\Q"):
            if re.fullmatch(r"\$\d+", words[2]) and src:
                count(src)
        elif words[0] == "end":
            src = None
    return dict(sorted(counts.items(), key=lambda item: -item[1]))
