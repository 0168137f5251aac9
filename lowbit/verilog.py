"""Verilog emission that is deterministic and free of machine paths."""

from amaranth.back import verilog

__all__ = ["to_verilog"]


def to_verilog(component, name):
    """Convert an Amaranth ``wiring.Component`` to Verilog text with top module ``name``.

    ``emit_src=False`` drops the ``(* src = "/path/file.py:12" *)`` attributes, so that the
    output is byte-identical for identical parameters on any machine.
    """
    return verilog.convert(component, name=name, emit_src=False)
