"""Solve a `Dependant` for one request: call its dependencies, then validate its request values.

The order is FastAPI's, because the order is what the lab observes: each dependency's own
dependencies first, then the dependency itself (unless cached for this request), then the request
values of the function being solved. `async def` runs on the event loop; `def` runs in a worker
thread; generator dependencies become context managers on the request's exit stacks, and a sync
generator is entered and closed in worker threads. Every hop into a thread goes through
`anyio.to_thread.run_sync`, looked up when called, so a probe that replaces it sees every hop.
"""

import dataclasses
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from asgi_lab.types import Receive, Scope, Send

from .errors import missing
from .signature import Dependant

__all__ = ["MISSING", "Context", "solve"]

T = TypeVar("T")
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
    for sub in dependant.dependencies:
        sub_values, sub_errors = await solve(sub, ctx) if sub.takes else ({}, [])
        if sub_errors:
            # FastAPI goes on with the other dependencies, so their side effects still happen.
            errors.extend(sub_errors)
            continue
        if sub.use_cache and sub.cache_key in ctx.cache:
            value = ctx.cache[sub.cache_key]
        else:
            value = await _call(sub, sub_values, ctx)
        values[sub.name or ""] = value
        ctx.cache.setdefault(sub.cache_key, value)
    if dependant.model is not None:
        errors.extend(_validate(dependant, dependant.model, ctx, values))
    if dependant.request_name is not None:
        values[dependant.request_name] = ctx.request()
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
    if kind == "async_gen":
        return await stack.enter_async_context(asynccontextmanager(dependant.call)(**kwargs))
    return await stack.enter_async_context(_in_threads(contextmanager(dependant.call)(**kwargs)))


@asynccontextmanager
async def _in_threads(cm: AbstractContextManager[T]) -> AsyncIterator[T]:
    """Enter and exit a sync context manager in worker threads, as FastAPI does."""
    # __exit__ has a limiter of its own: waiting on a full pool to give a resource back deadlocks.
    exit_limiter = anyio.CapacityLimiter(1)
    value = await run_in_threadpool(cm.__enter__)
    try:
        yield value
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            suppress = await anyio.to_thread.run_sync(
                cm.__exit__, type(exc), exc, exc.__traceback__, limiter=exit_limiter
            )
        if not suppress:
            raise
    else:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(cm.__exit__, None, None, None, limiter=exit_limiter)


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
    forced = (
        [missing(f.loc) for f in dependant.fields if f.source == "body"] if unreadable_body else []
    )
    try:
        # from_attributes=True as FastAPI does; it changes some error types (model_attributes_type).
        validated = model.model_validate(data, from_attributes=True).__dict__
    except ValidationError as exc:
        return _relocate(dependant, exc, skip_body=unreadable_body) + forced
    if forced:
        return forced
    for field in dependant.fields:
        values[field.name] = validated[field.key]
    return []


def _relocate(dependant: Dependant, exc: ValidationError, skip_body: bool) -> list[dict[str, Any]]:
    """Errors with the request's own names: ('query', 'q') instead of the model's ('p0',)."""
    errors = []
    for error in exc.errors(include_url=False):
        key, *rest = error["loc"]
        field = dependant.by_key[str(key)]
        if skip_body and field.source == "body":
            continue
        error["loc"] = (*field.loc, *rest)
        if error["type"] == "missing" and not rest:
            error["input"] = None
        errors.append(dict(error))
    return errors
