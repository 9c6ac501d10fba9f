"""A Quart app behind the probe: each route answers the native id of the thread it ran on."""

from __future__ import annotations

import threading
import time
from typing import cast

from quart import Quart, request

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp

quart = Quart(__name__)


@quart.get("/sync")
def sync_route() -> dict[str, int]:
    time.sleep(float(request.args.get("seconds", "0")))
    return {"tid": threading.get_native_id()}


@quart.get("/async")
async def async_route() -> dict[str, int]:
    return {"tid": threading.get_native_id()}


# Quart's own typed scopes are narrower than a plain ASGI callable's: the same callable.
app = ProbeMiddleware(cast(ASGIApp, quart))
