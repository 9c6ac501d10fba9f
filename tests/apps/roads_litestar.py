"""A Litestar app whose handlers answer the native id of the thread they ran on, behind the probe.

Litestar sends a handler marked `sync_to_thread=True` to `loop.run_in_executor` with its own
executor (`litestar.concurrency.get_asyncio_executor()`, None by default: the loop's); a sync
handler marked `sync_to_thread=False` runs on the loop.
"""

from __future__ import annotations

import threading
from typing import cast

from litestar import Litestar, get
from litestar.params import FromPath

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp


@get("/sync", sync_to_thread=True)
def sync_handler() -> dict[str, int]:
    return {"tid": threading.get_native_id()}


@get("/on-loop", sync_to_thread=False)
def on_loop_handler() -> dict[str, int]:
    return {"tid": threading.get_native_id()}


@get("/async")
async def async_handler() -> dict[str, int]:
    return {"tid": threading.get_native_id()}


@get("/items/{item_id:int}")
async def item_handler(item_id: FromPath[int]) -> dict[str, int]:
    return {"item": item_id}


# Its own typed scopes are narrower than a plain ASGI callable's: the same callable.
app = ProbeMiddleware(
    cast(
        ASGIApp,
        Litestar(route_handlers=[sync_handler, on_loop_handler, async_handler, item_handler]),
    )
)
