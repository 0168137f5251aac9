"""Width arithmetic shared by the hardware, the golden models' range checks and the registry.

Everything here is exact integer arithmetic on value ranges, so that "does it overflow" is
decided once, the same way, everywhere.
"""

__all__ = ["signed_range", "unsigned_range", "signed_bits_for", "sum_bits"]


def signed_range(bits):
    """The closed range ``(lo, hi)`` of a ``bits``-wide two's complement integer."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def unsigned_range(bits):
    """The closed range ``(lo, hi)`` of a ``bits``-wide unsigned integer."""
    return 0, (1 << bits) - 1


def signed_bits_for(lo, hi):
    """The fewest two's complement bits that hold every integer in ``lo..hi``."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def sum_bits(term_lo, term_hi, n_terms):
    """Signed bits that hold the sum of ``n_terms`` terms, each in ``term_lo..term_hi``."""
    return signed_bits_for(min(0, term_lo * n_terms), max(0, term_hi * n_terms))
