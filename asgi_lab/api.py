"""Layer 2: the catalogue on `asgi_lab.framework`, written as a FastAPI app would be.

Parameters come from the signature, so bad input is answered with FastAPI's 422. `async def`
endpoints run on the loop, `def` ones in the threadpool; under `/deps/` the dependencies of each
kind show where the framework puts *them*, which is where FastAPI would.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, TypeVar

from starlette.responses import JSONResponse, Response

from asgi_lab import catalogue, inputs, redact, settings
from asgi_lab.caps import Overloaded
from asgi_lab.framework import Depends, FastAPI, HTTPException, Query, Request
from asgi_lab.framework.errors import RequestValidationError
from asgi_lab.inputs import BadInput, BodyTooLarge
from asgi_lab.probe import SCOPE_KEY, ProbeMiddleware, served_by

__all__ = ["LAYER", "RING_SIZE", "api", "app"]

LAYER = "api"
RING_SIZE = 1000


# The signature parses and checks the form; the cap is a setting, read when the worker starts,
# so it is checked per request by an async dependency (async: it stays on the loop, no hop).


async def capped_seconds(
    request: Request, seconds: Annotated[float, Query(ge=0, allow_inf_nan=False)]
) -> float:
    """`seconds`, at most $ASGI_LAB_MAX_SECONDS (named in the error as the client wrote it)."""
    return inputs.seconds(request.query_params.get("seconds"), settings.current())


async def capped_ms(request: Request, ms: Annotated[int, Query(ge=0)]) -> int:
    """`ms`, at most $ASGI_LAB_MAX_SECONDS in milliseconds."""
    return inputs.milliseconds(request.query_params.get("ms"), settings.current())


Seconds = Annotated[float, Depends(capped_seconds)]
Milliseconds = Annotated[int, Depends(capped_ms)]


async def bad_input(request: Request, exc: Exception) -> JSONResponse:
    """The catalogue's 422, 413 and 503, in the shape FastAPI gives its own."""
    if isinstance(exc, Overloaded):
        return JSONResponse(exc.detail(), status_code=503, headers=exc.headers())
    if isinstance(exc, BodyTooLarge):
        return JSONResponse(exc.detail(), status_code=413)
    if not isinstance(exc, BadInput):
        raise exc
    return JSONResponse(exc.detail(), status_code=422)


async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 for a value the signature refused, its echoed input cut as the others'."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = [{**e, "input": inputs.shown(e.get("input"))} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


api = FastAPI(
    lifespan=catalogue.lifespan(LAYER),
    exception_handlers={
        BadInput: bad_input,
        BodyTooLarge: bad_input,
        Overloaded: bad_input,
        RequestValidationError: invalid_request,
    },
)

F = TypeVar("F", bound=Callable[..., Any])


def get(path: str) -> Callable[[F], F]:
    """A GET route that answers HEAD too, as the other two layers do (FastAPI's `get` does not;
    the server sends HEAD's headers without the body)."""
    return api.api_route(path, methods=["GET", "HEAD"])


@get("/")
async def root() -> dict[str, Any]:
    return {"layer": LAYER, "served_by": served_by()}


@get("/quick")
async def quick() -> dict[str, Any]:
    return catalogue.reply(LAYER, "quick")


@get("/async/sleep")
async def async_sleep(seconds: Seconds) -> dict[str, Any]:
    return await catalogue.async_sleep(LAYER, seconds)


@get("/async/block")
async def async_block(seconds: Seconds) -> dict[str, Any]:
    return await catalogue.async_block(LAYER, seconds)


@get("/sync/sleep")
def sync_sleep(seconds: Seconds) -> dict[str, Any]:
    return catalogue.sync_sleep(LAYER, seconds)


@get("/sync/cpu")
def sync_cpu(ms: Milliseconds) -> dict[str, Any]:
    return catalogue.sync_cpu(LAYER, ms)


@get("/async/cpu")
async def async_cpu(ms: Milliseconds) -> dict[str, Any]:
    return await catalogue.async_cpu(LAYER, ms)


@api.post("/echo")
async def echo(request: Request) -> dict[str, Any]:
    limit = settings.current().max_body
    echoed = await inputs.read_body(request.receive, request.scope["headers"], limit)
    return catalogue.reply(LAYER, "echo", **echoed.as_dict())


@get("/scope")
async def show_scope(request: Request) -> dict[str, Any]:
    return catalogue.reply(LAYER, "scope", scope=redact.scope(request.scope))


@get("/_lab/records")
async def lab_records(
    request: Request, limit: Annotated[int, Query(ge=1, le=RING_SIZE)] = 100
) -> Response:
    probe: ProbeMiddleware | None = request.scope.get(SCOPE_KEY)
    if probe is None:
        raise HTTPException(404, "this app is not wrapped in ProbeMiddleware")
    body = await catalogue.lab_records(LAYER, probe.ring, limit)
    return Response(body, media_type="application/json")


# Dependency hops: every kind of dependency, and where each one ran.


def here() -> dict[str, Any]:
    thread = threading.current_thread()
    return {"name": thread.name, "native_id": threading.get_native_id()}


def sync_dep() -> dict[str, Any]:
    return here()


async def async_dep() -> dict[str, Any]:
    return here()


def sync_gen_dep() -> Iterator[dict[str, Any]]:
    # Entered and closed on threadpool threads, not necessarily the same one.
    yield here()


async def async_gen_dep() -> AsyncIterator[dict[str, Any]]:
    yield here()


@get("/deps/hops")
def dependency_hops(
    sync: Annotated[dict[str, Any], Depends(sync_dep)],
    async_: Annotated[dict[str, Any], Depends(async_dep)],
    sync_gen: Annotated[dict[str, Any], Depends(sync_gen_dep)],
    async_gen: Annotated[dict[str, Any], Depends(async_gen_dep)],
) -> dict[str, Any]:
    ran = {"sync": sync, "async": async_, "sync_gen": sync_gen, "async_gen": async_gen}
    return catalogue.reply(LAYER, "deps/hops", dependencies=ran, endpoint_thread=here())


# A "session" kept in a thread-local, as some database libraries do: opened by a sync dependency,
# used by a sync endpoint. Both run in the threadpool, but on whichever worker thread is free, so
# under load the endpoint often finds no session, or another request's.
_sessions = threading.local()
_session_ids = itertools.count(1)


def open_session(hold: Annotated[float, Query(ge=0, le=1)] = 0) -> Iterator[dict[str, Any]]:
    """Open a session on this thread; `hold` keeps the thread busy a little, as real I/O would."""
    session = _sessions.current = next(_session_ids)
    time.sleep(hold)
    try:
        yield {"session": session, "thread": here()}
    finally:
        _sessions.current = None


@get("/deps/thread-local")
def thread_local_session(
    opened: Annotated[dict[str, Any], Depends(open_session)],
) -> dict[str, Any]:
    found = getattr(_sessions, "current", None)
    return catalogue.reply(
        LAYER,
        "deps/thread-local",
        opened=opened["session"],
        found=found,
        same_session=found == opened["session"],
        dependency_thread=opened["thread"],
        endpoint_thread=here(),
    )


#: What `uvicorn asgi_lab.api:app` serves: the wrapper app with the probe around it.
app = ProbeMiddleware(api, ring_size=RING_SIZE, log=True, watchdog=True)
