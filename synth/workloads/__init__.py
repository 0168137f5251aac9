"""Operand streams for ``lowbit power``: real MiniLM operands, or seeded random ones.

Every registry entry declares its workload (``Unit.workload``, a ``"module:attribute"``
reference such as ``"lowbit.synth.workloads.dot:dot_workload"``), one module per family of
units beside this one: ``mac`` (the MACs and their accumulators), ``dot`` (the N-lane dot
products), ``dequant`` (the FP16 dequantizers), ``matrix`` (the arrays), ``softmax`` (the
softmax units). A workload function is called as ``f(unit, params, *, data, seed, cycles)``
(``unit`` the registry entry, ``params`` resolved, ``data`` in :data:`DATA`) and returns a
:class:`Workload`: one input vector per cycle for ``cycles`` cycles, the operations they do
and the check of the netlist's outputs against the unit's golden model on the same beats.

``minilm``: real operands, as the family module says (for the MAC units: the weights of one
MiniLM-L6 linear layer quantized to the unit's own format against that layer's input
activations captured in a forward pass, quantized per token to symmetric INT8).

``random``: every operand uniform over its codes or range, the same stream length and
structure, no structure in the data.

This module holds what the families share: the MiniLM layer, the quantization of its weights
to a unit's format, the packing of a stream's payload from its layout, a full-rate stream
workload with its check, and the idle workload.
"""

import functools
from dataclasses import dataclass

import numpy as np

from lowbit.core.errors import LowbitError

__all__ = ["DATA", "Workload", "make_workload", "minilm_layer", "MINILM_LAYER", "port_widths",
           "idle_workload", "act_codes_per_token", "weight_codes", "to_signed", "pack_fields",
           "stream_workload", "built", "pipelined"]

DATA = ("minilm", "random")
# The first layer's query projection (384 x 384): its input is the embedding LayerNorm output.
MINILM_LAYER = "encoder.layer.0.attention.self.query"
MINILM_SENTENCES = 4
RANDOM_DOT_LENGTH = 64


@dataclass(frozen=True)
class Workload:
    """Input vectors per cycle (``{port: int array}``), the work they do and their check.

    ``ops``: operations in the window (``op`` names them: "MAC", "element"); ``check(outputs)``
    returns None if the netlist's outputs (``{port: unsigned int array}``, see
    ``lowbit.synth.power.simulate_netlist``) equal the golden model's, else a description;
    ``checked``: how many output values the check compares; ``mode``: for a unit with several
    precision modes (``btc_array``), the one the work runs at (``"W2A8"``), so its energy is
    reported for that mode only; None for a unit with one.
    """
    vectors: dict
    ops: int
    op: str
    check: object
    checked: int
    mode: str | None = None


def make_workload(unit, params, *, data, seed, cycles):
    """The workload of ``unit`` (a registry ``Unit``) for ``data`` in :data:`DATA`: the
    function its entry declares (``Unit.workload``)."""
    if data not in DATA:
        raise LowbitError(f"--data {data!r}: allowed: {', '.join(DATA)}")
    family = unit.workload_function()
    if family is None:
        raise LowbitError(f"lowbit power has no workload for {unit.name} yet (its registry "
                          f"entry declares none)")
    return family(unit, params, data=data, seed=seed, cycles=cycles)


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


def act_codes_per_token(x, bits):
    """Symmetric per-token round-to-nearest INT quantization (max scale) of activations."""
    top = (1 << (bits - 1)) - 1
    scale = np.abs(x).max(axis=1, keepdims=True) / top
    scale[scale == 0] = 1.0
    return np.clip(np.rint(x / scale), -top, top).astype(np.int64)


def weight_codes(model, params, w, weight_bits=None):
    """``(codes, scales)``: MiniLM weights ``w`` (out, in) in the format of golden ``model``,
    one float scale per output channel. A codebook format (``model.format``): dINT4 by the
    MSE-searched per-channel quantizer, PoT by max-scale round to nearest; no format: symmetric
    per-channel INT of ``weight_bits`` (default ``params["weight_bits"]``) bits, MSE-searched.
    Codes as the ``weight(s)``/``code`` port takes them (INT: signed values)."""
    from lowbit.golden_models.dint import DintFormat, quantize_dint, quantize_int
    from lowbit.golden_models.pot import PotFormat, quantize_pot_rtn
    fmt = getattr(model, "format", None)
    if isinstance(fmt, DintFormat):
        codes, scales = quantize_dint(w, fmt)
    elif isinstance(fmt, PotFormat):
        codes, scales = quantize_pot_rtn(w, fmt)
    elif fmt is None:
        codes, scales = quantize_int(w, weight_bits or params["weight_bits"])
    else:
        raise LowbitError(f"no MiniLM quantizer for the weight format {fmt!r}")
    return codes.astype(np.int64), np.asarray(scales, dtype=np.float64)


def to_signed(values, bits):
    """Unsigned ``bits``-bit netlist outputs as signed int64; an undefined value is an error."""
    if any(v is None for v in values):
        raise LowbitError("the gate-level netlist gave undefined (x) outputs on measured beats")
    values = np.array([int(v) for v in values], dtype=np.int64)
    return np.where(values >= 1 << (bits - 1), values - (1 << bits), values)


def port_widths(component):
    """The component's ports as Verilog names them: ``([(name, width)] in, [...] out)``."""
    from amaranth.hdl import Value
    from amaranth.lib.wiring import In
    inputs, outputs = [], []
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        (inputs if member.flow == In else outputs).append((name, len(Value.cast(value))))
    return inputs, outputs


def built(unit, params):
    """The unit's component at ``params``, for its latency, widths and layouts only (it is
    never elaborated)."""
    from lowbit.hdl.component import unelaborated
    return unelaborated(unit.build(params))


def pipelined(unit, params, cycles):
    """``(component, model, n)`` for the workload of a pipelined stream unit: the component
    (:func:`built`), its golden model, and ``n = cycles - latency``, the beats of a window of
    ``cycles`` cycles whose outputs all leave within it (one idle cycle per pipeline stage at
    the end, as :func:`stream_workload` lays it out)."""
    model = unit.golden_model(params)
    component = built(unit, params)
    n = cycles - component.latency
    if n < 1:
        raise LowbitError(f"cycles={cycles} is too short for a pipeline of latency "
                          f"{component.latency}")
    return component, model, n


def pack_fields(layout, fields, n):
    """``n`` payload values (Python ints) of the ``amaranth.lib.data`` ``layout`` from
    ``fields``: ``{field name: int array (n,)}``, or ``(n, length)`` for an ``ArrayLayout``
    field (element ``i`` at ``i`` x its width). Values are two's complement; every field of the
    layout must be given."""
    from amaranth.hdl import Shape
    from amaranth.lib import data
    payload = np.zeros(n, dtype=object)
    for name, field in data.Layout.cast(layout):
        values = np.asarray(fields[name], dtype=object)
        shape = field.shape
        if isinstance(shape, data.ArrayLayout):
            width = Shape.cast(shape.elem_shape).width
            columns = [(values[:, i], field.offset + i * width) for i in range(shape.length)]
        else:
            width = Shape.cast(shape).width
            columns = [(values, field.offset)]
        mask = (1 << width) - 1
        for column, offset in columns:
            payload = payload + ((column & mask) << offset)
    return payload


def stream_workload(component, fields, expected, *, ops, op, signed_output):
    """A full-rate stream workload for a component with streams ``i`` (payload fields
    ``fields``, ``n`` beats) and ``o``: one beat per cycle, ``o.ready`` always high, then
    ``component.latency`` idle cycles. The check: ``i.ready`` held high, ``o.valid`` on the
    ``n`` cycles from the latency on, and the ``o`` payloads equal ``expected`` (int array;
    read signed if ``signed_output``) beat for beat."""
    latency = component.latency
    n = len(expected)
    payload = pack_fields(component.i.payload.shape(), fields, n)
    vectors = {"i__payload": np.concatenate([payload, np.zeros(latency, dtype=object)]),
               "i__valid": np.concatenate([np.ones(n, np.int64), np.zeros(latency, np.int64)]),
               "o__ready": np.ones(n + latency, dtype=np.int64)}
    from amaranth.hdl import Value
    out_bits = len(Value.cast(component.o.payload))
    expected = np.asarray(expected, dtype=np.int64)

    def check(outputs):
        if not all(v == 1 for v in outputs["i__ready"][:n]):
            return "the unit stalled its input with the output always ready"
        valid = np.array([v == 1 for v in outputs["o__valid"][latency:latency + n]])
        if not valid.all():
            return f"o.valid low at beat {int(np.flatnonzero(~valid)[0])}"
        raw = outputs["o__payload"][latency:latency + n]
        # Unsigned payloads read as signed one bit wider: the same value, and the x check.
        got = to_signed(raw, out_bits if signed_output else out_bits + 1)
        bad = np.flatnonzero(got != expected)
        if len(bad):
            i = bad[0]
            return f"beat {i}: got {got[i]}, expected {expected[i]} ({len(bad)} of {n} differ)"
        return None

    return Workload(vectors=vectors, ops=ops, op=op, check=check, checked=n)


def idle_workload(unit, params, *, cycles):
    """Every input held at 0 after reset: only the clock and leakage draw power."""
    inputs, _ = port_widths(built(unit, params))
    vectors = {name: np.zeros(cycles, dtype=np.int64) for name, _ in inputs}
    return Workload(vectors=vectors, ops=cycles, op="cycle", check=lambda outputs: None,
                    checked=0)
