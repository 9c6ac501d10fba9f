"""A small SQLite app for the db-threads experiment: three ways to hold a connection.

- `/db/loop-connection`: a connection made on the loop thread at startup, used from a sync
  handler on a threadpool thread. sqlite3 refuses (`check_same_thread`).
- `/db/thread-local?seconds=S`: one connection per thread, made on first use. They multiply
  up to the threadpool size; `/db/stats` counts them.
- `/db/pool?seconds=S`: a pool of $ASGI_LAB_DB_POOL connections shared by all threads. A pool
  smaller than the threadpool makes requests queue for a connection while holding a thread.

Every sync handler holds its connection for S seconds, standing in for a slow query. The
database is the file $ASGI_LAB_DB (a temporary file when unset).
"""

from __future__ import annotations

import os
import queue
import sqlite3
import tempfile
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread

from asgi_lab import catalogue, inputs, settings
from asgi_lab.probe import ProbeMiddleware
from asgi_lab.send import send_json
from asgi_lab.types import Message, Receive, Scope, Send

__all__ = ["DatabaseApp", "app"]

LAYER = "db"


class Database:
    """The file, the loop's own connection, the thread-local ones and the pool."""

    def __init__(self, path: str, pool_size: int) -> None:
        self.path = path
        self.pool_size = pool_size
        self.loop_connection: sqlite3.Connection | None = None
        self.loop_thread = 0
        self._local = threading.local()
        self._lock = threading.Lock()
        #: Native ids of the threads that made a thread-local connection, one per connection.
        self.local_threads: list[int] = []
        self.pool: queue.Queue[sqlite3.Connection] = queue.Queue()

    def open(self) -> None:
        """On the loop thread, at startup: the schema, the loop's connection and the pool."""
        with sqlite3.connect(self.path) as setup:
            setup.execute("CREATE TABLE IF NOT EXISTS hits (thread INTEGER, at REAL)")
            setup.execute(
                "INSERT INTO hits VALUES (?, ?)", (threading.get_native_id(), time.time())
            )
        self.loop_connection = sqlite3.connect(self.path)
        self.loop_thread = threading.get_native_id()
        for _ in range(self.pool_size):
            # Pooled connections move between threads; sqlite3 allows it when told so, and the
            # pool hands each one to a single thread at a time.
            self.pool.put(sqlite3.connect(self.path, check_same_thread=False))

    def close(self) -> None:
        if self.loop_connection is not None:
            self.loop_connection.close()
        while not self.pool.empty():
            self.pool.get_nowait().close()

    def thread_local(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = sqlite3.connect(self.path)
            with self._lock:
                self.local_threads.append(threading.get_native_id())
        return connection


def hit(connection: sqlite3.Connection, seconds: float) -> int:
    """A read, then `seconds` holding the connection as a slow query would.

    Reads only: concurrent writes would queue on SQLite's database lock and fsync, a wait of
    its own that would blur the one this app is about.
    """
    (count,) = connection.execute("SELECT count(*) FROM hits").fetchone()
    time.sleep(seconds)
    return int(count)


def loop_connection(db: Database) -> dict[str, Any]:
    """Sync handler: use the connection the loop thread made."""
    if db.loop_connection is None:
        raise RuntimeError("the database is not open: run the app's lifespan first")
    try:
        hit(db.loop_connection, 0)
        error = None
    except sqlite3.ProgrammingError as exc:
        error = str(exc)
    return catalogue.reply(LAYER, "db/loop-connection", error=error, made_on=db.loop_thread)


def thread_local(db: Database, seconds: float) -> dict[str, Any]:
    """Sync handler: this thread's own connection, made on first use."""
    count = hit(db.thread_local(), seconds)
    return catalogue.reply(LAYER, "db/thread-local", hits=count, connections=len(db.local_threads))


def pooled(db: Database, seconds: float) -> dict[str, Any]:
    """Sync handler: borrow a connection from the pool, waiting (on this thread) if none is free."""
    started = time.perf_counter()
    connection = db.pool.get(timeout=60)
    waited = time.perf_counter() - started
    try:
        count = hit(connection, seconds)
    finally:
        db.pool.put(connection)
    return catalogue.reply(LAYER, "db/pool", hits=count, pool_wait=waited, pool=db.pool_size)


class DatabaseApp:
    """The ASGI callable: lifespan opens the database; three sync endpoints and the stats."""

    def __init__(self) -> None:
        self.db: Database | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    catalogue.startup(LAYER)
                    current = settings.current()
                    path = current.db or os.path.join(
                        tempfile.gettempdir(), f"asgi-lab-{os.getpid()}.sqlite3"
                    )
                    self.db = Database(path, current.db_pool)
                    self.db.open()
                except (settings.SettingError, sqlite3.Error) as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.db is not None:
                    self.db.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: Scope, send: Send) -> None:
        db = self.db
        if db is None:
            await send_json(send, 503, {"detail": "the database is not open"})
            return
        path = scope["path"]
        raw = parse_qs(scope["query_string"].decode("latin-1")).get("seconds", ["0"])[-1]
        try:
            seconds = inputs.seconds(raw, settings.current())
        except inputs.BadInput as exc:
            await send_json(send, 422, exc.detail())
            return
        run = anyio.to_thread.run_sync
        if path == "/db/loop-connection":
            scope["endpoint"] = loop_connection
            body = await run(loop_connection, db)
            await send_json(send, 500 if body["error"] else 200, body)
        elif path == "/db/thread-local":
            scope["endpoint"] = thread_local
            await send_json(send, 200, await run(thread_local, db, seconds))
        elif path == "/db/pool":
            scope["endpoint"] = pooled
            await send_json(send, 200, await run(pooled, db, seconds))
        elif path == "/db/stats":
            stats = {"local_connections": len(db.local_threads), "threads": db.local_threads}
            await send_json(send, 200, {**stats, "pool": db.pool_size})
        else:
            await send_json(send, 404, {"detail": "Not Found"})


#: What `uvicorn asgi_lab.lab.apps.db:app` serves, with the probe around it.
app = ProbeMiddleware(DatabaseApp())
