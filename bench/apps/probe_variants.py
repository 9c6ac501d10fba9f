"""Layer 0 with parts of the probe, to see what each part costs under uvicorn."""

from asgi_lab.probe import HEADER, ProbeMiddleware
from asgi_lab.raw import raw_app
from asgi_lab.types import Message, Receive, Scope, Send

#: The probe's records, without its response header.
no_header = ProbeMiddleware(raw_app, headers=False)

_HEADER = (HEADER.encode(), b"pid=12345; loop=12345:1; thread=12345; request=12345-123456")


async def header_only(scope: Scope, receive: Receive, send: Send) -> None:
    """The probe's header, constant, added by the thinnest middleware: no record at all."""
    if scope["type"] != "http":
        await raw_app(scope, receive, send)
        return

    async def send_with_header(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), _HEADER]
        await send(message)

    await raw_app(scope, receive, send_with_header)
