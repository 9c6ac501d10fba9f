"""An app whose own code the test treats as installed in site-packages (as LNbits is, from
PyPI): its handler holds the loop inside a library call (difflib, pure Python)."""

from __future__ import annotations

import difflib
import time

from asgi_lab.types import Receive, Scope, Send

HOLD_S = 0.3
A, B = "ab" * 400, "ba" * 400


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    deadline = time.monotonic() + HOLD_S
    while time.monotonic() < deadline:
        difflib.SequenceMatcher(None, A, B).ratio()  # the app's own line, in a library call
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})
