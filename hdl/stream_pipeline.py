"""A register pipeline between two `amaranth.lib.stream` interfaces that stalls as a whole."""

from amaranth.hdl import Signal

__all__ = ["StallingPipeline"]


class StallingPipeline:
    """Pipeline registers for a stream datapath, built inside an ``elaborate``.

    Every stage moves when the output is free (not valid) or taken (ready); otherwise every
    stage holds, and the input is not ready. So a payload never changes while
    ``o.valid & ~o.ready``, no item is lost or duplicated, and with ``o.ready`` high the
    pipeline takes one item per cycle. A valid bit travels beside the data through every
    stage; only it needs a reset.

    Usage: ``p = StallingPipeline(m, i, o)``; ``x1 = p.stage(x0)`` for each register stage
    (values of one stage are registered together with one valid bit); ``p.finish(payload)``
    drives ``o``. ``p.latency`` is the number of stages: an item accepted at a clock edge is
    valid at the output ``latency`` edges later when the output never stalls.
    """

    def __init__(self, m, i, o):
        self._m, self._o = m, o
        self.enable = Signal()
        m.d.comb += [self.enable.eq(~o.valid | o.ready), i.ready.eq(self.enable)]
        self._valid = i.valid
        self.latency = 0

    def stage(self, *values):
        """Register ``values`` (one stage); returns the registered copies in order."""
        self.latency += 1
        valid = Signal(name=f"valid_s{self.latency}")
        registered = [Signal.like(v, name=f"{getattr(v, 'name', 'value')}_s{self.latency}",
                                  reset_less=True) if isinstance(v, Signal)
                      else Signal(v.shape(), name=f"value_s{self.latency}", reset_less=True)
                      for v in values]
        with self._m.If(self.enable):
            self._m.d.sync += [valid.eq(self._valid), *(r.eq(v) for r, v in zip(registered, values))]
        self._valid = valid
        return registered

    def finish(self, payload):
        """Drive the output stream from the last stage."""
        self._m.d.comb += [self._o.payload.eq(payload), self._o.valid.eq(self._valid)]
