"""A small register-file circuit for the memory-macro tests (test_asic, test_power): one
Amaranth ``Memory`` of ``width`` x ``depth`` with one write port (optionally ``granularity``-bit
write-enable groups) and one registered read port with enable, every port a top-level port; and
its reference behaviour on a stream of cycles (reads see the words before that cycle's write)."""

import numpy as np
from amaranth import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["SmallRam", "SmallRom", "StreamFifo", "ram_reference"]


class SmallRam(wiring.Component):
    """``wa``/``wd``/``we`` write ``wd`` to word ``wa`` where ``we`` (one bit per granule);
    ``ra``/``re``: ``rd`` holds word ``ra`` from the cycle after ``re``."""

    def __init__(self, width=8, depth=16, granularity=None):
        self.width, self.depth, self.granularity = width, depth, granularity
        granules = 1 if granularity is None else width // granularity
        super().__init__({"wa": In(range(depth)), "wd": In(width), "we": In(granules),
                          "ra": In(range(depth)), "re": In(1), "rd": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=unsigned(self.width), depth=self.depth, init=[])
        write = (mem.write_port(granularity=self.granularity) if self.granularity
                 else mem.write_port())
        read = mem.read_port()
        m.d.comb += [write.addr.eq(self.wa), write.data.eq(self.wd), write.en.eq(self.we),
                     read.addr.eq(self.ra), read.en.eq(self.re), self.rd.eq(read.data)]
        return m


class SmallRom(wiring.Component):
    """A 16-word table of 8-bit constants read asynchronously: ``data`` = table[``addr``]."""

    def __init__(self):
        super().__init__({"addr": In(4), "data": Out(8)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = Memory(shape=unsigned(8), depth=16,
                                        init=[(37 * k + 11) % 256 for k in range(16)])
        read = rom.read_port(domain="comb")
        m.d.comb += [read.addr.eq(self.addr), self.data.eq(read.data)]
        return m


class StreamFifo(wiring.Component):
    """``i`` -> a 4-deep ``SyncFIFOBuffered`` of bytes (its storage a ``Memory``) -> ``o``:
    every beat comes out in order, ``i.ready`` low while the FIFO is full."""

    def __init__(self):
        from amaranth.lib import stream
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        from amaranth.lib.fifo import SyncFIFOBuffered
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8, depth=4)
        m.d.comb += [fifo.w_data.eq(self.i.payload), fifo.w_en.eq(self.i.valid),
                     self.i.ready.eq(fifo.w_rdy), self.o.payload.eq(fifo.r_data),
                     self.o.valid.eq(fifo.r_rdy), fifo.r_en.eq(self.o.ready)]
        return m


def ram_reference(depth, wa, wd, we, ra, re, width=8):
    """``(rd after each cycle, events)``: the read data after each clock edge and the
    events the memory model counts (``write``, ``bit_change``, ``read``, ``read_bit_change``,
    ``cycle``) on the cycles given (one granule: ``we`` one bit)."""
    words, rd, out = [0] * depth, 0, [0]
    events = dict(cycle=0, write=0, bit_change=0, read=0, read_bit_change=0)
    for k in range(len(wa)):
        events["cycle"] += 1
        new_rd = rd
        if re[k]:
            new_rd = words[int(ra[k])]
            events["read"] += 1
            events["read_bit_change"] += bin(new_rd ^ rd).count("1")
        if we[k]:
            events["write"] += 1
            events["bit_change"] += bin(words[int(wa[k])] ^ int(wd[k])).count("1")
            words[int(wa[k])] = int(wd[k])
        rd = new_rd
        out.append(rd)
    return np.array(out, dtype=np.int64), events
