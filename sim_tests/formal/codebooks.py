"""The weight codebooks of SPEC.md as tables, and the product specifications built on them,
shared by the MAC and dot-product proofs: each code's value x 2^f, from SPEC.md's codebooks and
the bit patterns fixed in docs/dint.md and docs/pot.md, never read from the circuits."""

from amaranth.hdl import Signal, signed

from lowbit.core.modes import DintCodebook
from lowbit.core.unit_params import DINT_FRAC_BITS

__all__ = ["DINT_CODEBOOKS", "dint_table", "pot_table", "case_table", "dint_spec", "pot_spec"]

# Every dINT4 codebook, ``(special, frac_bits)``: each special-code choice at each f.
DINT_CODEBOOKS = tuple((special, frac_bits) for special in DintCodebook
                       for frac_bits in range(DINT_FRAC_BITS.lo, DINT_FRAC_BITS.hi + 1))


def dint_table(special, frac_bits):
    """The dINT4 codebook as ``code -> value x 2^f`` (SPEC.md "dINT"; the bit patterns of the
    docs/dint.md table): codes 0..6 and 9..15 are two's complement integers; ``half`` keeps 7
    and spends 1000 on +2^-f; ``pm_half`` spends 0111 on +2^-f and 1000 on -2^-f."""
    unit = 1 << frac_bits
    table = {code: (code - 16 if code >= 9 else code) * unit for code in range(16)}
    if special == DintCodebook.HALF:
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


def dint_spec(special, frac_bits, fault=None):
    """The dINT product specification ``spec(m, weight, act)``: the code's table value times
    ``act``. ``fault=(code, delta)`` puts one entry off by ``delta``: a deliberately wrong
    specification, to check that the proofs find the difference."""
    table = dint_table(special, frac_bits)
    if fault is not None:
        code, delta = fault
        table[code] += delta
    return lambda m, weight, act: case_table(m, weight, table, act, len(act) + 6)


def pot_spec(bits, zero_code):
    table = pot_table(bits, zero_code)
    return lambda m, weight, act: case_table(m, weight, table, act, len(act) + (1 << bits))
