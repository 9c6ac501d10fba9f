"""A plain ASGI app under the probe whose writer holds every record until it closes (an
interval of an hour): a worker killed while serving it has written none of what it answered,
so the count of what it never wrote is known exactly from the client's side. `silent` runs no
lifespan: nothing closes its probe when its worker stops."""

from __future__ import annotations

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import Receive, Scope, Send

__all__ = ["app", "silent"]


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":  # spoken, so the probe closes its writer on shutdown
        while True:
            kind = (await receive())["type"]
            await send({"type": f"{kind}.complete"})
            if kind == "lifespan.shutdown":
                return
    await bare(scope, receive, send)


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return  # lifespan too: uvicorn (on "auto") then goes on without one
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"held"})


app = ProbeMiddleware(answer, writer_interval=3600.0)
silent = ProbeMiddleware(bare)
