"""One exclusive file lock, for run folders that two lowbit processes may share."""

import fcntl
from contextlib import contextmanager

__all__ = ["exclusive_lock"]


@contextmanager
def exclusive_lock(path):
    """Hold an exclusive ``flock`` on the file ``path`` (created, with its folder, if missing)
    for the ``with`` block: a second process asking for the same path waits its turn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
