"""A plain ASGI app shaped like Datasette: no framework, no route or endpoint named in the
scope; an `async` handler on the loop sends each SQLite query to its own pool of three threads
(`loop.run_in_executor`) and renders the page on the loop."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

from asgi_lab.types import Receive, Scope, Send

QUERIES = 3
_pool = ThreadPoolExecutor(3, thread_name_prefix="sqlite")
_local = threading.local()


def _query(sql: str) -> list[tuple[int, ...]]:
    db = getattr(_local, "db", None)
    if db is None:
        db = _local.db = sqlite3.connect(":memory:")
    return [tuple(row) for row in db.execute(sql).fetchall()]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    loop = asyncio.get_running_loop()
    rows = [await loop.run_in_executor(_pool, _query, f"select {n}") for n in range(QUERIES)]
    body = json.dumps({"rows": rows, "loop": threading.get_native_id()}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
