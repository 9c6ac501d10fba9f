"""workers: `--workers W` is W processes, each with its own loop and threadpool.

All workers accept on the one listening socket, so the kernel decides which worker gets each
new connection; a keep-alive connection then stays with its worker for every request it carries.
How uneven that makes the split is judged per connection pattern, against an even split.
"""

from __future__ import annotations

import asyncio
import time

from asgi_lab.lab.clients import AsyncClient, Reply, pin_workers
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.observed import per_worker
from asgi_lab.lab.verdicts import at_most, exactly, uneven

__all__ = ["run"]


#: Four, as in the classic claim "`--workers 4` does not split load evenly". More workers than
#: cores is fine here: no claim below needs a core per worker (they sleep; none spins).
WORKERS = 4
#: Requests per connection pattern, at every scale: enough that a count reads as a percentage,
#: and cheap (`/quick`, or a short sleep all at once).
SPLIT = 100
SECONDS = 1.0
#: The connection patterns, in the order they run.
PATTERNS = ("keep-alive", "fresh", "concurrent")


def split(counts: dict[int, int]) -> str:
    return ", ".join(f"pid {pid}: {n}" for pid, n in counts.items())


async def drive(url: str, n: int, secs: float) -> dict[str, tuple[float, list[Reply]]]:
    out: dict[str, tuple[float, list[Reply]]] = {}
    async with AsyncClient(url, connections=1) as client:
        out["keep-alive"] = 0.0, [await client.get("/quick") for _ in range(n)]
    async with AsyncClient(url, fresh=True) as client:
        out["fresh"] = 0.0, [await client.get("/quick") for _ in range(n)]
    async with AsyncClient(url) as client:
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(client.get(f"/async/sleep?seconds={secs / 4:g}") for _ in range(n))
        )
        out["concurrent"] = time.perf_counter() - started, list(replies)
    # One connection per worker, then one blocking request on each: only separate processes
    # can serve all the blocks at once.
    pinned = await pin_workers(url, WORKERS)
    try:
        started = time.perf_counter()
        blocks = await asyncio.gather(*(c.get(f"/async/block?seconds={secs:g}") for c in pinned))
        out["blocks"] = time.perf_counter() - started, list(blocks)
        pools = await asyncio.gather(*(c.get("/sync/sleep?seconds=0") for c in pinned))
        out["threadpools"] = 0.0, list(pools)
    finally:
        for c in pinned:
            await c.aclose()
    return out


@experiment(
    "workers",
    title="--workers W: W pids, own loop and threadpool each; the kernel's split is not even",
    chapter="04-workers-and-the-gil",
    tiny_scale=0.3,
    tour_scale=1.5,
)
def run(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    phase = f"workers={WORKERS}"
    with ctx.server(phase, workers=WORKERS) as server:
        ctx.step(f"{SPLIT} requests on one keep-alive connection, on fresh ones, and at once")
        out = asyncio.run(drive(server.url, SPLIT, secs))
        worker_pids = set(server.worker_pids)
    records = ctx.records(phase)
    ctx.check(
        exactly("worker processes that served requests", len({r.pid for r in records}), WORKERS)
    )
    ctx.check(
        exactly(
            "distinct event loops, one per pid",
            len({(r.pid, r.loop.id, r.loop.thread.native_id) for r in records}),
            WORKERS,
        )
    )
    ctx.check(
        exactly(
            "pids seen by one keep-alive connection", len({r.pid for r in out["keep-alive"][1]}), 1
        )
    )
    splits = {label: per_worker(out[label][1], worker_pids) for label in PATTERNS}
    for label, counts in splits.items():
        claim = f"{label}: busiest worker, above an even split"
        ctx.check(uneven(claim, list(counts.values()), "reqs"))
    blocks_elapsed, blocks = out["blocks"]
    ctx.check(
        exactly("pids that served the W simultaneous blocks", len({r.pid for r in blocks}), WORKERS)
    )
    ctx.check(at_most("W blocks of S, one per worker at once: ~S", blocks_elapsed, secs))
    pool_threads = {r.thread for r in out["threadpools"][1]} - {r.thread for r in blocks}
    ctx.check(exactly("pool threads of a sync request, one per worker", len(pool_threads), WORKERS))
    ctx.fact("worker pids (from /proc)", " ".join(map(str, sorted(worker_pids))))
    for label, counts in splits.items():
        ctx.fact(f"{label} split", split(counts))
    tokens = {r.pid: r.threadpool.total for r in records}
    ctx.fact("threadpool tokens per pid", ", ".join(f"{p}: {t}" for p, t in sorted(tokens.items())))
