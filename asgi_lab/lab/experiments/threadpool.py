"""threadpool and threadpool-limit: blocking handlers go to worker threads, T tokens at a time."""

from __future__ import annotations

import asyncio
import statistics
import time

from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.lab.experiments.loop import NOISE, quick_meanwhile
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.observed import handler_threads, hop_intervals, loop_threads, max_in_flight
from asgi_lab.lab.verdicts import exactly, latency_unaffected, near, waves

__all__ = ["threadpool", "threadpool_limit"]

SECONDS = 1.0
TOKENS = 4

# Layer 2, on the wrapper as on FastAPI, validates a `def` endpoint's return value (it has a return
# annotation) in a second trip to the threadpool. anyio hands a freed token to the longest
# waiter, so with 2T requests on T tokens the first wave's second trips queue behind the second
# wave's sleeps: every request waits ~S once, and the first wave's answers come at 2S, not S.
SECOND_TRIP_LAYERS = frozenset({"api", "fastapi"})


@experiment(
    "threadpool",
    title="/sync/sleep runs on a worker thread: /quick sent meanwhile is not delayed",
    chapter="02-the-threadpool",
    tour_scale=1.5,
)
def threadpool(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    seen = quick_meanwhile(ctx, "threadpool", f"/sync/sleep?seconds={secs:g}", secs)
    sleep, alone, meanwhile = seen.record, seen.alone, seen.quicks
    quick_records = [ctx.record_of(q) for q in meanwhile]
    ctx.check(
        latency_unaffected(
            "quick latency during the sync sleep (median)",
            [q.seconds for q in meanwhile],
            [a.seconds for a in alone],
            NOISE,
        )
    )
    loop_thread = sleep.loop.thread.native_id
    sleeper = sleep.handler.thread.native_id
    ctx.check(
        exactly(
            "the sleep ran in the threadpool, off the loop thread",
            int(bool(sleep.handler.in_threadpool) and sleeper != loop_thread),
            1,
        )
    )
    ctx.check(
        exactly(
            "quick requests run on the loop thread",
            sum(1 for r in quick_records if not r.handler.in_threadpool),
            len(quick_records),
        )
    )
    received = loop_threads([sleep, *quick_records])
    ctx.check(exactly("loop threads that received both", len(received), 1))
    call = sleep.hops[0].call
    ctx.fact("loop thread / sleep's thread", f"{loop_thread} / {sleeper} (ran {call})")
    ctx.fact("quick meanwhile (ms)", " ".join(f"{q.seconds * 1e3:.2f}" for q in meanwhile))


async def concurrent(url: str, path: str, n: int) -> tuple[float, list[Reply]]:
    async with AsyncClient(url) as client:
        await asyncio.gather(*(client.get("/quick") for _ in range(n)))  # open n connections
        started = time.perf_counter()
        replies = await asyncio.gather(*(client.get(path) for _ in range(n)))
        return time.perf_counter() - started, list(replies)


@experiment(
    "threadpool-limit",
    title="2T sync sleeps with T tokens take two waves; more tokens (ASGI_LAB_THREADS), one",
    chapter="02-the-threadpool",
    tiny_scale=0.6,
)
def threadpool_limit(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    n = 2 * TOKENS
    path = f"/sync/sleep?seconds={secs:g}"
    for tokens in (TOKENS, n):
        phase = f"threads={tokens}"
        with ctx.server(phase, threads=tokens) as server:
            ctx.step(f"{phase}: {n} concurrent GET {path}")
            elapsed, replies = asyncio.run(concurrent(server.url, path, n))
        records = ctx.records(phase, "/sync/sleep")
        ctx.check(waves(f"{phase}: {n} sleeps of S", elapsed, n, tokens, secs))
        ctx.check(
            exactly(f"{phase}: threads busy at once", max_in_flight(hop_intervals(records)), tokens)
        )
        waits = sorted(r.wait_s for r in records)
        waited = [w for w in waits if w > secs / 2]
        second_trip = ctx.layer in SECOND_TRIP_LAYERS and tokens < n
        ctx.check(
            exactly(
                f"{phase}: requests that waited for a token",
                len(waited),
                n if second_trip else n - tokens,
                note="all: each result's validation, a second trip, queues behind a sleep"
                if second_trip
                else "",
            )
        )
        if waited:
            median = statistics.median(waited)
            ctx.check(near(f"{phase}: each of those waited ~S (median)", median, secs))
        ctx.fact(f"{phase}: token waits (ms)", " ".join(f"{w * 1e3:.1f}" for w in waits))
        ctx.fact(
            f"{phase}: worker threads",
            f"{len(handler_threads(records))} distinct",
        )
    if ctx.layer in SECOND_TRIP_LAYERS:
        ctx.fact(
            "on this layer",
            "a def endpoint's result is validated in a second threadpool trip (as FastAPI "
            "does): with T tokens the first wave's validations wait behind the second wave",
        )
