"""``lowbit block``: one named configuration of the attention block on a real sentence, end to
end (docs/block.md): MiniLM's layer input and quantized weights from the integer model
(golden_models/block, ``minilm_inputs``), the block generated at MiniLM's shape and simulated,
its output checked bit for bit against ``block_forward``, then its cycles per token and per
layer, its engines' utilisation and the model's accuracy figures against FP32.
"""

import time
from pathlib import Path

from .core.errors import LowbitError
from .core.modes import BLOCK_CONFIGS

__all__ = ["add_arguments", "run_command", "CONFIG_NAMES"]

CONFIG_NAMES = tuple(BLOCK_CONFIGS)
MINILM_LANES = (4, 8, 16, 32)     # the lanes must divide MiniLM's head_dim of 32


def add_arguments(parser):
    from .core.options import bounded
    parser.add_argument("--config", required=True, choices=CONFIG_NAMES,
                        help="the configuration (lowbit.core.modes BLOCK_CONFIGS)")
    parser.add_argument("--sentence", type=bounded(int, 0, 239), default=0,
                        help="index of the study set's evaluation sentence, 0..239 (default 0)")
    parser.add_argument("--layer", type=bounded(int, 0, 5), default=0,
                        help="MiniLM's self-attention layer, 0..5 (default 0)")
    parser.add_argument("--lanes", type=int, choices=MINILM_LANES, default=16,
                        help="lanes of the engines (dividing MiniLM's head_dim 32; default 16)")
    parser.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator",
                        help="simulator of the generated Verilog (default verilator)")
    parser.add_argument("--no-sim", action="store_true",
                        help="no simulation: the model's figures and the block's cycle formula")
    parser.add_argument("--seed", type=bounded(int, 0, 2**32 - 1), default=1,
                        help="random seed of the testbench")


def run_command(args):
    from .golden_models.block import CONFIGS, block_forward, compare_fp32, minilm_inputs
    from .hdl.attention_block import AttentionBlock
    from .hdl.component import unelaborated
    from .sim_tests.runner import require_simulator, simulate
    from .sim_tests.tb_block import save_case
    from .units import UNITS

    fmt = CONFIGS[args.config]
    require_simulator(args.simulator)
    started = time.monotonic()
    params, inputs, reference = minilm_inputs(args.config, args.sentence, args.layer)
    trace = block_forward(params, inputs)
    accuracy = compare_fp32(reference, trace)
    print(f"config {args.config}: {fmt.engine} weights x INT8, softmax {fmt.softmax}; "
          f"MiniLM layer {args.layer}, sentence {args.sentence} ({params.tokens} tokens): "
          f"{reference.sentence!r}")
    print(f"integer model against FP32 ({time.monotonic() - started:.1f} s): layer cosine "
          f"{accuracy['layer_cosine']:.5f}, relative error {accuracy['layer_rel_error']:.4f}, "
          f"worst token cosine {accuracy['token_cosine_min']:.5f}, embedding cosine "
          f"{accuracy['embedding_cosine']:.6f}")
    unit = UNITS["attention_block"]
    block_params = unit.resolve({
        "engine": fmt.engine, "softmax": fmt.softmax, "lanes": args.lanes,
        "d_model": params.d_model, "heads": params.heads, "max_tokens": params.max_tokens,
        "in_bits": params.in_bits, "in_frac": params.in_frac, "lut_frac": params.lut_frac,
        "m_bits": params.m_bits})
    block = unelaborated(AttentionBlock(**block_params))   # for its formulas only
    tokens = params.tokens
    formula = block.cycles(tokens)
    if args.no_sim:
        _print_cycles(block, tokens, formula, args.lanes, "formula, not simulated")
        return 0
    case_dir = Path(args.build) / "block"
    case_dir.mkdir(parents=True, exist_ok=True)
    case = (case_dir / f"{args.config}-s{args.sentence}-l{args.layer}.npz").resolve()
    save_case(case, params, inputs)
    started = time.monotonic()
    result = simulate(unit, block_params, args.simulator, build_root=Path(args.build) / "sim",
                      seed=args.seed, extra_env={"LOWBIT_BLOCK_CASE": str(case),
                                                 "LOWBIT_BLOCK_ONLY": "exact"})
    seconds = time.monotonic() - started
    if not result.ok:
        raise LowbitError(f"the block's output differs from the integer model (or the run "
                          f"failed): see {result.log}")
    exact = next(d for d in result.details if d["test"] == "layer_bit_exact")
    cycles = exact["cycles"]
    if cycles != formula:
        raise LowbitError(f"the layer took {cycles} cycles, the formula says {formula}")
    print(f"{args.simulator}: bit-exact, {exact['checked']} outputs equal block_forward's "
          f"({seconds:.1f} s wall, generation and build included)")
    _print_cycles(block, tokens, cycles, args.lanes,
                  f"simulated; formula {formula:,}, exact")
    return 0


def _print_cycles(block, tokens, cycles, lanes, how):
    use = block.utilisation(tokens, cycles)
    print(f"cycles per layer {cycles:,} ({how}), per token {cycles / tokens:,.0f}; lanes {lanes}")
    phases = block.phase_cycles(tokens)
    print("phases: " + ", ".join(f"{k} {v:,}" for k, v in phases.items()))
    if block.aa is None:   # the bit-plane engine does every product, precision per job
        print(f"utilisation: the bit-plane engine {100 * (use['proj'] + use['aa']):.1f} % "
              f"(projections {100 * use['proj']:.1f} %, Q K^T / P V "
              f"{100 * use['aa']:.1f} % at {block.aa_passes} passes a beat)")
    else:
        print(f"utilisation: projection engine {100 * use['proj']:.1f} %, Q K^T / P V engine "
              f"{100 * use['aa']:.1f} %")
