"""sqlalchemy: SQLAlchemy 2 sessions meet the threadpool (app: `asgi_lab.lab.apps.sqla`).

Its own app, on the wrapper; with `--layer fastapi` the same source built on FastAPI itself
(`asgi_lab.lab.apps.sqla_fastapi`), judged by the same claims.

`scoped_session` makes a Session per thread, so as many as threads ran the endpoint; one Session
shared by threads breaks under overlapping writes; an `async def` dependency and a `def`
endpoint get two different scoped Sessions; AsyncSession awaits on the loop with no hop. Then
fastapi#3205: a `yield` dependency's Session holds one connection of a pool smaller than the
tokens while the endpoint asks for a second, and the pool's timeout ends the deadlock; four
fixes, measured. Last, whether a `yield` dependency closes its Session when the endpoint fails.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.observed import handler_threads
from asgi_lab.lab.verdicts import at_most, exactly, near, waves
from asgi_lab.settings import Settings

__all__ = ["run"]

APP = "asgi_lab.lab.apps.sqla:app"
#: The same app's source built on FastAPI itself: what `--layer fastapi` serves.
FASTAPI_APP = "asgi_lab.lab.apps.sqla_fastapi:app"
TOKENS = 4
POOL = 2
SECONDS = 0.2
#: The pool's timeout, at scale 1: how long the deadlock lasts before SQLAlchemy gives up.
TIMEOUT = 0.8


async def burst(url: str, path: str, n: int) -> tuple[float, list[Reply]]:
    """`n` requests at once, on `n` connections opened beforehand; the time they all took."""
    async with AsyncClient(url) as client:
        await asyncio.gather(*(client.get("/sqla/stats") for _ in range(n)))
        started = time.perf_counter()
        replies = await asyncio.gather(*(client.get(path) for _ in range(n)))
        return time.perf_counter() - started, list(replies)


async def staggered(url: str, path: str, delay: float) -> list[Reply]:
    """Two requests, the second `delay` seconds after the first: they overlap, in that order."""
    async with AsyncClient(url) as client:
        await asyncio.gather(*(client.get("/sqla/stats") for _ in range(2)))
        first = asyncio.ensure_future(client.get(path))
        await asyncio.sleep(delay)
        second = await client.get(path)
        return [await first, second]


async def one_by_one(url: str, paths: list[str]) -> list[Reply]:
    async with AsyncClient(url) as client:
        return [await client.get(p) for p in paths]


def errors(replies: list[Reply]) -> list[str]:
    return [str(r.body.get("error") or "") for r in replies if r.status == 500]


@experiment(
    "sqlalchemy",
    title="SQLAlchemy: a Session per thread, a shared one breaks, a small pool deadlocks",
    chapter="07-sqlalchemy-and-threads",
    tiny_scale=1.0,
    tour_scale=1.0,
    serves="its own SQLAlchemy app on the wrapper (Layer 2)",
)
def run(ctx: Context) -> None:
    secs, timeout = ctx.seconds(SECONDS), ctx.seconds(TIMEOUT)
    n = TOKENS
    on_fastapi = ctx.layer == "fastapi"
    app = FASTAPI_APP if on_fastapi else APP
    if on_fastapi:
        ctx.result.serves = "its own SQLAlchemy app on FastAPI itself"
    ctx.fact(
        "app",
        f"{app} (its own app: --layer fastapi builds it on FastAPI, other layers on the wrapper)",
    )
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="asgi-lab-sqla-") as tmp:
        db = str(Path(tmp) / "lab.sqlite3")

        def settings(threads: int, pool: int) -> Settings:
            return Settings(threads=threads, db=db, db_pool=pool, db_timeout=timeout)

        with ctx.server("main", app, settings=settings(TOKENS, POOL)) as server:
            url = server.url
            ctx.step(f"{2 * n} requests on scoped_session, {TOKENS} tokens")
            out["scoped"] = asyncio.run(burst(url, f"/sqla/scoped?seconds={secs:g}", 2 * n))
            out["scoped-stats"] = asyncio.run(one_by_one(url, ["/sqla/stats"]))[0]
            ctx.step("two overlapping writes on one shared Session")
            out["shared"] = asyncio.run(staggered(url, f"/sqla/shared?seconds={secs:g}", secs / 3))
            ctx.step("async def dependency, def endpoint, one scoped_session")
            out["lost"] = asyncio.run(burst(url, "/sqla/lost", n))
            ctx.step("AsyncSession on aiosqlite, and run_sync for DDL")
            out["async"] = asyncio.run(burst(url, "/sqla/async", n))
            out["ddl"] = asyncio.run(one_by_one(url, ["/sqla/async-ddl"]))[0]
            for path in ("deadlock", "deadlock/limited", "deadlock/released"):
                ctx.step(f"/sqla/{path}: {n} requests, pool={POOL}, {TOKENS} tokens")
                out[path] = asyncio.run(burst(url, f"/sqla/{path}?seconds={secs:g}", n))
            ctx.step("yield dependencies, endpoints that fail")
            paths = [f"/sqla/close/{how}" for how in ("finally", "after-yield") for _ in range(n)]
            out["close"] = asyncio.run(one_by_one(url, [*paths, "/sqla/stats"]))
        for phase, threads, pool in (
            (f"pool={2 * TOKENS}", TOKENS, 2 * TOKENS),
            ("threads=1", 1, POOL),
        ):
            with ctx.server(phase, app, settings=settings(threads, pool)) as server:
                ctx.step(f"{phase}: /sqla/deadlock, {n} requests (after a warm-up)")
                # Its connections and threads are made on first use: not what we time.
                asyncio.run(burst(server.url, "/sqla/deadlock?seconds=0", n))
                out[phase] = asyncio.run(burst(server.url, f"/sqla/deadlock?seconds={secs:g}", n))

    # A Session per thread, up to the tokens.
    stats: dict[str, Any] = out["scoped-stats"].body
    ran = handler_threads(ctx.records("main", "/sqla/scoped"))
    ctx.check(
        exactly("scoped_session: Sessions made = threads that ran", stats["sessions"], len(ran))
    )
    ctx.check(exactly(f"scoped_session: threads for {2 * n} requests", len(ran), TOKENS))

    # One Session shared by threads.
    shared: list[Reply] = out["shared"]
    ctx.check(exactly("one Session, two overlapping writes: both failed", len(errors(shared)), 2))
    for i, error in enumerate(errors(shared), 1):
        ctx.fact(f"shared Session, error {i}", error[:150])

    # The dependency's scoped Session is not the endpoint's.
    _, lost = out["lost"]
    loop_thread = {r.id: r.loop.thread.native_id for r in ctx.records("main", "/sqla/lost")}
    apart = [
        r
        for r in lost
        if r.body["dependency_thread"] == loop_thread.get(r.record_id) != r.body["thread"]
    ]
    ctx.check(exactly("async dependency on the loop, def endpoint on a thread", len(apart), n))
    lost_count = sum(1 for r in lost if r.body["same"] is False)
    ctx.check(exactly("...and the endpoint's scoped Session is another one", lost_count, n))

    # AsyncSession: no hop.
    hops = sum(len(r.hops) for r in ctx.records("main", "/sqla/async"))
    ctx.check(exactly(f"AsyncSession: threadpool hops for {n} queries", hops, 0))
    (ddl_record,) = ctx.records("main", "/sqla/async-ddl")
    on_loop = out["ddl"].body["ddl_thread"] == ddl_record.loop.thread.native_id
    ctx.check(
        exactly(
            "run_sync DDL ran on the loop thread, no hop", int(on_loop) - len(ddl_record.hops), 1
        )
    )

    # fastapi#3205: the deadlock, ended by the pool's timeout.
    elapsed, replies = out["deadlock"]
    timeouts = [e for e in errors(replies) if "TimeoutError" in e]
    first = min(r.seconds for r in replies)
    early = sum(1 for r in replies if r.status == 200 and r.seconds < timeout)
    ctx.check(
        exactly(f"pool={POOL}, {TOKENS} tokens: requests done before the pool timeout", early, 0)
    )
    ctx.check(near("...the first answer: SQLAlchemy's TimeoutError", first, timeout))
    ctx.check(
        at_most(
            f"...all {n} answered, none hung",
            elapsed,
            2 * secs + timeout,
            note=f"{secs:g} s query + {timeout:g} s pool_timeout + {secs:g} s query",
        )
    )
    # The first request to give up closes its Session: its connection may let one more through.
    ctx.fact("requests ending in TimeoutError", f"{len(timeouts)} of {n}")
    for step in ("connection 1", "connection 2"):
        said = [e for e in timeouts if f"waiting for {step}" in e]
        ctx.fact(f"timed out waiting for {step}", f"{len(said)} of {n}")
        if said:
            ctx.fact("  SQLAlchemy said", said[0][:120])
    fixes: list[tuple[str, str, int, int, float]] = [
        # (label, key, requests, slots, seconds a slot holds)
        (f"fix: pool={2 * TOKENS} (2 per token)", f"pool={2 * TOKENS}", n, n, 2 * secs),
        ("fix: threads=1 (fewer tokens)", "threads=1", n, 1, 2 * secs),
        ("fix: Depends(max_concurrency=1)", "deadlock/limited", n, 1, 2 * secs),
        ("fix: release before the 2nd connection", "deadlock/released", 2 * n, POOL, secs),
    ]
    for label, key, requests, slots, hold in fixes:
        elapsed, replies = out[key]
        ok = sum(1 for r in replies if r.status == 200)
        ctx.check(exactly(f"{label}: requests answered 200", ok, n))
        ctx.check(waves(f"{label}: {n} requests", elapsed, requests, slots, hold))

    # Closing: `finally` in the yield dependency, or not.
    *closes, after = out["close"]
    failed = sum(1 for r in closes if r.status == 409)
    closed: dict[str, int] = after.body["closed"]
    ctx.check(exactly(f"failing endpoints ({2 * n})", failed, 2 * n))
    ctx.check(exactly("yield + finally: Sessions closed", closed.get("finally", 0), n))
    ctx.check(exactly("yield, close after it: Sessions closed", closed.get("after-yield", 0), 0))
    ctx.fact(
        "small pool: connections still checked out at the end", after.body["tight_checked_out"]
    )
