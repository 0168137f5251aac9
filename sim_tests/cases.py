"""Parameter lists of the simulation tests: which case runs on which simulator."""

import pytest

__all__ = ["BOTH", "ICARUS", "sim_cases"]


def sim_cases(cases):
    """pytest parameters ``(unit, params, simulator)`` from ``[(unit, params, simulators)]``
    (a case may end with pytest marks, e.g. ``pytest.mark.slow`` for one too long for the
    default suite).

    Every case runs on Icarus; the cases that name Verilator too (each unit's defaults and its
    widest or most extreme configuration) also run there, so that both simulators see every
    unit while the suite stays short (a Verilator build costs 15-45 s of C++ compilation).
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
