"""await-sleep and blocking-sleep: one loop thread serves everything, unless a handler blocks it.

Both send a long request, then `/quick` requests while it runs, on a second connection. Which
quick requests really arrived during the long one is read from the records afterwards, on the
wall clock the client and the server share, not assumed from the client's pacing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.observed import handler_threads, loop_threads
from asgi_lab.lab.verdicts import at_most, exactly, latency_unaffected, near
from asgi_lab.records.schema import RecordData

__all__ = ["await_sleep", "blocking_sleep", "quick_meanwhile"]

SECONDS = 1.0
#: Latencies below a few milliseconds are at the mercy of the scheduler on a shared box; the
#: effect ruled out is a delay of the whole sleep, hundreds of times larger.
NOISE = 0.002
ALONE = 10


async def quick_alone(client: AsyncClient, n: int = ALONE) -> list[Reply]:
    """`/quick` with nothing else running: the baseline latency."""
    await client.get("/quick")  # the connection is open and warm before we time anything
    return [await client.get("/quick") for _ in range(n)]


async def during(url: str, long_path: str, pace: float) -> tuple[Reply, list[Reply], list[Reply]]:
    """`/quick` alone; then start `long_path` and send one `/quick` every `pace` seconds until it
    answers. Returns the long reply, the quick ones alone, and the quick ones meanwhile."""
    async with AsyncClient(url) as long_client, AsyncClient(url, connections=1) as quick:
        alone = await quick_alone(quick)
        long_request = asyncio.ensure_future(long_client.get(long_path))
        quicks: list[Reply] = []
        try:
            while not long_request.done():
                # Pacing the client, not synchronising: the records say what overlapped.
                await asyncio.wait({long_request}, timeout=pace)
                if not long_request.done():
                    quicks.append(await quick.get("/quick"))
            return await long_request, alone, quicks
        finally:
            long_request.cancel()


@dataclass(frozen=True)
class Meanwhile:
    """A long request, its record, and the `/quick` ones sent while it ran (and alone, before)."""

    long: Reply
    record: RecordData
    alone: list[Reply]
    quicks: list[Reply]


def quick_meanwhile(ctx: Context, phase: str, long_path: str, secs: float) -> Meanwhile:
    """Serve one phase: `long_path`, with `/quick` every tenth of `secs` while it runs."""
    with ctx.server(phase) as server:
        ctx.step(f"GET {long_path}, and /quick every {secs / 10:g} s meanwhile")
        long_reply, alone, quicks = asyncio.run(during(server.url, long_path, secs / 10))
    record = ctx.record_of(long_reply)
    start, end = record.start_ns, record.end_ns
    # Those sent well inside it (a pacing step before its end, so no race at the edge).
    meanwhile = [q for q in quicks if start <= q.sent_ns <= end - secs / 10 * 1e9]
    if not meanwhile:
        raise RuntimeError(f"no /quick was sent while {long_path} ran; is the scale too small?")
    return Meanwhile(long_reply, record, alone, meanwhile)


@experiment(
    "await-sleep",
    title="/async/sleep awaits: /quick sent meanwhile is not delayed, same loop thread",
    chapter="01-the-loop",
    tour_scale=1.5,
)
def await_sleep(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    seen = quick_meanwhile(ctx, "await-sleep", f"/async/sleep?seconds={secs:g}", secs)
    long_reply, sleep, alone, meanwhile = seen.long, seen.record, seen.alone, seen.quicks
    end = sleep.end_ns
    ctx.check(at_most("the sleep answered after ~S", long_reply.seconds, secs))
    ctx.check(
        exactly(
            "quick requests answered before the sleep ended",
            sum(1 for q in meanwhile if ctx.record_of(q).end_ns <= end),
            len(meanwhile),
            note="of those sent while it ran",
        )
    )
    ctx.check(
        latency_unaffected(
            "quick latency during the sleep (median)",
            [q.seconds for q in meanwhile],
            [a.seconds for a in alone],
            NOISE,
        )
    )
    served = [sleep, *map(ctx.record_of, meanwhile)]
    ctx.check(exactly("loop threads that served both", len(loop_threads(served)), 1))
    ctx.check(
        exactly(
            "handlers that ran off the loop thread",
            sum(1 for r in served if r.handler.in_threadpool),
            0,
        )
    )
    ctx.fact("quick alone (ms)", " ".join(f"{a.seconds * 1e3:.2f}" for a in alone))
    ctx.fact("quick meanwhile (ms)", " ".join(f"{q.seconds * 1e3:.2f}" for q in meanwhile))


@experiment(
    "blocking-sleep",
    title="/async/block sleeps on the loop: /quick waits for it, both on the same loop thread",
    chapter="01-the-loop",
    tour_scale=1.5,
)
def blocking_sleep(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    delay = secs / 5
    with ctx.server("blocking-sleep") as server:
        ctx.step(f"GET /async/block?seconds={secs:g}, then /quick {delay:g} s later")
        long_reply, alone, quicks = asyncio.run(
            during(server.url, f"/async/block?seconds={secs:g}", delay)
        )
    if not quicks:
        raise RuntimeError("no /quick was sent while the block ran; is the scale too small?")
    block = ctx.record_of(long_reply)
    quick_reply = quicks[0]
    quick = ctx.record_of(quick_reply)
    if quick_reply.sent_ns < block.start_ns:
        raise RuntimeError("/quick was sent before the block started; nothing to show")
    left = (block.end_ns - quick_reply.sent_ns) / 1e9
    ctx.check(
        near(
            "quick's latency = what was left of the block",
            quick_reply.seconds,
            left,
            note=f"block end - quick sent = {secs:g} s - {delay * 1e3:.0f} ms pacing",
        )
    )
    ctx.check(
        exactly(
            "quick started on the server only after the block ended",
            int(quick.start_ns >= block.end_ns),
            1,
        )
    )
    ctx.check(exactly("loop threads that served both", len(loop_threads([block, quick])), 1))
    ctx.check(
        exactly(
            "handler threads (the loop thread ran both)",
            len(handler_threads([block, quick]) | loop_threads([block, quick])),
            1,
        )
    )
    ctx.fact("quick alone (ms)", " ".join(f"{a.seconds * 1e3:.2f}" for a in alone))
    ctx.fact("quick during the block (ms)", f"{quick_reply.seconds * 1e3:.1f}")
