"""Layer 0 with parts of the probe, to see what each part costs under uvicorn."""

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.raw import raw_app
from asgi_lab.types import Message, Receive, Scope, Send

#: The probe's records, without its response headers.
no_headers = ProbeMiddleware(raw_app, headers=False)

_HEADERS = [
    (b"x-asgi-lab-pid", b"12345"),
    (b"x-asgi-lab-loop", b"12345:1"),
    (b"x-asgi-lab-thread", b"12345"),
    (b"x-asgi-lab-request", b"12345-123456"),
]


async def headers_only(scope: Scope, receive: Receive, send: Send) -> None:
    """The probe's four headers, constant, added by the thinnest middleware: no record at all."""
    if scope["type"] != "http":
        await raw_app(scope, receive, send)
        return

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *_HEADERS]
        await send(message)

    await raw_app(scope, receive, send_with_headers)
