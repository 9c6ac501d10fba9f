"""quick-def: an endpoint that waits for nothing, as `async def` and as `def`, under the same load.

The pair is the layer's own `/async/sleep?seconds=0` and `/sync/sleep?seconds=0`: the same
parsing and reply, one awaited on the loop, the other sent to the threadpool. Each round sends a
bounded number of requests one at a time (the latency of a request alone), then with several in
flight (what one worker serves per second); rounds alternate the two, so a slow moment of the
shared machine falls on both. The records say where each ran and how many trips it made.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.lab.experiments.threadpool import SECOND_TRIP_LAYERS
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.verdicts import at_most, exactly

__all__ = ["run"]

PATHS = {"async def": "/async/sleep?seconds=0", "def": "/sync/sleep?seconds=0"}
ROUNDS = 3
#: Requests per round at scale 1: one at a time, then `IN_FLIGHT` at once. Enough for a median
#: and a rate; few enough that the timeline picture (a bar per request and per trip) stays
#: under a megabyte.
ALONE = 40
LOADED = 160
IN_FLIGHT = 8
#: A round that takes longer is cut short with an error: the load is bounded in time too.
ROUND_LIMIT = 30.0
#: The trip to a thread and back, alone, is expected well under this (the claim's slack): the
#: scheduler of a shared box alone moves a median by a millisecond or two.
NOISE = 0.002


@dataclass(frozen=True)
class Round:
    """One round of one endpoint: every reply, and the wall time of the loaded part."""

    alone: list[Reply]
    loaded: list[Reply]
    loaded_seconds: float

    @property
    def p50(self) -> float:
        return statistics.median(r.seconds for r in self.alone)

    @property
    def per_second(self) -> float:
        return len(self.loaded) / self.loaded_seconds


async def one_round(client: AsyncClient, path: str, alone: int, loaded: int) -> Round:
    """`alone` GETs one after another, then `loaded` with `IN_FLIGHT` in flight at a time."""
    async with asyncio.timeout(ROUND_LIMIT):
        singles = [await client.get(path) for _ in range(alone)]
        replies: list[Reply] = []
        queue = iter(range(loaded))

        async def worker() -> None:
            for _ in queue:  # the workers share one iterator: `loaded` requests in all
                replies.append(await client.get(path))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return Round(singles, replies, time.perf_counter() - started)


async def drive(url: str, alone: int, loaded: int) -> dict[str, list[Round]]:
    rounds: dict[str, list[Round]] = {kind: [] for kind in PATHS}
    async with AsyncClient(url, connections=IN_FLIGHT) as client:
        for path in PATHS.values():  # connections open, threads started, caches filled
            await asyncio.gather(*(client.get(path) for _ in range(2 * IN_FLIGHT)))
        for _ in range(ROUNDS):
            for kind, path in PATHS.items():
                rounds[kind].append(await one_round(client, path, alone, loaded))
    return rounds


@experiment(
    "quick-def",
    title="An endpoint that waits for nothing: async def vs def, latency alone and req/s loaded",
    chapter="03-def-or-async-def",
    tiny_scale=0.2,
)
def run(ctx: Context) -> None:
    alone, loaded = max(10, round(ALONE * ctx.scale)), max(4 * IN_FLIGHT, round(LOADED * ctx.scale))
    with ctx.server("quick-def") as server:
        ctx.step(
            f"{ROUNDS} rounds each of {alone} GETs one at a time, then {loaded} with "
            f"{IN_FLIGHT} in flight, async def and def alternating"
        )
        rounds = asyncio.run(drive(server.url, alone, loaded))

    trips = 2 if ctx.layer in SECOND_TRIP_LAYERS else 1
    # Thousands of replies: one look-up table, not a scan of every record per reply.
    by_id = {(rec.pid, rec.id): rec for rec in ctx.records("quick-def")}
    for kind, expected in (("async def", 0), ("def", trips)):
        replies = [r for rnd in rounds[kind] for r in (*rnd.alone, *rnd.loaded)]
        records = [by_id[r.pid, r.record_id] for r in replies]
        ctx.check(
            exactly(
                f"{kind}: requests that made {expected} threadpool trip(s)",
                sum(1 for rec in records if len(rec.hops) == expected),
                len(replies),
                note="the endpoint, then its annotated result's validation"
                if expected == 2
                else "",
            )
        )
        ctx.check(
            exactly(
                f"{kind}: requests whose handler ran on the loop thread",
                sum(1 for rec in records if not rec.handler.in_threadpool),
                len(replies) if expected == 0 else 0,
            )
        )
    p50 = {kind: statistics.median(r.p50 for r in rounds[kind]) for kind in PATHS}
    # Whole requests per second: a figure of four digits reads better than 1.74e+03.
    rate = {
        kind: float(round(statistics.median(r.per_second for r in rounds[kind]))) for kind in PATHS
    }
    ctx.check(
        at_most(
            "alone: def's median latency, within noise of async def's",
            p50["def"],
            p50["async def"] + NOISE,
            note=f"async def's {p50['async def'] * 1e3:.2f} ms + {NOISE * 1e3:g} ms noise",
        )
    )
    ctx.check(
        at_most(
            f"loaded ({IN_FLIGHT} in flight): def's req/s, at most async def's",
            rate["def"],
            rate["async def"],
            unit="req/s",
        )
    )
    for kind in PATHS:
        ctx.fact(
            f"{kind}: alone, p50 ms by round",
            "  ".join(f"{r.p50 * 1e3:.2f}" for r in rounds[kind]),
        )
    for kind in PATHS:
        ctx.fact(
            f"{kind}: loaded, req/s by round",
            "  ".join(f"{r.per_second:.0f}" for r in rounds[kind]),
        )
    ctx.fact(
        "def / async def (medians)",
        f"latency alone x{p50['def'] / p50['async def']:.2f}, "
        f"req/s loaded x{rate['def'] / rate['async def']:.2f}",
    )
