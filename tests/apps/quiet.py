"""An app that reconfigures logging as it is imported, as many apps do: the server's own startup
lines never appear, so a harness that waits for them would wait forever."""

from __future__ import annotations

import logging
import logging.config

from asgi_lab.types import Receive, Scope, Send

__all__ = ["app"]

logging.config.dictConfig(
    {"version": 1, "disable_existing_loggers": True, "root": {"level": "CRITICAL"}}
)
logging.disable(logging.CRITICAL)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"quiet"})
