"""One API route: turn a request into an endpoint call, and its result into a response.

`APIRoute` is a Starlette `Route`, so matching, 405s and `scope["endpoint"]` (the user's function)
are Starlette's. Per request the route reads the body (only if some parameter needs it), solves
the precompiled plan (`solve.py`), calls the endpoint on the loop or in a worker thread, and
lets its `ResultWriter` (`results.py`) build the response. A route that takes nothing and
streams nothing skips all of that: call, write, send.
"""

import enum
import json
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from asgi_lab.types import ASGIApp, Receive, Scope, Send

from .errors import FastAPIError, HTTPException, RequestValidationError
from .params import Dependency
from .results import INFER, ResultWriter
from .signature import build_route_dependant, mark_body
from .solve import MISSING, Context, solve

__all__ = ["OPENAPI_OPTIONS", "APIRoute"]

_SWALLOWED = (
    "Response not awaited. There's a high chance that the application code is raising an"
    " exception and a dependency with yield has a block with a bare except, or a block with"
    " except Exception, and is not raising the exception again. Read more about it in the docs:"
    " https://fastapi.tiangolo.com/tutorial/dependencies/dependencies-with-yield/"
    "#dependencies-with-yield-and-except"
)

# Accepted for FastAPI's signatures and kept on the route, but only OpenAPI would read them.
OPENAPI_OPTIONS = frozenset(
    {
        "callbacks",
        "deprecated",
        "description",
        "generate_unique_id_function",
        "include_in_schema",
        "openapi_extra",
        "operation_id",
        "response_description",
        "responses",
        "summary",
        "tags",
    }
)


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
        dependencies: Sequence[Dependency] | None = None,
        response_class: type[Response] | None = None,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_by_alias: bool = True,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        **openapi: Any,
    ) -> None:
        unknown = set(openapi) - OPENAPI_OPTIONS
        if unknown:
            raise TypeError(
                f"Unknown route options {sorted(unknown)}; known: {sorted(OPENAPI_OPTIONS)}."
            )
        super().__init__(path, endpoint, methods=methods, name=name)
        # Unlike Starlette, FastAPI does not answer HEAD for a GET route.
        self.methods = {method.upper() for method in methods or ("GET",)}
        self.status_code = (
            int(status_code) if isinstance(status_code, enum.IntEnum) else status_code
        )
        self.response_model = response_model
        self.dependencies = list(dependencies or ())
        self.response_class = response_class
        self.openapi = openapi
        self.dump = {
            "include": response_model_include,
            "exclude": response_model_exclude,
            "by_alias": response_model_by_alias,
            "exclude_unset": response_model_exclude_unset,
            "exclude_defaults": response_model_exclude_defaults,
            "exclude_none": response_model_exclude_none,
        }
        self.dependant = build_route_dependant(
            endpoint, set(self.param_convertors), self.dependencies
        )
        mark_body(self.dependant)
        tree = self.dependant.walk()
        self.reads_body = any(f.source == "body" for d in tree for f in d.fields)
        self.has_dependencies = bool(self.dependant.dependencies)
        self.needs_stacks = any(d.kind in ("gen", "async_gen") for d in tree)
        kind = self.dependant.kind
        self.is_async = kind in ("async", "async_gen")
        self.is_stream = kind in ("gen", "async_gen")
        self.plain = not self.dependant.takes and not self.is_stream
        self.writer = ResultWriter.for_endpoint(
            endpoint,
            is_async=self.is_async,
            status_code=self.status_code,
            response_model=response_model,
            response_class=response_class,
            dump=self.dump,
        )
        self.app = self.handle_request

    async def handle_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route's ASGI app: build the response, send it, then close request-scoped deps."""
        if self.plain:  # nothing to solve or close: call, encode, send
            call = self.endpoint() if self.is_async else anyio.to_thread.run_sync(self.endpoint)
            await (await self.writer.write(await call, None))(scope, receive, send)
            return
        if not self.needs_stacks and not self.is_stream:
            await (await self.respond(Context(scope, receive, send)))(scope, receive, send)
            return
        # The response is sent inside the request stack: yield dependencies (and background
        # tasks) see it go out before their teardown runs.
        sent = False
        async with AsyncExitStack() as request_stack:
            async with AsyncExitStack() as function_stack:
                ctx = Context(scope, receive, send, request_stack, function_stack)
                response = await self.respond(ctx)
            await response(scope, receive, send)
            sent = True
        if not sent:
            # A yield dependency swallowed the endpoint's exception: nothing was sent, and
            # FastAPI says so rather than leave the client without a response.
            raise FastAPIError(_SWALLOWED)

    async def respond(self, ctx: Context) -> ASGIApp:
        """Solve the plan, call the endpoint and turn its result into a response."""
        if self.reads_body:
            ctx.body = await _read_body(ctx.request())
        if self.has_dependencies:
            ctx.overrides = getattr(ctx.scope.get("app"), "dependency_overrides", None)
        values, errors = await solve(self.dependant, ctx)
        if errors:
            raise RequestValidationError(errors, body=None if ctx.body is MISSING else ctx.body)
        if self.is_stream:
            # Calling a generator function runs none of it: that is the response's job.
            return self.writer.stream(self.endpoint(**values), self.is_async, ctx)
        if self.is_async:
            result = await self.endpoint(**values)
        else:
            result = await run_in_threadpool(self.endpoint, **values)
        return await self.writer.write(result, ctx)


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
        raise RequestValidationError([error], body=exc.doc) from exc
    except Exception as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc
