"""Verilog emission that is deterministic and free of machine paths."""

import threading

from amaranth.back import verilog

__all__ = ["to_verilog"]

# Conversion runs Amaranth's built-in Yosys in this process; the flow synthesizes from a thread
# pool, so conversions take turns rather than share that instance.
_convert_lock = threading.Lock()


def to_verilog(component, name):
    """Convert an Amaranth ``wiring.Component`` to Verilog text with top module ``name``.

    ``emit_src=False`` drops the ``(* src = "/path/file.py:12" *)`` attributes, so that the
    output is byte-identical for identical parameters on any machine.
    """
    with _convert_lock:
        return verilog.convert(component, name=name, emit_src=False)
