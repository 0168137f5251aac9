"""Stream helpers for testbenches in Amaranth's Python simulator (``amaranth.sim``), the
counterpart of :mod:`lowbit.sim_tests.streams` (cocotb): put payloads into an
``amaranth.lib.stream`` interface and take them out, honouring ``valid``/``ready``.

:func:`put` and :func:`get` move one beat, as in Amaranth's stream guide; :func:`send` offers
several streams' beats at once, each beat held until it is taken (``valid`` low once a stream
has no more); :func:`receive` takes a number of beats with ``ready`` held high. Each takes an
optional ``tick``: an async function of no arguments that advances one clock cycle (default
``ctx.tick()``), so a caller that samples every cycle (the waveform tracer) passes its own.
"""

__all__ = ["put", "get", "send", "receive"]


def _ticker(ctx, tick):
    if tick is not None:
        return tick

    async def one_cycle():
        await ctx.tick()
    return one_cycle


async def put(ctx, stream, payload, *, tick=None):
    """Offer ``payload`` on ``stream`` until the other side takes it; ``valid`` is low after."""
    await send(ctx, [(stream, [payload])], tick=tick)


async def get(ctx, stream, *, tick=None):
    """Take the next payload from ``stream`` (``ready`` high until it comes, low after)."""
    payload, = await receive(ctx, stream, 1, tick=tick)
    return payload


async def send(ctx, streams, *, tick=None):
    """Offer each ``(stream, payloads)`` back to back, all streams in the same cycles, each
    payload held until it is taken; returns when every payload is taken (each ``valid`` low
    from then on)."""
    tick = _ticker(ctx, tick)
    left = [[stream, list(payloads)] for stream, payloads in streams]
    while any(payloads for _, payloads in left):
        taken = []
        for stream, payloads in left:
            ctx.set(stream.valid, bool(payloads))
            if payloads:
                ctx.set(stream.payload, payloads[0])
            taken.append(bool(payloads) and ctx.get(stream.ready))
        await tick()
        for (_, payloads), took in zip(left, taken):
            if took:
                payloads.pop(0)
    for stream, _ in left:
        ctx.set(stream.valid, 0)


async def receive(ctx, stream, count, *, tick=None):
    """Take ``count`` payloads from ``stream``, ``ready`` held high meanwhile (low after);
    returns them in order."""
    tick = _ticker(ctx, tick)
    ctx.set(stream.ready, 1)
    got = []
    while len(got) < count:
        valid, payload = ctx.get(stream.valid), ctx.get(stream.payload)
        await tick()
        if valid:
            got.append(payload)
    ctx.set(stream.ready, 0)
    return got
