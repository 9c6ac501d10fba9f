"""SQLAlchemy 2 on FastAPI or the wrapper, for the sqlalchemy experiment: sessions and threads.

`build` takes the framework as a module, like `asgi_lab/api.py`: `app` is this source on the
wrapper, `asgi_lab.lab.apps.sqla_fastapi:app` the same source on FastAPI itself.

Every slow query is really slow inside SQLite: `SELECT lab_sleep(:s)` calls a function this app
registers on each new connection, so a connection is held for `s` seconds as by a slow query.

- `/sqla/scoped`: a `scoped_session` gives each thread its own Session; `/sqla/stats` counts them.
- `/sqla/shared`: one Session for every thread, the mistake; two overlapping writes both fail.
- `/sqla/lost`: an `async def` dependency (on the loop thread) and a `def` endpoint (on a worker
  thread) ask the same `scoped_session` and get two different Sessions.
- `/sqla/async`, `/sqla/async-ddl`: `AsyncSession` on aiosqlite from `async def` (no threadpool
  hop), and DDL through `AsyncConnection.run_sync`.
- `/sqla/deadlock[/limited|/released]`: a `yield` dependency's Session holds one connection of a
  small pool ($ASGI_LAB_DB_POOL, no overflow) while the endpoint asks for a second; the pool
  gives up after $ASGI_LAB_DB_TIMEOUT seconds with SQLAlchemy's `TimeoutError` (fastapi#3205).
- `/sqla/close/finally`, `/sqla/close/after-yield`: a failing endpoint, and whether its `yield`
  dependency still closed the Session.

Writes are GETs: the lab's client only gets, and this app is a specimen, not an API.
"""

# No `from __future__ import annotations`: the endpoints are defined inside `build`, and both
# frameworks read their annotations at registration, where a string could not see `fw`.

import contextlib
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Annotated, Any, TypeVar

from sqlalchemy import Connection, create_engine, event, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    close_all_sessions,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.pool import QueuePool
from starlette.responses import JSONResponse

from asgi_lab import catalogue, framework, settings
from asgi_lab.framework import HTTPException
from asgi_lab.probe import ProbeMiddleware

__all__ = ["Lab", "api", "app", "build"]

LAYER = "sqla"
F = TypeVar("F", bound=Callable[..., Any])
SLOW = text("SELECT lab_sleep(:s)")


class Base(DeclarativeBase):
    pass


class Hit(Base):
    __tablename__ = "sqla_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread: Mapped[int]
    slept: Mapped[float]


def add_lab_sleep(dbapi_connection: Any, _record: Any) -> None:
    """On every new connection: `lab_sleep(s)`, a query that takes `s` seconds in SQLite."""

    def lab_sleep(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    dbapi_connection.create_function("lab_sleep", 1, lab_sleep)


class Lab:
    """The engines and sessions, made at startup on the loop thread."""

    def __init__(self, path: str, pool: int, timeout: float) -> None:
        url = f"sqlite:///{path}"
        # Never the bottleneck: for the lessons about sessions, not about pools.
        self.roomy = create_engine(url, pool_size=64, max_overflow=0)
        # The fastapi#3205 pool: `pool` connections, no overflow, a bounded wait.
        self.tight = create_engine(url, pool_size=pool, max_overflow=0, pool_timeout=timeout)
        for engine in (self.roomy, self.tight):
            event.listen(engine, "connect", add_lab_sleep)
        self.scoped = scoped_session(sessionmaker(self.roomy))
        #: One Session for every thread: what not to do.
        self.shared = Session(self.roomy)
        self.async_engine: AsyncEngine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        self.async_sessions = async_sessionmaker(self.async_engine)
        self._lock = threading.Lock()
        #: The Session each thread got from `scoped`: id(session) -> the thread's native id.
        self.scoped_seen: dict[int, int] = {}
        #: Sessions closed by each kind of `yield` dependency.
        self.closed: Counter[str] = Counter()

    def saw(self, session: Session) -> None:
        with self._lock:
            self.scoped_seen[id(session)] = threading.get_native_id()

    def dispose(self) -> None:
        # The Sessions a lesson leaks on purpose (`closed_after_yield` on a failed request)
        # still hold pooled connections, which dispose() leaves open: closed first, so none is
        # left to the garbage collector (Python 3.13 warns of an unclosed sqlite3 connection).
        close_all_sessions()
        self.scoped.remove()
        self.shared.close()
        self.roomy.dispose()
        self.tight.dispose()


_lab: Lab | None = None


def lab() -> Lab:
    if _lab is None:
        raise HTTPException(503, "the database is not open: run the app's lifespan first")
    return _lab


def where(endpoint: str, **fields: Any) -> dict[str, Any]:
    """The catalogue's reply, with the thread that called this: the handler's."""
    return catalogue.reply(LAYER, endpoint, thread=threading.get_native_id(), **fields)


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
    global _lab
    state = catalogue.startup(LAYER)
    current = settings.current()
    path = current.db or os.path.join(tempfile.gettempdir(), f"asgi-lab-sqla-{os.getpid()}.db")
    _lab = Lab(path, current.db_pool, current.db_timeout)
    # DDL is sync SQLAlchemy code; run_sync runs it on this loop thread, in a greenlet.
    async with _lab.async_engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield state
    finally:
        await _lab.async_engine.dispose()
        _lab.dispose()
        _lab = None


# --- The dependencies and helpers, the same for either framework -------------------------------


async def scoped_on_the_loop() -> tuple[Session, int]:
    """An `async def` dependency runs on the loop thread: this is the *loop thread's* Session."""
    return lab().scoped(), threading.get_native_id()


def create_tables(connection: Connection) -> int:
    """Sync SQLAlchemy code (metadata DDL), called by `run_sync`; returns the thread it ran on."""
    Base.metadata.create_all(connection)
    return threading.get_native_id()


def tight_session() -> Iterator[Session]:
    """A Session on the small pool; it takes a connection on its first query, not here."""
    with Session(lab().tight) as session:
        yield session


def two_connections(session: Session, seconds: float, release: bool) -> JSONResponse:
    """The dependency's Session holds connection 1 while this asks the pool for connection 2."""
    started = time.perf_counter()
    step = "connection 1"
    try:
        session.execute(SLOW, {"s": seconds})
        if release:
            session.commit()  # connection 1 goes back to the pool before we ask for another
        step = "connection 2"
        with lab().tight.connect() as other:
            other.execute(SLOW, {"s": seconds})
    except PoolTimeout as exc:
        error = f"{type(exc).__module__}.{type(exc).__name__} waiting for {step}: {exc}"
        body = where("sqla/deadlock", error=error[:200], seconds=time.perf_counter() - started)
        return JSONResponse(body, status_code=500)
    return JSONResponse(where("sqla/deadlock", error=None, seconds=time.perf_counter() - started))


def closed_in_finally() -> Iterator[Session]:
    session = Session(lab().roomy)
    try:
        yield session
    finally:  # runs when the endpoint raised too: the error is thrown in at the `yield`
        session.close()
        lab().closed["finally"] += 1


def closed_after_yield() -> Iterator[Session]:
    session = Session(lab().roomy)
    yield session  # the endpoint's error is raised here...
    session.close()  # ...so this line never runs for a failed request
    lab().closed["after-yield"] += 1


def use_then_fail(session: Session) -> dict[str, Any]:
    session.execute(SLOW, {"s": 0})  # the Session now holds a connection
    raise HTTPException(409, "the endpoint failed after using its Session")


def build(fw: ModuleType) -> Any:
    """The app on `fw`: the wrapper (`asgi_lab.framework`) or `fastapi`, from this one source."""
    Seconds = Annotated[float, fw.Query(ge=0, le=30)]
    api = fw.FastAPI(lifespan=lifespan)

    def get(path: str) -> Callable[[F], F]:
        """A GET route, typed: the endpoint stays the function it was (either framework)."""
        route: Callable[[F], F] = api.get(path)
        return route

    # --- One Session per thread --------------------------------------------------------------

    @get("/sqla/scoped")
    def scoped(seconds: Seconds = 0) -> dict[str, Any]:
        """A sync endpoint: `scoped()` is this worker thread's Session, made on its first call."""
        session = lab().scoped()
        session.execute(SLOW, {"s": seconds})
        session.commit()  # the connection goes back to the pool; the Session stays with the thread
        lab().saw(session)
        return where("sqla/scoped", session=id(session))

    @get("/sqla/stats")
    async def stats() -> dict[str, Any]:
        seen, pool = lab().scoped_seen, lab().tight.pool
        return {
            "sessions": len(seen),
            "threads": sorted(set(seen.values())),
            "closed": dict(lab().closed),
            "tight_checked_out": pool.checkedout() if isinstance(pool, QueuePool) else None,
        }

    @get("/sqla/shared")
    def shared(seconds: Seconds = 0) -> JSONResponse:
        """One Session for every thread: two overlapping writes break each other's transaction."""
        session = lab().shared
        try:
            session.add(Hit(thread=threading.get_native_id(), slept=func.lab_sleep(seconds)))
            session.commit()
        except SQLAlchemyError as exc:
            error = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(SQLAlchemyError):  # mid-commit on another thread: refused too
                session.rollback()
            return JSONResponse(where("sqla/shared", error=error[:200]), status_code=500)
        return JSONResponse(where("sqla/shared", error=None))

    @get("/sqla/lost")
    def lost(
        given: Annotated[tuple[Session, int], fw.Depends(scoped_on_the_loop)],
    ) -> dict[str, Any]:
        """A `def` endpoint runs on a worker thread: `scoped()` here is another Session."""
        session, dependency_thread = given
        here = lab().scoped()
        here.commit()
        return where("sqla/lost", same=here is session, dependency_thread=dependency_thread)

    @get("/sqla/async")
    async def async_count() -> dict[str, Any]:
        """`async def` with AsyncSession: the query is awaited on the loop, no threadpool hop."""
        async with lab().async_sessions() as session:
            count = await session.scalar(select(func.count()).select_from(Hit))
        return where("sqla/async", count=count)

    @get("/sqla/async-ddl")
    async def async_ddl() -> dict[str, Any]:
        async with lab().async_engine.begin() as connection:
            ddl_thread = await connection.run_sync(create_tables)
        return where("sqla/async-ddl", ddl_thread=ddl_thread)

    # --- The fastapi#3205 deadlock and its fixes ---------------------------------------------

    TightSession = Annotated[Session, fw.Depends(tight_session)]
    # At most one request between this dependency's start and its exit, counted on the loop.
    LimitedSession = Annotated[Session, fw.Depends(tight_session, max_concurrency=1)]

    @get("/sqla/deadlock")
    def deadlock(session: TightSession, seconds: Seconds = 0) -> JSONResponse:
        return two_connections(session, seconds, release=False)

    @get("/sqla/deadlock/limited")
    def deadlock_limited(session: LimitedSession, seconds: Seconds = 0) -> JSONResponse:
        return two_connections(session, seconds, release=False)

    @get("/sqla/deadlock/released")
    def deadlock_released(session: TightSession, seconds: Seconds = 0) -> JSONResponse:
        return two_connections(session, seconds, release=True)

    # --- Closing: `finally` in a `yield` dependency ------------------------------------------

    @get("/sqla/close/finally")
    def close_finally(
        session: Annotated[Session, fw.Depends(closed_in_finally)],
    ) -> dict[str, Any]:
        return use_then_fail(session)

    @get("/sqla/close/after-yield")
    def close_after_yield(
        session: Annotated[Session, fw.Depends(closed_after_yield)],
    ) -> dict[str, Any]:
        return use_then_fail(session)

    return api


api = build(framework)

#: What `uvicorn asgi_lab.lab.apps.sqla:app` serves, with the probe around it.
app = ProbeMiddleware(api)
