"""The result record of one synthesis run and its terminal table."""

import dataclasses
from dataclasses import dataclass, field

__all__ = ["SynthResult", "format_table"]


@dataclass(frozen=True)
class SynthResult:
    """Area and speed of one unit with one parameter set on one target.

    Counts that a target does not have are ``None`` (LUTs, carry and DSPs for ``generic``;
    gate equivalents and transistors for the FPGA targets; ``fmax_mhz`` without place-and-route).

    * ``luts``: 4-input LUTs of the bare unit. ice40: ``SB_LUT4`` (the sum LUT beside each
      ``SB_CARRY`` is its own ``SB_LUT4``). ecp5: ``LUT4`` plus the two LUT4 halves of each
      ``CCU2C``, so both families count the LUTs that adders use.
    * ``ffs``: flip-flops of the bare unit, all types.
    * ``carry``: carry cells, ``SB_CARRY`` (one bit) or ``CCU2C`` (two bits).
    * ``dsps``: ``SB_MAC16``, or ``MULT18X18D`` plus ``ALU54B``/``ALU24B``.
    * ``transistors``, ``gate_equivalents``: static-CMOS transistor estimate and its NAND2
      equivalent (transistors / 4); see ``lowbit.synth.flow``.
    * ``fmax_mhz``: achieved clock frequency of the unit inside the timing harness.
    * ``logic_depth``: generic only: gates on the longest path between flip-flops and ports
      (Yosys ``ltp -noff``), the generic target's stand-in for delay.
    * ``cells``: cell type -> count of the bare unit as Yosys reports it.
    * ``tool_versions``: ``{"amaranth": ..., "yosys": ..., "nextpnr-<family>": ...}``.
    * ``seconds``: wall-clock time of the whole run.
    * ``options``: the flow options both runs used (``lowbit.synth.flow.OPTIONS``), e.g.
      ``["booth", "nowidelut"]``; empty for the target's plain script.
    * ``brams``: block RAMs of the bare unit (``SB_RAM40_4K`` on iCE40, ``DP16KD``/``PDPW16KD``
      on ECP5): memories the LUT count does not show; None on the other targets.
    * ``area_um2``, ``liberty``: standard-cell targets only (``asic``): cell area of the bare
      unit (Yosys ``stat -liberty``) and the library (file name and sha256 prefix).
    """

    unit: str
    params: dict
    target: str
    device: str | None
    luts: int | None
    ffs: int
    carry: int | None
    dsps: int | None
    gate_equivalents: float | None
    transistors: int | None
    fmax_mhz: float | None
    logic_depth: int | None
    cells: dict
    tool_versions: dict
    seconds: float
    options: list = field(default_factory=list)
    area_um2: float | None = None
    liberty: str | None = None
    brams: int | None = None

    def as_dict(self):
        """The fields as a plain ``dict`` (JSON-ready if ``params`` is)."""
        return dataclasses.asdict(self)


_PARAMS_WIDTH = 32


def _short_params(params):
    text = ",".join(f"{key}={value}" for key, value in params.items())
    return text if len(text) <= _PARAMS_WIDTH else text[:_PARAMS_WIDTH - 3] + "..."


def _cell(value, spec=""):
    return "-" if value is None else format(value, spec)


def format_table(results):
    """An aligned plain-text table of ``results`` (a list of ``SynthResult``), one row each."""
    header = ("unit", "params", "target", "options", "LUTs", "FFs", "carry", "DSPs", "GE", "transistors",
              "depth", "Fmax/MHz")
    rows = [(r.unit, _short_params(r.params),
             r.target if r.device is None else f"{r.target}:{r.device}",
             "+".join(r.options) or "-",
             _cell(r.luts), _cell(r.ffs), _cell(r.carry), _cell(r.dsps),
             _cell(r.gate_equivalents, ".1f"), _cell(r.transistors), _cell(r.logic_depth), _cell(r.fmax_mhz, ".1f"))
            for r in results]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    text_columns = 4  # unit, params, target, options read left to right; numbers align right

    def line(row):
        return "  ".join(cell.ljust(width) if i < text_columns else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
