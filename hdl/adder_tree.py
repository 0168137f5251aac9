"""Balanced adder trees, registered level by level, shared by every dot-product-like unit."""

__all__ = ["adder_tree"]


def adder_tree(terms, stage=None):
    """The sum of ``terms`` (Amaranth values) by a balanced binary tree.

    ``stage``, if given, is called with the list of a level's partial sums and returns their
    registered copies (e.g. :meth:`StallingPipeline.stage`), so every level ends in registers;
    without it the tree is combinational. Each addition grows the width by one bit, so no
    level overflows; the caller truncates the result to the exact width it derived.
    """
    level = list(terms)
    if not level:
        raise ValueError("adder_tree needs at least one term")
    while len(level) > 1:
        level = [level[k] + level[k + 1] if k + 1 < len(level) else level[k]
                 for k in range(0, len(level), 2)]
        if stage is not None:
            level = stage(*level)
    return level[0]
