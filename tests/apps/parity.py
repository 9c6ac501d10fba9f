"""A FastAPI app served as it is (`app`) and inside the probe (`probed`), for the parity tests:
every answer is the same on every run, so the two can be compared byte for byte, except
`/whoami`, which says where it ran, for the identity tests.

`/leave` cannot answer a client that has gone, so it writes what it saw to $PARITY_DIR/<token>;
the held `/whoami/sync` writes where it runs there, and wait for the test's go.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.responses import Response, StreamingResponse

from asgi_lab.probe import ProbeMiddleware

__all__ = ["BIG", "LEAVE_SECONDS", "app", "probed"]

#: The size of the big body, each way.
BIG = 2 * 1024 * 1024
#: How long `/leave` watches for its client to go.
LEAVE_SECONDS = 3.0
#: How long a held `/whoami` waits for the test to look.
HOLD_SECONDS = 10.0

app = FastAPI()


@app.get("/async/quick")
async def quick() -> dict[str, str]:
    return {"ran": "quick"}


@app.get("/async/slow")
async def slow() -> dict[str, str]:
    # Past a millisecond: the probe's departed-client check runs while it awaits.
    await asyncio.sleep(0.02)
    return {"ran": "slow"}


@app.get("/sync")
def sync() -> dict[str, str]:
    time.sleep(0.005)
    return {"ran": "sync"}


def sync_dependency() -> str:
    time.sleep(0.002)
    return "from a def dependency"


@app.get("/dependency")
async def dependency(value: Annotated[str, Depends(sync_dependency)]) -> dict[str, str]:
    return {"ran": value}


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            await asyncio.sleep(0.005)
            yield f"chunk {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain", headers={"x-app": "stream"})


@app.post("/upload")
async def upload(request: Request) -> dict[str, Any]:
    body = await request.body()
    return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@app.get("/big")
async def big() -> Response:
    return Response(bytes(range(256)) * (BIG // 256), media_type="application/octet-stream")


@app.get("/leave")
async def leave(request: Request, token: str) -> dict[str, str]:
    """Watch for the client to go; write what was seen, as it cannot be answered."""
    mark = anyio.Path(os.environ["PARITY_DIR"], token)
    await mark.with_suffix(".started").touch()
    deadline = time.monotonic() + LEAVE_SECONDS
    seen = "still connected"
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            seen = "disconnected"
            break
        await asyncio.sleep(0.02)
    # Written aside, then renamed: the test waits for the mark to exist, and would otherwise
    # read it between its creation and its text (it did, once: '').
    aside = mark.with_suffix(".writing")
    await aside.write_text(seen, encoding="utf-8")
    await aside.rename(mark)
    return {"seen": seen}


@app.get("/whoami")
async def whoami() -> dict[str, int]:
    return {"pid": os.getpid(), "tid": threading.get_native_id()}


@app.get("/whoami/sync")
def whoami_sync() -> dict[str, int]:
    return {"pid": os.getpid(), "tid": threading.get_native_id()}


def _held_here(token: str) -> Path:
    """Say where this runs in $PARITY_DIR/<token>.where; the test says go in <token>.go."""
    marks = Path(os.environ["PARITY_DIR"])
    (marks / f"{token}.where").write_text(f"{os.getpid()} {threading.get_native_id()}")
    return marks / f"{token}.go"


@app.get("/whoami/sync/held")
def whoami_sync_held(token: str) -> dict[str, int]:
    """`/whoami/sync`, held until the test has looked at /proc while this still runs: under
    some servers the thread ends with its request."""
    go = _held_here(token)
    deadline = time.monotonic() + HOLD_SECONDS
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"pid": os.getpid(), "tid": threading.get_native_id()}


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        text = await websocket.receive_text()
        if text == "bye":
            await websocket.close(code=1000)
            return
        await websocket.send_text(f"echo: {text}")


probed = ProbeMiddleware(app)
