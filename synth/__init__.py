"""Synthesis runner: area (LUTs, flip-flops, carry, DSPs, gate equivalents) and Fmax of a unit.

``synthesize`` runs Yosys and nextpnr (the YoWASP builds installed with lowbit) on one unit
for one target and returns a ``SynthResult``; ``format_table`` prints a list of them. The flow
and its choices are described in ``lowbit.synth.flow``, the timing harness in
``lowbit.synth.wrapper``.
"""

from .flow import DEVICES, TARGETS, synthesize
from .result import SynthResult, format_table

__all__ = ["TARGETS", "DEVICES", "SynthResult", "synthesize", "format_table"]
