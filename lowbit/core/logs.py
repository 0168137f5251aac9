"""The cause of a failed tool run, in one line, from whichever of its logs holds it.

A tool that fails leaves its reason in a log, not always the one it writes itself: Yosys' own
log (``-l``) stops where a WebAssembly trap killed it, and the trap is in the Python traceback
on the tool's standard output; a cocotb test failure is an exception in ``sim.log`` under the
failing test's name; Verilator's and Icarus' compile errors are in ``build.log``; SymbiYosys
names the failed assertion in its own output. :func:`failure_cause` reads the logs given, in
order, and returns the first cause found as ``(line, path)``; :func:`explain` makes the one-line
message ``"<what>: <cause>; full log: <path>"`` that every command prints.

What counts as a cause, most specific first (:data:`RULES`): a WebAssembly trap (with the
innermost function of its backtrace), a cocotb test failure with its exception, a SymbiYosys
failed assertion or error, a Yosys or nextpnr ``ERROR:`` (also ``file:line: ERROR: ...``), a
Verilator ``%Error``, an Icarus or compiler error, and last the final line of a Python traceback.
"""

import re
from pathlib import Path

__all__ = ["RULES", "failure_cause", "explain"]

_MAX = 300          # characters of a cause line: a message, not a dump


def _wasm_trap(lines):
    for k, line in enumerate(lines):
        found = re.search(r"wasm trap: (.+)", line)
        if found:
            trap = found.group(1).strip()
            frame = next((m for m in (re.search(r"^\s*0: 0x[0-9a-f]+ - [^!]*!(.+)$", near)
                                      for near in lines) if m), None)
            where = ""
            if frame:
                function = re.split(r"[<(]", frame.group(1).strip(), maxsplit=1)[0]
                where = f" in {function}" if function else ""
            return f"crashed: wasm trap: {trap}{where}"
    return None


def _cocotb_failure(lines):
    for k, line in enumerate(lines):
        found = re.search(r"cocotb\.regression\s+(\S+) failed\s*$", line)
        if not found:
            continue
        test = found.group(1).rsplit(".", 1)[-1]
        for after in lines[k + 1:]:
            text = after.strip()
            if re.search(r"cocotb\.regression\s", after):       # the next test: none found
                break
            if re.match(r"^([A-Za-z_][\w.]*(Error|Exception|Failure|Timeout)\w*|"
                        r"AssertionError|SimTimeoutError)(:|$)", text):
                return f"test {test} failed: {text}"
        return f"test {test} failed"
    return None


def _sby(lines):
    for line in lines:
        found = re.search(r"(Assert failed in .+|Cover failed.*|BMC failed!|"
                          r"Unexpected response from solver.*|ERROR: .+)$", line)
        if found and line.startswith("SBY "):
            text = found.group(1).strip()
            if text == "BMC failed!":
                continue                  # the next line names the assertion
            return text
    return None


def _tool_error(lines):
    for line in lines:
        found = re.match(r"^(?:\S+:\d+(?:\.\d+-\d+\.\d+)?: )?ERROR: (.+)$", line.strip())
        if found:
            return f"ERROR: {found.group(1).strip()}"
    return None


def _verilator(lines):
    for line in lines:
        if line.startswith("%Error") and "Cannot continue" not in line and \
                "Exiting due to" not in line:
            return line.strip()
    return None


def _compiler(lines):
    for line in lines:
        if re.match(r"^\S+:\d+(:\d+)?: (fatal )?error: ", line) or \
                re.match(r"^\S+\.s?v:\d+: (syntax error|error: .+)$", line):
            return line.strip()
    return None


def _traceback(lines):
    for k in range(len(lines) - 1, -1, -1):
        if lines[k].startswith("Traceback (most recent call last):"):
            for after in reversed(lines[k + 1:]):
                text = after.strip()
                if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\w*(:|$)", text):
                    return text
            return None
    return None


# (name, function of the log's lines returning a cause or None), most specific first
RULES = [("wasm trap", _wasm_trap), ("cocotb", _cocotb_failure), ("sby", _sby),
         ("yosys/nextpnr", _tool_error), ("verilator", _verilator), ("compiler", _compiler),
         ("python", _traceback)]


def _lines(log):
    if isinstance(log, Path):
        try:
            return log.read_text(errors="replace").splitlines()
        except OSError:
            return []
    return str(log).splitlines()


def failure_cause(*logs):
    """``(cause, log)``: the first cause any rule finds, trying each rule over every log
    before the next rule (so a trap on standard output beats the last line of a tool's own
    log), or ``(None, None)``. ``logs`` are paths (missing ones are skipped) or texts."""
    texts = [(log, _lines(log)) for log in logs if log is not None]
    for _, rule in RULES:
        for log, lines in texts:
            cause = rule(lines)
            if cause:
                cause = " ".join(cause.split())
                return (cause if len(cause) <= _MAX else cause[:_MAX - 3] + "..."), log
    return None, None


def explain(what, *logs):
    """``"<what>: <cause>; full log: <path>"`` from ``logs`` (paths, most telling first); the
    path is the log that held the cause, else the first that exists."""
    cause, where = failure_cause(*logs)
    if where is None:
        where = next((log for log in logs if isinstance(log, Path) and log.exists()),
                     logs[0] if logs else None)
    text = f"{what}: {cause}" if cause else what
    return f"{text}; full log: {where}" if where is not None else text
