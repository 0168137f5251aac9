"""Operand streams for ``lowbit power``: real MiniLM operands, or seeded random ones.

``minilm``: the weights of one MiniLM-L6 linear layer quantized to the unit's own format (dINT4
for ``dint_mac``, PoT for ``pot_mac``, symmetric per-channel INT for ``int_mac``; the
quantizers of ``lowbit.golden_models``), against that layer's input activations captured in a
forward pass over the project's sentences and quantized per token to symmetric INT8 (round to
nearest, max scale), as W4A8/W8A8 inference runs them. A MAC computes whole dot products: one
weight row against one token's activations over the layer's input width, ``clear`` on the first
beat of each, rows and tokens picked by the seed.

``random``: weights uniform over every code of the format, activations uniform over the signed
range, ``clear`` every 64 beats: the same stream length and structure, no structure in the data.

Each workload also carries its check: the outputs the netlist produced against the unit's golden
model on the same beats.
"""

import functools
from dataclasses import dataclass

import numpy as np

from lowbit.core.errors import LowbitError
from lowbit.core.widths import signed_range

__all__ = ["DATA", "Workload", "make_workload", "minilm_layer", "MINILM_LAYER", "port_widths",
           "mac_workload", "dot_workload", "accumulator_workload", "idle_workload"]

DATA = ("minilm", "random")
# The first layer's query projection (384 x 384): its input is the embedding LayerNorm output.
MINILM_LAYER = "encoder.layer.0.attention.self.query"
MINILM_SENTENCES = 4
RANDOM_DOT_LENGTH = 64


@dataclass(frozen=True)
class Workload:
    """Input vectors per cycle (``{port: int array}``), the work they do and their check.

    ``ops``: operations in the window (``op`` names them: "MAC"); ``check(outputs)`` returns
    None if the netlist's outputs (``{port: unsigned int array}``, see
    ``lowbit.synth.power.simulate_netlist``) equal the golden model's, else a description;
    ``checked``: how many output values the check compares.
    """
    vectors: dict
    ops: int
    op: str
    check: object
    checked: int


@functools.cache
def minilm_layer(name=MINILM_LAYER, sentences=MINILM_SENTENCES):
    """``(weights (out, in) float64, activations (tokens, in) float64)`` of a MiniLM layer."""
    try:
        from lowbit.golden_models.accuracy.minilm import MiniLM
        from lowbit.golden_models.accuracy.sentences import load_sentences
        model = MiniLM()
    except ModuleNotFoundError as error:
        raise LowbitError(f"--data minilm needs the MiniLM model package: {error}") from None
    texts = load_sentences()
    texts = texts if isinstance(texts, list) else list(texts)
    flat = [t if isinstance(t, str) else str(t) for t in texts][:sentences]
    capture = {}
    model.encode(flat, capture=capture)
    return np.asarray(model.weight(name), dtype=np.float64), np.asarray(capture[name], np.float64)


def _int8_per_token(x, bits):
    """Symmetric per-token round-to-nearest INT quantization (max scale)."""
    top = (1 << (bits - 1)) - 1
    scale = np.abs(x).max(axis=1, keepdims=True) / top
    scale[scale == 0] = 1.0
    return np.clip(np.rint(x / scale), -top, top).astype(np.int64)


def _mac_weight_domain(unit, params, model):
    if unit.name == "int_mac":
        lo, hi = signed_range(params["weight_bits"])
        return np.arange(lo, hi + 1)
    return np.arange(len(model.format.scaled_values))


def _to_signed(values, bits):
    if any(v is None for v in values):
        raise LowbitError("the gate-level netlist gave undefined (x) outputs on measured beats")
    values = np.array([int(v) for v in values], dtype=np.int64)
    return np.where(values >= 1 << (bits - 1), values - (1 << bits), values)


def mac_workload(unit, params, *, data, seed, cycles):
    """Beats for a ``weight, act, valid, clear -> acc`` MAC (``lowbit.hdl.mac.MacUnit``)."""
    rng = np.random.default_rng(seed)
    model = unit.golden_model(params)
    latency = params["pipeline"] + 1
    n = cycles - latency
    if n < 1:
        raise LowbitError(f"cycles={cycles} is too short for a MAC of latency {latency}")
    a_lo, a_hi = signed_range(params["act_bits"])
    if data == "random":
        weights = rng.choice(_mac_weight_domain(unit, params, model), n)
        acts = rng.integers(a_lo, a_hi + 1, n)
        length = RANDOM_DOT_LENGTH
    else:
        w, x = minilm_layer()
        codes = _weight_codes(unit.name, params, w)
        xq = np.clip(_int8_per_token(x, params["act_bits"]), a_lo, a_hi)
        length = w.shape[1]
        pairs = -(-n // length)
        rows = rng.integers(0, codes.shape[0], pairs)
        tokens = rng.integers(0, xq.shape[0], pairs)
        weights = np.concatenate([codes[r] for r in rows])[:n]
        acts = np.concatenate([xq[t] for t in tokens])[:n]
    valid = np.ones(n, dtype=np.int64)
    clear = (np.arange(n) % length == 0).astype(np.int64)
    expected = model.run(weights, acts, valid, clear)
    idle = np.zeros(latency, dtype=np.int64)
    vectors = {"weight": np.concatenate([weights, idle]), "act": np.concatenate([acts, idle]),
               "valid": np.concatenate([valid, idle]), "clear": np.concatenate([clear, idle])}

    def check(outputs):
        got = _to_signed(outputs["acc"][latency:latency + n], params["acc_bits"])
        bad = np.flatnonzero(got != expected)
        if len(bad):
            i = bad[0]
            return (f"acc after beat {i}: got {got[i]}, expected {expected[i]} "
                    f"({len(bad)} of {n} differ)")
        return None

    return Workload(vectors=vectors, ops=n, op="MAC", check=check, checked=n)


def _weight_codes(unit_name, params, w, weight_bits=None):
    """MiniLM weights as codes of the unit's format (the ``weight``/``weights`` port values)."""
    from lowbit.golden_models.dint import DintFormat, quantize_dint, quantize_int
    from lowbit.golden_models.pot import PotFormat, quantize_pot_rtn
    if unit_name in ("dint_mac", "dint_dot"):
        return quantize_dint(w, DintFormat(params["special"], params["frac_bits"]))[0].astype(np.int64)
    if unit_name in ("pot_mac", "pot_dot"):
        return quantize_pot_rtn(w, PotFormat(params["bits"], params["zero_code"]))[0].astype(np.int64)
    return quantize_int(w, weight_bits or params["weight_bits"])[0].astype(np.int64)


def dot_workload(unit, params, *, data, seed, cycles):
    """Beats for an N-lane dot product (``lowbit.hdl.dot_product.LaneDotProduct``): one beat
    of ``lanes`` weights and activations per cycle, the output stream always ready."""
    rng = np.random.default_rng(seed)
    model = unit.golden_model(params)
    component = unit.build(params)
    component._MustUse__silence = True   # only its latency is read
    latency, lanes = component.latency, params["lanes"]
    n = cycles - latency
    if n < 1:
        raise LowbitError(f"cycles={cycles} is too short for a pipeline of latency {latency}")
    a_lo, a_hi = signed_range(params["act_bits"])
    signed_weights = unit.name == "int_dot"
    if signed_weights:
        w_bits = params["weight_bits"]
        w_lo, w_hi = signed_range(w_bits)
    else:
        w_bits = params["bits"]
    if data == "random":
        weights = (rng.integers(w_lo, w_hi + 1, (n, lanes)) if signed_weights
                   else rng.integers(0, len(model.format.scaled_values), (n, lanes)))
        acts = rng.integers(a_lo, a_hi + 1, (n, lanes))
    else:
        w, x = minilm_layer()
        codes = _weight_codes(unit.name, params, w)
        xq = np.clip(_int8_per_token(x, params["act_bits"]), a_lo, a_hi)
        per_row = w.shape[1] // lanes
        rows = rng.integers(0, codes.shape[0], -(-n // per_row))
        tokens = rng.integers(0, xq.shape[0], len(rows))
        weights = np.concatenate([codes[r, :per_row * lanes].reshape(per_row, lanes)
                                  for r in rows])[:n]
        acts = np.concatenate([xq[t, :per_row * lanes].reshape(per_row, lanes)
                               for t in tokens])[:n]
    expected = model.dot(weights, acts)
    payload = np.zeros(n, dtype=object)
    for lane in range(lanes):
        payload = payload + ((weights[:, lane].astype(object) & ((1 << w_bits) - 1))
                             << (lane * w_bits))
        payload = payload + ((acts[:, lane].astype(object) & ((1 << params["act_bits"]) - 1))
                             << (lanes * w_bits + lane * params["act_bits"]))
    idle = np.zeros(latency, dtype=object)
    ones = np.ones(n + latency, dtype=np.int64)
    vectors = {"i__payload": np.concatenate([payload, idle]),
               "i__valid": np.concatenate([np.ones(n, dtype=np.int64), np.zeros(latency, np.int64)]),
               "o__ready": ones}
    sum_bits = len(component.o.payload)

    def check(outputs):
        if not all(v == 1 for v in outputs["i__ready"][:n]):
            return "the unit stalled its input with the output always ready"
        valid = np.array([v == 1 for v in outputs["o__valid"][latency:latency + n]])
        if not valid.all():
            return f"o.valid low at beat {int(np.flatnonzero(~valid)[0])}"
        got = _to_signed(outputs["o__payload"][latency:latency + n], sum_bits)
        bad = np.flatnonzero(got != expected)
        if len(bad):
            i = bad[0]
            return f"beat {i}: got {got[i]}, expected {expected[i]} ({len(bad)} of {n} differ)"
        return None

    return Workload(vectors=vectors, ops=n * lanes, op="MAC", check=check, checked=n)


def accumulator_workload(unit, params, mac_work):
    """The beats of ``mac_work`` as the MAC's accumulator sees them: ``product`` (the magnitude
    of ``value(code) x 2^f x a`` for a codebook weight, the signed product for ``int_mac``)
    and ``negate`` (the weight's sign), with the same ``valid``, ``clear`` and check."""
    model = unit.golden_model(params)
    w, a = mac_work.vectors["weight"], mac_work.vectors["act"]
    if unit.name == "int_mac":
        product, negate = w * a, np.zeros_like(w)
    else:
        value = model.format.decode_scaled(w)
        product, negate = np.abs(value) * a, (value < 0).astype(np.int64)
    vectors = {"product": product, "negate": negate, "valid": mac_work.vectors["valid"],
               "clear": mac_work.vectors["clear"]}
    return Workload(vectors=vectors, ops=mac_work.ops, op=mac_work.op, check=mac_work.check,
                    checked=mac_work.checked)


def port_widths(component):
    """The component's ports as Verilog names them: ``([(name, width)] in, [...] out)``."""
    from amaranth.hdl import Value
    from amaranth.lib.wiring import In
    inputs, outputs = [], []
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        (inputs if member.flow == In else outputs).append((name, len(Value.cast(value))))
    return inputs, outputs


def idle_workload(unit, params, *, cycles):
    """Every input held at 0 after reset: only the clock and leakage draw power."""
    component = unit.build(params)
    component._MustUse__silence = True   # only its ports are read
    inputs, _ = port_widths(component)
    vectors = {name: np.zeros(cycles, dtype=np.int64) for name, _ in inputs}
    return Workload(vectors=vectors, ops=cycles, op="cycle", check=lambda outputs: None,
                    checked=0)


_FAMILIES = {"dint_mac": mac_workload, "pot_mac": mac_workload, "int_mac": mac_workload,
             "pot_dot": dot_workload, "int_dot": dot_workload}


def make_workload(unit, params, *, data, seed, cycles):
    """The workload of ``unit`` (a registry ``Unit``) for ``data`` in :data:`DATA`."""
    if data not in DATA:
        raise LowbitError(f"--data {data!r}: allowed: {', '.join(DATA)}")
    family = _FAMILIES.get(unit.name)
    if family is None:
        raise LowbitError(f"lowbit power has no workload for {unit.name} yet; units with one: "
                          f"{', '.join(_FAMILIES)}")
    return family(unit, params, data=data, seed=seed, cycles=cycles)
