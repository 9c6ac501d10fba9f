"""Chapter 7: SQLAlchemy's AsyncSession on aiosqlite files. One Session shared by gathered tasks,
refused by SQLAlchemy; then FastAPI itself under uvicorn (`apps/async_db.py`): a pool smaller
than the requests, waited for on the loop, and `yield` dependencies that close their Session in
`finally` or after the `yield`, counted by the pool itself."""

from __future__ import annotations

import asyncio
import math
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from asgi_lab.serving import ServerOptions, start

HERE = Path(__file__).resolve().parent
POOL = 2
REQUESTS = 10
HOLD = 0.2


def say(text_: str, indent: str = "  ") -> None:
    print(textwrap.fill(text_, 100, initial_indent=indent, subsequent_indent=indent + "  "))


async def shared_by_tasks(path: Path) -> None:
    """Three queries gathered on one AsyncSession, then on a Session each."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    sessions = async_sessionmaker(engine)
    async with sessions() as session:
        outcomes = await asyncio.gather(
            *(session.execute(text("SELECT 1")) for _ in range(3)), return_exceptions=True
        )
    print("one AsyncSession, three queries gathered:")
    for number, outcome in enumerate(outcomes, 1):
        if isinstance(outcome, BaseException):
            kind = type(outcome)
            say(f"task {number}: {kind.__module__}.{kind.__name__}: {outcome}")
        else:
            say(f"task {number}: ok, {outcome.scalar_one()}")

    async def own_session() -> int:
        async with sessions() as session:
            return int((await session.execute(text("SELECT 1"))).scalar_one())

    print("a Session per task, three gathered:")
    say(f"results {await asyncio.gather(*(own_session() for _ in range(3)))}")
    await engine.dispose()


async def against(url: str) -> None:
    async with aiohttp.ClientSession() as client:

        async def get(path: str) -> tuple[int, Any, float]:
            sent = time.perf_counter()
            async with client.get(url + path) as response:
                json = response.content_type == "application/json"
                body = await response.json() if json else (await response.text()).strip()
                return response.status, body, time.perf_counter() - sent

        await get("/pool")  # a connection to the server, opened before anything is timed
        print(f"\n{REQUESTS} requests at once, each holding a connection {HOLD} s, pool of {POOL}:")
        started = time.perf_counter()
        held = await asyncio.gather(*(get(f"/hold?seconds={HOLD}") for _ in range(REQUESTS)))
        took = time.perf_counter() - started
        waits = " ".join(f"{w:.2f}" for w in sorted(body["waited"] for _, body, _ in held))
        threads = sorted({body["thread"] for _, body, _ in held})
        waves = math.ceil(REQUESTS / POOL)
        say(f"predicted: ceil({REQUESTS}/{POOL}) = {waves} waves x {HOLD} s = {waves * HOLD:.2f} s")
        say(f"measured: all answered in {took:.2f} s")
        say(f"each waited for a connection (s, fastest first): {waits}")
        say(f"threads that ran them: {', '.join(threads)}")

        print("\nendpoints that fail after using their Session, one at a time:")
        for how, times in (("finally", 4), ("after-yield", POOL)):
            statuses = [(await get(f"/fail/{how}"))[0] for _ in range(times)]
            _, pool, _ = await get("/pool")
            say(f"{times} x /fail/{how}: answered {statuses}")
            say(
                f"pool: {pool['checked_out']} checked out, Sessions closed: {pool['closed']}",
                "    ",
            )
        status, body, took = await get("/hold?seconds=0")
        say(f"then GET /hold: {status} {body!r} after {took:.2f} s")
        _, pool, _ = await get("/pool")
        say(f"pool: {pool['checked_out']} checked out", "    ")


with tempfile.TemporaryDirectory(prefix="asgi-lab-async-db-") as folder:
    asyncio.run(shared_by_tasks(Path(folder) / "shared.sqlite3"))
    options = ServerOptions(
        app="apps.async_db:app",
        app_dir=str(HERE),
        env={"ASYNC_DB_PATH": str(Path(folder) / "app.sqlite3"), "ASYNC_DB_POOL": str(POOL)},
    )
    with start(options) as server:  # FastAPI under uvicorn, on a loopback port of its own
        asyncio.run(against(server.url))
    # Read once it has stopped: the 500 can reach us before its traceback reaches the log.
    timed_out = server.output().count("sqlalchemy.exc.TimeoutError: ")
    say(f"the server's log: sqlalchemy.exc.TimeoutError raised {timed_out} time(s)", "")
