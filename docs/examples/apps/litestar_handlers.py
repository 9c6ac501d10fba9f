"""A Litestar app behind the probe: each handler answers the native id of the thread it ran on."""

from __future__ import annotations

import threading
import time
from typing import cast

from litestar import Litestar, get

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp


@get("/sync", sync_to_thread=True)
def sync_handler(seconds: float = 0) -> dict[str, int]:
    time.sleep(seconds)
    return {"tid": threading.get_native_id()}


@get("/async")
async def async_handler() -> dict[str, int]:
    return {"tid": threading.get_native_id()}


# Litestar's own typed scopes are narrower than a plain ASGI callable's: the same callable.
app = ProbeMiddleware(cast(ASGIApp, Litestar(route_handlers=[sync_handler, async_handler])))
