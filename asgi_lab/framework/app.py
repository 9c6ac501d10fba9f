"""The application: Starlette's middleware and lifespan, API routes, FastAPI's error responses.

Every request takes Starlette's own way in: ServerErrorMiddleware, the user's middleware,
ExceptionMiddleware (with FastAPI's handlers for HTTP and validation errors), then the app's
`APIRouter`. Startup and shutdown handlers run on the loop, a `def` one too, as in FastAPI.
"""

import inspect
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ExceptionHandler, Lifespan

from .errors import RequestValidationError, http_exception_handler, request_validation_handler
from .params import Dependency
from .routing import APIRouter, Verbs

__all__ = ["FastAPI"]

F = TypeVar("F", bound=Callable[..., Any])

# FastAPI's documentation options: kept on the app, served by nothing (there is no OpenAPI).
OPENAPI_APP_OPTIONS = frozenset(
    {
        "contact",
        "description",
        "docs_url",
        "license_info",
        "openapi_tags",
        "openapi_url",
        "redoc_url",
        "servers",
        "summary",
        "swagger_ui_parameters",
        "terms_of_service",
        "title",
        "version",
    }
)


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
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
        dependencies: Sequence[Dependency] | None = None,
        default_response_class: type[Response] | None = None,
        **openapi: Any,
    ) -> None:
        unknown = set(openapi) - OPENAPI_APP_OPTIONS
        if unknown:
            raise TypeError(
                f"Unknown app options {sorted(unknown)}; known: {sorted(OPENAPI_APP_OPTIONS)}."
            )
        handlers: dict[Any, ExceptionHandler] = {
            StarletteHTTPException: http_exception_handler,
            RequestValidationError: request_validation_handler,
        }
        handlers.update(exception_handlers or {})
        super().__init__(debug=debug, middleware=middleware, exception_handlers=handlers)
        self.openapi = openapi
        self.on_startup = list(on_startup or ())
        self.on_shutdown = list(on_shutdown or ())
        # Looked up by routes with dependencies on each request: tests may change it at any time.
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.router = APIRouter(
            routes=routes,
            lifespan=self._events if lifespan is None else _as_lifespan(lifespan),
            dependencies=dependencies,
            default_response_class=default_response_class,
        )

    @asynccontextmanager
    async def _events(self, app: Any) -> AsyncIterator[None]:
        """The lifespan when none is given: the startup handlers, then the shutdown ones."""
        for handler in self.on_startup:
            result = handler()
            if inspect.isawaitable(result):
                await result
        yield
        for handler in self.on_shutdown:
            result = handler()
            if inspect.isawaitable(result):
                await result

    def add_event_handler(self, event_type: str, func: Callable[[], Any]) -> None:
        """Run `func` at "startup" or "shutdown" (when the app has no `lifespan`)."""
        if event_type not in ("startup", "shutdown"):
            raise ValueError(f'Event type must be "startup" or "shutdown", not {event_type!r}.')
        (self.on_startup if event_type == "startup" else self.on_shutdown).append(func)

    def on_event(self, event_type: str) -> Callable[[F], F]:
        """Decorator form of `add_event_handler` (FastAPI deprecates it for `lifespan`)."""
        warnings.warn(
            "on_event is deprecated, use lifespan event handlers instead.",
            DeprecationWarning,
            stacklevel=2,
        )

        def decorator(func: F) -> F:
            self.add_event_handler(event_type, func)
            return func

        return decorator

    def middleware(self, middleware_type: str) -> Callable[[F], F]:
        """`@app.middleware("http")`: `func(request, call_next)` around every request."""
        if middleware_type != "http":
            raise ValueError(f'Middleware type must be "http", not {middleware_type!r}.')

        def decorator(func: F) -> F:
            self.add_middleware(BaseHTTPMiddleware, dispatch=func)
            return func

        return decorator

    def exception_handler(self, key: int | type[Exception]) -> Callable[[F], F]:
        """Decorator form of `add_exception_handler`, for a status code or exception class."""

        def decorator(handler: F) -> F:
            self.add_exception_handler(key, handler)
            return handler

        return decorator

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        """Register `endpoint` at `path` on the app's router."""
        self.router.add_api_route(path, endpoint, **options)

    def include_router(self, router: APIRouter, **options: Any) -> None:
        """Serve `router`'s routes here; `options` are `APIRouter.include_router`'s."""
        self.router.include_router(router, **options)


def _as_lifespan(lifespan: Any) -> Lifespan[Any]:
    """A lifespan given as a generator function, made an async context manager factory."""
    if inspect.isasyncgenfunction(lifespan):
        return asynccontextmanager(lifespan)
    return lifespan  # type: ignore[no-any-return]
