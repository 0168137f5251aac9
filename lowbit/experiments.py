"""``lowbit experiment NAME``: the MiniLM accuracy study's programs (the tables its docs quote).

Each program is a subcommand with its own ``--help``; progress goes to stderr; a bad value is
one error line and exit status 2, as everywhere in ``lowbit``.
"""

import importlib
import sys
import time

from .core.errors import LowbitError
from .core.options import bounded

__all__ = ["PROGRAMS", "add_parser", "cmd_experiment"]

_STUDY = "lowbit.golden_models.accuracy."

# name -> (module with add_arguments(parser) and run(args), one-line help)
PROGRAMS = {
    "exaq-clip": (_STUDY + "exaq", "EXAQ clip rules against the softmax-MSE grid optimum on seeded rows, and "
                                   "the units' errors (docs/exaq_softmax.md)"),
    "exaq-table": (__name__, "the reference's table of optimal C against sigma, reproduced by its objective "
                             "(docs/exaq_softmax.md)"),
    "exaq-rules": (__name__, "which EXAQ clip rule gives the better softmax and embeddings on MiniLM's real rows"),
    "exaq-minilm": (_STUDY + "exaq_minilm", "EXAQ and the baseline softmax on MiniLM's real attention rows"),
    "eval-search": (__name__, "lowbit eval's rows timed with the screened scale search and with every "
                              "candidate evaluated exactly; every number must be the same (docs/accuracy.md)"),
    "dint-mse": (_STUDY + "dint_mse", "weight MSE of INT4 and the dINT4 codebooks on seeded weights (docs/dint.md)"),
    "pot-mse": (_STUDY + "pot_mse", "weight MSE and layer error of PoT, APoT and INT4 (docs/pot.md)"),
    "ptq": (_STUDY + "ptq", "GPTQ / Athena against RTN on MiniLM layers or the whole model (docs/ptq.md)"),
    "minilm-reference": (_STUDY + "reference", "rewrite the stored MiniLM reference embeddings"),
    "block-accuracy": ("lowbit.golden_models.block.minilm", "the attention block's integer model on MiniLM "
                       "against FP32: layer output and embedding per configuration (docs/block_model.md)"),
}


def _exaq_table_arguments(parser):
    parser.add_argument("--length", type=bounded(int, 2, 1 << 20), default=None,
                        help="row length of the objective's model (default 256, the reference's table)")


def _exaq_table_run(args):
    from lowbit.core.params import check_int
    from lowbit.golden_models.accuracy.exaq import REFERENCE_TABLE_LENGTH, TABULATED_OPTIMA, reference_objective_clip
    from lowbit.golden_models.accuracy.progress import Steps

    length = REFERENCE_TABLE_LENGTH if args.length is None else check_int("--length", args.length, 2, 1 << 20)
    print(f"Optimal C by the reference's objective (MSE of e^d, analytic rounding term), rows of {length} "
          "Gaussian logits, against SPEC's rows of the reference's table\n")
    print("| sigma | bits | table C | objective C | difference |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    sigmas = (0.1, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
    steps = Steps(len(TABULATED_OPTIMA) + len(sigmas))
    for sigma, table in sorted(TABULATED_OPTIMA.items()):
        for bits in (2, 3, 4):
            c = reference_objective_clip(sigma, bits, length)
            print(f"| {sigma} | {bits} | {table[bits - 2]:.3f} | {c:.3f} | {100 * (c / table[bits - 2] - 1):+.1f} % |")
        steps.step(f"table row sigma {sigma}")
    print("\n| sigma | " + " | ".join(f"C {b} bits" for b in (2, 3, 4)) + " |")
    print("| ---: | ---: | ---: | ---: |")
    for sigma in sigmas:
        print(f"| {sigma} | " + " | ".join(f"{reference_objective_clip(sigma, b, length):.3f}" for b in (2, 3, 4)) + " |")
        steps.step(f"objective at sigma {sigma}")
    return 0


def _exaq_rules_arguments(parser):
    from lowbit.golden_models.accuracy.exaq_minilm import CLIP_RULES

    parser.add_argument("--rules", nargs="+", choices=CLIP_RULES, default=list(CLIP_RULES), help="rules to compare")
    parser.add_argument("--bits", type=int, nargs="+", choices=(2, 3, 4), default=[2, 3], help="EXAQ bit widths")
    parser.add_argument("--small-set", action="store_true", help="the small sentence set instead of the study set")


def _exaq_rules_run(args):
    from lowbit.golden_models.accuracy.exaq_minilm import compare_clip_rules, format_clip_rules
    from lowbit.golden_models.accuracy.progress import Steps
    from lowbit.golden_models.accuracy.sentences import SMALL_SET, STUDY_SET, load_sentences

    steps = Steps(len(args.rules) * len(args.bits))
    results = compare_clip_rules(tuple(args.rules), tuple(args.bits),
                                 sentences=load_sentences(SMALL_SET if args.small_set else STUDY_SET),
                                 progress=lambda what: steps.step(f"{what} done"))
    print(format_clip_rules(results))
    return 0


def _eval_search_arguments(parser):
    from lowbit.golden_models.accuracy.rows import ROWS

    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=None,
                        help="rows to evaluate (default: lowbit eval's default rows)")
    parser.add_argument("--small-set", action="store_true", help="the small sentence set instead of the study set")


_TIMINGS = ("seconds", "weight_build_seconds", "wall_seconds")


def _numbers(value, path=""):
    """``{path: number}`` of every number in an accuracy report but its timings."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() if key not in _TIMINGS
                for k, v in _numbers(item, f"{path}/{key}").items()}
    if isinstance(value, (list, tuple)):
        return {k: v for i, item in enumerate(value) for k, v in _numbers(item, f"{path}[{i}]").items()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {path: value}
    return {}


def _eval_search_run(args):
    """Each search in a fresh process (caches of one run would flatter the other), the
    `lowbit eval` command line as given; CPU time from the children's resource usage."""
    import json
    import resource
    import subprocess
    import tempfile
    from pathlib import Path

    options = (["--small-set"] if args.small_set else []) + (["--rows", *args.rows] if args.rows else [])
    runs, reports = [], {}
    with tempfile.TemporaryDirectory(prefix="lowbit-eval-search-") as scratch:
        for name in ("screened", "exact"):
            _say(f"lowbit eval with the {name} scale search, in its own process")
            out = Path(scratch) / name
            before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
            done = subprocess.run([sys.executable, "-c", _EVAL_CHILD, name, "eval", "--out", str(out), *options],
                                  stdout=subprocess.DEVNULL)   # its table is in the comparison; its bar stays
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode:
                raise LowbitError(f"eval-search: the {name} run failed (exit status {done.returncode})")
            runs.append((name, time.monotonic() - wall, after.ru_utime - before.ru_utime,
                         after.ru_stime - before.ru_stime))
            reports[name] = json.loads((out / "accuracy.json").read_text())
    screened, exact = _numbers(reports["screened"]["rows"]), _numbers(reports["exact"]["rows"])
    differ = sorted(k for k in screened.keys() | exact.keys() if screened.get(k) != exact.get(k))
    print("| scale search | wall | user CPU | system CPU |")
    print("| --- | ---: | ---: | ---: |")
    for name, wall, user, system in runs:
        print(f"| {name} | {wall:.0f} s | {user:.1f} s | {system:.1f} s |")
    print(f"\n{len(screened)} numbers in the screened run's rows, {len(differ)} different from the exact run's"
          + (f": {', '.join(differ[:5])}" if differ else " (bit-identical)"))
    return 1 if differ else 0


# The child of eval-search: `lowbit eval` with the search named by argv[1].
_EVAL_CHILD = """import contextlib, sys
from lowbit.cli import main
from lowbit.golden_models.dint import exact_scale_search
with exact_scale_search() if sys.argv[1] == "exact" else contextlib.nullcontext():
    sys.exit(main(sys.argv[2:]))
"""


_LOCAL = {"exaq-table": (_exaq_table_arguments, _exaq_table_run),
          "exaq-rules": (_exaq_rules_arguments, _exaq_rules_run),
          "eval-search": (_eval_search_arguments, _eval_search_run)}


def _say(text):
    print(f"lowbit experiment: {text}", file=sys.stderr, flush=True)


def _program(name):
    if name in _LOCAL:
        return _LOCAL[name]
    module = importlib.import_module(PROGRAMS[name][0])
    return module.add_arguments, module.run


def add_parser(sub, parser_class):
    """Add ``experiment`` and one sub-subcommand per program to the ``lowbit`` subparsers ``sub``."""
    p = sub.add_parser("experiment", help="the accuracy study's programs (EXAQ clips, dINT/PoT MSE, PTQ tables, "
                                          "the MiniLM reference)")
    programs = p.add_subparsers(dest="program", required=True, parser_class=parser_class, metavar="PROGRAM")
    for name, (_, help_text) in PROGRAMS.items():
        q = programs.add_parser(name, help=help_text, description=help_text)
        _program(name)[0](q)
    return p


def cmd_experiment(args):
    """Run the chosen program; its tables go to stdout, progress to stderr."""
    start = time.monotonic()
    _say(f"{args.program} started")
    try:
        status = _program(args.program)[1](args)
    except ModuleNotFoundError as error:   # the model package, with its install command
        raise LowbitError(str(error)) from None
    _say(f"{args.program} finished in {time.monotonic() - start:.0f} s")
    return status or 0
