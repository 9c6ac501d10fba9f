"""The bench endpoints as one hand-written ASGI app: the floor every framework builds on.

It does what the frameworks must do and nothing else: route on the path, parse and bound the
query value, hop to a worker thread with `anyio.to_thread.run_sync` where FastAPI would (the def
endpoint, the sync dependency), and send compact JSON.
"""

import json
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread

from asgi_lab.types import Receive, Scope, Send
from bench.apps.endpoints import settings

_HEADERS = [(b"content-type", b"application/json")]


async def send_json(send: Send, status: int, body: Any) -> None:
    """Start and body in two messages, with JSONResponse's headers."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [(b"content-length", b"%d" % len(payload)), *_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def hello_sync() -> dict[str, str]:
    return {"hello": "world"}


async def query(scope: Scope, send: Send) -> None:
    # FastAPI solves the dependency before validating the request's own values; so do we.
    conf = await anyio.to_thread.run_sync(settings)
    raw = dict(parse_qsl(scope["query_string"].decode("latin-1"))).get("n")
    try:
        n = int(raw or "")
    except ValueError:
        n = -1
    if n < 0:
        await send_json(send, 422, {"detail": "n must be an integer >= 0"})
        return
    await send_json(send, 200, {"n": n * conf["scale"]})


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        kind = "startup" if message["type"] == "lifespan.startup" else "shutdown"
        await send({"type": f"lifespan.{kind}.complete"})
        if kind == "shutdown":
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Route on the path; 404 for anything else."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    path = scope["path"]
    if path == "/":
        await send_json(send, 200, {"hello": "world"})
    elif path == "/sync":
        await send_json(send, 200, await anyio.to_thread.run_sync(hello_sync))
    elif path == "/query":
        await query(scope, send)
    else:
        await send_json(send, 404, {"detail": "Not Found"})
