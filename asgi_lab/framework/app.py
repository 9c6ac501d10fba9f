"""The application: Starlette's middleware and lifespan, API routes, FastAPI's error responses.

Every request takes Starlette's own way in: ServerErrorMiddleware, ExceptionMiddleware (with
FastAPI's handlers for HTTP and validation errors), then the app's `APIRouter`.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ExceptionHandler, Lifespan

from .errors import RequestValidationError, http_exception_handler, request_validation_handler
from .routing import APIRouter, Verbs

__all__ = ["FastAPI"]

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
