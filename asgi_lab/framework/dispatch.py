"""A short way in for requests Starlette's router would give to one of our static API routes.

Starlette sends every request through ServerErrorMiddleware, ExceptionMiddleware (each wrapping
`send`), the Router (trying each route's regex in turn) and the Route's method check. When the
app's stack is exactly that default, `Dispatch` looks the (path, method) up in a table of the
routes Starlette would pick, sets the scope keys those layers set, and calls the route with one
wrapped `send`. Anything else takes Starlette's stack. A failure is re-raised inside copies of
Starlette's two middlewares, so the handler chosen, the 500 and what propagates are theirs.
"""

import copy

from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, Route, Router

from asgi_lab.types import ASGIApp, Message, Receive, Scope, Send

from .routing import APIRoute

__all__ = ["Dispatch", "shortcut"]

_FAILED = "asgi_lab.framework.failed"


def shortcut(stack: ASGIApp, router: Router) -> ASGIApp:
    """`stack` behind a `Dispatch` if it is Starlette's default stack around `router`."""
    if isinstance(stack, ServerErrorMiddleware) and isinstance(stack.app, ExceptionMiddleware):
        return Dispatch(stack, router) if stack.app.app is router else stack
    return stack


class Dispatch:
    """Static API routes straight from a (path, method) table; the rest through `stack`."""

    def __init__(self, stack: ServerErrorMiddleware, router: Router) -> None:
        self.stack = stack
        self.router = router
        caught = copy.copy(stack.app)
        assert isinstance(caught, ExceptionMiddleware)
        caught.app = _reraise
        self.errors = copy.copy(stack)
        self.errors.app = caught
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
                return  # a Mount or Host may match anything after it; Starlette decides
            if not isinstance(route, APIRoute) or route.param_convertors:
                continue
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
            await self.stack(scope, receive, send)
            return
        # The keys ExceptionMiddleware, Router.app and Route.matches would have set.
        scope["starlette.exception_handlers"] = self.handlers
        scope.setdefault("router", self.router)
        scope["route"] = route
        scope["endpoint"] = route.endpoint
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
            # Once a response has begun the middlewares send nothing more, so drop what they would.
            await self.errors(scope, receive, _drop if started else send)


async def _reraise(scope: Scope, receive: Receive, send: Send) -> None:
    """The app inside the error stack: replay the start (if any) and the failure."""
    exc, started = scope.pop(_FAILED)
    if started:
        await send({"type": "http.response.start", "status": 500, "headers": []})
    raise exc


async def _drop(message: Message) -> None:
    pass
