"""Routes that turn a request into an endpoint call, and routers that group them under a prefix.

`APIRoute` is a Starlette `Route`, so matching, 405s and `scope["endpoint"]` (the user's function)
are Starlette's. `APIRouter` finds static routes in a (path, method) table rather than trying each
route's regex in turn, to the same effect. Per request the route reads the body (only if some
parameter needs it), solves the precompiled plan, calls the endpoint on the loop or in a worker
thread, and writes the result as JSON.
"""

import inspect
import json
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Lifespan

from asgi_lab.types import ASGIApp, Receive, Scope, Send

from .encode import to_json
from .errors import HTTPException, RequestValidationError, ResponseValidationError
from .signature import build_dependant, mark_body
from .solve import MISSING, Context, solve

__all__ = ["APIRoute", "APIRouter", "Verbs"]

F = TypeVar("F", bound=Callable[..., Any])
# The default for response_model: use the endpoint's return annotation, as FastAPI does.
INFER: Any = object()


class APIRoute(Route):
    """A route whose endpoint takes typed, validated parameters and may return plain data."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str] | None = None,
        status_code: int | None = None,
        response_model: Any = INFER,
        name: str | None = None,
    ) -> None:
        super().__init__(path, endpoint, methods=methods, name=name)
        # Unlike Starlette, FastAPI does not answer HEAD for a GET route.
        self.methods = {method.upper() for method in methods or ("GET",)}
        self.status_code = status_code
        self.response_model = response_model
        self.dependant = build_dependant(endpoint, set(self.param_convertors))
        if self.dependant.kind in ("gen", "async_gen"):
            raise TypeError(f"Streaming endpoints are not supported: {endpoint!r}.")
        mark_body(self.dependant)
        tree = self.dependant.walk()
        self.reads_body = any(f.source == "body" for d in tree for f in d.fields)
        self.needs_stacks = any(d.kind in ("gen", "async_gen") for d in tree)
        self.is_async = self.dependant.kind == "async"
        self.adapter = _response_adapter(endpoint, response_model)
        self.app = self.handle_request

    async def handle_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's ASGI app: build the response, send it, then close request-scoped deps."""
        if not self.dependant.takes:  # nothing to solve or close: call, encode, send
            call = self.endpoint() if self.is_async else anyio.to_thread.run_sync(self.endpoint)
            await (await self.serialise(await call))(scope, receive, send)
            return
        if not self.needs_stacks:
            await (await self.respond(Context(scope, receive, send)))(scope, receive, send)
            return
        async with AsyncExitStack() as request_stack:
            async with AsyncExitStack() as function_stack:
                ctx = Context(scope, receive, send, request_stack, function_stack)
                response = await self.respond(ctx)
            await response(scope, receive, send)

    async def respond(self, ctx: Context) -> ASGIApp:
        """Solve the plan, call the endpoint and turn its result into a response."""
        if self.reads_body:
            ctx.body = await _read_body(ctx.request())
        values, errors = await solve(self.dependant, ctx)
        if errors:
            raise RequestValidationError(errors)
        if self.is_async:
            result = await self.endpoint(**values)
        else:
            result = await run_in_threadpool(self.endpoint, **values)
        return await self.serialise(result)

    async def serialise(self, result: Any) -> ASGIApp:
        """The endpoint's result as a response: passed through, or validated and written as JSON."""
        if isinstance(result, Response):
            return result
        status = self.status_code or 200
        if status < 200 or status in (204, 205, 304):
            return Response(b"", status_code=status, media_type="application/json")
        if self.adapter is None:
            return partial(_send_json, to_json(result), status)
        if self.is_async:
            checked = _check(self.adapter, result)
        else:
            # FastAPI validates a def endpoint's result in a worker thread too.
            checked = await run_in_threadpool(_check, self.adapter, result)
        return partial(_send_json, self.adapter.dump_json(checked, by_alias=True), status)


async def _send_json(body: bytes, status: int, scope: Scope, receive: Receive, send: Send) -> None:
    """Already-encoded JSON with JSONResponse's headers, sent without building a Response."""
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _response_adapter(endpoint: Callable[..., Any], response_model: Any) -> TypeAdapter[Any] | None:
    """A validator for the result, from `response_model` or else the return annotation."""
    if response_model is INFER:
        annotation = inspect.signature(endpoint, eval_str=True).return_annotation
        response_model = None if annotation is inspect.Signature.empty else annotation
    if not response_model or (
        isinstance(response_model, type) and issubclass(response_model, Response)
    ):
        return None
    return TypeAdapter(response_model)


def _check(adapter: TypeAdapter[Any], result: Any) -> Any:
    try:
        return adapter.validate_python(result, from_attributes=True)
    except ValidationError as exc:
        raise ResponseValidationError(exc.errors(include_url=False)) from exc


async def _read_body(request: Request) -> Any:
    """The JSON body, the raw bytes when it is not JSON, or MISSING when there is none."""
    try:
        raw = await request.body()
        if not raw:
            return MISSING
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json" and not (
            media_type.startswith("application/") and media_type.endswith("+json")
        ):
            return raw
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error]) from exc
    except Exception as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc


class Verbs:
    """The decorators that register endpoints (`get` for GET, ...), shared by routers and apps."""

    add_api_route: Callable[..., None]  # registers an endpoint; APIRouter and FastAPI define it

    def api_route(self, path: str, *, methods: Sequence[str], **options: Any) -> Callable[[F], F]:
        """Decorator form of `add_api_route`."""

        def decorator(endpoint: F) -> F:
            self.add_api_route(path, endpoint, methods=methods, **options)
            return endpoint

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=["GET"], **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=["POST"], **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=["PUT"], **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=["PATCH"], **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=["DELETE"], **options)


class APIRouter(Verbs, Router):
    """A group of API routes under a common prefix, included into an app or another router."""

    def __init__(
        self,
        *,
        prefix: str = "",
        routes: Sequence[BaseRoute] | None = None,
        lifespan: Lifespan[Any] | None = None,
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f'Prefix "{prefix}" must start with "/" and not end with "/".')
        super().__init__(routes, lifespan=lifespan)
        self.prefix = prefix
        # Built on first use, since routes are added after the router, and rebuilt when the list
        # is replaced or changes length; one route swapped for another in place is not seen.
        self.static_routes: dict[tuple[str, str], Route] = {}
        self.static_from: tuple[list[BaseRoute], int] = ([], -1)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Router.app, with the static route for the request's path and method found by lookup."""
        indexed, count = self.static_from
        if indexed is not self.routes or count != len(self.routes):
            self.static_routes = static_table(self.routes)
            self.static_from = (self.routes, len(self.routes))
        route = None
        # A root_path means Starlette would match on part of the path: leave that to it.
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.static_routes.get((scope["path"], scope["method"]))
        if route is None:
            await super().app(scope, receive, send)
            return
        # What Router.app and then Route.matches would set, in that order.
        if "router" not in scope:
            scope["router"] = self
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = dict(scope.get("path_params", {}))
        await route.handle(scope, receive, send)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        """Register `endpoint` at this router's prefix plus `path`; `options` are `APIRoute`'s."""
        self.routes.append(APIRoute(self.prefix + path, endpoint, **options))

    def include_router(self, router: "APIRouter", *, prefix: str = "") -> None:
        """Copy `router`'s routes here, each under `prefix` (routes rebuild their plans)."""
        for route in router.routes:
            if isinstance(route, APIRoute):
                self.add_api_route(
                    prefix + route.path,
                    route.endpoint,
                    methods=sorted(route.methods or ()),
                    status_code=route.status_code,
                    response_model=route.response_model,
                    name=route.name,
                )
            else:
                self.routes.append(route)


def static_table(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], Route]:
    """Each static path and method, mapped to the route Starlette's Router would pick for it."""
    table: dict[tuple[str, str], Route] = {}
    for i, route in enumerate(routes):
        # A Mount, a Host or a route with its own `matches` may take anything after it.
        if not isinstance(route, Route) or type(route).matches is not Route.matches:
            break
        if route.param_convertors:
            continue
        for method in route.methods or ():
            probe = {"type": "http", "path": route.path, "root_path": "", "method": method}
            # The first full match wins in Router.app: an earlier '/{name}' takes '/static'.
            full = (r for r in routes[: i + 1] if r.matches(probe)[0] is Match.FULL)
            if next(full, None) is route:
                table[(route.path, method)] = route
    return table
