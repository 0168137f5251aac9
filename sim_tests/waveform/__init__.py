"""One transaction of a unit in Amaranth's Python simulator, drawn as a waveform (SVG).

Each unit's registry entry names its scenario (``scenario=``, in :mod:`.scenarios`): small
parameters that keep the picture readable, the input beats of one transaction, and the signals
to show. The tracer (:mod:`.trace`) samples every shown signal once per clock cycle, the
scenario checks the transaction's result against the unit's golden model (the figure is of a
verified answer), and :mod:`.draw` renders it. ``lowbit waves`` is the command;
:func:`write` is what it calls for one unit.
"""

from pathlib import Path

from .draw import draw
from .trace import Probe, Trace, record

__all__ = ["Probe", "Trace", "record", "run_scenario", "draw", "write"]


def run_scenario(unit):
    """Simulate and check the scenario of ``unit`` (a registry entry); returns
    ``(scenario, trace)``."""
    make = unit.scenario_function()
    if make is None:
        raise ValueError(f"unit {unit.name} has no waveform scenario")
    scenario = make(unit)
    dut, trace = record(unit, scenario["params"], scenario["drive"], scenario["probes"])
    scenario["check"](dut, trace)
    return scenario, trace


def write(unit, out):
    """Simulate, check and draw the transaction of ``unit`` (a registry entry) into the SVG file
    ``out``; returns ``(path, trace)``."""
    scenario, trace = run_scenario(unit)
    changed = {k: v for k, v in scenario["params"].items() if unit.defaults().get(k) != v}
    shown = ", ".join(f"{k}={v}" for k, v in changed.items()) or "defaults"
    path = draw(trace, Path(out), f"{unit.name} ({shown}): one transaction, checked against the "
                                  "golden model", scenario["note"])
    return path, trace
