"""db-threads: SQLite connections meet the threadpool (app: `asgi_lab.lab.apps.db`).

A connection made on the loop thread fails in a sync handler; thread-local connections multiply
up to the threadpool size; a pool smaller than the threadpool makes requests queue for a
connection while each holds a thread, and a pool as large as the threadpool does not.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.observed import handler_threads
from asgi_lab.lab.verdicts import exactly, near, waves
from asgi_lab.settings import Settings

__all__ = ["run"]

APP = "asgi_lab.lab.apps.db:app"
TOKENS = 4
SECONDS = 0.5


async def burst(url: str, path: str, n: int) -> tuple[float, list[Reply]]:
    async with AsyncClient(url) as client:
        await asyncio.gather(*(client.get("/db/stats") for _ in range(n)))  # open n connections
        started = time.perf_counter()
        replies = await asyncio.gather(*(client.get(path) for _ in range(n)))
        return time.perf_counter() - started, list(replies)


async def one(url: str, path: str) -> Reply:
    async with AsyncClient(url) as client:
        return await client.get(path)


@experiment(
    "db-threads",
    title="SQLite: a loop-made connection fails; thread-locals multiply; a small pool queues",
    chapter="06-databases-and-threads",
    tiny_scale=0.6,
    tour_scale=1.5,
    serves="its own SQLite app (Layer 0)",
)
def run(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    n = 2 * TOKENS
    small = TOKENS // 2
    ctx.fact("app", f"{APP} (its own app: --layer does not apply)")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="asgi-lab-db-") as tmp:
        for pool in (small, TOKENS):
            phase = f"pool={pool}"
            db = str(Path(tmp) / "lab.sqlite3")
            settings = Settings(threads=TOKENS, db=db, db_pool=pool)
            with ctx.server(phase, APP, settings=settings) as server:
                if pool == small:
                    ctx.step("a connection made on the loop thread, used in a sync handler")
                    out["loop"] = asyncio.run(one(server.url, "/db/loop-connection"))
                    ctx.step(f"{n} requests with thread-local connections, {TOKENS} threads")
                    path = f"/db/thread-local?seconds={secs:g}"
                    out["local"] = asyncio.run(burst(server.url, path, n))
                    out["stats"] = asyncio.run(one(server.url, "/db/stats"))
                ctx.step(f"{phase}: {TOKENS} requests, each holding a pooled connection")
                path = f"/db/pool?seconds={secs:g}"
                out[phase] = asyncio.run(burst(server.url, path, TOKENS))

    failed: Reply = out["loop"]
    error = str(failed.body.get("error") or "")
    ctx.check(
        exactly(
            "loop-made connection used on a pool thread: refused",
            int(failed.status == 500 and "same thread" in error),
            1,
        )
    )
    ctx.fact("sqlite3 said", error[:96])
    elapsed, replies = out["local"]
    local = ctx.records(f"pool={small}", "/db/thread-local")
    stats: dict[str, Any] = out["stats"].body
    ctx.check(exactly("thread-local connections made", stats["local_connections"], TOKENS))
    ctx.check(
        exactly(
            "threads that made them = threads that ran handlers",
            len(set(stats["threads"])),
            len(handler_threads(local)),
        )
    )
    ctx.check(waves(f"{n} thread-local requests, {TOKENS} threads", elapsed, n, TOKENS, secs))

    for pool in (small, TOKENS):
        phase = f"pool={pool}"
        elapsed, replies = out[phase]
        waits = sorted(float(r.body["pool_wait"]) for r in replies)
        records = ctx.records(phase, "/db/pool")
        tokens_waited = max(r.wait_s for r in records)
        waited = [w for w in waits if w > secs / 2]
        label = "smaller than" if pool < TOKENS else "as large as"
        ctx.check(
            waves(
                f"{phase} ({label} the threadpool): {TOKENS} requests", elapsed, TOKENS, pool, secs
            )
        )
        ctx.check(
            exactly(f"{phase}: requests that queued for a connection", len(waited), TOKENS - pool)
        )
        if waited:
            ctx.check(
                near(
                    f"{phase}: their wait for a connection (median)",
                    statistics.median(waited),
                    secs,
                )
            )
        ctx.fact(
            f"{phase}: pool waits (ms)",
            " ".join(f"{w * 1e3:.1f}" for w in waits)
            + f"; longest threadpool token wait {tokens_waited * 1e3:.1f} ms",
        )
