"""Solve a `Dependant` for one request: call its dependencies, then validate its request values.

Theory of operation. The order is FastAPI's, because the order is what the lab observes:

1. For each dependency in order (the route's `dependencies=[...]` first, app's before router's
   before the decorator's, then the signature's): if `app.dependency_overrides` names its
   function, the override's plan stands in for it (keeping its name, cache key, scope and
   limit). Its own dependencies are solved first, recursively, then it is called, unless a value
   for the same function and scope is already cached for this request.
2. Where it runs: `async def` on the event loop; `def` in a worker thread (one hop); a generator
   becomes a context manager on the request's exit stack (or the function's, for
   scope="function"), a sync one entered in a worker thread now and exited in another later (two
   hops). With `max_concurrency` the call first takes its declaration's semaphore, on the loop,
   and a generator holds it until its exit.
3. Then the request values of the function being solved, all validated in one pydantic call (a
   query/header/cookie parameter model's fields gathered into one dict first), and the request
   itself, the shared `BackgroundTasks` and the sub-`Response` if it asks for them.

A dependency whose request values fail is not called, but the others still are, so their side
effects happen as in FastAPI. Every hop into a thread goes through `anyio.to_thread.run_sync`,
looked up when called, so a probe that replaces it sees every hop.
"""

import dataclasses
from collections.abc import Callable, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
)
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from pydantic import BaseModel, ValidationError
from starlette.background import BackgroundTasks
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from asgi_lab.types import Receive, Scope, Send

from .concurrency import in_threads, limited
from .errors import missing
from .param_models import ABSENT
from .param_models import read as read_model
from .signature import Dependant, override

__all__ = ["MISSING", "Context", "solve"]

MISSING: Any = object()


@dataclasses.dataclass(slots=True, eq=False)
class Context:
    """What solving one request needs: its scope, parsed body, exit stacks and value cache."""

    scope: Scope
    receive: Receive
    send: Send
    # Generator dependencies close after the response is sent, or before it if scope="function".
    request_stack: AsyncExitStack | None = None
    function_stack: AsyncExitStack | None = None
    body: Any = MISSING
    cache: dict[tuple[Any, str], Any] = dataclasses.field(default_factory=dict)
    built: Request | None = None
    pairs: list[tuple[str, str]] | None = None
    # `app.dependency_overrides`, when the app has any.
    overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = None
    # Made when a function asks for them, and then shared by every function of the request.
    background: BackgroundTasks | None = None
    response: Response | None = None

    def request(self) -> Request:
        """The request, built once and only if some function or value needs it."""
        if self.built is None:
            self.built = Request(self.scope, self.receive, self.send)
        return self.built

    def query(self, name: str) -> list[str]:
        """Every value of `name` in the query string, in order, as `query_params.getlist`."""
        if self.pairs is None:
            text = self.scope["query_string"].decode("latin-1")
            # Starlette's QueryParams reading; parse_qsl's splitting alone if nothing is quoted.
            plain = "%" not in text and "+" not in text
            parts = (p.partition("=") for p in text.split("&") if p)
            self.pairs = [(k, v) for k, _, v in parts] if plain else parse_qsl(text, True)
        return [value for key, value in self.pairs if key == name]


async def solve(dependant: Dependant, ctx: Context) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The keyword arguments for `dependant.call`, or the errors that prevent calling it."""
    values: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    overrides = ctx.overrides
    for sub in dependant.dependencies:
        use = sub
        if overrides and sub.call in overrides:
            use = override(sub, overrides[sub.call])
        sub_values, sub_errors = await solve(use, ctx) if use.takes else ({}, [])
        if sub_errors:
            # FastAPI goes on with the other dependencies, so their side effects still happen.
            errors.extend(sub_errors)
            continue
        if sub.use_cache and sub.cache_key in ctx.cache:
            value = ctx.cache[sub.cache_key]
        elif use.limit is not None and use.kind in ("async", "sync"):
            async with use.limit.semaphore():
                value = await _call(use, sub_values, ctx)
        else:
            value = await _call(use, sub_values, ctx)
        if sub.name is not None:
            values[sub.name] = value
        ctx.cache.setdefault(sub.cache_key, value)
    if dependant.model is not None:
        errors.extend(_validate(dependant, dependant.model, ctx, values))
    if dependant.request_name is not None:
        values[dependant.request_name] = ctx.request()
    if dependant.background_name is not None:
        if ctx.background is None:
            ctx.background = BackgroundTasks()
        values[dependant.background_name] = ctx.background
    if dependant.response_name is not None:
        if ctx.response is None:
            # Only what the function sets is kept: no status and no content-length of its own.
            ctx.response = Response()
            del ctx.response.headers["content-length"]
            ctx.response.status_code = None  # type: ignore[assignment]
        values[dependant.response_name] = ctx.response
    return values, errors


async def _call(dependant: Dependant, kwargs: dict[str, Any], ctx: Context) -> Any:
    kind = dependant.kind
    if kind == "async":
        return await dependant.call(**kwargs)
    if kind == "sync":
        if not kwargs:  # no partial needed; still the one hop through anyio.to_thread.run_sync
            return await anyio.to_thread.run_sync(dependant.call)
        return await run_in_threadpool(dependant.call, **kwargs)
    which = "function" if dependant.scope == "function" else "request"
    stack = ctx.function_stack if which == "function" else ctx.request_stack
    if stack is None:
        raise RuntimeError(
            f"Generator dependency {dependant.call!r} needs the {which} exit stack,"
            " but the request was solved without one."
        )
    cm: AbstractAsyncContextManager[Any]
    if kind == "async_gen":
        cm = asynccontextmanager(dependant.call)(**kwargs)
    else:
        cm = in_threads(contextmanager(dependant.call)(**kwargs))
    if dependant.limit is not None:
        cm = limited(cm, dependant.limit.semaphore())
    return await stack.enter_async_context(cm)


def _validate(
    dependant: Dependant, model: type[BaseModel], ctx: Context, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """Read each request value, validate all of them in one pydantic call, and fill `values`."""
    data: dict[str, Any] = {}
    unreadable_body = False
    for field in dependant.fields:
        source = field.source
        if source == "body":
            body = ctx.body
            if not dependant.embed_body:
                value = body
            elif isinstance(body, dict):
                value = body.get(field.alias, MISSING)
            else:
                # A list or scalar has no names to embed under; FastAPI reports each one missing.
                unreadable_body = body is not MISSING and not isinstance(body, bytes)
                value = MISSING
        elif source == "query":
            hits = ctx.query(field.alias)
            value = (hits if field.many else hits[-1]) if hits else MISSING
        elif source == "path":
            value = ctx.scope.get("path_params", {}).get(field.alias, MISSING)
        elif field.many:
            value = ctx.request().headers.getlist(field.alias) or MISSING
        else:
            found: Any = ctx.request().headers if source == "header" else ctx.request().cookies
            value = found.get(field.alias, MISSING)
        if value is not MISSING:
            data[field.key] = value
    renames = _read_models(dependant, ctx, data) if dependant.groups else None
    forced = (
        [missing(f.loc) for f in dependant.fields if f.source == "body"] if unreadable_body else []
    )
    try:
        # from_attributes=True as FastAPI does; it changes some error types (model_attributes_type).
        validated = model.model_validate(data, from_attributes=True).__dict__
    except ValidationError as exc:
        return _relocate(dependant, exc, unreadable_body, renames) + forced
    if forced:
        return forced
    for field in dependant.fields:
        values[field.name] = validated[field.key]
    for field, _ in dependant.groups:
        values[field.name] = validated[field.key]
    return []


def _read_models(
    dependant: Dependant, ctx: Context, data: dict[str, Any]
) -> dict[str, dict[str, str]]:
    """Each parameter model's input into `data`; the header names its errors are reported under."""
    renames = {}
    for field, plan in dependant.groups:
        value, names = read_model(plan, ctx.request())
        if value is not ABSENT:
            data[field.key] = value
        if names:
            renames[field.key] = names
    return renames


def _relocate(
    dependant: Dependant,
    exc: ValidationError,
    skip_body: bool,
    renames: dict[str, dict[str, str]] | None,
) -> list[dict[str, Any]]:
    """Errors with the request's own names: ('query', 'q') instead of the model's ('p0',)."""
    errors = []
    for error in exc.errors(include_url=False):
        key, *rest = error["loc"]
        field = dependant.by_key[str(key)]
        if skip_body and field.source == "body":
            continue
        names = renames.get(str(key)) if renames else None
        if names and rest and rest[0] in names:
            # A parameter model's field is reported under the header it was read from.
            rest[0] = names[str(rest[0])]
        error["loc"] = (*field.loc, *rest)
        if error["type"] == "missing" and not rest:
            error["input"] = None
        errors.append(dict(error))
    return errors
