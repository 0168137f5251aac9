# amaranth: UnusedElaboratable=no
# (the combinational harnesses call a unit's datapath hook without elaborating the unit)
"""Proofs of the multiply-accumulate units (dint_mac, pot_mac and the INT baseline's shared
accumulator): each MAC's product for every weight code and activation equals the codebook's
value times the activation (complete); the shared accumulator keeps SPEC.md's accumulation
in every reachable state (unbounded); whole MACs, product through pipeline into accumulator,
equal the specification over 8 cycles (bounded)."""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Mux, Signal, signed

from lowbit.core.modes import DintCodebook, Overflow
from lowbit.core.widths import signed_range
from lowbit.hdl.accumulator import Accumulator
from lowbit.hdl.dint_mac import DintMac
from lowbit.hdl.pot_mac import PotMac

from .codebooks import DINT_CODEBOOKS, dint_spec, pot_spec
from .harness import CaseHarness, Harness
from .sby import Proof

__all__ = ["ProductHarness", "AccumulatorHarness", "MacHarness", "DINT_PRODUCT", "POT_PRODUCT",
           "ACCUMULATOR", "MAC_WHOLE", "DINT_PRODUCT_A16", "POT_PRODUCT_A16",
           "WRONG_SPECIFICATION"]


class ProductHarness(CaseHarness):
    """Multiply-accumulate products: a MAC unit's multiplier (its ``product`` hook, which
    returns the product's magnitude and sign; the shared accumulator applies the sign) for any
    weight code and activation, against ``spec(m, weight, act)``."""

    def build_case(self, m, k, mac, spec):
        m.d.comb += [mac.weight.eq(AnySeq(len(mac.weight))),
                     mac.act.eq(AnySeq(signed(len(mac.act))))]
        magnitude, negative = mac.product(m)
        product = Signal(signed(len(magnitude) + 1), name=f"product{k}")
        m.d.comb += product.eq(Mux(negative, -magnitude, magnitude))
        m.d.comb += Assert(product == spec(m, mac.weight, mac.act),
                           f"unit {k}: product equals the specification")


def _accumulate(m, acc, total, overflow):
    """SPEC.md "Common conventions": ``acc <= total`` wrapped or saturated to its width."""
    lo, hi = signed_range(len(acc))
    if overflow == Overflow.WRAP:
        m.d.sync += acc.eq(total)
    else:
        m.d.sync += acc.eq(Mux(total < lo, lo, Mux(total > hi, hi, total)))


def _spec_accumulator(m, k, product, valid, clear, stages, acc_bits, overflow):
    """The specification's accumulator: ``product``, ``valid`` and ``clear`` delayed by
    ``stages`` registers, then ``acc <= overflow((clear ? 0 : acc) + (valid ? product : 0))``.
    Returns ``acc``."""
    for stage in range(stages):
        delayed = (Signal.like(product, name=f"spec_product{k}_s{stage}"),
                   Signal(name=f"spec_valid{k}_s{stage}"),
                   Signal(name=f"spec_clear{k}_s{stage}"))
        m.d.sync += [d.eq(v) for d, v in zip(delayed, (product, valid, clear))]
        product, valid, clear = delayed
    acc = Signal(signed(acc_bits), name=f"spec_acc{k}")
    _accumulate(m, acc, Mux(clear, 0, acc) + Mux(valid, product, 0), overflow)
    return acc


class AccumulatorHarness(Harness):
    """The accumulator every MAC shares (:class:`~lowbit.hdl.accumulator.Accumulator`): free
    product, ``negate``, ``valid``, ``clear`` every cycle; the specification delays them by
    the unit's stages and keeps ``acc <= overflow((clear ? 0 : acc) + (valid ? +-product :
    0))``; ``acc`` must always equal it."""

    def __init__(self, units):
        self.units = units

    def build(self, m):
        for k, unit in enumerate(self.units):
            m.submodules[f"acc{k}"] = unit
            m.d.comb += [unit.product.eq(AnySeq(signed(unit.product_bits))),
                         unit.negate.eq(AnySeq(1)), unit.valid.eq(AnySeq(1)),
                         unit.clear.eq(AnySeq(1))]
            product = Signal(signed(unit.product_bits + 1), name=f"spec_product{k}")
            m.d.comb += product.eq(Mux(unit.negate, -unit.product, unit.product))
            acc = _spec_accumulator(m, k, product, unit.valid, unit.clear, unit.stages,
                                    unit.acc_bits, unit.overflow)
            m.d.comb += Assert(unit.acc == acc, f"accumulator {k}: acc equals the specification")


class MacHarness(CaseHarness):
    """Whole multiply-accumulate units (product, pipeline, accumulator) against SPEC.md: per
    cycle, free weight, activation, ``valid`` and ``clear``; the specification's product
    delayed by the unit's pipeline goes into ``acc <= overflow((clear ? 0 : acc) + (valid ?
    product : 0))``; ``acc`` must always equal it."""

    def build_case(self, m, k, mac, spec):
        m.submodules[f"mac{k}"] = mac
        m.d.comb += [mac.weight.eq(AnySeq(len(mac.weight))),
                     mac.act.eq(AnySeq(signed(len(mac.act)))),
                     mac.valid.eq(AnySeq(1)), mac.clear.eq(AnySeq(1))]
        acc = _spec_accumulator(m, k, spec(m, mac.weight, mac.act), mac.valid, mac.clear,
                                mac.pipeline, mac.acc_bits, mac.overflow)
        m.d.comb += Assert(mac.acc == acc, f"mac{k}: acc equals the specification")


def _dint_products(act_bits):
    return ProductHarness([(DintMac(special=special, frac_bits=f, act_bits=act_bits),
                            dint_spec(special, f)) for special, f in DINT_CODEBOOKS])


def _pot_products(act_bits, bits=(2, 3, 4, 5)):
    return ProductHarness([(PotMac(bits=b, zero_code=z, act_bits=act_bits), pot_spec(b, z))
                           for b in bits for z in (True, False)])


def _accumulators():
    return AccumulatorHarness([Accumulator(product_bits=6, acc_bits=8, overflow=overflow,
                                           stages=stages)
                               for overflow in Overflow for stages in (0, 2)])


DINT_PRODUCT = Proof(
    "dint_product", "dINT4 x INT8 products, 4 codebooks (half/pm_half x f=1,2): "
    "= code-table value x 2^f x a", lambda: _dint_products(8))
POT_PRODUCT = Proof(
    "pot_product", "PoT x INT8 products, bits 2-5, zero code on/off: "
    "= (-1)^s a 2^(f-e), 0 for the zero code", lambda: _pot_products(8))
ACCUMULATOR = Proof(
    "accumulator", "the MACs' shared accumulator, wrap/saturate x 0/2 stages: "
    "acc = overflow((clear ? 0 : acc) + (valid ? +-product : 0)), unbounded",
    _accumulators, mode="prove", depth=4)
MAC_WHOLE = Proof(
    "mac_whole", "whole dINT4 (pm_half, saturate, 2 stages) and PoT4 (wrap, 1 stage) "
    "MACs, INT8 act: acc = SPEC accumulation of the table products",
    lambda: MacHarness([
        (DintMac(special=DintCodebook.PM_HALF, frac_bits=1, acc_bits=13,
                 overflow=Overflow.SATURATE, pipeline=2), dint_spec(DintCodebook.PM_HALF, 1)),
        (PotMac(bits=4, zero_code=True, acc_bits=17, overflow=Overflow.WRAP, pipeline=1),
         pot_spec(4, True)),
    ]), depth=8)
# The widest activation (pytest -m slow).
DINT_PRODUCT_A16 = Proof(
    "dint_product_a16", "dINT4 x INT16 products (the widest activation), 4 codebooks",
    lambda: _dint_products(16), slow=True)
POT_PRODUCT_A16 = Proof(
    "pot_product_a16", "PoT x INT16 products, bits 2-5, zero code on/off",
    lambda: _pot_products(16), slow=True)


def _wrong_specification():
    return ProductHarness([(DintMac(special=DintCodebook.HALF, frac_bits=1, act_bits=4),
                            dint_spec(DintCodebook.HALF, 1, fault=(0b1000, 1)))])


# A proof that must FAIL (the proofs bite): the dINT product proof with one constant of the
# specification off, code 1000 of ``half`` read as 2^-f + 1 instead of 2^-f. No unit names it.
WRONG_SPECIFICATION = Proof("wrong_spec_must_fail", "dINT product, one table entry off",
                            _wrong_specification)
