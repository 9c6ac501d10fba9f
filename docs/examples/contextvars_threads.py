"""Chapter 10: a context variable set in a `def` endpoint does not come back to the loop."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from asgi_lab.types import ASGIApp, Receive, Scope, Send

user: ContextVar[str] = ContextVar("user", default="(unset)")


def sync_login(request: Request) -> PlainTextResponse:
    user.set("alice")  # runs in a worker thread, in a *copy* of the request's context
    return PlainTextResponse(f"endpoint sees {user.get()}")


async def async_login(request: Request) -> PlainTextResponse:
    user.set("alice")  # runs in the request's own task and context
    return PlainTextResponse(f"endpoint sees {user.get()}")


def after(app: ASGIApp) -> ASGIApp:
    """Pure ASGI middleware that reads the variable once the endpoint is done."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        if scope["type"] == "http":
            print(f"  {scope['path']:<7} middleware afterwards sees {user.get()}")

    return middleware


async def main() -> None:
    app = after(Starlette(routes=[Route("/sync", sync_login), Route("/async", async_login)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        for path in ("/sync", "/async"):
            response = await client.get(path)
            print(f"GET {path:<6} -> {response.text}")


asyncio.run(main())
