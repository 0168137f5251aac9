"""The MiniLM accuracy study: what the low-bit formats cost on a real transformer.

Apart from the bit-exact unit models of ``golden_models/`` (which this package only calls),
it holds the float-side study:

- :mod:`.minilm`: the all-MiniLM-L6-v2 forward pass in NumPy, with its quantization hooks;
  :mod:`.sentences`: the committed sentence sets; :mod:`.reference`: the stored reference
  embeddings.
- :mod:`.ptq`: RTN, GPTQ and Athena-style second-order weight quantization, format-agnostic.
- :mod:`.exaq`: EXAQ's clip rules, float quantizer and per-layer calibration;
  :mod:`.exaq_minilm`: EXAQ on MiniLM's real attention rows.
- :mod:`.evaluate`: the accuracy table of ``lowbit eval`` (with :mod:`.rows`,
  :mod:`.weight_sets`, :mod:`.exaq_attention`, :mod:`.metrics`, :mod:`.progress`,
  :mod:`.writers`).
- :mod:`.dint_mse`, :mod:`.pot_mse`: the per-format weight and layer error experiments.

Like every golden model it imports only NumPy, the rest of ``golden_models`` and
``lowbit.core``. Its programs are ``lowbit experiment ...`` subcommands.
"""
