"""The router's table of static routes ends every request as Starlette's regex scan would.

Each case builds the same small app on FastAPI and on asgi_lab.framework, sends one request and
compares status, body, the Allow and Location headers and whatever exception escaped the app
(httpx's ASGITransport re-raises it). Then the table itself: which routes it may hold, the scope it
leaves behind, and how it follows changes to the route list.
"""

from collections.abc import Iterator
from typing import Annotated, Any

import fastapi
import httpx
import pytest
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Host, Match, Mount, Route, Router

import asgi_lab.framework as ours
from asgi_lab.framework.routing import APIRoute, APIRouter, static_table


class Handled(Exception):
    pass


class HandledChild(Handled):
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

    # Twice on the same path and method: the first one registered answers.
    @app.get("/q/twice")
    async def first() -> dict[str, str]:
        return {"by": "first"}

    @app.get("/q/twice")
    async def second() -> dict[str, str]:
        return {"by": "second"}

    # One path, two routes with a method each: both full matches, and 405 for any other method.
    @app.put("/q/item")
    def put_item() -> dict[str, str]:
        return {"by": "put"}

    @app.delete("/q/item")
    def delete_item() -> dict[str, str]:
        return {"by": "delete"}

    @app.get("/q/items")
    async def items(n: int, tag: Annotated[list[str], fw.Query()]) -> dict[str, Any]:
        return {"n": n, "tags": tag}

    @app.get("/q/slash/")
    async def slash() -> dict[str, str]:
        return {"by": "slash"}

    @app.post("/q/fail")
    async def fail(kind: str) -> None:
        if kind == "status":
            raise fw.HTTPException(409, "taken")
        if kind == "http":
            raise fw.HTTPException(400, "bad")
        raise {"handled": Handled(), "child": HandledChild()}.get(kind, Unhandled())

    @app.post("/q/fail-in-thread")
    def fail_in_thread() -> None:
        raise HandledChild()

    @app.get("/q/stream")
    async def stream(kind: str) -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield b"begun"
            raise Handled() if kind == "handled" else Unhandled()

        return StreamingResponse(chunks())

    @app.exception_handler(Handled)
    async def handled(request: Any, exc: Handled) -> Any:
        return JSONResponse({"handled": type(exc).__name__}, status_code=418)

    @app.exception_handler(409)
    def conflict(request: Any, exc: Any) -> Any:
        return PlainTextResponse(f"status handler: {exc.detail}", status_code=409)

    return app


CASES = [
    ("GET", "/static"),
    ("GET", "/other"),
    ("GET", "/q/twice"),
    ("PUT", "/q/item"),
    ("DELETE", "/q/item"),
    ("GET", "/q/item"),
    ("GET", "/q/items?n=%32&tag=a+b&tag=&n=3"),
    ("GET", "/q/items?n=x"),
    ("POST", "/q/items?n=1"),
    ("HEAD", "/q/items?n=1"),
    ("GET", "/q/items/?n=1"),
    ("GET", "/q/slash"),
    ("GET", "/q/slash/"),
    ("GET", "/static/"),
    ("GET", "/q/nowhere"),
    ("POST", "/q/fail?kind=handled"),
    ("POST", "/q/fail?kind=child"),
    ("POST", "/q/fail?kind=status"),
    ("POST", "/q/fail?kind=http"),
    ("POST", "/q/fail?kind=unhandled"),
    ("POST", "/q/fail-in-thread"),
    ("GET", "/q/stream?kind=handled"),
    ("GET", "/q/stream?kind=unhandled"),
]


async def outcome(fw: Any, method: str, url: str, root_path: str = "") -> tuple[Any, ...]:
    transport = httpx.ASGITransport(app=build(fw), root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        try:
            response = await client.request(method, url)
        except Exception as exc:
            return ("raised", type(exc).__name__, str(exc))
    headers = response.headers
    return (response.status_code, response.text, headers.get("allow"), headers.get("location"))


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "url"), CASES)
async def test_same_outcome_as_fastapi(method: str, url: str) -> None:
    assert await outcome(ours, method, url) == await outcome(fastapi, method, url)


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["/q/items?n=1", "/q/static", "/static"])
async def test_same_outcome_under_a_root_path(url: str) -> None:
    # Under root_path /q, Starlette routes /q/items as /items: '/{name}', not the /q/items route.
    mine = await outcome(ours, "GET", url, root_path="/q")
    assert mine == await outcome(fastapi, "GET", url, root_path="/q")


@pytest.mark.anyio
async def test_the_table_holds_only_routes_starlette_would_pick() -> None:
    app = build(ours)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/q/items?n=1")
    assert {key: route.name for key, route in app.router.static_routes.items()} == {
        ("/q/twice", "GET"): "first",
        ("/q/item", "PUT"): "put_item",
        ("/q/item", "DELETE"): "delete_item",
        ("/q/items", "GET"): "items",
        ("/q/slash/", "GET"): "slash",
        ("/q/fail", "POST"): "fail",
        ("/q/fail-in-thread", "POST"): "fail_in_thread",
        ("/q/stream", "GET"): "stream",
    }


async def hello() -> dict[str, str]:
    return {"hello": "world"}


class Everything(APIRoute):
    def matches(self, scope: Any) -> tuple[Match, dict[str, Any]]:
        return Match.FULL, {"endpoint": self.endpoint, "path_params": {}}


@pytest.mark.parametrize(
    "anything",
    [
        Mount("/", app=PlainTextResponse("mounted")),
        Host("example.com", app=PlainTextResponse("hosted")),
        Everything("/everything", hello),
    ],
    ids=["mount", "host", "own-matches"],
)
def test_the_table_stops_where_a_route_may_match_anything(anything: Any) -> None:
    # A Mount matches every path under its prefix, a Host any path on its host (which the table
    # cannot know), a route with its own `matches` whatever it likes: what follows is Starlette's.
    routes = [APIRoute("/before", hello), anything, APIRoute("/after", hello)]
    assert list(static_table(routes)) == [("/before", "GET")]


def test_the_table_holds_starlette_routes_with_methods_only() -> None:
    def plain(request: Any) -> PlainTextResponse:
        return PlainTextResponse("plain")

    routes = [
        Route("/plain", plain),  # GET, and HEAD as Starlette adds it
        Route("/asgi", PlainTextResponse("any method")),  # methods None: every method
        APIRoute("/items/{n:int}", hello),
        APIRoute("/items/7", hello),  # shadowed by the convertor route above
        APIRoute("/items/x", hello),
    ]
    assert sorted(static_table(routes)) == [
        ("/items/x", "GET"),
        ("/plain", "GET"),
        ("/plain", "HEAD"),
    ]


async def run(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(path: str, **extra: Any) -> dict[str, Any]:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b""}
    return {**scope, "headers": [], **extra}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "extra",
    [{}, {"path_params": {"outer": "1"}, "router": "outer router"}],
    ids=["bare", "nested"],
)
async def test_the_scope_is_the_one_starlettes_router_leaves(extra: dict[str, Any]) -> None:
    router = APIRouter(routes=[APIRoute("/hello/{name}", hello), APIRoute("/hello", hello)])
    router.routes.append(APIRoute("/static", hello))
    fast, scanned = http_scope("/static", **extra), http_scope("/static", **extra)
    sent = await run(router.app, fast)
    assert ("/static", "GET") in router.static_routes  # the table answered, not the scan
    assert sent == await run(lambda *args: Router.app(router, *args), scanned)
    # Same keys, same values, same order: route, then what Route.matches returns.
    assert list(fast.items()) == list(scanned.items())
    assert fast["route"] is router.routes[2] and fast["path_params"] is not extra.get("path_params")


@pytest.mark.anyio
async def test_the_table_follows_changes_to_the_routes() -> None:
    async def by_name(name: str) -> dict[str, str]:
        return {"name": name}

    router = APIRouter(routes=[APIRoute("/static", hello)])
    assert await body(router, "/static") == b'{"hello":"world"}'
    # A route inserted in front now takes /static: the table must not keep the old answer.
    router.routes.insert(0, APIRoute("/{name}", by_name))
    assert await body(router, "/static") == b'{"name":"static"}'
    # Nor when a new list of the same length replaces the old one.
    router.routes = [APIRoute("/static", hello)]
    assert await body(router, "/static") == b'{"hello":"world"}'
    router.routes = [APIRoute("/{name}", by_name)]
    assert await body(router, "/static") == b'{"name":"static"}'
    assert router.static_routes == {}


async def body(app: Any, path: str) -> bytes:
    messages = await run(app, http_scope(path))
    return bytes(messages[-1]["body"])
