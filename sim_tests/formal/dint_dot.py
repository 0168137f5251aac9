# amaranth: UnusedElaboratable=no
# (the combinational harnesses call a unit's datapath hook without elaborating the unit)
"""Proofs of the fused carry-save forms (issue 15): the dINT4 dot product's fused stream keeps
the stream rules and loses, duplicates or reorders no sum (bounded, tagged items); the fused
MACs (dINT4, PoT4 and INT4 Booth partial products in one carry-save tree with the accumulator)
equal SPEC.md's accumulation over 8 cycles (bounded), saturation included. (A complete proof of
the dINT dot datapath at 4 lanes x INT4 did not finish in 200 s with Yices; the datapath is
checked in simulation, sim_tests/test_dint_dot.py.)"""

from lowbit.hdl.dint_dot import DintDot
from lowbit.hdl.dint_mac import DintMac
from lowbit.hdl.int_mac import IntMac
from lowbit.hdl.pot_mac import PotMac

from .codebooks import dint_spec, pot_spec
from .dot import DotStream
from .mac import MacHarness
from .sby import Proof

__all__ = ["DINT_DOT_STREAM", "FUSED_MAC_WHOLE"]

DINT_DOT_STREAM = Proof(
    "dint_dot_stream", "dINT4 dot product, 4 lanes x INT4 (fused, latency 2): stream rules, no "
    "loss, duplication or reordering (tagged items: code 1 = +1 x 2^f)",
    lambda: DotStream(DintDot(lanes=4, act_bits=4, fused=True), one=0b0001, zero=0b0000,
                      shift=1), depth=10)
FUSED_MAC_WHOLE = Proof(
    "fused_mac_whole", "fused MACs, one carry-save tree with the accumulator: dINT4 (pm_half, "
    "saturate, 2 stages), PoT4 (wrap, 1 stage), INT4 x INT4 Booth (saturate, 1 stage): acc = "
    "SPEC accumulation of the table products",
    lambda: MacHarness([
        (DintMac(special="pm_half", frac_bits=1, acc_bits=13, overflow="saturate", pipeline=2,
                 fused=True), dint_spec("pm_half", 1)),
        (PotMac(bits=4, zero_code=True, acc_bits=17, overflow="wrap", pipeline=1, fused=True),
         pot_spec(4, True)),
        (IntMac(weight_bits=4, act_bits=4, acc_bits=9, overflow="saturate", pipeline=1,
                fused=True), lambda m, w, a: w * a),
    ]), depth=8)
