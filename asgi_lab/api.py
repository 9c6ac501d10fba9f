"""Layer 2: the catalogue written as a FastAPI app is, built on `asgi_lab.framework`.

Parameters come from the signature, so bad input is answered with FastAPI's 422. `async def`
endpoints run on the loop, `def` ones in the threadpool; under `/deps/` the dependencies of each
kind show where the framework puts *them*, which is where FastAPI would. `build` takes the
framework as a module, so the same source is also built on FastAPI itself
(`asgi_lab/fastapi_layer.py`): the wrapper is a drop-in, and the lab can show it.
"""

# No `from __future__ import annotations`: the endpoints are defined inside `build`, and both
# frameworks read their annotations at registration, where a string could not see `fw`.

import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Annotated, Any, TypeVar

from starlette.requests import Request  # what `fastapi.Request` and the wrapper's `Request` are
from starlette.responses import JSONResponse, Response

from asgi_lab import catalogue, framework, inputs, redact, settings
from asgi_lab.catalogue_errors import ERRORS
from asgi_lab.framework.errors import RequestValidationError
from asgi_lab.probe import SCOPE_KEY, ProbeMiddleware

__all__ = ["LAYER", "RING_SIZE", "api", "app", "build"]

LAYER = "api"
RING_SIZE = 1000


def invalid_request(kind: type[Exception]) -> Callable[[Request, Exception], Any]:
    """FastAPI's 422 for a value the signature refused (`kind` is the framework's error class),
    its echoed input cut as the other layers cut theirs."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, kind):
            raise exc
        errors = [{**e, "input": inputs.shown(e.get("input"))} for e in exc.errors()]  # type: ignore[attr-defined]
        return JSONResponse({"detail": errors}, status_code=422)

    return handler


F = TypeVar("F", bound=Callable[..., Any])


# Where each kind of dependency ran: what the `/deps/` endpoints report.


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


# A "session" kept in a thread-local, as some database libraries do: opened by a sync dependency,
# used by a sync endpoint. Both run in the threadpool, but on whichever worker thread is free, so
# under load the endpoint often finds no session, or another request's.
_sessions = threading.local()
_session_ids = itertools.count(1)


def build(fw: ModuleType, layer: str, validation_error: type[Exception]) -> Any:
    """The catalogue as an app of `fw`, `asgi_lab.framework` or `fastapi`, answering as `layer`;
    `validation_error` is that framework's `RequestValidationError`."""

    # The signature parses and checks the form; the cap is a setting, read when the worker starts,
    # so it is checked per request by an async dependency (async: it stays on the loop, no hop).

    async def capped_seconds(
        request: Request, seconds: Annotated[float, fw.Query(ge=0, allow_inf_nan=False)]
    ) -> float:
        """`seconds`, at most $ASGI_LAB_MAX_SECONDS (named in the error as the client wrote it)."""
        return inputs.seconds(request.query_params.get("seconds"), settings.current())

    async def capped_ms(request: Request, ms: Annotated[int, fw.Query(ge=0)]) -> int:
        """`ms`, at most $ASGI_LAB_MAX_SECONDS in milliseconds."""
        return inputs.milliseconds(request.query_params.get("ms"), settings.current())

    Seconds = Annotated[float, fw.Depends(capped_seconds)]
    Milliseconds = Annotated[int, fw.Depends(capped_ms)]

    api = fw.FastAPI(
        lifespan=catalogue.lifespan(layer),
        exception_handlers={**ERRORS, validation_error: invalid_request(validation_error)},
    )

    def get(path: str, **options: Any) -> Callable[[F], F]:
        """A GET route that answers HEAD too, as the other two layers do (FastAPI's `get` does
        not; the server sends HEAD's headers without the body)."""
        route: Callable[[F], F] = api.api_route(path, methods=["GET", "HEAD"], **options)
        return route

    @get("/")
    async def root() -> dict[str, Any]:
        return catalogue.about(layer)

    @get("/quick")
    async def quick() -> dict[str, Any]:
        return catalogue.reply(layer, "quick")

    @get("/async/sleep")
    async def async_sleep(seconds: Seconds) -> dict[str, Any]:
        return await catalogue.async_sleep(layer, seconds)

    @get("/async/block")
    async def async_block(seconds: Seconds) -> dict[str, Any]:
        return await catalogue.async_block(layer, seconds)

    @get("/sync/sleep")
    def sync_sleep(seconds: Seconds) -> dict[str, Any]:
        return catalogue.sync_sleep(layer, seconds)

    # The same sleep without a response model: its result is not validated, so it makes one
    # trip to the threadpool, not two (the response-model-hop experiment's control).
    @get("/sync/sleep/unvalidated", response_model=None)
    def sync_sleep_unvalidated(seconds: Seconds) -> dict[str, Any]:
        return catalogue.sync_sleep(layer, seconds)

    @get("/sync/cpu")
    def sync_cpu(ms: Milliseconds) -> dict[str, Any]:
        return catalogue.sync_cpu(layer, ms)

    @get("/async/cpu")
    async def async_cpu(ms: Milliseconds) -> dict[str, Any]:
        return await catalogue.async_cpu(layer, ms)

    @api.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        limit = settings.current().max_body
        echoed = await inputs.read_body(request.receive, request.scope["headers"], limit)
        return catalogue.reply(layer, "echo", **echoed.as_dict())

    @get("/scope")
    async def show_scope(request: Request) -> dict[str, Any]:
        return catalogue.reply(layer, "scope", scope=redact.scope(request.scope))

    @get("/_lab/records")
    async def lab_records(
        request: Request, limit: Annotated[int, fw.Query(ge=1, le=RING_SIZE)] = 100
    ) -> Response:
        probe: ProbeMiddleware | None = request.scope.get(SCOPE_KEY)
        if probe is None:
            raise fw.HTTPException(404, "this app is not wrapped in ProbeMiddleware")
        body = await catalogue.lab_records(layer, probe.ring, limit)
        return Response(body, media_type="application/json")

    # Dependency hops: every kind of dependency, and where each one ran.

    @get("/deps/hops")
    def dependency_hops(
        sync: Annotated[dict[str, Any], fw.Depends(sync_dep)],
        async_: Annotated[dict[str, Any], fw.Depends(async_dep)],
        sync_gen: Annotated[dict[str, Any], fw.Depends(sync_gen_dep)],
        async_gen: Annotated[dict[str, Any], fw.Depends(async_gen_dep)],
    ) -> dict[str, Any]:
        ran = {"sync": sync, "async": async_, "sync_gen": sync_gen, "async_gen": async_gen}
        return catalogue.reply(layer, "deps/hops", dependencies=ran, endpoint_thread=here())

    def open_session(hold: Annotated[float, fw.Query(ge=0, le=1)] = 0) -> Iterator[dict[str, Any]]:
        """Open a session on this thread; `hold` keeps the thread busy a while, as I/O would."""
        session = _sessions.current = next(_session_ids)
        time.sleep(hold)
        try:
            yield {"session": session, "thread": here()}
        finally:
            _sessions.current = None

    @get("/deps/thread-local")
    def thread_local_session(
        opened: Annotated[dict[str, Any], fw.Depends(open_session)],
    ) -> dict[str, Any]:
        found = getattr(_sessions, "current", None)
        return catalogue.reply(
            layer,
            "deps/thread-local",
            opened=opened["session"],
            found=found,
            same_session=found == opened["session"],
            dependency_thread=opened["thread"],
            endpoint_thread=here(),
        )

    return api


api = build(framework, LAYER, RequestValidationError)

#: What `uvicorn asgi_lab.api:app` serves: the wrapper app with the probe around it.
app = ProbeMiddleware(api, ring_size=RING_SIZE, log=True, watchdog=True)
