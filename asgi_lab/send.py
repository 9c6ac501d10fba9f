"""Sending a whole JSON response by hand, as the apps without a framework do."""

from __future__ import annotations

import json
from typing import Any

from asgi_lab.types import Send

__all__ = ["send_json"]


async def send_json(
    send: Send, status: int, body: Any, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Send a whole JSON response: start (status, headers), then the body in one message."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
