"""What a synthesis result is compared on: area, delay and the work a unit does per cycle.

A unit that does more work per cycle is never compared on raw area alone. Each registry entry
declares its work per cycle (``Unit.throughput``: ``{mode: units of work per cycle}``, e.g.
``{"MAC": 1}`` for a MAC, ``{"MAC": lanes}`` for a dot product, one entry per precision
``W1A1``, ``W2A8``, ``W4A4``, ``W8A8`` for the bit-plane array, ``{"element": ...}`` for a
softmax or a dequantizer). A unit with a single mode does that much work at every precision
it can run, so it is compared with each mode of a many-mode unit (an INT8 MAC array does one
MAC per cell and cycle at W2A8 as at W8A8).

The figures, per mode:

* ``area_per_work``: area (LUT4s, or NAND2 equivalents on ``generic``) per unit of work per
  cycle;
* ``work_per_area``: units of work per cycle per LUT4 (per gate equivalent on ``generic``);
* ``work_per_second_per_area``: the same at Fmax (units of work per microsecond per LUT4);
* ``area_delay_per_work``: area x delay per unit of work per cycle (delay: 1/Fmax in ns on the
  FPGAs and from OpenSTA on ``asic``, the logic depth in gates on ``generic``);
* ``energy_per_work_pj``: on ``asic``, where the power flow has a workload for the unit, the
  energy per MAC, or per element (pJ), measured on the mapped netlist with MiniLM operands
  (``energy`` of the row: ``{"pj_per_op", "op", "mode", "data", ...}``), in the mode it was
  measured at (a unit with several precision modes, btc_array, is measured at one: W2A8) or,
  with ``mode`` None, in the unit's one mode.

On ``asic`` a unit's memories are macros (``memory_area_um2``, beside the cells'
``logic_area_um2``). Where either side of a comparison has any, :func:`compare` also gives the
ratios of the logic alone (``logic_area_ratio``), so that a unit that keeps operands in local
buffers is not read only against a baseline that streams them (btc_array's plane buffers
against int_array), nor only without the buffers it needs.
"""

__all__ = ["area_of", "area_unit", "delay_of", "work_per_cycle", "work_noun", "work_figures",
           "compare"]


def area_of(synth):
    """The area figure a target is compared on: LUTs on FPGAs, NAND2 equivalents otherwise
    (``area_um2`` on a standard-cell target, where the result has it)."""
    if synth.get("area_um2") is not None:
        return synth["area_um2"]
    return synth["gate_equivalents"] if synth["target"] == "generic" else synth["luts"]


def area_unit(target, synth=None):
    """The unit of :func:`area_of` on ``target``."""
    if synth is not None and synth.get("area_um2") is not None:
        return "um^2"
    return "GE" if target == "generic" else "LUT4"


def delay_of(synth):
    """The delay a target is compared on: 1/Fmax in ns, else the logic depth in gates, else
    None."""
    if synth.get("fmax_mhz"):
        return 1000.0 / synth["fmax_mhz"]
    return synth.get("logic_depth") or None


def work_per_cycle(unit, params):
    """``{mode: units of work per cycle}`` of a registered ``unit`` (a ``Unit``) at ``params``;
    empty if the entry declares none."""
    return dict(unit.throughput(params)) if unit.throughput else {}


def work_noun(unit, mode):
    """What one unit of work of ``mode`` is ("MAC", "binary MAC", "element")."""
    declared = getattr(unit, "work", None)
    if declared:
        return declared
    if mode == "element":
        return "element"
    return "binary MAC" if mode == "W1A1" else "MAC"


def work_figures(synth, work):
    """``{mode: {"work": ..., "area_per_work": ..., "work_per_area": ...,
    "work_per_second_per_area": ..., "area_delay_per_work": ...}}`` for one result."""
    area, delay = area_of(synth), delay_of(synth)
    figures = {}
    for mode, rate in work.items():
        f = {"work": rate, "area_per_work": area / rate if area and rate else None,
             "work_per_area": rate / area if area else None,
             "work_per_second_per_area": (rate * synth["fmax_mhz"] / area
                                          if area and synth.get("fmax_mhz") else None),
             "area_delay_per_work": area * delay / rate if area and delay and rate else None}
        energy = synth.get("energy")   # from the power flow (lowbit.synth.power), per op
        if _energy_in(energy, mode):
            f["energy_per_work_pj"] = energy["pj_per_op"]
        figures[mode] = f
    return figures


def _energy_in(energy, mode):
    """Whether an ``energy`` record is the energy of one unit of work in ``mode`` (pJ per MAC,
    or per element in the ``element`` mode of the softmax and dequantizer units): it was
    measured at that mode, or the unit has one mode (its record names none)."""
    return bool(energy) and energy.get("op") == _energy_op(mode) and \
        energy.get("mode") in (None, mode)


def _energy_op(mode):
    """The operation the power flow counts in ``mode`` (``lowbit.synth.power``'s ``op``)."""
    return "element" if mode == "element" else "MAC"


def _rates(work, base_work):
    """``{mode: (unit rate, baseline rate)}``: the modes both have, or each of the unit's modes
    against a single-mode baseline (which does its work at every precision)."""
    if len(base_work) == 1 and not set(work) & set(base_work):
        (rate,), = [base_work.values()]
        return {mode: (value, rate) for mode, value in work.items()}
    return {mode: (work[mode], base_work[mode]) for mode in work if mode in base_work}


def compare(unit_synth, baseline_synth, work=None, base_work=None):
    """Ratios of a unit to its baseline on one target (> 1 means the unit is better).

    Raw ratios: ``area_ratio`` (baseline / unit), ``fmax_ratio``, ``depth_ratio`` and
    ``area_delay_ratio``. Given the work per cycle of both (``{mode: rate}``), also ``per_work``:
    ``{mode: {"area_ratio": ..., "area_delay_ratio": ...}}``, the same ratios per unit of work
    (area per unit of work of the baseline over the unit's); ``energy_ratio`` too where both
    have an energy figure; ``logic_area_ratio`` (raw and per unit of work) where either has
    memory macros (the standard cells alone, ``logic_area_um2``).
    """
    area_u, area_b = area_of(unit_synth), area_of(baseline_synth)
    ratios = {"area_ratio": area_b / area_u if area_u else None}
    logic_u, logic_b = unit_synth.get("logic_area_um2"), baseline_synth.get("logic_area_um2")
    if logic_u and logic_b and (unit_synth.get("memory_area_um2") or
                                baseline_synth.get("memory_area_um2")):
        ratios["logic_area_ratio"] = logic_b / logic_u
    fmax_u, fmax_b = unit_synth.get("fmax_mhz"), baseline_synth.get("fmax_mhz")
    if fmax_u and fmax_b:
        ratios["fmax_ratio"] = fmax_u / fmax_b
        ratios["area_delay_ratio"] = (area_b / fmax_b) / (area_u / fmax_u)
    depth_u, depth_b = unit_synth.get("logic_depth"), baseline_synth.get("logic_depth")
    if depth_u and depth_b:  # generic: logic depth stands in for delay
        ratios["depth_ratio"] = depth_b / depth_u
        ratios["area_delay_ratio"] = (area_b * depth_b) / (area_u * depth_u)
    if work and base_work:
        per_work = {}
        for mode, (rate_u, rate_b) in _rates(work, base_work).items():
            entry = {"area_ratio": (area_b / rate_b) / (area_u / rate_u)
                     if area_u and rate_b and rate_u else None}
            if "logic_area_ratio" in ratios and rate_u and rate_b:
                entry["logic_area_ratio"] = ratios["logic_area_ratio"] * rate_u / rate_b
            if ratios.get("area_delay_ratio") is not None:
                entry["area_delay_ratio"] = ratios["area_delay_ratio"] * rate_u / rate_b
            e_u, e_b = unit_synth.get("energy"), baseline_synth.get("energy")
            if _energy_in(e_u, mode) and e_b and e_b.get("op") == e_u["op"]:   # the same op
                entry["energy_ratio"] = e_b["pj_per_op"] / e_u["pj_per_op"]
            per_work[mode] = entry
        ratios["per_work"] = per_work
    return ratios
