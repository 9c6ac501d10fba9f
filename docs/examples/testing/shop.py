"""A small FastAPI shop with three classic mistakes, each beside its fixed twin.

Its tests (test_shop.py) catch each mistake with one helper of `asgi_lab.testing`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

app = FastAPI()


class Session:
    """A database session that must stay on the thread that opened it (as SQLAlchemy's does)."""

    def __init__(self) -> None:
        self.thread = threading.get_native_id()

    def items(self) -> list[str]:
        return ["tea", "cake"]


# Mistake 1: a sync dependency runs on a threadpool thread, the async endpoint on the loop
# thread: the session crosses threads.
def get_db() -> Session:
    return Session()


@app.get("/items")
async def read_items(db: Annotated[Session, Depends(get_db)]) -> list[str]:
    return db.items()


# Fixed: both async, both on the loop thread.
async def get_db_async() -> Session:
    return Session()


@app.get("/fixed/items")
async def read_items_fixed(db: Annotated[Session, Depends(get_db_async)]) -> list[str]:
    return db.items()


def build_report() -> dict[str, int]:
    time.sleep(0.2)  # a slow query, a file read, a requests.get: anything that does not await
    return {"orders": 3}


# Mistake 2: a blocking call in `async def` holds the loop: no other request moves meanwhile.
@app.get("/report")
async def report() -> dict[str, int]:
    return build_report()


# Fixed: a `def` endpoint, which FastAPI runs on a threadpool thread.
@app.get("/fixed/report")
def report_fixed() -> dict[str, int]:
    return build_report()


def fetch_price(item: int) -> float:
    time.sleep(0.2)  # a call to a supplier's API
    return 1.0 + item


# Mistake 3: a burst of 40 threadpool calls takes every one of the loop's 40 tokens: each sync
# endpoint and dependency of every other request waits for it.
@app.get("/prices")
async def prices() -> list[float]:
    return await asyncio.gather(*(run_in_threadpool(fetch_price, i) for i in range(40)))


#: Fixed: the burst gets 10 threads of its own, and leaves the shared 40 alone.
SUPPLIER = anyio.CapacityLimiter(10)


@app.get("/fixed/prices")
async def prices_fixed() -> list[float]:
    calls = (anyio.to_thread.run_sync(fetch_price, i, limiter=SUPPLIER) for i in range(40))
    return await asyncio.gather(*calls)
