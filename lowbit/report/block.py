"""The attention block's table and figure (issue 17, item 3): one row per configuration.

Read from ``<build>/block/`` (the commands are in docs/block.md, "Measured"):

* ``asic-<config>.json``: ``lowbit synth attention_block --target asic`` at MiniLM's shape
  (sky130 um^2, logic and memory macros apart, Fmax from OpenSTA);
* ``ecp5-<config>.json``: ``lowbit synth attention_block --target ecp5`` at the same shape
  (LUT4, DSP, block RAM, Fmax after place-and-route);
* ``power-<config>.json``: ``lowbit power attention_block --data minilm`` at a reduced shape
  (the gate-level run of one whole layer, cut into the sequencer's stages);
* ``accuracy.json``: ``lowbit experiment block-accuracy --json`` (the integer model against
  FP32 on MiniLM).

Cycles per layer and per token and the engines' utilisation are the block's exact formulas
(``AttentionBlock.cycles``, ``utilisation``; checked against simulation by tb_block) at
MiniLM's shape for a sentence of :data:`TOKENS` tokens.

**Energy per token at MiniLM's shape** (:func:`scaled_energy`) is not simulated (a gate-level
run of the full layer is far too long); it is built from what is: the reduced run measures
each stage's energy per cycle (logic, and per memory macro its events per cycle); MiniLM's
layer runs the same stages on the same engine (the same lanes), only for more cycles
(``phase_cycles`` at MiniLM's shape) and with deeper buffers. So

``E = sum over stages s of [logic_s x C_s + sum over macros m and events e of rate(m, e, s)
x C_s x E_MiniLM(m, e)] + leakage``,

``logic_s`` the measured logic energy per cycle of stage s (cells, the nets around the
macros, the inputs and the clock), ``C_s`` the stage's cycles at MiniLM's shape,
``rate(m, e, s)`` macro m's events e per cycle in stage s as measured, ``E_MiniLM(m, e)`` the
memory model's energy per event of the same macro at MiniLM's depth (from the asic record), and
the leakage of the MiniLM-shaped logic (the reduced one's times the logic area ratio) and
macros over the layer's cycles. What it assumes: a stage's logic activity per cycle does not
depend on d_model (the engine, the requant unit and the sequencer are the same circuits; the
address counters are a few bits wider), and the reduced run's data (MiniLM's first channels)
is representative.
"""

import json
import os
from pathlib import Path

from lowbit.core.modes import BLOCK_CONFIGS

__all__ = ["CONFIGS", "MINILM_SHAPE", "TOKENS", "block_rows", "scaled_energy", "block_table",
           "plot_block", "block_section"]

CONFIGS = tuple((name, f.engine, f.softmax) for name, f in BLOCK_CONFIGS.items())
MINILM_SHAPE = {"d_model": 384, "heads": 12, "lanes": 8, "max_tokens": 16}
TOKENS = 14          # evaluation sentence 0 of the study set (lowbit block --sentence 0)
STAGES = (("load", ("cfg", "load_x")), ("qkv", ("qkv",)), ("scores", ("scores",)),
          ("context", ("context",)), ("out", ("drain", "out", "out_tail")))


def _load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _first(record):
    if isinstance(record, list):
        return record[0] if record else None
    return record


def _block(engine, softmax, shape):
    from lowbit.hdl.attention_block import AttentionBlock
    from lowbit.hdl.component import unelaborated
    return unelaborated(AttentionBlock(engine=engine, softmax=softmax, **shape))   # formulas


def _stage_cycles(block, tokens):
    phases = block.phase_cycles(tokens)
    return {name: sum(phases[p] for p in members) for name, members in STAGES}


def scaled_energy(power, asic, minilm_stages, clock_mhz=None):
    """Energy per token in pJ at MiniLM's shape (module docstring) from a ``lowbit power``
    record's unit result ``power`` (reduced shape, with ``windows``), the ``asic`` record at
    MiniLM's shape (its ``memories``; None: the reduced run's per-event energies are used,
    a lower bound) and ``minilm_stages`` ``{stage: cycles}`` at MiniLM's shape for
    :data:`TOKENS` tokens. Returns ``{"total", "logic", "memory", "leakage", "by_stage"}``
    per token."""
    f = (clock_mhz or power["clock_mhz"]) * 1e6
    small = {_plain(m["instance"]): m for m in power["memory"].get("macros", [])}
    big = {_plain(m["instance"]): m for m in (asic or {}).get("memories", [])}
    windows = {w["name"]: w for w in power["windows"]}
    logic_total = memory_total = 0.0
    by_stage = {}
    for stage, cycles in minilm_stages.items():
        w = windows[stage]
        n = max(1, w["cycles"])
        events = w.get("memory_events", {})
        macro_internal = macro_big = macro_leak = 0.0
        for instance, counts in events.items():
            macro = small.get(_plain(instance))
            if macro is None:
                continue
            per_event_small = macro["energy_per_event_pj"]
            per_event_big = big.get(_plain(instance), {}).get("energy_pj", per_event_small)
            macro_internal += sum(per_event_small[e] * c for e, c in counts.items())
            macro_big += sum(per_event_big[e] * c for e, c in counts.items())
            macro_leak += macro["leakage_nw"] * 1e-9 * n / f * 1e12
        groups = w["by_group_pj"]
        # The memory group's rest (the switching of the nets the macros drive) scales as logic.
        logic = (groups["sequential"] + groups["combinational"] + groups["inputs"]
                 + groups["memory"] - macro_internal - macro_leak) / n
        stage_logic = logic * cycles
        stage_memory = macro_big / n * cycles
        by_stage[stage] = stage_logic + stage_memory
        logic_total += stage_logic
        memory_total += stage_memory
    layer_cycles = sum(minilm_stages.values())
    seconds = layer_cycles / f
    logic_leak_small = sum(power["energy_detail_pj"][g]["leakage"]
                           for g in ("sequential", "combinational")) * power["ops"] \
        / power["cycles"] * f / 1e12                                       # W
    logic_area_small = power["area_um2"] - power["memory"].get("area_um2", 0.0)
    ratio = ((asic or {}).get("logic_area_um2") or logic_area_small) / max(logic_area_small, 1e-9)
    memory_leak = sum(m["leakage_nw"] for m in (big or small).values()) * 1e-9   # W
    leakage = (logic_leak_small * ratio + memory_leak) * seconds * 1e12            # pJ
    total = logic_total + memory_total + leakage
    return {"total": total / TOKENS, "logic": logic_total / TOKENS,
            "memory": memory_total / TOKENS, "leakage": leakage / TOKENS,
            "by_stage": {k: v / TOKENS for k, v in by_stage.items()}}


def _plain(name):
    return name.replace("\\", "").replace(" ", "")


def block_rows(folder):
    """One dict per configuration of :data:`CONFIGS` from the records in ``folder`` (missing
    figures are None)."""
    folder = Path(folder)
    accuracy = {r["config"]: r for r in (_load(folder / "accuracy.json") or [])}
    rows = []
    for name, engine, softmax in CONFIGS:
        block = _block(engine, softmax, MINILM_SHAPE)
        cycles = block.cycles(TOKENS)
        use = block.utilisation(TOKENS, cycles)
        asic = _first(_load(folder / f"asic-{name}.json"))
        ecp5 = _first(_load(folder / f"ecp5-{name}.json"))
        record = _load(folder / f"power-{name}.json")
        power = record.get("unit") if isinstance(record, dict) else None
        energy = (scaled_energy(power, asic, _stage_cycles(block, TOKENS))
                  if power and power.get("windows") else None)
        acc = accuracy.get(name, {})
        rows.append({
            "config": name, "engine": engine, "softmax": softmax,
            "cycles_layer": cycles, "cycles_token": cycles / TOKENS,
            "utilisation": use,
            "asic_um2": asic and asic.get("area_um2"),
            "asic_logic_um2": asic and asic.get("logic_area_um2"),
            "asic_memory_um2": asic and asic.get("memory_area_um2"),
            "asic_mhz": asic and asic.get("fmax_mhz"),
            "ecp5_luts": ecp5 and ecp5.get("luts"), "ecp5_dsps": ecp5 and ecp5.get("dsps"),
            "ecp5_brams": ecp5 and ecp5.get("brams"), "ecp5_mhz": ecp5 and ecp5.get("fmax_mhz"),
            "power_shape": power and {k: power["params"][k] for k in MINILM_SHAPE},
            "energy_token_measured_pj": power and power["energy_pj"]["total"],
            "energy_token_pj": energy and energy["total"], "energy": energy,
            "asic_shape_note": _shape_note(asic), "ecp5_shape_note": _shape_note(ecp5),
            "power_lanes_note": ("" if not power or power["params"].get("lanes")
                                 == MINILM_SHAPE["lanes"] else
                                 f" (measured at {power['params'].get('lanes')} lanes)"),
            "layer_cosine": acc.get("layer_cosine"),
            "embedding_cosine": acc.get("embedding_cosine"),
        })
    return rows


def _shape_note(record):
    """"" if ``record`` is at MiniLM's shape, else the shape it is at (shown in its cell)."""
    if not record or not record.get("params"):
        return ""
    params = record["params"]
    other = {k: params.get(k) for k in MINILM_SHAPE if params.get(k) != MINILM_SHAPE[k]}
    return "" if not other else " (at " + ", ".join(f"{k} {v}" for k, v in other.items()) + ")"


def _cell(value, spec, scale=1.0):
    return "not measured" if value is None else format(value * scale, spec)


def block_table(rows):
    """The Markdown table of :func:`block_rows`."""
    shape = MINILM_SHAPE
    lines = [f"MiniLM layer 0 (d_model {shape['d_model']}, {shape['heads']} heads, "
             f"{shape['lanes']} lanes, max_tokens {shape['max_tokens']}), a {TOKENS}-token "
             "sentence; cycles are the exact formula (checked in simulation), energy per token "
             "at 100 MHz scaled from the reduced gate-level run (docs/block.md), sky130 HD "
             "typical, memories as macros.", "",
             "| config | cycles / layer | cycles / token | engine use (proj / QK,PV) "
             "| sky130 um^2 (logic + memory) | sky130 MHz | ECP5 LUT4 / DSP / BRAM | ECP5 MHz "
             "| energy / token, nJ (MiniLM; measured at reduced shape) | layer cosine "
             "| embedding cosine |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        use = r["utilisation"]
        area = ("not measured" if r["asic_um2"] is None else
                f"{r['asic_um2']:,.0f} ({r['asic_logic_um2']:,.0f} + "
                f"{r['asic_memory_um2']:,.0f}){r['asic_shape_note']}")
        fpga = ("not measured" if r["ecp5_luts"] is None else
                f"{r['ecp5_luts']:,} / {r['ecp5_dsps'] or 0} / {r['ecp5_brams'] or 0}"
                f"{r['ecp5_shape_note']}")
        energy = ("not measured" if r["energy_token_pj"] is None else
                  f"{r['energy_token_pj'] / 1e3:,.1f} ({r['energy_token_measured_pj'] / 1e3:,.1f})"
                  f"{r['power_lanes_note']}")
        lines.append(
            f"| {r['config']} | {r['cycles_layer']:,} | {r['cycles_token']:,.0f} "
            f"| {100 * use['proj']:.1f} % / {100 * use['aa']:.1f} % | {area} "
            f"| {_cell(r['asic_mhz'], '.1f')} | {fpga} | {_cell(r['ecp5_mhz'], '.1f')} "
            f"| {energy} | {_cell(r['layer_cosine'], '.4f')} "
            f"| {_cell(r['embedding_cosine'], '.5f')} |")
    return lines


def plot_block(rows, out):
    """Accuracy (layer cosine) against energy per token and against sky130 area, one point
    per measured configuration; returns ``out`` or None when nothing is measured."""
    points = [r for r in rows if r["layer_cosine"] is not None
              and (r["energy_token_pj"] is not None or r["asic_um2"] is not None)]
    if not points:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colours = {name: f"C{n}" for n, (name, _, _) in enumerate(CONFIGS)}   # alike in both panels
    for ax, key, label, scale in ((axes[0], "energy_token_pj", "energy per token (uJ, MiniLM "
                                   "layer 0, scaled)", 1e-6),
                                  (axes[1], "asic_um2", "sky130 area (mm^2, logic + memory "
                                   "macros)", 1e-6)):
        shown = [r for r in points if r[key] is not None]
        for r in shown:
            ax.scatter(r[key] * scale, r["layer_cosine"], s=40, color=colours[r["config"]])
            ax.annotate(r["config"], (r[key] * scale, r["layer_cosine"]),
                        textcoords="offset points", xytext=(5, 4), fontsize=8)
        if not shown:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center",
                    transform=ax.transAxes)
        else:
            # Room on the right for the last point's label; the axis is zoomed to the points
            # (the configurations differ by a few per cent), and its label says so.
            xs = [r[key] * scale for r in shown]
            span = max(max(xs) - min(xs), 1e-3 * max(xs))
            ax.set_xlim(min(xs) - 0.1 * span, max(xs) + 0.35 * span)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            label += "\n(zoomed: the axis does not start at 0)"
        ax.set_xlabel(label)
        ax.set_ylabel("layer cosine against FP32")
        ax.grid(True, alpha=0.3)
    fig.suptitle("Attention block: accuracy against energy and area per configuration")
    fig.tight_layout()
    from .figures import _save   # the report's one saver (folders, no timestamp metadata)
    out = _save(fig, Path(out))
    plt.close(fig)
    return out


def block_section(build):
    """The report's Markdown lines for the block (empty when ``<build>/block`` has no
    record)."""
    folder = Path(build) / "block"
    if not any(any(folder.glob(pattern)) for pattern in ("asic-*.json", "ecp5-*.json",
                                                    "power-*.json", "accuracy.json")):
        return []
    rows = block_rows(folder)
    lines = ["", "## Attention block (issue 17)", ""] + block_table(rows)
    figure = plot_block(rows, Path(build) / "figures" / "block.png")
    if figure is not None:
        link = Path(os.path.relpath(figure, build)).as_posix()
        lines += ["", f"![Attention block: accuracy against energy per token and area]({link})"]
    return lines
