"""Chapter 7: AsyncSession on FastAPI itself, on aiosqlite: a pool smaller than the requests,
and a `yield` dependency that closes its Session in `finally` against one that does not.

The database file is $ASYNC_DB_PATH; the pool has $ASYNC_DB_POOL connections and no overflow,
and a request waits at most 2 s for one. A "slow query" is `asyncio.sleep` while the Session
holds its connection: the wait is the pool's, never a thread's.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

engine = create_async_engine(
    f"sqlite+aiosqlite:///{os.environ.get('ASYNC_DB_PATH', 'async_db.sqlite3')}",
    poolclass=AsyncAdaptedQueuePool,
    pool_size=int(os.environ.get("ASYNC_DB_POOL", "2")),
    max_overflow=0,
    pool_timeout=2,
)
sessions = async_sessionmaker(engine)
closed: Counter[str] = Counter()


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/hold")
async def hold(seconds: Annotated[float, Query(ge=0, le=5)]) -> dict[str, Any]:
    """Hold one pooled connection for `seconds`, as a slow query would; say how long we waited."""
    async with sessions() as session:
        asked = time.perf_counter()
        await session.connection()  # check a connection out of the pool: may wait for one
        waited = time.perf_counter() - asked
        await asyncio.sleep(seconds)
        await session.execute(text("SELECT 1"))
    return {"waited": waited, "thread": threading.current_thread().name}


async def closed_in_finally() -> AsyncIterator[AsyncSession]:
    session = sessions()
    try:
        yield session
    finally:  # runs when the endpoint raised too: the error is thrown in at the `yield`
        await session.close()
        closed["finally"] += 1


async def closed_after_yield() -> AsyncIterator[AsyncSession]:
    session = sessions()
    yield session  # the endpoint's error is raised here...
    await session.close()  # ...so this line never runs for a failed request
    closed["after yield"] += 1


async def use_then_fail(session: AsyncSession) -> dict[str, Any]:
    await session.execute(text("SELECT 1"))  # the Session now holds a connection
    raise HTTPException(409, "the endpoint failed after using its Session")


@app.get("/fail/finally")
async def fail_finally(
    session: Annotated[AsyncSession, Depends(closed_in_finally)],
) -> dict[str, Any]:
    return await use_then_fail(session)


@app.get("/fail/after-yield")
async def fail_after_yield(
    session: Annotated[AsyncSession, Depends(closed_after_yield)],
) -> dict[str, Any]:
    return await use_then_fail(session)


@app.get("/pool")
async def pool() -> dict[str, Any]:
    """The pool's own count of connections checked out, and the Sessions each dependency closed."""
    checked_out = engine.pool.checkedout() if isinstance(engine.pool, AsyncAdaptedQueuePool) else -1
    return {"checked_out": checked_out, "closed": dict(closed)}
