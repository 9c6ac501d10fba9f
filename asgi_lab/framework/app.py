"""The application: Starlette's middleware and lifespan, API routes, FastAPI's error responses.

Starlette sends each request through ServerErrorMiddleware and ExceptionMiddleware (each wrapping
`send`), the Router (trying each route's regex in turn) and the Route's method check. `Dispatch`
skips them for the static API routes Starlette would pick, setting the scope keys they set; a
failure is re-raised inside copies of the two middlewares, so its handling is still theirs.
"""

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, ExceptionHandler, Lifespan

from asgi_lab.types import Message, Receive, Scope, Send

from .errors import RequestValidationError, http_exception_handler, request_validation_handler
from .routing import APIRoute, APIRouter, Verbs

__all__ = ["Dispatch", "FastAPI"]

F = TypeVar("F", bound=Callable[..., Any])


class FastAPI(Verbs, Starlette):
    """A Starlette app with FastAPI's decorators, parameter handling and error shapes."""

    router: APIRouter

    def __init__(
        self,
        *,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        lifespan: Lifespan[Any] | None = None,
    ) -> None:
        handlers: dict[Any, ExceptionHandler] = {
            StarletteHTTPException: http_exception_handler,
            RequestValidationError: request_validation_handler,
        }
        handlers.update(exception_handlers or {})
        super().__init__(debug=debug, middleware=middleware, exception_handlers=handlers)
        self.router = APIRouter(routes=routes, lifespan=lifespan)

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack, with a short way in for static API routes when it is the default."""
        stack = super().build_middleware_stack()
        if isinstance(stack, ServerErrorMiddleware) and isinstance(stack.app, ExceptionMiddleware):
            return Dispatch(stack, stack.app) if stack.app.app is self.router else stack
        return stack

    def exception_handler(self, key: int | type[Exception]) -> Callable[[F], F]:
        """Decorator form of `add_exception_handler`, for a status code or exception class."""

        def decorator(handler: F) -> F:
            self.add_exception_handler(key, handler)
            return handler

        return decorator

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        """Register `endpoint` at `path` on the app's router."""
        self.router.add_api_route(path, endpoint, **options)

    def include_router(self, router: APIRouter, *, prefix: str = "") -> None:
        """Serve `router`'s routes under `prefix`."""
        self.router.include_router(router, prefix=prefix)


_FAILED = "asgi_lab.framework.failed"


class Dispatch:
    """Static API routes straight from a (path, method) table; the rest through `stack`."""

    def __init__(self, stack: ServerErrorMiddleware, caught: ExceptionMiddleware) -> None:
        assert stack.app is caught and isinstance(caught.app, Router)
        self.stack, self.router = stack, caught.app
        self.errors, caught = copy.copy(stack), copy.copy(caught)
        self.errors.app, caught.app = caught, _reraise
        # What ExceptionMiddleware puts in every scope, for code that looks them up.
        self.handlers = (caught._exception_handlers, caught._status_handlers)
        self.table: dict[tuple[str, str], APIRoute] = {}
        self.indexed = -1

    def index(self) -> None:
        """Map each static path and method to the route Starlette's first match would give."""
        routes = self.router.routes
        self.table, self.indexed = {}, len(routes)
        for i, route in enumerate(routes):
            if not isinstance(route, Route):
                return  # a Mount or Host may match anything after it: leave those to Starlette
            if isinstance(route, APIRoute) and not route.param_convertors:
                for method in route.methods or ():
                    probe = {"type": "http", "path": route.path, "root_path": "", "method": method}
                    if all(r.matches(probe)[0] is not Match.FULL for r in routes[:i]):
                        self.table[(route.path, method)] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if len(self.router.routes) != self.indexed:
            self.index()
        plain = scope["type"] == "http" and not scope.get("root_path")
        route = self.table.get((scope["path"], scope["method"])) if plain else None
        if route is None:
            return await self.stack(scope, receive, send)
        # The keys ExceptionMiddleware, Router.app and Route.matches would have set.
        scope["starlette.exception_handlers"] = self.handlers
        scope.setdefault("router", self.router)
        scope["route"], scope["endpoint"] = route, route.endpoint
        scope["path_params"] = dict(scope.get("path_params", {}))
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await route.handle_request(scope, receive, tracked)
        except Exception as exc:
            scope[_FAILED] = (exc, started)
            # Once a response has begun the middlewares send nothing more: drop what they would.
            await self.errors(scope, receive, _drop if started else send)


async def _reraise(scope: Scope, receive: Receive, send: Send) -> None:
    """The app inside the error stack: replay the response's start (if any), then the failure."""
    exc, started = scope.pop(_FAILED)
    if started:
        await send({"type": "http.response.start", "status": 500, "headers": []})
    raise exc


async def _drop(message: Message) -> None:
    pass
