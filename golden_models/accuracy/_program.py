"""The old ``python -m`` entry point of a study program, now a ``lowbit experiment`` subcommand."""

import argparse

__all__ = ["legacy_main"]


def legacy_main(doc, add_arguments, run, argv=None):
    """Parse ``argv`` with the program's own ``add_arguments`` and ``run`` it, as
    ``lowbit experiment`` does (``doc``'s first line is the description)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
