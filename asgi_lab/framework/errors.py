"""The errors an endpoint can end in, and the JSON responses FastAPI gives for them."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = [
    "FastAPIError",
    "HTTPException",
    "RequestValidationError",
    "ResponseValidationError",
    "http_exception_handler",
    "missing",
    "request_validation_exception_handler",
    "request_validation_handler",
]


class FastAPIError(RuntimeError):
    """The app is used in a way the framework cannot serve."""


class HTTPException(StarletteHTTPException):
    """An HTTP error whose `detail` may be any JSON-serialisable value."""

    def __init__(
        self, status_code: int, detail: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)


class RequestValidationError(Exception):
    """The request did not match the endpoint's signature; `errors` say where and why."""

    def __init__(self, errors: Sequence[dict[str, Any]], *, body: Any = None) -> None:
        super().__init__(errors)
        self._errors = list(errors)
        self.body = body

    def errors(self) -> list[dict[str, Any]]:
        """The error dicts: type, loc, msg, input and sometimes ctx."""
        return self._errors


class ResponseValidationError(Exception):
    """The endpoint returned something its response model does not allow."""

    def __init__(self, errors: Sequence[Any], *, body: Any = None) -> None:
        super().__init__(f"{len(errors)} validation error(s) in the response: {errors}")
        self._errors = list(errors)
        self.body = body

    def errors(self) -> list[Any]:
        """The error dicts, located under 'response'."""
        return self._errors


def missing(loc: tuple[str | int, ...]) -> dict[str, Any]:
    """The error FastAPI reports for a required value the request did not carry."""
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


def _plain(value: Any) -> Any:
    # As FastAPI's jsonable_encoder: raw bodies become text, exceptions in `ctx` become {}.
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return {} if isinstance(value, BaseException) else str(value)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """`{"detail": ...}` with the exception's status and headers; no body where none is allowed."""
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    if exc.status_code < 200 or exc.status_code in (204, 205, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def request_validation_handler(request: Request, exc: Exception) -> Response:
    """422 with every validation error, as FastAPI reports them."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    detail = {"detail": exc.errors()}
    body = json.dumps(detail, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return Response(body, status_code=422, media_type="application/json")


# FastAPI's name for it, in `fastapi.exception_handlers`.
request_validation_exception_handler = request_validation_handler
