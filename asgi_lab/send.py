"""Sending a whole JSON response by hand, as the apps without a framework do."""

from __future__ import annotations

import json
from typing import Any

from asgi_lab.types import Send

__all__ = ["send_bytes", "send_json"]


async def send_json(
    send: Send, status: int, body: Any, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Send a whole JSON response: start (status, headers), then the body in one message."""
    await send_bytes(send, status, json.dumps(body).encode(), headers)


async def send_bytes(
    send: Send, status: int, payload: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Send JSON already encoded, as `send_json` does."""
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
