"""Routers: the decorators that register endpoints, groups of routes under a prefix, and lookup.

A router's `prefix`, `dependencies` and `default_response_class` are folded into each route when
it is added (and again when the router is included elsewhere), as FastAPI does: a route's
dependencies are the app's, then each enclosing router's and `include_router`'s, then its own.
`APIRouter` finds static routes in a (path, method) table rather than trying each route's regex
in turn, to the same effect as Starlette's `Router`.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Lifespan

from asgi_lab.types import Receive, Scope, Send

from .params import Dependency
from .route import APIRoute

__all__ = ["APIRoute", "APIRouter", "Verbs"]

F = TypeVar("F", bound=Callable[..., Any])


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

    def head(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=["HEAD"], **options)

    def options(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=["OPTIONS"], **options)

    def trace(self, path: str, **options: Any) -> Callable[[F], F]:
        return self.api_route(path, methods=["TRACE"], **options)


class APIRouter(Verbs, Router):
    """A group of API routes under a common prefix, included into an app or another router."""

    def __init__(
        self,
        *,
        prefix: str = "",
        tags: Sequence[str] | None = None,
        dependencies: Sequence[Dependency] | None = None,
        default_response_class: type[Response] | None = None,
        routes: Sequence[BaseRoute] | None = None,
        lifespan: Lifespan[Any] | None = None,
        **openapi: Any,
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f'Prefix "{prefix}" must start with "/" and not end with "/".')
        super().__init__(routes, lifespan=lifespan)
        self.prefix = prefix
        self.tags = list(tags or ())
        self.dependencies = list(dependencies or ())
        self.default_response_class = default_response_class
        self.openapi = openapi
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

    def add_api_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        dependencies: Sequence[Dependency] | None = None,
        response_class: type[Response] | None = None,
        tags: Sequence[str] | None = None,
        **options: Any,
    ) -> None:
        """Register `endpoint` at this router's prefix plus `path`; `options` are `APIRoute`'s."""
        route = APIRoute(
            self.prefix + path,
            endpoint,
            dependencies=[*self.dependencies, *(dependencies or ())],
            response_class=response_class or self.default_response_class,
            tags=[*self.tags, *(tags or ())],
            **options,
        )
        self.routes.append(route)

    def include_router(
        self,
        router: "APIRouter",
        *,
        prefix: str = "",
        tags: Sequence[str] | None = None,
        dependencies: Sequence[Dependency] | None = None,
        default_response_class: type[Response] | None = None,
        **openapi: Any,
    ) -> None:
        """Copy `router`'s routes here under `prefix`, with the given dependencies run first."""
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f'Prefix "{prefix}" must start with "/" and not end with "/".')
        for route in router.routes:
            if not isinstance(route, APIRoute):
                self.routes.append(route)
                continue
            self.add_api_route(
                prefix + route.path,
                route.endpoint,
                methods=sorted(route.methods or ()),
                status_code=route.status_code,
                response_model=route.response_model,
                name=route.name,
                dependencies=[*(dependencies or ()), *route.dependencies],
                response_class=route.response_class or default_response_class,
                tags=[*(tags or ()), *route.openapi.get("tags", ())],
                **{f"response_model_{k}": v for k, v in route.dump.items()},
                **{k: v for k, v in route.openapi.items() if k != "tags"},
            )


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
