"""The app's short way in to static routes ends every request as Starlette's own stack would.

Each case builds the same small app on FastAPI and on asgi_lab.framework, sends one request and
compares status, body and whatever exception escaped the app (httpx's ASGITransport re-raises it).
"""

from collections.abc import Iterator
from typing import Annotated, Any

import fastapi
import httpx
import pytest
from starlette.responses import JSONResponse, StreamingResponse

import asgi_lab.framework as ours


class Handled(Exception):
    pass


class Unhandled(Exception):
    pass


def build(fw: Any) -> Any:
    app = fw.FastAPI()

    # Registered first, so Starlette's router gives it /static too: the table must not.
    @app.get("/{name}")
    async def by_name(name: str) -> dict[str, str]:
        return {"name": name}

    @app.get("/static")
    async def static() -> dict[str, str]:
        return {"by": "static"}

    @app.get("/q/items")
    async def items(n: int, tag: Annotated[list[str], fw.Query()]) -> dict[str, Any]:
        return {"n": n, "tags": tag}

    @app.post("/q/fail")
    async def fail(kind: str) -> None:
        raise Handled() if kind == "handled" else Unhandled()

    @app.get("/q/stream")
    async def stream(kind: str) -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield b"begun"
            raise Handled() if kind == "handled" else Unhandled()

        return StreamingResponse(chunks())

    @app.exception_handler(Handled)
    async def handled(request: Any, exc: Handled) -> Any:
        return JSONResponse({"handled": True}, status_code=418)

    return app


CASES = [
    ("GET", "/static"),
    ("GET", "/q/items?n=%32&tag=a+b&tag=&n=3"),
    ("GET", "/q/items?n=x"),
    ("POST", "/q/items?n=1"),
    ("HEAD", "/q/items?n=1"),
    ("POST", "/q/fail?kind=handled"),
    ("POST", "/q/fail?kind=unhandled"),
    ("GET", "/q/stream?kind=handled"),
    ("GET", "/q/stream?kind=unhandled"),
]


async def outcome(fw: Any, method: str, url: str) -> tuple[Any, ...]:
    transport = httpx.ASGITransport(app=build(fw))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        try:
            response = await client.request(method, url)
        except Exception as exc:
            return ("raised", type(exc).__name__, str(exc))
    return (response.status_code, response.text, response.headers.get("allow"))


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "url"), CASES)
async def test_same_outcome_as_fastapi(method: str, url: str) -> None:
    assert await outcome(ours, method, url) == await outcome(fastapi, method, url)


@pytest.mark.anyio
async def test_the_table_holds_only_routes_starlette_would_pick() -> None:
    app = build(ours)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/q/items?n=1")
    assert sorted(app.middleware_stack.table) == [
        ("/q/fail", "POST"),
        ("/q/items", "GET"),
        ("/q/stream", "GET"),
    ]
