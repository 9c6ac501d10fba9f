"""A Quart app whose routes answer the native id of the thread they ran on, behind the probe.

Quart runs a sync route with `run_sync`: `loop.run_in_executor(None, ...)`, the default executor.
"""

from __future__ import annotations

import threading
from typing import cast

from quart import Quart

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp

quart = Quart(__name__)


@quart.get("/sync")
def sync_route() -> dict[str, int]:
    return {"tid": threading.get_native_id()}


@quart.get("/async")
async def async_route() -> dict[str, int]:
    return {"tid": threading.get_native_id()}


# Its own typed scopes are narrower than a plain ASGI callable's: the same callable.
app = ProbeMiddleware(cast(ASGIApp, quart))
