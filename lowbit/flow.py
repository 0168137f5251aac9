"""The main job: every registered unit at its defaults, beside its baseline.

For each unit and the baseline it names: generate Verilog, run the cocotb testbench against
the golden model, synthesize on each target, then write ``build/report.md`` and
``build/report.json`` with the unit's area, Fmax and area x delay relative to its baseline.
``build/report.md`` is written by ``lowbit.report``, which adds figures, and the tables and
figures of any sweeps under ``build/sweep/``.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .core.errors import LowbitError
from .units import UNITS
from .verilog import to_verilog

__all__ = ["DEFAULT_TARGETS", "run_flow", "compare", "area_of"]

DEFAULT_TARGETS = ("ice40", "ecp5", "generic")


def area_of(synth):
    """The area figure a target is compared on: LUTs on FPGAs, NAND2 equivalents otherwise."""
    return synth["gate_equivalents"] if synth["target"] == "generic" else synth["luts"]


def compare(unit_synth, baseline_synth):
    """Ratios of a unit to its baseline on one target (> 1 means the unit is better)."""
    area_u, area_b = area_of(unit_synth), area_of(baseline_synth)
    ratios = {"area_ratio": area_b / area_u if area_u else None}
    fmax_u, fmax_b = unit_synth["fmax_mhz"], baseline_synth["fmax_mhz"]
    if fmax_u and fmax_b:
        ratios["fmax_ratio"] = fmax_u / fmax_b
        ratios["area_delay_ratio"] = (area_b / fmax_b) / (area_u / fmax_u)
    depth_u, depth_b = unit_synth["logic_depth"], baseline_synth["logic_depth"]
    if depth_u and depth_b:  # generic: logic depth stands in for delay
        ratios["depth_ratio"] = depth_b / depth_u
        ratios["area_delay_ratio"] = (area_b * depth_b) / (area_u * depth_u)
    return ratios


def _jobs_for_defaults():
    """``[(unit, params)]``: every unit at its defaults and each baseline at matching params."""
    jobs, seen = [], set()
    for unit in UNITS:
        params = unit.defaults()
        wanted = [(unit.name, params)]
        baseline = unit.baseline_for(params)
        if baseline:
            wanted.append(baseline)
        for name, p in wanted:
            key = (name, json.dumps(p, sort_keys=True))
            if key not in seen:
                seen.add(key)
                jobs.append((name, p))
    return jobs


def run_flow(*, targets=None, simulator="icarus", build=Path("build"), jobs=2):
    """Run the main job and write the reports; returns the process exit status."""
    from lowbit.sim_tests.runner import simulate
    from lowbit.synth import format_table, synthesize

    targets = tuple(targets or DEFAULT_TARGETS)
    build = Path(build)
    started = time.monotonic()
    entries = []
    for name, params in _jobs_for_defaults():
        unit = UNITS[name]
        params = unit.resolve(params)
        verilog = build / "verilog" / f"{name}.v"
        verilog.parent.mkdir(parents=True, exist_ok=True)
        verilog.write_text(to_verilog(unit.build(params), name))
        entries.append({"unit": name, "params": params, "baseline": unit.baseline,
                        "verilog": str(verilog)})
    print(f"generated {len(entries)} units into {build / 'verilog'}")

    def sim_job(entry):
        return simulate(entry["unit"], entry["params"], simulator, build_root=build / "sim")

    def synth_job(entry, target):
        unit = UNITS[entry["unit"]]
        try:
            return synthesize(lambda: unit.build(entry["params"]), unit=entry["unit"],
                              params=entry["params"], target=target, build_dir=build / "synth")
        except LowbitError as error:  # e.g. the unit does not fit the device: report it
            return error

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        sims = {id(e): pool.submit(sim_job, e) for e in entries}
        synths = {(id(e), t): pool.submit(synth_job, e, t) for e in entries for t in targets}
        failed = False
        for entry in entries:
            result = sims[id(entry)].result()
            entry["sim"] = {"simulator": simulator, "tests": result.tests,
                            "failed": result.failed, "vectors": result.vectors,
                            "log": str(result.log)}
            verdict = "PASS" if result.ok else "FAIL"
            failed |= not result.ok
            print(f"{verdict} {entry['unit']} on {simulator}: {result.tests - result.failed}/"
                  f"{result.tests} tests, {result.vectors} vectors")
        synth_results = []
        for entry in entries:
            entry["synth"], entry["synth_errors"] = {}, {}
            for target in targets:
                result = synths[(id(entry), target)].result()
                if isinstance(result, LowbitError):
                    entry["synth_errors"][target] = str(result)
                    print(f"synthesis of {entry['unit']} for {target} failed: {result}")
                    continue
                synth_results.append(result)
                entry["synth"][target] = result.as_dict()
    print(format_table(synth_results))

    comparisons = []
    for entry in entries:
        baseline = UNITS[entry["unit"]].baseline_for(entry["params"])
        if not baseline:
            continue
        base_entry = next(e for e in entries if e["unit"] == baseline[0]
                          and e["params"] == UNITS[baseline[0]].resolve(baseline[1]))
        for target in targets:
            if target in entry["synth"] and target in base_entry["synth"]:
                comparisons.append({"unit": entry["unit"], "baseline": base_entry["unit"],
                                    "target": target, **compare(entry["synth"][target],
                                                                base_entry["synth"][target])})

    seconds = time.monotonic() - started
    report = {"simulator": simulator, "targets": list(targets), "seconds": round(seconds, 1),
              "units": entries, "comparisons": comparisons}
    (build / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    from .report import write_report  # the tables above, figures, and any sweeps of build
    write_report(build)
    print(f"wrote {build / 'report.md'} and {build / 'report.json'} ({seconds:.0f} s)")
    return 1 if failed else 0


def _fmt(value, digits=2):
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def render_markdown(report):
    """The report as Markdown: simulation results, then each unit beside its baseline."""
    lines = ["# lowbit report", "",
             f"Every unit at its default parameters, beside its baseline. Simulator: "
             f"{report['simulator']}; targets: {', '.join(report['targets'])}; "
             f"wall time {report['seconds']:.0f} s.", "",
             "## Simulation against the golden models", "",
             "| unit | parameters | tests passed | vectors checked |", "|---|---|---|---|"]
    for e in report["units"]:
        s = e["sim"]
        params = ", ".join(f"{k}={v}" for k, v in e["params"].items())
        lines.append(f"| {e['unit']} | {params} | {s['tests'] - s['failed']}/{s['tests']} | "
                     f"{s['vectors']} |")
    lines += ["", "## Synthesis", "",
              "Area is LUT4s on iCE40/ECP5 (bare unit, no I/O) and NAND2 gate equivalents on "
              "the generic target; Fmax is from nextpnr on the unit wrapped with registered "
              "ports (docs/synthesis.md).", "",
              "| unit | target | LUTs | FFs | carry | DSPs | GE | transistors | depth | Fmax MHz |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for e in report["units"]:
        for target, s in e["synth"].items():
            lines.append(f"| {e['unit']} | {target} | {_fmt(s['luts'])} | {_fmt(s['ffs'])} | "
                         f"{_fmt(s['carry'])} | {_fmt(s['dsps'])} | "
                         f"{_fmt(s['gate_equivalents'], 0)} | {_fmt(s['transistors'])} | "
                         f"{_fmt(s['logic_depth'])} | {_fmt(s['fmax_mhz'], 1)} |")
    failures = [(e["unit"], target, error) for e in report["units"]
                for target, error in e.get("synth_errors", {}).items()]
    if failures:
        lines += ["", "Synthesis that failed (for example a unit too large for the device):", ""]
        lines += [f"- {unit} on {target}: {error}" for unit, target, error in failures]
    lines += ["", "## Each unit against its baseline", "",
              "Ratios are baseline / unit for area, logic depth and area x delay, unit / "
              "baseline for Fmax: above 1 the unit is better. Delay is 1/Fmax on the FPGAs and "
              "the logic depth on the generic target.", "",
              "| unit | baseline | target | area ratio | Fmax ratio | depth ratio | "
              "area x delay ratio |",
              "|---|---|---|---|---|---|---|"]
    for c in report["comparisons"]:
        lines.append(f"| {c['unit']} | {c['baseline']} | {c['target']} | "
                     f"{_fmt(c.get('area_ratio'))} | {_fmt(c.get('fmax_ratio'))} | "
                     f"{_fmt(c.get('depth_ratio'))} | {_fmt(c.get('area_delay_ratio'))} |")
    return "\n".join(lines) + "\n"
