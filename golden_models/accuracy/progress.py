"""A one-line progress bar on stderr for the study's long runs (``lowbit eval``, the experiments)."""

import sys
import time

__all__ = ["Progress", "Steps", "FORWARD_UNITS"]

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


class Steps:
    """Progress of a study program (``lowbit experiment ...``) in ``lowbit flow``'s form: one line
    on stderr per step done, ``lowbit experiment: [done/total]  elapsed s  what``.

    ``total`` is the number of :meth:`step` calls the program will make (each program counts its
    own tables, rows or layers; a step may restate it once known, ``step(what, total=n)``); a
    step beyond it extends the total rather than print 5/4.
    """

    prefix = "lowbit experiment: "

    def __init__(self, total, stream=None):
        self.total, self.done = max(int(total), 1), 0
        self.stream = stream
        self.start = time.monotonic()

    def step(self, what, total=None):
        self.done += 1
        self.total = max(self.total if total is None else int(total), self.done)
        print(f"{self.prefix}[{self.done:>3}/{self.total}] {time.monotonic() - self.start:5.0f} s  {what}",
              file=self.stream or sys.stderr, flush=True)
