"""The report's Markdown tables: the main job (``report.json`` of ``lowbit flow``) and a sweep's
rows (``results.json`` of ``lowbit sweep``).

Every table that compares units shows the work a unit does per cycle next to its area, and
its ratios per unit of work; raw area stays in the synthesis table, never alone. Each unit
with one parameter set appears once per target.
"""

from ..metrics import area_unit
from ..units import UNITS

__all__ = ["fmt", "short_params", "render_markdown", "sweep_table", "per_work_table"]


def fmt(value, digits=2):
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        if value and abs(value) < 10 ** -digits:
            return f"{value:.{digits}g}" if digits > 1 else f"{value:.2g}"
        return f"{value:.{digits}f}"
    return str(value)


def short_params(unit, params):
    """The parameters that differ from the unit's defaults, or ``defaults``."""
    defaults = UNITS[unit].defaults()
    return ", ".join(f"{k}={v}" for k, v in params.items()
                     if defaults.get(k, object()) != v) or "defaults"


def _won(row):
    options = "+".join(row.get("options") or []) or "plain"
    implementation = ", ".join(f"{k}={v}" for k, v in (row.get("implementation") or {}).items())
    return options + (f"; {implementation}" if implementation else "")


def _counts(sim):
    return (f"{sim.get('passed', sim['tests'] - sim['failed'])} | {sim.get('skipped', 0)} | "
            f"{sim['failed']}")


def _um2(synth):
    """A standard-cell area, with its logic and memory parts where it has memories."""
    if synth.get("memory_area_um2"):
        return (f"{fmt(synth.get('area_um2'), 0)} ({fmt(synth.get('logic_area_um2'), 0)} logic"
                f" + {fmt(synth['memory_area_um2'], 0)} memory)")
    return fmt(synth.get("area_um2"), 0)


def per_work_table(rows):
    """Rows with ``per_work`` figures: one line per (unit, parameters, target, mode)."""
    lines = ["| unit | parameters | target | mode | work per cycle | area per unit of work | "
             "work per cycle per area unit | work per us per area unit | "
             "area x delay per unit of work | energy per unit of work (pJ) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for mode, f in (row.get("per_work") or {}).items():
            unit = area_unit(row["target"], row)
            lines.append(f"| {row['unit']} | {short_params(row['unit'], row['params'])} | "
                         f"{row['target']} | {mode} | {fmt(f['work'])} | "
                         f"{fmt(f['area_per_work'], 1)} {unit} | "
                         f"{fmt(f['work_per_area'], 4)} | "
                         f"{fmt(f.get('work_per_second_per_area'), 3)} | "
                         f"{fmt(f.get('area_delay_per_work'), 0)} | "
                         f"{fmt(f.get('energy_per_work_pj'), 3)} |")
    return lines


def render_markdown(report):
    """The main job as Markdown: simulation results, synthesis, work per cycle, then each unit
    beside its baseline per unit of work."""
    lines = ["# lowbit report", "",
             f"Every unit at its default parameters, beside its baseline. Simulator: "
             f"{report['simulator']}; targets: {', '.join(report['targets'])}; "
             f"wall time {report['seconds']:.0f} s.", "",
             "## Simulation against the golden models", "",
             "| unit | parameters | passed | skipped | failed | vectors checked |",
             "|---|---|---|---|---|---|"]
    left_out = {}
    for e in report["units"]:
        s = e["sim"]
        lines.append(f"| {e['unit']} | {short_params(e['unit'], e['params'])} | {_counts(s)} | "
                     f"{s['vectors']} |")
        for test, var in dict(s.get("left_out") or {}).items():
            left_out.setdefault((test, var), []).append(e["unit"])
    if left_out:
        lines += ["", "Left out of the main job and of the counts above: "
                  + "; ".join(f"`{test}` of {', '.join(units)} (needs `{var}`)"
                              for (test, var), units in left_out.items())
                  + ". These tests take real MiniLM operands from a file named by that "
                    "variable; the pytest suite writes the files and runs them "
                    "(`python -m pytest sim_tests -k real -n 0`)."]
    lines += ["", "## Synthesis", "",
              "Area is LUT4s on iCE40/ECP5 (bare unit, no I/O) and NAND2 gate equivalents on "
              "the generic target; Fmax is from nextpnr on the unit wrapped with registered "
              "ports (docs/synthesis.md). Each unit and each baseline is the smallest of the "
              "same candidates (flow options, and implementations where the unit has several): "
              "the column *won* names the flow options and implementation that won.", "",
              "| unit | parameters | target | won | LUTs | FFs | carry | DSPs | BRAMs | GE | "
              "um^2 | depth | Fmax MHz |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = []
    for e in report["units"]:
        for target, s in e["synth"].items():
            rows.append(dict(s, unit=e["unit"], params=e["params"], target=target))
            lines.append(f"| {e['unit']} | {short_params(e['unit'], e['params'])} | {target} | "
                         f"{_won(s)} | {fmt(s['luts'])} | {fmt(s['ffs'])} | {fmt(s['carry'])} | "
                         f"{fmt(s['dsps'])} | {fmt(s.get('brams'))} | "
                         f"{fmt(s['gate_equivalents'], 0)} | {_um2(s)} | "
                         f"{fmt(s['logic_depth'])} | {fmt(s['fmax_mhz'], 1)} |")
    failures = [(e["unit"], target, error) for e in report["units"]
                for target, error in e.get("synth_errors", {}).items()]
    if failures:
        lines += ["", "Synthesis that failed (for example a unit too large for the device):", ""]
        lines += [f"- {unit} on {target}: {error}" for unit, target, error in failures]
    if any(r.get("per_work") for r in rows):
        lines += ["", "## Work per cycle", "",
                  "Work per cycle as each unit's registry entry declares it (MACs for MACs, dot "
                  "products and arrays, per precision for the bit-plane array; elements for "
                  "softmax and dequantizer units, in steady state at the longest row). Area "
                  "unit: LUT4 on the FPGAs, NAND2 equivalent (GE) on generic, um^2 on asic; "
                  "delay: 1/Fmax in ns (nextpnr on the FPGAs, OpenSTA on asic), logic depth in "
                  "gates on generic. Energy: asic only, the mapped netlist simulated on MiniLM "
                  "operands at 100 MHz (`lowbit power`; zero-delay simulation, so glitches are "
                  "not counted).", ""]
        lines += per_work_table(rows)
    lines += ["", "## Each unit against its baseline", "",
              "Ratios are baseline / unit, per unit of work (the baseline's area per MAC or "
              "element per cycle over the unit's; likewise area x delay): above 1 the unit is "
              "better. A single-mode baseline (an INT8 MAC array) does its work at every "
              "precision, so it meets each precision of a many-mode unit. The raw area ratio "
              "(same cycle, different work) is shown beside it. Where a side keeps memories "
              "(asic: macros, such as btc_array's plane buffers, which the streaming INT8 "
              "array does not need), the ratio of the standard-cell logic alone is shown too; "
              "the area ratio counts both.", "",
              "| unit | baseline | target | mode | area ratio per unit of work | "
              "logic-only area ratio per unit of work | "
              "area x delay ratio per unit of work | energy ratio per unit of work | "
              "raw area ratio | Fmax ratio |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for c in report["comparisons"]:
        modes = c.get("per_work") or {"-": {}}
        for mode, r in modes.items():
            lines.append(f"| {c['unit']} | {c['baseline']} | {c['target']} | {mode} | "
                         f"{fmt(r.get('area_ratio'))} | {fmt(r.get('logic_area_ratio'))} | "
                         f"{fmt(r.get('area_delay_ratio'))} | "
                         f"{fmt(r.get('energy_ratio'))} | "
                         f"{fmt(c.get('area_ratio'))} | {fmt(c.get('fmax_ratio'))} |")
    dsp_rows = [r for r in rows if r["target"].endswith("-dsp")]
    if dsp_rows:
        lines += ["", "## The INT8 baselines on the DSP blocks", "",
                  "The FPGA user's real alternative: the same baselines with the multipliers in "
                  "DSP blocks (SB_MAC16 on iCE40 UltraPlus, MULT18X18D on ECP5), beside the "
                  "LUT-only mapping. LUTs and DSPs both count.", "",
                  "| baseline | parameters | target | LUTs | DSPs | FFs | Fmax MHz |",
                  "|---|---|---|---|---|---|---|"]
        dsp_units = {(r["unit"], short_params(r["unit"], r["params"])) for r in dsp_rows}
        for r in rows:
            if (r["unit"], short_params(r["unit"], r["params"])) in dsp_units and \
                    r["target"] != "generic":
                lines.append(f"| {r['unit']} | {short_params(r['unit'], r['params'])} | "
                             f"{r['target']} | {fmt(r['luts'])} | {fmt(r['dsps'])} | "
                             f"{fmt(r['ffs'])} | {fmt(r['fmax_mhz'], 1)} |")
    return "\n".join(lines) + "\n"


def sweep_table(rows):
    """A sweep's rows: one line per point and target, then the per-work figures."""
    energy = any(r.get("energy") for r in rows)
    lines = ["| unit | parameters (not at default) | target | won | LUTs | DSPs | GE | um^2 | "
             "Fmax MHz | baseline | area ratio per unit of work | raw area ratio | Fmax ratio | "
             + ("pJ per op | energy ratio per unit of work | " if energy else "") + "error |",
             "|---" * (16 if energy else 14) + "|"]

    def per_mode(row, ratio):
        ratios = row.get("per_work_ratio") or {}
        return "; ".join(f"{mode} {fmt(r.get(ratio))}" if len(ratios) > 1 else fmt(r.get(ratio))
                         for mode, r in ratios.items() if r.get(ratio) is not None) or "-"

    for row in rows:
        # the whole error (its cause and log), on one line of the table
        error = " ".join((row.get("error") or "").split()).replace("|", "/")
        joules = (f"{fmt((row.get('energy') or {}).get('pj_per_op'), 3)} | "
                  f"{per_mode(row, 'energy_ratio')} | ") if energy else ""
        lines.append(f"| {row['unit']} | {short_params(row['unit'], row['params'])} | "
                     f"{row['target']} | {_won(row) if not row.get('error') else '-'} | "
                     f"{fmt(row.get('luts'))} | {fmt(row.get('dsps'))} | "
                     f"{fmt(row.get('gate_equivalents'), 0)} | {_um2(row)} | "
                     f"{fmt(row.get('fmax_mhz'), 1)} | "
                     f"{row.get('baseline') or '-'} | {per_mode(row, 'area_ratio')} | "
                     f"{fmt(row.get('area_ratio'))} | {fmt(row.get('fmax_ratio'))} | {joules}"
                     f"{error or '-'} |")
    if any(r.get("per_work") for r in rows):
        lines += ["", "Work per cycle (area per unit of work, throughput per area, area x delay "
                  "per unit of work):", ""] + per_work_table([r for r in rows
                                                              if not r.get("error")])
    return lines
