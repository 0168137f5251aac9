"""The ground layer: errors, parameter declarations and checks, width arithmetic, modes.

It imports nothing else of lowbit, so that the gateware (``lowbit.hdl``) and the golden models
(``lowbit.golden_models``) can stand on it without reaching into the application above them.
``sim_tests/test_layers.py`` enforces that, and the layering of every other package.
"""
