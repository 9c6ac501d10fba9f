"""One Starlette endpoint behind no middleware, a pure-ASGI one, BaseHTTPMiddleware, the probe."""

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp, Message, Receive, Scope, Send


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


class PureHeader:
    """Adds one response header by wrapping `send`: no task, no body copy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-bench", b"1")]
            await send(message)

        await self.app(scope, receive, send_with_header)


class DispatchHeader(BaseHTTPMiddleware):
    """The same header the friendly way: `dispatch(request, call_next)`."""

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["x-bench"] = "1"
        return response


def build(*middleware: Middleware) -> Starlette:
    return Starlette(routes=[Route("/", hello)], middleware=list(middleware))


plain = build()
pure = build(Middleware(PureHeader))
dispatch = build(Middleware(DispatchHeader))
probe = ProbeMiddleware(build(), trace=None)
