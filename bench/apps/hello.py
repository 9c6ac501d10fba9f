"""The smallest ASGI app: the raw hello both in-process benchmarks wrap with the probe."""

from asgi_lab.types import Receive, Scope, Send


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]})
    await send({"type": "http.response.body", "body": b"hello"})
