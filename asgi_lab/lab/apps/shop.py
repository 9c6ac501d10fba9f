"""A small app shaped like a real one, for the find-the-blocker experiment: a few routers, async
dependencies, a streaming endpoint — and one blocking call hidden among them.

`GET /reports/daily` builds its report with a sync helper that sleeps (a stand-in for a sync
database driver or `requests.get`) inside an `async def`: it freezes the worker's loop. Every
other endpoint awaits properly. Served by `asgi-lab trace asgi_lab.lab.apps.shop:app`, as a user
would serve their own app; `BLOCK_SECONDS` is how long the hidden call blocks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from starlette.responses import StreamingResponse

from asgi_lab.framework import APIRouter, Depends, FastAPI, Query

__all__ = ["BLOCK_LINE", "app"]

BLOCK_SECONDS = 0.5


async def current_user() -> dict[str, str]:
    """An async dependency, as an auth check would be."""
    await asyncio.sleep(0)
    return {"name": "ada"}


User = Annotated[dict[str, str], Depends(current_user)]

catalog = APIRouter(prefix="/items")


@catalog.get("/list")
async def list_items(user: User) -> dict[str, Any]:
    await asyncio.sleep(0.001)  # a non-blocking query
    return {"items": ["tea", "cake"], "for": user["name"]}


@catalog.get("/ticker")
async def ticker(user: User, ticks: Annotated[int, Query(ge=1, le=5000)] = 100) -> dict[str, Any]:
    """Many short awaits: a request almost always ready to run, so a stall delays it by about
    as long as the stall lasted while it was in flight. Each awaits the next point of a 5 ms
    grid (`on_grid`)."""
    await on_grid(ticks)
    return {"ticks": ticks}


reports = APIRouter(prefix="/reports")


def render_rows(seconds: float) -> list[str]:
    """A sync helper that blocks, as a sync driver does."""
    time.sleep(seconds)  # the hidden blocking call
    return ["row"]


BLOCK_LINE = render_rows.__code__.co_firstlineno + 2


@reports.get("/daily")
async def daily_report(user: User) -> dict[str, Any]:
    rows = render_rows(BLOCK_SECONDS)  # called from async def: the loop stops here
    return {"rows": rows}


#: The ticker's pace: one await per point of a grid this many seconds apart. A stall costs a
#: ticker its length to within one tick (1 % of the hidden call); a shorter tick is lost each
#: time a loaded machine wakes the loop a tick late, as a 2 ms one was, tens of ms a run.
TICK = 0.005


async def on_grid(ticks: int) -> None:
    """Await `ticks` points of one grid of the loop's clock, `TICK` apart.

    To the next point, not `TICK` from whenever the loop woke us: every ticker wakes in the
    same loop iteration and keeps the grid's pace, however late each wake-up is. The stdlib
    loop (hypercorn's) waits in whole milliseconds: tickers out of step made it oversleep each
    other's turn, 0.1-0.3 ms a tick, and less once a stall had brought them into step. A point
    missed, as in a stall, is skipped, never made up.
    """
    loop = asyncio.get_running_loop()
    point = loop.time() // TICK
    for _ in range(ticks):
        point = max(point + 1, loop.time() // TICK + 1)
        await asyncio.sleep(point * TICK - loop.time())


async def chunks(n: int) -> AsyncIterator[bytes]:
    for i in range(n):
        await asyncio.sleep(0.01)
        yield f"{i}\n".encode()


@reports.get("/export")
async def export(user: User) -> StreamingResponse:
    return StreamingResponse(chunks(20), media_type="text/plain")


app = FastAPI()
app.include_router(catalog)
app.include_router(reports)
