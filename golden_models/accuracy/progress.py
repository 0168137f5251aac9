"""A one-line progress bar on stderr for the study's long runs (``lowbit eval``, the experiments)."""

import sys
import time

__all__ = ["Progress", "FORWARD_UNITS"]

# Progress units of ``lowbit eval``: a quantized layer is 1, a forward pass over the evaluation sentences 8.
FORWARD_UNITS = 8


class Progress:
    """A one-line progress bar on stderr: ``[####....] done/total  elapsed  what``."""

    def __init__(self, total, enabled):
        self.total, self.done, self.enabled = max(total, 1), 0, enabled
        self.start = self.shown = time.monotonic()
        self.what = ""

    def step(self, what, n=1):
        self.done = min(self.done + n, self.total)
        self.what = what
        if time.monotonic() - self.shown >= 0.5:  # redraw at most twice a second
            self._draw()

    def _draw(self):
        if self.enabled:
            self.shown = time.monotonic()
            width = 30
            filled = int(width * self.done / self.total)
            print(f"\r[{'#' * filled}{'.' * (width - filled)}] {int(100 * self.done / self.total):3d}% "
                  f"{self.shown - self.start:5.0f} s  {self.what:<44.44}", end="", file=sys.stderr, flush=True)

    def close(self, finished):
        if finished:
            self.done, self.what = self.total, "done"
        self._draw()
        if self.enabled:
            print(file=sys.stderr, flush=True)
