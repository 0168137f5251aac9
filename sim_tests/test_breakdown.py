"""The per-submodule area breakdown (lowbit.synth.breakdown, `lowbit synth U --breakdown`) on a
small unit: its rows follow the hierarchy, add up to its total, and that total is close to the
flattened area of the flow's own run."""

import pytest

from lowbit.cli import main
from lowbit.core.errors import LowbitError
from lowbit.synth import synthesize
from lowbit.synth.breakdown import breakdown, format_breakdown
from lowbit.units import UNITS

PARAMS = {"rows": 1, "cols": 2, "acc_bits": 24}


@pytest.mark.parametrize("target, key", [("ecp5", "luts"), ("generic", "gate_equivalents")])
def test_breakdown_of_a_small_array(target, key, tmp_path):
    unit = UNITS["int_array"]
    params = unit.resolve(PARAMS)
    parts = breakdown(lambda: unit.build(params), unit=unit.name, params=params,
                      target=target, build_dir=tmp_path)
    paths = [row.path for row in parts.rows]
    # the top's own logic, the two MAC cells as one group, their accumulators as another
    assert paths == ["int_array", "int_array.mac_*_*", "int_array.mac_*_*.accumulator"]
    assert [row.instances for row in parts.rows] == [1, 2, 2]
    assert sum(row.own[key] for row in parts.rows) == pytest.approx(parts.total[key])
    assert parts.rows[0].inclusive[key] == pytest.approx(parts.total[key])
    for row in parts.rows:
        assert 0 <= row.own[key] <= row.inclusive[key]
    flat = synthesize(lambda: unit.build(params), unit=unit.name, params=params, target=target,
                      build_dir=tmp_path, pnr=False)
    flat_area = flat.luts if target == "ecp5" else flat.gate_equivalents
    # kept boundaries cost a little cross-boundary optimisation, no more
    assert 0.9 * flat_area <= parts.total[key] <= 1.2 * flat_area
    text = format_breakdown(parts, flat)
    assert "int_array.mac_*_*.accumulator" in text and "flattened" in text


def test_breakdown_refuses_a_target_without_modules(tmp_path, capsys):
    with pytest.raises(LowbitError, match="not available for target asic"):
        breakdown(lambda: None, unit="int_array", params={}, target="asic", build_dir=tmp_path)
    assert main(["--build", str(tmp_path), "synth", "int_array", "--target", "asic",
                 "--breakdown"]) == 2
    err = capsys.readouterr().err
    assert "--breakdown is not available for target asic" in err and len(err.splitlines()) == 1
