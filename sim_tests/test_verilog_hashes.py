"""The generated Verilog of every unit at its defaults and extremes, against recorded hashes.

``sim_tests/data/verilog_hashes.json`` holds, for each (unit, parameter set) of
:mod:`~lowbit.sim_tests.extremes` outside the slow corners, the parameters and the SHA-256 of
the Verilog that ``lowbit generate`` writes. A refactoring must leave every hash unchanged; a
deliberate change of a circuit re-records the changed units' entries with
``LOWBIT_RECORD_HASHES=unit[,unit...] python -m pytest sim_tests/test_verilog_hashes.py -n 0``
(``LOWBIT_RECORD_HASHES=1`` re-records every unit) and says why in its commit. A case of
:func:`~lowbit.sim_tests.extremes.extremes` with no recorded hash fails (a new unit records
its hashes the same way), so no unit's Verilog goes unguarded.
"""

import hashlib
import json
import os
from pathlib import Path

import pytest

from lowbit.sim_tests.extremes import extremes
from lowbit.units import UNITS
from lowbit.verilog import to_verilog

RECORD = Path(__file__).with_name("data") / "verilog_hashes.json"


def _digest(unit_name, params):
    unit = UNITS[unit_name]
    text = to_verilog(unit.build(unit.resolve(params)), unit_name)
    return hashlib.sha256(text.encode()).hexdigest()


def _recorded():
    return json.loads(RECORD.read_text())


def _record(units=None):
    """Re-record the entries of ``units`` (every unit if None); the others stay as recorded, so
    that a change to one unit cannot silently re-record another's."""
    table = {} if units is None else {k: v for k, v in _recorded().items() if v["unit"] not in units}
    table.update({e.id: {"unit": e.unit, "params": e.params, "sha256": _digest(e.unit, e.params)}
                  for e in extremes() if not e.slow and (units is None or e.unit in units)})
    RECORD.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


_RECORD_REQUEST = os.environ.get("LOWBIT_RECORD_HASHES", "")
if _RECORD_REQUEST == "1":
    _record()
elif _RECORD_REQUEST:
    _unknown = set(_RECORD_REQUEST.split(",")) - set(UNITS.names())
    if _unknown:
        raise SystemExit(f"LOWBIT_RECORD_HASHES: unknown unit(s) {sorted(_unknown)}")
    _record(set(_RECORD_REQUEST.split(",")))


# Every case the hashes must cover: {case id: unit} of the extremes outside the slow corners.
_EXPECTED = {e.id: e.unit for e in extremes() if not e.slow}


@pytest.mark.parametrize("case", sorted(set(_recorded()) | set(_EXPECTED)))
def test_verilog_is_unchanged(case):
    entry = _recorded().get(case)
    if entry is None:
        unit = _EXPECTED[case]
        pytest.fail(f"{case}: no recorded hash of {unit}'s Verilog: record it with "
                    f"LOWBIT_RECORD_HASHES={unit} python -m pytest "
                    "sim_tests/test_verilog_hashes.py -n 0")
    assert _digest(entry["unit"], entry["params"]) == entry["sha256"], (
        f"{case}: the Verilog differs from the recorded hash")
