"""Mutation check: does the test suite notice a single fault in the hardware?

Each mutant is one textual edit of one hardware source file (a unit's own module or a shared
piece it uses): an operator flipped, a carry-in dropped, a shift or a width off by one, the
arms of a multiplexer swapped, a valid/ready condition inverted. For every mutant the
packages are copied to ``build/mutation/work/<id>/``, the edit is applied to the copy only,
and the unit's quick checks (its default Icarus simulation, plus a case for a mode the
default does not reach, and cheap non-simulation tests) run in a pytest subprocess with the
copy first on ``PYTHONPATH``; the source tree is never modified, so other runs can use it
meanwhile. A mutant is *killed* when a check fails. Before its mutants, each unit's checks
run once on an unmutated copy (the baseline), which must pass.

Run: ``python -m lowbit.sim_tests.mutation [--unit U ...] [--mutant ID ...]``; ``--list``
shows the mutants. Writes ``build/mutation/report.md`` and ``report.json`` (docs/verification.md).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from xml.etree import ElementTree

__all__ = ["Mutant", "MUTANTS", "CHECKS", "EQUIVALENT", "apply", "make_copy", "run_checks",
           "main"]

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "build" / "mutation"
# The packages of the project as installed (name -> its folder in the source tree).
PACKAGES = ("lowbit", "lowbit.hdl", "lowbit.golden_models", "lowbit.sim_tests", "lowbit.synth")
TIMEOUT = 900   # seconds per unit's checks; a hung simulation counts as a kill


@dataclass(frozen=True)
class Mutant:
    id: str
    unit: str       # whose checks run against it
    module: str     # the mutated module, e.g. "lowbit.hdl.accumulator"
    kind: str       # operator, carry, shift, width, mux, handshake, constant
    find: str       # text that occurs exactly once in the module's source
    replace: str
    what: str


def _m(id, unit, module, kind, find, replace, what):
    return Mutant(id, unit, f"lowbit.hdl.{module}", kind, find, replace, what)


MUTANTS = [
    # --- MACs and the shared accumulator (hdl/accumulator.py) ---
    _m("acc-carry-in", "dint_mac", "accumulator", "carry",
       "total.eq(base + addend + carry_in)", "total.eq(base + addend)",
       "drop the +1 carry-in that completes a negation"),
    _m("acc-valid", "dint_mac", "accumulator", "handshake",
       "addend = Mux(valid, product ^", "addend = Mux(~valid, product ^",
       "add the product when valid is low"),
    _m("acc-clear-arms", "int_mac", "accumulator", "mux",
       "base = Mux(clear, 0, self.acc)", "base = Mux(clear, self.acc, 0)",
       "swap the arms of the clear multiplexer"),
    _m("acc-overflow-test", "int_mac", "accumulator", "operator",
       "overflowed = total[-1] != total[-2]", "overflowed = total[-1] == total[-2]",
       "overflow detected when the top bits agree"),
    _m("acc-sum-width", "int_mac", "accumulator", "width",
       "total = Signal(signed(self.acc_bits + 1))", "total = Signal(signed(self.acc_bits))",
       "the pre-overflow sum one bit narrower"),
    _m("acc-saturate-arms", "pot_mac", "accumulator", "mux",
       "self.acc.eq(Mux(total[-1], lo, hi))", "self.acc.eq(Mux(total[-1], hi, lo))",
       "saturate to the wrong end"),
    _m("dint-partial-shift", "dint_mac", "dint_mac", "shift",
       "Mux(magnitude[1], act << (f + 1), 0)", "Mux(magnitude[1], act << f, 0)",
       "second partial product shifted one place short"),
    _m("dint-special-arms", "dint_mac", "dint_mac", "mux",
       "Mux(is_special, act, 0)", "Mux(is_special, 0, act)",
       "swap the arms of the special-code multiplexer"),
    _m("dint-zero-sign", "dint_mac", "dint_mac", "operator",
       "(int(value < 0), abs(value), 0)", "(int(value <= 0), abs(value), 0)",
       "code 0 decoded as negative"),
    _m("int-product-width", "int_mac", "int_mac", "width",
       "w_hi * a_lo), w_lo * a_lo)", "w_hi * a_lo), w_lo * a_lo - 1)",
       "product width from a largest product one too small"),
    _m("pot-shift", "pot_mac", "pot_code", "shift",
       "shift.eq(~exponent)", "shift.eq(~exponent + 1)",
       "PoT shift amount off by one"),
    _m("potmac-zero-arms", "pot_mac", "pot_mac", "mux",
       "Mux(is_zero, 0, self.act << shift)", "Mux(is_zero, self.act << shift, 0)",
       "swap the arms of the zero-code multiplexer"),
    # --- Dot products, adder trees and the stalling pipeline ---
    _m("pot-sign-bit", "pot_dot", "pot_code", "operator",
       "negative.eq(code[-1])", "negative.eq(code[0])",
       "sign read from the wrong bit of the code"),
    _m("potdot-flip-guard", "pot_dot", "pot_dot", "operator",
       "flip = negative & ~is_zero", "flip = negative",
       "negate zero-code lanes too"),
    _m("potdot-plus-ones", "pot_dot", "pot_dot", "carry",
       "negated.append(flip)", "negated.append(flip & 0)",
       "drop the +1s of the lane negations"),
    _m("tree-odd-term", "pot_dot", "adder_tree", "carry",
       "if k + 1 < len(level) else level[k]", "if k + 1 < len(level) else 0 * level[k]",
       "drop the odd term of a tree level"),
    _m("tree-subtract", "int_dot", "adder_tree", "operator",
       "[[level[k] + level[k + 1]", "[[level[k] - level[k + 1]",
       "subtract instead of add in the adder tree"),
    _m("dot-lane-slice", "int_dot", "dot_product", "width",
       "registered[k * self.lanes:(k + 1) * self.lanes]",
       "registered[k * self.lanes + 1:(k + 1) * self.lanes]",
       "lose lane 0 after the first register"),
    _m("pipe-enable-valid", "int_dot", "stream_pipeline", "handshake",
       "self.enable.eq(~o.valid | o.ready)", "self.enable.eq(o.valid | o.ready)",
       "pipeline moves while its output waits (valid condition inverted)"),
    # --- Dequantizers and the FP16 pieces ---
    _m("pot-zero-index", "pot_dequant", "pot_code", "constant",
       "exponent == self.largest_exponent if", "exponent == self.largest_exponent - 1 if",
       "zero code one exponent index too low"),
    _m("rne-ties", "pot_dequant", "fp16", "operator",
       "round_up = guard & (sticky | kept[0])", "round_up = guard & (sticky & kept[0])",
       "round to nearest even: or flipped to and"),
    _m("potdq-normal-bound", "pot_dequant", "pot_dequant", "constant",
       "stays_normal = s.hidden & (reduced >= 1)", "stays_normal = s.hidden & (reduced >= 0)",
       "exponent 0 taken as normal"),
    _m("potdq-subnormal-shift", "pot_dequant", "pot_dequant", "shift",
       "shift.eq(e - (s.exponent - 1))", "shift.eq(e - s.exponent)",
       "subnormal shift off by one"),
    _m("potdq-zero-sign", "pot_dequant", "pot_dequant", "operator",
       "zero = Cat(C(0, 15), s.sign)", "zero = Cat(C(0, 15), sign)",
       "zero code: the code's sign applied to the zero"),
    _m("pipe-enable-and", "int4_dequant", "stream_pipeline", "operator",
       "self.enable.eq(~o.valid | o.ready)", "self.enable.eq(~o.valid & o.ready)",
       "pipeline enable: or flipped to and"),
    _m("rne-sticky", "int4_dequant", "fp16", "width",
       "sticky = below_guard != 0", "sticky = below_guard[2:] != 0",
       "sticky bit misses the lowest bit"),
    _m("int4-magnitude-arms", "int4_dequant", "int4_dequant", "mux",
       "Mux(negative, -code.as_signed(), code)", "Mux(negative, code, -code.as_signed())",
       "swap the arms of the magnitude multiplexer"),
    _m("int4-norm-shift", "int4_dequant", "int4_dequant", "shift",
       "leading - MANT_BITS, 0)", "leading - MANT_BITS, 1)",
       "normalisation shift 1 instead of 0 for short products"),
    _m("int4-inf-times-zero", "int4_dequant", "int4_dequant", "constant",
       "Mux(magnitude == 0, DEFAULT_NAN", "Mux(magnitude == 1, DEFAULT_NAN",
       "NaN for inf x 1 (and inf for inf x 0)"),
    # --- Matrix units ---
    _m("btc-sign-pair", "btc_array", "btc_array", "operator",
       "& beat.w_signed) ^", "& beat.w_signed) |",
       "a plane pair negative when either plane is a sign plane"),
    _m("btc-horner-shift", "btc_array", "btc_array", "shift",
       "Mux(flags.j_first, 0, acc << 1)", "Mux(flags.j_first, 0, acc << 2)",
       "activation plane weight doubled once too often"),
    _m("btc-ready-enable", "btc_array", "btc_array", "handshake",
       "self.i.ready.eq(enable & last_pass)", "self.i.ready.eq(last_pass)",
       "take a beat while the output is stalled"),
    _m("btc-job-start-arms", "btc_array", "btc_array", "mux",
       "Mux(after_slice.first_slice, 0, acc)", "Mux(after_slice.first_slice, acc, 0)",
       "swap the arms of the job-start multiplexer"),
    _m("btc-count-width", "btc_array", "btc_array", "width",
       "count_bits = self.k_slice.bit_length()", "count_bits = self.k_slice.bit_length() - 1",
       "popcount register one bit narrower"),
    _m("intarr-clear", "int_array", "int_array", "handshake",
       "mac.clear.eq(taken & job_start)", "mac.clear.eq(job_start)",
       "clear the accumulators without a beat"),
    _m("intarr-ready", "int_array", "int_array", "handshake",
       "self.i.ready.eq(~pending)", "self.i.ready.eq(1)",
       "take beats while a result waits"),
    _m("intarr-done-delay", "int_array", "int_array", "constant",
       "for stage in range(self.latency - 1):", "for stage in range(self.latency):",
       "result valid one cycle late"),
    _m("intarr-taken", "int_array", "int_array", "handshake",
       "with m.If(self.o.valid & self.o.ready):", "with m.If(self.o.ready):",
       "result retired without a handshake"),
    # --- Softmax units and their shared row machinery ---
    _m("exaq-threshold", "exaq_softmax", "exaq_softmax", "operator",
       "thermometer_to_binary(scaled >= t for t", "thermometer_to_binary(scaled > t for t",
       "a distance exactly on a code boundary rounds down"),
    _m("exaq-count-arms", "exaq_softmax", "exaq_softmax", "mux",
       "n.eq(Mux(self.first, 0, n)", "n.eq(Mux(self.first, n, 0)",
       "swap the arms of the counter restart multiplexer"),
    _m("exaq-lane-valid", "exaq_softmax", "exaq_softmax", "handshake",
       "hits = [self.valid[lane] & (codes[lane] == k)", "hits = [(codes[lane] == k)",
       "count lanes past the end of the row"),
    _m("recip-bit", "exaq_softmax", "softmax_row", "operator",
       "bit = difference >= 0", "bit = difference > 0",
       "reciprocal quotient bit on a strict comparison"),
    _m("row-in-flight", "exaq_softmax", "softmax_row", "handshake",
       "(c_out & ~c_issuing & ~in_flight)", "(c_out & ~c_issuing)",
       "stage C takes the next row while beats still read its state"),
    _m("max-fold", "softmax_fixed", "softmax_row", "operator",
       "(held > running), held, running)", "(held < running), held, running)",
       "running minimum instead of maximum"),
    _m("norm-rounding", "softmax_fixed", "softmax_row", "carry",
       " + low_product + (1 << (self.shift - 1))", " + low_product",
       "drop the rounding constant of the normaliser"),
    _m("row-take-c", "softmax_fixed", "softmax_row", "handshake",
       "reciprocal.done & c_free)", "reciprocal.done)",
       "stage B hands a row to a busy stage C"),
    _m("lane-count", "softmax_fixed", "softmax_row", "constant",
       "else count > lane", "else count >= lane",
       "one lane past count taken as valid"),
    _m("exp-table-rounding", "softmax_fixed", "softmax_fixed", "constant",
       "np.exp(-j / 2.0 ** exp_index_frac) + 0.5)", "np.exp(-j / 2.0 ** exp_index_frac))",
       "exponential table truncated instead of rounded"),
    _m("expsum-first-arms", "softmax_fixed", "softmax_fixed", "mux",
       "Mux(beat_first, 0, total) + beat_sum", "Mux(beat_first, total, 0) + beat_sum",
       "swap the arms of the sum restart multiplexer"),
]

# The checks of each unit, cheapest first (pytest node ids under sim_tests/). Each unit's
# default Icarus case; for the MACs a saturating case and for pot_dot a 5-lane case too,
# which reach the modes (saturation, odd adder-tree levels) that the defaults do not.
_MAC, _POT = "test_mac_sim.py::test_mac", "test_pot_sim.py"
_SOFTMAX = "test_softmax_sim.py"
CHECKS = {
    "dint_mac": [f"{_MAC}[dint_mac-defaults-icarus]",
                 f"{_MAC}[dint_mac-special=pm_half-frac_bits=2-acc_bits=14-overflow=saturate-"
                 "pipeline=0-icarus]"],
    "int_mac": [f"{_MAC}[int_mac-defaults-icarus]",
                f"{_MAC}[int_mac-acc_bits=17-overflow=saturate-pipeline=0-icarus]"],
    "pot_mac": [f"{_POT}::test_pot_mac[pot_mac-defaults-icarus]",
                f"{_POT}::test_pot_mac[pot_mac-bits=3-zero_code=False-acc_bits=14-"
                "overflow=saturate-pipeline=0-icarus]"],
    "pot_dot": [f"{_POT}::test_dot[pot_dot-defaults-icarus]",
                f"{_POT}::test_dot[pot_dot-lanes=5-bits=3-zero_code=False-icarus]"],
    "int_dot": [f"{_POT}::test_dot[int_dot-defaults-icarus]"],
    "pot_dequant": [f"{_POT}::test_dequant[pot_dequant-defaults-icarus]"],
    "int4_dequant": [f"{_POT}::test_dequant[int4_dequant-defaults-icarus]"],
    "btc_array": ["test_matrix_sim.py::test_matrix[btc_array-defaults-icarus]"],
    "int_array": ["test_matrix_sim.py::test_matrix[int_array-defaults-icarus]"],
    "exaq_softmax": [f"{_SOFTMAX}::test_cycle_formulas",
                     f"{_SOFTMAX}::test_softmax[exaq_softmax-defaults-icarus]",
                     f"{_SOFTMAX}::test_softmax[exaq_softmax-bits=2-epc=4-top=zero-max_len=61-"
                     "icarus]"],
    "softmax_fixed": [f"{_SOFTMAX}::test_rom_is_the_golden_table",
                      f"{_SOFTMAX}::test_cycle_formulas",
                      f"{_SOFTMAX}::test_softmax[softmax_fixed-defaults-icarus]",
                      f"{_SOFTMAX}::test_softmax[softmax_fixed-in_bits=16-in_frac=15-lut_frac=16-"
                      "out_frac=16-max_len=37-epc=8-exp_index_frac=0-icarus]"],
}

# Mutants that survive because they do not change what the circuit computes, and why.
EQUIVALENT = {
    "dint-zero-sign": "code 0 has magnitude 0; decoded as negative, the accumulator adds "
                      "~0 + 1 = 0 in its place (minus zero is zero), so every sum is the same",
    "potdot-flip-guard": "a zero-code lane's magnitude is 0; flipped it is ~0 = -1, and its +1 "
                         "in the count tree restores 0, so every sum is the same: the "
                         "`& ~is_zero` guard in hdl/pot_dot.py is redundant logic",
}


def source_dirs():
    """Each package's folder in the source tree (they are not nested there)."""
    return {name: Path(import_module(name).__file__).parent for name in PACKAGES}


def module_path(root, module):
    """The file of ``module`` inside a package copy rooted at ``root``."""
    return Path(root).joinpath(*module.split(".")).with_suffix(".py")


def source_path(module):
    """The file of ``module`` in the source tree (as installed)."""
    return Path(find_spec(module).origin)


def apply(mutant, text):
    """``text`` (the module's source) with the mutant's edit; the edit must match once."""
    count = text.count(mutant.find)
    if count != 1:
        raise ValueError(f"mutant {mutant.id}: {mutant.find!r} occurs {count} times in "
                         f"{mutant.module}, not once (did the source change?)")
    return text.replace(mutant.find, mutant.replace)


def make_copy(dest, mutant=None):
    """Copy the packages to ``dest`` (``dest/lowbit/...``), with ``mutant`` applied."""
    dest = Path(dest).resolve()
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name, folder in source_dirs().items():
        target = dest.joinpath(*name.split("."))
        shutil.copytree(folder, target, ignore=ignore, dirs_exist_ok=True)
    (dest / "pytest.ini").write_text("[pytest]\naddopts = --import-mode=importlib "
                                     "-p no:cacheprovider\nmarkers =\n    slow: long runs\n")
    if mutant is not None:
        path = module_path(dest, mutant.module)
        path.write_text(apply(mutant, path.read_text()))
    return dest


def run_checks(copy, checks, log, timeout=TIMEOUT):
    """Run ``checks`` (node ids under sim_tests/) against the package copy, stopping at the
    first failure. Returns ``(status, first failing check or None, seconds)``; status is
    ``passed``, ``failed``, ``timeout`` or ``error`` (pytest could not run the checks)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COCOTB_", "LOWBIT_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [env.get("PYTHONPATH")])])
    tests = copy / "lowbit" / "sim_tests"
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-c", str(copy / "pytest.ini"),
               "--rootdir", str(copy), *(f"{tests}/{check}" for check in checks)]
    started = time.monotonic()
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=copy, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)   # the simulator it started, too
            process.wait()
            return "timeout", None, time.monotonic() - started
    seconds = time.monotonic() - started
    if code == 0:
        return "passed", None, seconds
    failing = [line.split(" ", 2)[1] for line in Path(log).read_text().splitlines()
               if line.startswith("FAILED ")]
    if code == 1 and failing:
        failed = failing[0].split("::", 1)[-1].split(" ")[0]
        inside = cocotb_failures(copy)
        return "failed", failed + (f" ({', '.join(inside)})" if inside else ""), seconds
    return "error", None, seconds


def cocotb_failures(copy):
    """The cocotb tests that failed in the simulations run in ``copy`` (their results.xml)."""
    failed = set()
    for results in copy.rglob("results.xml"):
        try:
            cases = ElementTree.parse(results).getroot().iter("testcase")
        except ElementTree.ParseError:
            continue
        failed |= {case.get("name") for case in cases if case.find("failure") is not None}
    return sorted(failed)


def _check_precedence(copy):
    """The copy, not the installed source tree, must be what a check subprocess imports
    (run from the copy, as the checks are: from the repository root, its ``lowbit`` folder
    would come first)."""
    env = dict(os.environ, PYTHONPATH=str(copy))
    found = subprocess.run([sys.executable, "-c", "import lowbit.hdl; print(lowbit.hdl.__file__)"],
                           cwd=copy, env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(f"mutation: a subprocess imports lowbit.hdl from {found}, not from the "
                         f"copy {copy}: the copies would not be tested")


def run(units, mutant_ids=None, *, baseline=True, keep=False, out=OUT, say=print):
    """Run the mutants of ``units`` (all their mutants, or those in ``mutant_ids``); returns
    the result records (one per mutant, plus the baselines)."""
    chosen = [m for m in MUTANTS if m.unit in units and (not mutant_ids or m.id in mutant_ids)]
    for mutant in chosen:   # every edit must still apply before anything runs
        apply(mutant, source_path(mutant.module).read_text())
    work, logs = out / "work", out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _check_precedence(make_copy(work / "precedence"))
    shutil.rmtree(work / "precedence")
    records = []
    for unit in units:
        mutants = [m for m in chosen if m.unit == unit]
        if not mutants:
            continue
        if baseline:
            copy = make_copy(work / f"baseline-{unit}")
            status, failing, seconds = run_checks(copy, CHECKS[unit], logs / f"baseline-{unit}.log")
            records.append(dict(id=f"baseline-{unit}", unit=unit, status=status,
                                failing=failing, seconds=round(seconds, 1)))
            say(f"{unit}: baseline {status} ({seconds:.0f} s)")
            if not keep:
                shutil.rmtree(copy)
            if status != "passed":
                say(f"{unit}: the unmutated checks do not pass; its mutants are skipped "
                    f"(see {logs / f'baseline-{unit}.log'})")
                continue
        for mutant in mutants:
            copy = make_copy(work / mutant.id, mutant)
            status, failing, seconds = run_checks(copy, CHECKS[unit], logs / f"{mutant.id}.log")
            outcome = {"failed": "killed", "timeout": "killed", "passed": "survived"}.get(
                status, "error")
            records.append(dict(asdict(mutant), status=outcome, checks=status, failing=failing,
                                seconds=round(seconds, 1), equivalent=EQUIVALENT.get(mutant.id)))
            say(f"{unit}: {mutant.id} {outcome} ({seconds:.0f} s{', by ' + failing if failing else ''})")
            if not keep:
                shutil.rmtree(copy)
    return records


def report(records, out=OUT):
    """Write ``report.json`` and ``report.md``; returns the markdown."""
    mutants = [r for r in records if "module" in r]
    killed = sum(r["status"] == "killed" for r in mutants)
    equivalent = sum(r["status"] == "survived" and bool(r.get("equivalent")) for r in mutants)
    lines = [f"Mutants killed: **{killed} / {len(mutants)}** "
             f"({100 * killed / max(1, len(mutants)):.0f} %)"
             + (f"; {equivalent} surviving mutants are equivalent, so {killed} / "
                f"{len(mutants) - equivalent} of the non-equivalent ones are killed"
                if equivalent else ""), "",
             "| unit | mutant | file | kind | fault | result | killed by | s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in mutants:
        result = r["status"] + (" (equivalent)" if r.get("equivalent") else "")
        module = r["module"].split(".")[-1]
        lines.append(f"| {r['unit']} | {r['id']} | hdl/{module}.py | {r['kind']} | {r['what']} "
                     f"| {result} | {r['failing'] or ''} | {r['seconds']:.0f} |")
    baselines = [r for r in records if r["id"].startswith("baseline-")]
    if baselines:
        lines += ["", "Baselines (unmutated checks): " + ", ".join(
            f"{r['unit']} {r['status']} ({r['seconds']:.0f} s)" for r in baselines)]
    survivors = [r for r in mutants if r["status"] == "survived"]
    for r in survivors:
        note = r.get("equivalent") or "not known to be equivalent: a test gap"
        lines.append(f"- survived `{r['id']}`: {note}")
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / "report.md").write_text(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lowbit.sim_tests.mutation",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit", action="append", choices=list(CHECKS),
                        help="only this unit's mutants (repeatable)")
    parser.add_argument("--mutant", action="append", help="only this mutant (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run of each unit's checks")
    parser.add_argument("--keep", action="store_true", help="keep the package copies")
    parser.add_argument("--out", type=Path, default=OUT,
                        help=f"folder of the report, logs and copies (default {OUT})")
    args = parser.parse_args(argv)
    units = args.unit or list(CHECKS)
    if args.list:
        for m in MUTANTS:
            if m.unit in units:
                print(f"{m.id:24} {m.unit:14} {m.module:30} {m.kind:10} {m.what}")
        return 0
    started = time.monotonic()
    records = run(units, set(args.mutant or ()), baseline=not args.no_baseline, keep=args.keep,
                  out=args.out)
    print(report(records, args.out))
    print(f"{time.monotonic() - started:.0f} s; report in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
