"""Balanced adder trees, registered level by level, shared by every dot-product-like unit."""

__all__ = ["adder_tree", "adder_trees", "popcount", "tree_levels"]


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
