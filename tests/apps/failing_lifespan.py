"""A raw ASGI app whose lifespan startup fails with a message of its own."""

from __future__ import annotations

from typing import Any

MESSAGE = "the database at db.internal:5432 did not answer"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": MESSAGE})
