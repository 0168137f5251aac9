"""Parameter lists of the simulation tests: which case runs on which simulator."""

import pytest

__all__ = ["BOTH", "ICARUS", "SLOW_VERILATOR", "sim_cases"]


def sim_cases(cases):
    """pytest parameters ``(unit, params, simulator)`` from ``[(unit, params, simulators)]``
    (a case may end with pytest marks, e.g. ``pytest.mark.slow`` for one too long for the
    default suite).

    Every case runs on Icarus; the cases that name Verilator too (each unit's defaults and
    most units' widest or most extreme configuration) also run there, so that both simulators
    see every unit while the suite stays short (a Verilator build costs 15-45 s of C++
    compilation; the longest builds of the wide cases, ``SLOW_VERILATOR``, run under
    ``-m slow``).
    """
    params = []
    for unit, unit_params, simulators, *marks in cases:
        label = "-".join(f"{k}={v}" for k, v in unit_params.items()) or "defaults"
        for simulator in simulators:
            params.append(pytest.param(unit, unit_params, simulator, marks=marks,
                                       id=f"{unit}-{label}-{simulator}"))
    return params


BOTH = ("icarus", "verilator")
ICARUS = ("icarus",)
# A wide case's Verilator build (30-35 s of C++) under -m slow, its Icarus run in the default
# suite: every unit's defaults still run on both simulators there.
SLOW_VERILATOR = (("verilator",), pytest.mark.slow)
