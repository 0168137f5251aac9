"""Balanced adder trees, registered level by level, shared by every dot-product-like unit;
and :class:`BitHeap`, a carry-save (Dadda) tree with one carry-propagate adder, shared by the
fused multiply-accumulate units."""

from amaranth.hdl import Cat, Const, Signal, Value

__all__ = ["adder_tree", "adder_trees", "popcount", "tree_levels", "BitHeap", "dadda_heights"]


def tree_levels(n_terms):
    """Levels of a balanced binary tree over ``n_terms`` terms: ceil(log2(n_terms))."""
    return (n_terms - 1).bit_length()


def adder_trees(term_lists, stage=None):
    """The sums of several lists of terms (Amaranth values), reduced in lockstep.

    Every level adds neighbouring pairs of every list; ``stage``, if given, is called once per
    level with all the level's partial sums and returns their registered copies (e.g.
    :meth:`StallingPipeline.stage`), so the lists share pipeline stages and a short list never
    lengthens a long one's path. Without ``stage`` the trees are combinational. Each addition
    grows the width by one bit, so no level overflows; callers truncate to the exact width
    they derived.
    """
    levels = [list(terms) for terms in term_lists]
    if not levels or not all(levels):
        raise ValueError("adder_trees needs at least one term in every list")
    while any(len(level) > 1 for level in levels):
        levels = [[level[k] + level[k + 1] if k + 1 < len(level) else level[k]
                   for k in range(0, len(level), 2)] for level in levels]
        if stage is not None:
            flat = stage(*(value for level in levels for value in level))
            regrouped, start = [], 0
            for level in levels:
                regrouped.append(flat[start:start + len(level)])
                start += len(level)
            levels = regrouped
    return [level[0] for level in levels]


def adder_tree(terms, stage=None):
    """The sum of ``terms`` by a balanced binary tree; see :func:`adder_trees`."""
    return adder_trees([terms], stage)[0]


def popcount(bits):
    """The number of set bits of ``bits`` (a signal, or an iterable of 1-bit values), by a
    balanced combinational tree: depth log2(n) of narrow adders, never a linear chain.

    Pass a named ``Signal``, not a compound expression: the tree slices its operand bit by bit,
    and each slice of an expression repeats the whole expression in the generated netlist.
    """
    return adder_tree(list(bits))


def dadda_heights(tallest):
    """Dadda's column-height targets below ``tallest``, largest first, ending at 2: each stage
    of full and half adders brings every column down to the next target."""
    heights = [2]
    while heights[-1] * 3 // 2 < tallest:
        heights.append(heights[-1] * 3 // 2)
    return heights[::-1]


class BitHeap:
    """Weighted bits summed modulo ``2**width`` by one carry-save tree and one carry-propagate
    adder.

    Terms go in as bits of a column (``add_bit``), as unsigned or two's complement values at a
    shift (``add_unsigned``, ``add_signed``) or as an integer constant. A signed term's sign
    bit goes in inverted, with ``-2**(n-1)`` added to the constant (``-s 2**(n-1) = (1-s)
    2**(n-1) - 2**(n-1)``), so no term is sign-extended: each occupies only its own columns,
    and all the terms' constants become one row of constant bits. :meth:`resolve` reduces the
    columns with Dadda's schedule of full adders (3:2) and half adders (2:2) to two rows (a
    constant bit makes its adder an XNOR and an OR) and adds them with one ``+``, with one
    spare bit of column 0 as its carry-in, so synthesis sees exactly one carry-propagate adder.
    The result is exact whenever the true sum fits the signed (or unsigned) ``width`` range.
    """

    def __init__(self, width):
        if not 1 <= width <= 128:
            raise ValueError(f"width={width} must be in 1..128")
        self.width = width
        self._columns = [[] for _ in range(width)]
        self._constant = 0

    def add_bit(self, bit, column=0):
        """Add the 1-bit value ``bit`` times ``2**column``."""
        if column < self.width:
            self._columns[column].append(bit)

    def add_unsigned(self, value, shift=0):
        """Add ``value`` (read as unsigned) times ``2**shift``."""
        for k, bit in enumerate(Value.cast(value)):
            self.add_bit(bit, shift + k)

    def add_signed(self, value, shift=0):
        """Add ``value`` (read as two's complement) times ``2**shift``."""
        value = Value.cast(value)
        n = len(value)
        for k in range(n - 1):
            self.add_bit(value[k], shift + k)
        self.add_bit(~value[n - 1], shift + n - 1)
        self._constant -= 1 << (shift + n - 1)

    def add_constant(self, constant):
        self._constant += constant

    def heights(self):
        """Bits per column as the heap stands (the constant row not counted)."""
        return [len(column) for column in self._columns]

    def resolve(self, m, name="heap"):
        """Add the tree to module ``m``; returns a ``width``-bit Signal holding the sum mod
        ``2**width``. The adders' sum and carry outputs are named ``{name}_s<k>`` and
        ``{name}_c<k>``, the result ``{name}_sum``."""
        columns, carry_in = self._reduce(m, name, carry_in=True)
        rows = self._rows(columns)
        total = Signal(self.width, name=f"{name}_sum")
        addends = Cat(*rows[0]) + Cat(*rows[1])
        m.d.comb += total.eq(addends if carry_in is None else addends + carry_in)
        return total

    def carry_save(self, m, name="heap"):
        """Add the carry-save tree alone to ``m``; returns two ``width``-bit Signals whose sum
        mod ``2**width`` is the heap's (``{name}_row0``, ``{name}_row1``), to be registered
        and added later: a pipeline stage cut between the compression and the one adder."""
        columns, _ = self._reduce(m, name, carry_in=False)
        rows = []
        for r, bits in enumerate(self._rows(columns)):
            row = Signal(self.width, name=f"{name}_row{r}")
            m.d.comb += row.eq(Cat(*bits))
            rows.append(row)
        return rows

    def _reduce(self, m, name, carry_in):
        """Dadda's reduction to at most two bits per column (three in column 0 with
        ``carry_in``: the spare bit is returned for the adder's carry input)."""
        columns = [list(column) for column in self._columns]
        constant = self._constant % (1 << self.width)
        for k in range(self.width):
            if constant >> k & 1:
                columns[k].insert(0, 1)   # first in line: an adder with a constant input is cheapest
        spare = None
        for k, bit in enumerate(columns[0] if carry_in else ()):
            if not isinstance(bit, int):
                spare = columns[0].pop(k)
                break
        count = 0

        def named(value, what):
            nonlocal count
            signal = Signal(name=f"{name}_{what}{count}")
            m.d.comb += signal.eq(value)
            return signal

        for target in dadda_heights(max(map(len, columns))):
            reduced = [[] for _ in range(self.width)]
            for k in range(self.width):
                bits = sorted(columns[k], key=lambda bit: not isinstance(bit, int))
                while len(bits) + len(reduced[k]) > target and len(bits) >= 2:
                    count += 1
                    if len(bits) + len(reduced[k]) - target >= 2 and len(bits) >= 3:
                        total, carry = _full_adder(bits.pop(0), bits.pop(0), bits.pop(0))
                    else:
                        total, carry = _half_adder(bits.pop(0), bits.pop(0))
                    for column, bit, what in ((k, total, "s"), (k + 1, carry, "c")):
                        if column < self.width and not (isinstance(bit, int) and bit == 0):
                            reduced[column].append(bit if isinstance(bit, int)
                                                   else named(bit, what))
                reduced[k].extend(bits)
            columns = reduced
        if max(map(len, columns)) > 2:
            raise AssertionError(f"the carry-save tree left columns {list(map(len, columns))}")
        return columns, spare

    @staticmethod
    def _rows(columns):
        def row_bit(column, r):
            if r >= len(column):
                return Const(0, 1)
            return Const(column[r], 1) if isinstance(column[r], int) else column[r]
        return [[row_bit(column, r) for column in columns] for r in (0, 1)]


def _full_adder(a, b, c):
    """(sum, carry) of three bits; the constants among them (the int 1) come first."""
    if isinstance(b, int):          # a and b are 1: 2 + c
        return (1, 1) if isinstance(c, int) else (c, 1)
    if isinstance(a, int):          # 1 + b + c
        return ~(b ^ c), b | c
    return a ^ b ^ c, (a & b) | (a & c) | (b & c)


def _half_adder(a, b):
    """(sum, carry) of two bits; a constant among them (the int 1) comes first."""
    if isinstance(b, int):
        return 0, 1
    if isinstance(a, int):
        return ~b, b
    return a ^ b, a & b
