"""Golden model of ``pot_dot``: an N-lane PoT weight x signed activation dot product per beat.

Each lane's term is the exact ``a x 2**(f-e)``, negated when s = 1 and 0 for the zero code
(``value(code) x 2**f x a``, f the format's ``frac_bits``); a beat's result is the sum of
its ``lanes`` terms, so it has f fractional bits. The per-channel scale is applied outside.
"""

from .int_dot import LaneDot
from .pot import PotFormat

__all__ = ["PotDot"]


class PotDot(LaneDot):
    """Model of the PoT x INT dot product.

    Parameters: ``lanes`` in 1..1024; ``bits`` and ``zero_code`` select the
    :class:`~lowbit.golden_models.pot.PotFormat`; ``act_bits`` in 2..16.
    Attributes: ``format``, ``frac_bits``, ``product_bits``, ``sum_bits`` (see
    :class:`~lowbit.golden_models.int_dot.LaneDot`).
    """

    def __init__(self, *, lanes=8, bits=4, zero_code=True, act_bits=8):
        self.format = PotFormat(bits, zero_code)
        self.frac_bits = self.format.frac_bits
        values = self.format.scaled_values
        super().__init__(lanes, act_bits, int(values.min()), int(values.max()))

    def dot(self, codes, acts):
        """Inputs: ``codes`` integers (beats, lanes) in 0 .. 2**bits - 1; ``acts`` integers
        (beats, lanes) in the signed ``act_bits`` range. Output: int64 (beats,), the exact
        dot product of each beat with ``frac_bits`` fractional bits."""
        return self.lane_sums("codes", self.format.decode_scaled(codes), acts)
