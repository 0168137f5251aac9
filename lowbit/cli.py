"""lowbit: generate low-bit LLM arithmetic units as Verilog, check them in simulation against
their golden models, synthesize them beside their baselines, and report area, timing, energy and
accuracy. `lowbit flow` is the main job; `lowbit COMMAND --help` describes each command."""

import argparse
import json
import sys
from pathlib import Path

from .core.errors import LowbitError
from .core.options import COUNT, SEED, bounded

__all__ = ["main"]

DEFAULT_BUILD = Path("build")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; every option's default shown unless its help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" not in text and action.default not in (None, False, argparse.SUPPRESS)
                and action.option_strings and action.nargs != 0):
            default = (" ".join(map(str, action.default)) if isinstance(action.default, list)
                       else action.default)
            text += f" (default: {default})"
        return text.replace("%", "%%")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one error line and exit status 2, and every option's
    default shows in ``--help``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise LowbitError(f"{message} (see `{self.prog} --help`)")




def _overrides(pairs):
    """``["acc_bits=24", ...]`` -> ``{"acc_bits": "24"}``; the unit parses the values."""
    overrides = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise LowbitError(f"parameter {pair!r} is not NAME=VALUE (e.g. -p acc_bits=24)")
        overrides[name.strip()] = value.strip()
    return overrides


def _unit_and_params(args):
    from .units import UNITS
    unit = UNITS[args.unit]
    return unit, unit.resolve(_overrides(args.param))


def cmd_units(args):
    from .units import UNITS
    for unit in UNITS:
        baseline = f"   baseline: {unit.baseline}" if unit.baseline else ""
        print(f"{unit.name}: {unit.summary}{baseline}")
        if not unit.params:
            print("  (no parameters)")
        width = max((len(p.name) for p in unit.params), default=0)
        for p in unit.params:
            default = "auto" if p.derived else p.default
            print(f"  {p.name:<{width}}  {p.kind:<6} {p.allowed:<14} default {default!s:<6} "
                  f"{p.doc}{_narrowed(unit, p)}")
        print()


def _narrowed(unit, param):
    """A bound of ``param`` that depends on the unit's other parameters, as the component
    states it at the defaults (e.g. `` [12..64 at the other defaults]``), or ``""``."""
    if param.kind != "int" or param.derived and not param.bound:
        return ""
    lo, hi = unit.accepted_range(param.name)
    if (lo, hi) == (param.lo, param.hi):
        return ""
    # why it is narrower: its own bound in words, or the other parameters' bounds naming it
    import re
    why = [f"{other.name} {other.bound}" for other in unit.params if other is not param
           and other.bound and re.search(rf"\b{param.name}\b", other.bound)]
    reason = ("" if param.bound else f" (bound by {'; '.join(why)})" if why else
              " (bound by the other parameters)")      # (a bound of its own: in its doc)
    return f"{reason} [{lo}..{hi} at the other defaults]"


def cmd_generate(args):
    from .verilog import to_verilog
    unit, params = _unit_and_params(args)
    text = to_verilog(unit.build(params), unit.name)
    if args.output == "-":
        sys.stdout.write(text)
        return
    out = Path(args.output) if args.output else args.build / "verilog" / f"{unit.name}.v"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as error:   # a folder in the way, a file where a folder should be, ...
        raise LowbitError(f"cannot write {out}: {error.strerror or error}") from None
    print(f"wrote {out} ({unit.name}, {', '.join(f'{k}={v}' for k, v in params.items())})")


def cmd_sim(args):
    from lowbit.sim_tests.runner import SIMULATORS, simulate
    unit, params = _unit_and_params(args)
    simulators = SIMULATORS if args.simulator == "both" else (args.simulator,)
    failed = False
    for simulator in simulators:
        result = simulate(unit, params, simulator, build_root=args.build / "sim",
                          waves=args.waves, seed=args.seed)
        from .flow import sim_counts
        counts = sim_counts(result)
        verdict = "PASS" if result.ok and counts["passed"] else "FAIL"
        print(f"{verdict} {unit.name} on {simulator}: {counts['passed']} passed, "
              f"{counts['skipped']} skipped, {counts['failed']} failed; {result.vectors} vectors "
              f"checked against the golden model ({result.seconds:.1f} s; log {result.log})")
        if result.waves:
            print(f"waves: {result.waves}")
        if not result.ok:
            from .core.logs import explain
            print("  " + explain(f"{unit.name} on {simulator}", result.log))
        failed |= not result.ok
    return 1 if failed else 0


def cmd_synth(args):
    from .synth import format_table, synthesize
    unit, params = _unit_and_params(args)
    if args.breakdown:
        from .synth.breakdown import BREAKDOWN_TARGETS
        bad = [t for t in args.target if t not in BREAKDOWN_TARGETS]
        if bad:
            raise LowbitError(f"--breakdown is not available for target {bad[0]}; allowed: "
                              f"{', '.join(BREAKDOWN_TARGETS)}")
    results = []
    for target in args.target:
        results.append(synthesize(lambda: unit.build(params), unit=unit.name, params=params,
                                  target=target, device=args.device,
                                  build_dir=args.build / "synth", pnr=not args.no_pnr))
    print(format_table(results))
    if args.breakdown:   # the area per submodule, hierarchy kept (lowbit.synth.breakdown)
        from .synth.breakdown import breakdown, format_breakdown
        for flat in results:
            parts = breakdown(lambda: unit.build(params), unit=unit.name, params=params,
                              target=flat.target, device=args.device,
                              build_dir=args.build / "synth", options=flat.options)
            print()
            print(format_breakdown(parts, flat))
    out = args.json or args.build / "synth" / f"{unit.name}.json"
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    print(f"wrote {out}")


def cmd_board(args):
    from .synth.board import build_board, format_board
    from .units import UNITS
    result = build_board(UNITS[args.unit], _overrides(args.param), args.board,
                         build_root=args.build, baud=args.baud)
    print(format_board(result))
    print(f"wrote {Path(result['bitstream']).with_suffix('.board.json')}")
    return 0 if result["timing_met"] else 1


def cmd_power(args):
    from .power import power_command
    return power_command(args.unit, _overrides(args.param), data=args.data, clock_mhz=args.clock,
                         liberty=args.liberty, seed=args.seed, cycles=args.cycles,
                         build=args.build, out=args.json, breakdown=args.breakdown)


def cmd_flow(args):
    from .flow import run_flow
    return run_flow(targets=args.target, simulator=args.simulator, build=args.build,
                    jobs=args.jobs, units=args.unit)


def cmd_sweep(args):
    from .sweep import run_sweep
    rows = run_sweep(args.config, out=args.out, jobs=args.jobs, scheduler=args.scheduler)
    return 1 if any(row["error"] for row in rows) else 0


def cmd_report(args):
    from .report import write_report
    out = write_report(args.build, sweeps=args.sweep, accuracy=args.accuracy)
    print(f"wrote {out}")


def cmd_eval(args):
    from lowbit.golden_models.accuracy.evaluate import (DEFAULT_N_GRID, DEFAULT_RULE, EXTRAS, evaluate, row_keys,
                                                        write_report)
    from lowbit.golden_models.accuracy.sentences import SMALL_SET, STUDY_SET, load_sentences
    extras = [name for name in EXTRAS if getattr(args, name)]
    try:
        sentences = load_sentences(SMALL_SET if args.small_set else STUDY_SET)
        report = evaluate(args.rows or row_keys(extras), sentences=sentences, damp=args.damp, n_grid=args.n_grid,
                          a8=args.a8, progress=True, exaq_rule=args.exaq_rule)
    except ModuleNotFoundError as error:  # the model package, with its install command
        raise LowbitError(str(error)) from None
    command = " ".join(["lowbit"] + (["--build", str(args.build)] if args.build != DEFAULT_BUILD else [])
                       + ["eval", f"--damp {args.damp:g}"] + [f"--{n.replace('_', '-')}" for n in extras]
                       + ([f"--a8 {args.a8}"] if args.a8 != "sym" else [])
                       + ([f"--exaq-rule {args.exaq_rule}"] if args.exaq_rule != DEFAULT_RULE else [])
                       + (["--small-set"] if args.small_set else [])
                       + ([f"--n-grid {args.n_grid}"] if args.n_grid != DEFAULT_N_GRID else [])
                       + ([f"--rows {' '.join(args.rows)}"] if args.rows else [])
                       + ([f"--out {args.out}"] if args.out else []))
    md, js = write_report(report, args.out or args.build, command)
    print(md.read_text(), end="")
    print(f"wrote {md} and {js} ({report['wall_seconds']:.0f} s)")


def cmd_experiment(args):
    from .experiments import cmd_experiment as run
    return run(args)


def cmd_mutate(args):
    from lowbit.sim_tests.mutation import run_command
    return run_command(args)


def cmd_prove(args):
    from .prove import run_command
    return run_command(args)


def cmd_waves(args):
    from .waves import run_command
    return run_command(args)


def cmd_block(args):
    from .block import run_command
    return run_command(args)


def cmd_asic(args):
    from .asic import run_command
    return run_command(args)


def build_parser():
    from .synth import TARGETS
    parser = _Parser(prog="lowbit", description=__doc__)
    parser.add_argument("--build", type=Path, default=DEFAULT_BUILD,
                        help="folder for generated files (default: build)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def unit_command(name, help_text):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("unit", help="unit name (see `lowbit units`)")
        p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                       help="set a parameter (repeatable)")
        return p

    sub.add_parser("units", help="list the units, their parameters and baselines")

    p = unit_command("generate", "write a unit's Verilog")
    p.add_argument("-o", "--output", help="output file (default build/verilog/UNIT.v; - for stdout)")

    p = unit_command("sim", "run a unit's cocotb testbench against its golden model")
    p.add_argument("--simulator", choices=("icarus", "verilator", "both"), default="icarus",
                   help="simulator of the generated Verilog (both: one after the other)")
    p.add_argument("--waves", action="store_true", help="dump a waveform and print its path")
    p.add_argument("--seed", type=SEED, default=1, help="random seed of the testbench")

    p = unit_command("synth", "synthesize a unit (area; Fmax by place-and-route)")
    p.add_argument("--target", choices=TARGETS, action="append", required=True,
                   help="synthesis target (repeatable)")
    p.add_argument("--device", help="ice40: up5k (default); ecp5: 25k (default) or 85k")
    p.add_argument("--no-pnr", action="store_true", help="area only, no place-and-route")
    p.add_argument("--json", type=Path, help="JSON output (default build/synth/UNIT.json)")
    p.add_argument("--breakdown", action="store_true",
                   help="also the area per submodule, hierarchy kept (ice40, ecp5, generic)")

    from .synth.board import BOARDS, DEFAULT_BAUD
    p = unit_command("board", "bitstream of a unit behind a UART host bridge for a real board "
                              "(utilisation, Fmax; see docs/boards.md)")
    p.add_argument("--board", choices=list(BOARDS), required=True,
                   help="icebreaker (iCE40 UP5K, 12 MHz), ulx3s (ECP5 LFE5U-25F, 25 MHz), "
                        "ulx3s-85f (the LFE5U-85F version)")
    p.add_argument("--baud", type=bounded(int, 1), default=DEFAULT_BAUD,
                   help=f"UART baud rate (default {DEFAULT_BAUD})")

    from .synth.power import DEFAULT_CLOCK_MHZ, DEFAULT_CYCLES
    p = unit_command("power", "energy per operation of a unit and its baseline: gate-level "
                              "simulation of the standard-cell netlist (docs/power.md)")
    p.add_argument("--data", choices=("minilm", "random"), default="minilm",
                   help="operands: MiniLM weights and activations (default) or random")
    p.add_argument("--clock", type=bounded(float, above=0), default=DEFAULT_CLOCK_MHZ, metavar="MHZ",
                   help=f"clock frequency for both (default {DEFAULT_CLOCK_MHZ:g} MHz)")
    p.add_argument("--liberty", type=Path, metavar="FILE",
                   help="Liberty library, .lib or .lib.gz (default: see docs/synthesis.md)")
    p.add_argument("--seed", type=SEED, default=1, help="operand selection seed (default 1)")
    p.add_argument("--cycles", type=COUNT, default=DEFAULT_CYCLES,
                   help=f"simulated cycles per unit (default {DEFAULT_CYCLES})")
    p.add_argument("--json", type=Path, help="JSON output (default build/power/UNIT-DATA.json)")
    p.add_argument("--breakdown", action="store_true",
                   help="MAC units: also the accumulator alone, so the multiplier's share shows")

    p = sub.add_parser("flow", help="the main job: every unit at its defaults beside its "
                                    "baseline: generate, simulate, synthesize, report")
    p.add_argument("--target", choices=TARGETS, action="append",
                   help="synthesis target, repeatable (default: ice40, ecp5, generic)")
    p.add_argument("--simulator", choices=("icarus", "verilator"), default="icarus",
                   help="simulator of every unit's testbench")
    p.add_argument("--jobs", type=COUNT, default=2,
                   help="parallel simulation and synthesis jobs (default 2)")
    p.add_argument("--unit", action="append", metavar="NAME",
                   help="only this unit and its baseline (repeatable; default: every unit)")

    p = sub.add_parser("sweep", help="synthesize a grid of units x parameters x targets "
                                     "(cached, parallel) into one table")
    p.add_argument("config", type=Path, help="sweep file (TOML); see sweeps/*.toml")
    p.add_argument("--out", type=Path, help="output folder (default build/sweep/NAME)")
    p.add_argument("--jobs", type=COUNT, default=2, help="parallel jobs (default 2)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on the Dask distributed scheduler at ADDRESS "
                        "(tcp://HOST:PORT) instead of a local pool of --jobs processes")

    p = sub.add_parser("report", help="figures of the sweeps (and accuracy vs area) and the "
                                      "main job's tables into BUILD/report.md")
    p.add_argument("--sweep", type=Path, action="append", metavar="DIR",
                   help="a sweep output folder (repeatable; default: every BUILD/sweep/*)")
    p.add_argument("--accuracy", type=Path, metavar="FILE",
                   help="accuracy table of `lowbit eval` (default: BUILD/accuracy.json if any)")

    from .asic import add_arguments as asic_arguments
    asic_arguments(sub.add_parser("asic", help="every unit at its defaults beside its baseline "
                                               "on the standard-cell target: area, Fmax, ratios "
                                               "(docs/synthesis.md)"))

    from lowbit.sim_tests.mutation import add_arguments as mutation_arguments
    p = sub.add_parser("mutate", help="mutation check: single faults in the hardware sources, "
                                      "each run against its unit's checks (docs/verification.md)")
    mutation_arguments(p)

    from . import prove, waves
    p = sub.add_parser("prove", help="SymbiYosys proofs: each unit's arithmetic equals docs/spec.md, "
                                     "its streams keep the stream rules (docs/formal.md)")
    prove.add_arguments(p)
    p = sub.add_parser("waves", help="one transaction of a unit, checked against the golden "
                                     "model, drawn as an SVG waveform")
    waves.add_arguments(p)

    from lowbit.golden_models.accuracy.evaluate import DEFAULT_DAMP, DEFAULT_N_GRID, DEFAULT_RULE, ROWS
    from lowbit.golden_models.accuracy.exaq import RULES as EXAQ_RULES
    p = sub.add_parser("eval", help="accuracy of the formats on the real MiniLM model "
                                    "(writes accuracy.md and accuracy.json)")
    p.add_argument("--out", type=Path, help="output folder (default: the --build folder)")
    p.add_argument("--damp", type=bounded(float, 0), default=DEFAULT_DAMP,
                   help=f"GPTQ/Athena damping (default {DEFAULT_DAMP:g}, see docs/ptq.md)")
    p.add_argument("--athena", action="store_true", help="add Athena (column grouping) rows (slow)")
    p.add_argument("--dint-variants", action="store_true",
                   help="add the other dINT4 codebooks (pm_half; f=2), RTN and GPTQ (slow)")
    p.add_argument("--exaq-fixed", action="store_true",
                   help="add rows through the bit-exact fixed-point EXAQ unit")
    p.add_argument("--aqas", action="store_true",
                   help="add W4A8 rows with AQAS scales (activation-aware, dINT paper), RTN and GPTQ (slow)")
    p.add_argument("--slac", action="store_true",
                   help="add W4A8 GPTQ rows calibrated on packed 32/128-token groups, against the default "
                        "calibration at the target length (SLAC; slow)")
    p.add_argument("--dc", action="store_true",
                   help="add W2A8, W2*A8 and W4A4 rows with ABQ-LLM's block-wise distribution correction (slow)")
    p.add_argument("--exaq-rule", choices=EXAQ_RULES, default=DEFAULT_RULE,
                   help=f"clip rule of the EXAQ rows (default {DEFAULT_RULE}; see docs/exaq_softmax.md)")
    p.add_argument("--small-set", action="store_true",
                   help="the small sentence set (40 calibration sentences, 30 pairs) instead of the study set")
    p.add_argument("--a8", choices=("sym", "asym"), default="sym",
                   help="INT8 activations of the W4A8 rows: per-token symmetric (default) or asymmetric")
    p.add_argument("--n-grid", type=COUNT, default=DEFAULT_N_GRID,
                   help=f"clipping ratios of the weight scale searches (default {DEFAULT_N_GRID})")
    p.add_argument("--rows", nargs="+", choices=list(ROWS), metavar="ROW",
                   help=f"only these rows: {', '.join(ROWS)}")

    from .block import add_arguments as block_arguments
    block_arguments(sub.add_parser("block", help="one configuration of the attention block on a "
                                                 "real MiniLM sentence: simulated, bit-exact "
                                                 "against the integer model, cycles and accuracy"))

    from .experiments import add_parser as experiment_parser
    experiment_parser(sub, _Parser)
    _describe(parser)
    return parser


def _describe(parser):
    """Give every subcommand without a description its one-line help as the description, so
    that ``lowbit COMMAND --help`` says what the command does."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                if not child.description and helps.get(name):
                    child.description = helps[name][0].upper() + helps[name][1:] + "."
                _describe(child)


COMMANDS = {"power": cmd_power, "units": cmd_units, "generate": cmd_generate, "sim": cmd_sim, "synth": cmd_synth,
            "flow": cmd_flow, "sweep": cmd_sweep, "eval": cmd_eval, "board": cmd_board,
            "report": cmd_report, "mutate": cmd_mutate, "prove": cmd_prove,
            "waves": cmd_waves, "experiment": cmd_experiment, "block": cmd_block,
            "asic": cmd_asic}


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        status = COMMANDS[args.command](args)
    except LowbitError as error:   # one line, even if a value quoted in it holds a newline
        message = "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1]
                          for c in str(error))
        print(f"lowbit: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
