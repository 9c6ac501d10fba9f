"""A short way in for the requests Starlette's router would give to one of our static API routes.

Starlette sends every request through ServerErrorMiddleware, ExceptionMiddleware (each wrapping
`send`), the Router (trying each route's regex in turn) and the Route's method check. When the
app's stack is exactly that, `Dispatch` finds the route in a (path, method) table, sets the scope
keys those layers set and calls it with one wrapped `send`; other requests take the stack. A
failure is re-raised inside copies of Starlette's two middlewares, so its handling is theirs.
"""

import copy

from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, Route, Router

from asgi_lab.types import Message, Receive, Scope, Send

from .routing import APIRoute

__all__ = ["Dispatch"]

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
        route = None
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self.table.get((scope["path"], scope["method"]))
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
