"""The catalogue's errors as responses, for the layers built on Starlette (routes, api)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from asgi_lab.caps import Overloaded
from asgi_lab.inputs import BadInput, BodyTooLarge

__all__ = ["ERRORS", "catalogue_error"]


async def catalogue_error(request: Request, exc: Exception) -> JSONResponse:
    """A bad value 422, a body too large 413, a cap reached 503, as FastAPI shapes its own."""
    if isinstance(exc, Overloaded):
        return JSONResponse(exc.detail(), status_code=503, headers=exc.headers())
    if isinstance(exc, BodyTooLarge):
        return JSONResponse(exc.detail(), status_code=413)
    if not isinstance(exc, BadInput):
        raise exc
    return JSONResponse(exc.detail(), status_code=422)


#: The exception handlers both layers register.
ERRORS = {BadInput: catalogue_error, BodyTooLarge: catalogue_error, Overloaded: catalogue_error}
