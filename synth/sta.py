"""OpenSTA (Debian's ``opensta`` package, command ``sta``): timing and power of mapped netlists.

The Debian build is OpenSTA 2.0.17 (2019). It has ``read_liberty``, ``read_verilog``,
``link_design``, ``create_clock``, ``set_load``, ``set_input_delay``, ``report_checks`` and
``report_power``, but no VCD or SAIF reader: measured activities are set per pin with
``sta::set_power_pin_activity`` (its Tcl wrapper ``set_power_activity -pins`` has a bug in this
version: it loops over an undefined variable). Activities are transitions per clock period and
duties the fraction of time a signal is high; OpenSTA scales them by the period of the clock
that reaches the pin, which is why every input gets ``set_input_delay`` against the clock.

Every run writes its Tcl script and log into the run folder and uses relative paths.
"""

import os
import re
import shutil
import subprocess
import tempfile

from lowbit.core.errors import LowbitError

__all__ = ["STA_HINT", "require_sta", "sta_version", "run_sta", "worst_path", "power_tcl",
           "read_power", "read_dump", "DUMP_TCL"]

STA_HINT = ("OpenSTA is missing (no `sta` on PATH): install it with `apt-get install opensta` "
            "(Debian/Ubuntu)")


def require_sta():
    """The path of ``sta``; raises ``LowbitError`` with the install command if it is missing."""
    path = shutil.which("sta")
    if path is None:
        raise LowbitError(STA_HINT)
    return path


def sta_version():
    """OpenSTA's version string (for the records)."""
    # In a scratch folder (cwd and HOME): sta writes its command history, .history_sta, there.
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run([require_sta(), "-no_init", "-no_splash"],
                              input="puts \"VERSION [sta::version]\"\nexit\n",
                              capture_output=True, text=True, cwd=scratch,
                              env={**os.environ, "HOME": scratch})
    match = re.search(r"^VERSION (\S+)$", done.stdout, re.M)
    if match is None:
        raise LowbitError(f"sta printed no version (exit status {done.returncode})")
    return match.group(1)


def run_sta(run, name, commands):
    """Run the Tcl ``commands`` (a list of lines) as ``run/<name>.tcl``; returns the log text.

    Raises ``LowbitError`` with the first error line if OpenSTA reports an error.
    """
    require_sta()
    script = run / f"{name}.tcl"
    script.write_text("\n".join([*commands, "exit"]) + "\n")
    log = run / f"{name}.log"
    with open(log, "w") as out:
        # HOME points into the run folder: sta writes its command history there.
        status = subprocess.run(["sta", "-no_init", "-no_splash", script.name], cwd=run,
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "HOME": str(run.resolve())}).returncode
    text = log.read_text(errors="replace")
    errors = [line for line in text.splitlines() if line.startswith("Error")]
    if status != 0 or errors:
        detail = f": {errors[0]}" if errors else ""
        raise LowbitError(f"sta failed (exit status {status}){detail}; see {log}")
    return text


def _design(netlist, top, liberty):
    """``liberty``: one path or a list (the cells' library, then the macros' views)."""
    libraries = [liberty] if isinstance(liberty, (str, os.PathLike)) else list(liberty)
    return [*(f"read_liberty {lib}" for lib in libraries), f"read_verilog {netlist}",
            f"link_design {top}"]


def _clock(period_ns, clock_port="clk"):
    return [f"create_clock -name clk -period {period_ns:g} [get_ports {clock_port}]",
            f"set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports {clock_port}]]"]


_SLACK = re.compile(r"^\s*(-?[\d.]+)\s+slack \((MET|VIOLATED)\)", re.M)
_ARRIVAL = re.compile(r"^\s*(-?[\d.]+)\s+data arrival time", re.M)
_POINT = re.compile(r"^\s.*?\s[\^v] (\S+) \((\S+)\)\s*$", re.M)


def worst_path(run, netlist, top, liberty, *, period_ns=10.0):
    """The worst register-to-register path of ``top`` at ``liberty``'s corner, ideal clock.

    Returns ``{"min_period_ns", "fmax_mhz", "arrival_ns", "slack_ns", "path": [cell types]}``
    (``None`` values if the design has no register-to-register path). The minimum period is
    ``period - slack``: arrival plus the capturing flip-flop's setup time.
    """
    text = run_sta(run, "sta_timing", [
        *_design(netlist, top, liberty), *_clock(period_ns),
        "report_checks -path_delay max -from [all_registers -clock_pins] "
        "-to [all_registers -data_pins] -digits 4",
    ])
    slack = _SLACK.search(text)
    if slack is None:
        return {"min_period_ns": None, "fmax_mhz": None, "arrival_ns": None, "slack_ns": None,
                "path": []}
    min_period = period_ns - float(slack.group(1))
    body = text[:slack.start()]
    # The first point is the launching flip-flop's clock pin, the second its Q.
    cells = [cell for _pin, cell in _POINT.findall(body)][1:]
    return {"min_period_ns": round(min_period, 4), "fmax_mhz": round(1e3 / min_period, 2),
            "arrival_ns": float(_ARRIVAL.search(text).group(1)),
            "slack_ns": float(slack.group(1)), "path": cells}


def power_tcl(netlist, top, liberty, *, clock_mhz, output_load_pf, activities, clock_port="clk"):
    """Tcl lines that read the design, set the measured activity on every pin, report power.

    ``activities``: ``{net name: (transitions per clock cycle, duty)}`` for every net except
    the clock (the clock's activity comes from ``create_clock``); input ports are nets of the
    same name. Every pin on a net (driver and loads) gets the net's activity.
    """
    lines = [*_design(netlist, top, liberty), *_clock(1e3 / clock_mhz, clock_port),
             f"set_load {output_load_pf:g} [all_outputs]",
             "proc act {net a d} {",
             "  foreach pin [get_pins -quiet -of_objects [get_nets $net]] {"
             " sta::set_power_pin_activity $pin $a $d }",
             "  set port [get_ports -quiet $net]",
             "  if {[llength $port] && [get_property $port direction] == \"input\"} {"
             " sta::set_power_input_port_activity $port $a $d }",
             "}"]
    for net, (activity, duty) in sorted(activities.items()):
        lines.append(f"act {{{net}}} {activity:.9g} {duty:.9g}")
    lines += ["report_power -digits 6",
              'puts "POWER [sta::design_power [sta::cmd_corner]]"',
              *DUMP_TCL]
    return lines


# Every net's capacitance (pins + wire-load model + set_load; farads) and every cell pin's net and
# transition times (ns, from the timing graph), for a power computation outside OpenSTA.
DUMP_TCL = [
    "set corner [sta::cmd_corner]",
    "foreach net [get_nets *] { puts \"NET [get_full_name $net] "
    "[$net capacitance rise $corner max] [$net capacitance fall $corner max]\" }",
    "foreach inst [get_cells *] {",
    "  puts \"INST [get_full_name $inst] [get_property $inst ref_name]\"",
    "  foreach pin [get_pins -of_objects $inst] {",
    "    set net [$pin net]",
    "    if {$net == \"NULL\"} { continue }",
    "    puts \"PIN [get_property [$pin port] name] [get_property $pin direction] "
    "[get_full_name $net] [get_property $pin actual_rise_transition_max] "
    "[get_property $pin actual_fall_transition_max]\"",
    "  }",
    "}",
]


def read_dump(text):
    """``(nets, instances)`` from the lines :data:`DUMP_TCL` printed.

    ``nets``: name -> capacitance in F (mean of rise and fall); ``instances``: name ->
    ``(cell, {pin: (direction, net, transition ns (mean of rise and fall))})``.
    """
    nets, instances, current = {}, {}, None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "NET" and len(parts) == 4:
            nets[parts[1]] = (float(parts[2]) + float(parts[3])) / 2
        elif parts[0] == "INST" and len(parts) == 3:
            current = instances[parts[1]] = (parts[2], {})
        elif parts[0] == "PIN" and len(parts) == 6 and current is not None:
            current[1][parts[1]] = (parts[2], parts[3], (float(parts[4]) + float(parts[5])) / 2)
    return nets, instances


_GROUPS = ("total", "sequential", "combinational", "macro", "pad")


def read_power(text):
    """``{group: {"internal", "switching", "leakage", "total"}}`` in W from a power run's log."""
    match = re.search(r"^POWER (.*)$", text, re.M)
    if match is None:
        raise LowbitError("sta printed no design power")
    values = [float(v) for v in match.group(1).split()]
    kinds = ("internal", "switching", "leakage", "total")
    return {group: dict(zip(kinds, values[4 * i:4 * i + 4])) for i, group in enumerate(_GROUPS)}
