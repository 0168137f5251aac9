"""Every registered unit, its parameters and its baseline.

Adding a unit: write ``hdl/<name>.py`` (the component), ``golden_models/<name>.py`` (its
model, from SPEC.md), a cocotb testbench in ``sim_tests/``, and one entry here.
"""

from .params import Param
from .registry import Registry, Unit

__all__ = ["UNITS"]

_OVERFLOW = Param("overflow", "wrap", "accumulator overflow: two's complement wrap or saturate",
                  choices=("wrap", "saturate"))
_PIPELINE = Param("pipeline", 1, "register stages between multiplier and accumulator "
                                 "(latency = pipeline + 1)", lo=0, hi=2)
_ACC_BITS = Param("acc_bits", 32, "signed accumulator width (at least the product width)",
                  lo=4, hi=64)
_ACT_BITS = Param("act_bits", 8, "signed activation width", lo=2, hi=16)


def _int8_mac_like(params):
    """The INT8 x INT8 MAC with the same accumulator, overflow mode and pipeline."""
    return dict(weight_bits=8, act_bits=params["act_bits"], acc_bits=params["acc_bits"],
                overflow=params["overflow"], pipeline=params["pipeline"])


UNITS = Registry([
    Unit(
        name="dint_mac",
        summary="dINT4 weight x INT8 activation MAC (integer codes plus denormal codes)",
        source="dINT: Enhancing Computation Efficiency in LLMs through Weight and Activation "
               "Quantization (EMNLP 2023)",
        params=(
            Param("special", "half", "codebook: half = {-7..7, +2^-f}; pm_half = {-7..6, "
                                      "+-2^-f}", choices=("half", "pm_half")),
            Param("frac_bits", 1, "f: the denormal magnitude is 2^-f (1/2 or 1/4)", lo=1, hi=2),
            _ACT_BITS, _ACC_BITS, _OVERFLOW, _PIPELINE,
        ),
        component="lowbit.hdl.dint_mac:DintMac",
        golden="lowbit.golden_models.dint_mac:DintMac",
        testbench="lowbit.sim_tests.tb_mac",
        baseline="int_mac",
        baseline_params=_int8_mac_like,
    ),
    Unit(
        name="int_mac",
        summary="baseline: signed INT x INT MAC (INT8 x INT8 by default), the `*` operator",
        params=(
            Param("weight_bits", 8, "signed weight width", lo=2, hi=16),
            _ACT_BITS, _ACC_BITS, _OVERFLOW, _PIPELINE,
        ),
        component="lowbit.hdl.int_mac:IntMac",
        golden="lowbit.golden_models.int_mac:IntMac",
        testbench="lowbit.sim_tests.tb_mac",
    ),
])
