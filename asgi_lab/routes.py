"""Layer 1: the catalogue as Starlette routes, and what only a framework adds.

Starlette takes routing, request parsing and lifespan off our hands, and decides where each
function runs: `async def` endpoints stay on the loop, `def` endpoints go to the anyio threadpool
(`request_response` → `run_in_threadpool`). So do sync background tasks, the iteration of a sync
generator behind a `StreamingResponse`, and every request of a mounted WSGI app (in the adapter's
own pool). The endpoints after the catalogue show each of those.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from a2wsgi import WSGIMiddleware
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from asgi_lab import caps, catalogue, inputs, redact, settings
from asgi_lab.catalogue_errors import ERRORS
from asgi_lab.probe import SCOPE_KEY, ProbeMiddleware

__all__ = ["LAYER", "app", "routes"]

LAYER = "routes"


async def root(request: Request) -> JSONResponse:
    return JSONResponse(catalogue.about(LAYER))


async def quick(request: Request) -> JSONResponse:
    return JSONResponse(catalogue.reply(LAYER, "quick"))


async def async_sleep(request: Request) -> JSONResponse:
    secs = inputs.seconds(request.query_params.get("seconds"), settings.current())
    return JSONResponse(await catalogue.async_sleep(LAYER, secs))


async def async_block(request: Request) -> JSONResponse:
    secs = inputs.seconds(request.query_params.get("seconds"), settings.current())
    return JSONResponse(await catalogue.async_block(LAYER, secs))


def sync_sleep(request: Request) -> JSONResponse:
    # A plain `def`: Starlette runs the whole endpoint in the threadpool for us.
    secs = inputs.seconds(request.query_params.get("seconds"), settings.current())
    return JSONResponse(catalogue.sync_sleep(LAYER, secs))


def sync_cpu(request: Request) -> JSONResponse:
    ms = inputs.milliseconds(request.query_params.get("ms"), settings.current())
    return JSONResponse(catalogue.sync_cpu(LAYER, ms))


async def async_cpu(request: Request) -> JSONResponse:
    ms = inputs.milliseconds(request.query_params.get("ms"), settings.current())
    return JSONResponse(await catalogue.async_cpu(LAYER, ms))


async def echo(request: Request) -> JSONResponse:
    limit = settings.current().max_body
    echoed = await inputs.read_body(request.receive, request.scope["headers"], limit)
    return JSONResponse(catalogue.reply(LAYER, "echo", **echoed.as_dict()))


async def show_scope(request: Request) -> JSONResponse:
    return JSONResponse(catalogue.reply(LAYER, "scope", scope=redact.scope(request.scope)))


async def lab_records(request: Request) -> Response:
    probe: ProbeMiddleware | None = request.scope.get(SCOPE_KEY)
    if probe is None:
        return JSONResponse({"detail": "this app is not wrapped in ProbeMiddleware"}, 404)
    limit = inputs.record_limit(request.query_params.get("limit"), probe.ring.size)
    body = await catalogue.lab_records(LAYER, probe.ring, limit)
    return Response(body, media_type="application/json")


# What exists only from this layer up.


class Both(HTTPEndpoint):
    """A class-based endpoint: each method is dispatched like a function endpoint."""

    def get(self, request: Request) -> JSONResponse:
        return JSONResponse(catalogue.reply(LAYER, "endpoint/get"))

    async def post(self, request: Request) -> JSONResponse:
        return JSONResponse(catalogue.reply(LAYER, "endpoint/post"))


def background_job(seconds: float) -> None:
    """A sync background task: Starlette runs it in the threadpool after the response is sent."""
    try:
        time.sleep(seconds)
    finally:
        caps.BACKGROUND.release()


async def background(request: Request) -> JSONResponse:
    secs = inputs.seconds(request.query_params.get("seconds", "0"), settings.current())
    # Counted from now until the job ends; past $ASGI_LAB_MAX_BACKGROUND this is a 503.
    caps.BACKGROUND.acquire(settings.current().max_background)
    task = BackgroundTask(background_job, secs)
    return JSONResponse(catalogue.reply(LAYER, "background", seconds=secs), background=task)


def chunk_count(raw: str | None) -> int:
    """The `chunks` of /stream: a whole number from 1 to 100."""
    return inputs.bounded_query(raw, "chunks", 1, 100, int)


def chunks(count: int) -> Iterator[str]:
    """A sync generator: each `next()` is a separate trip to the threadpool."""
    for index in range(count):
        yield json.dumps({"chunk": index, "thread": threading.get_native_id()}) + "\n"


async def stream(request: Request) -> StreamingResponse:
    count = chunk_count(request.query_params.get("chunks", "3"))
    return StreamingResponse(chunks(count), media_type="application/x-ndjson")


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A WSGI app: a2wsgi runs every call in its own thread pool, not anyio's."""
    body = json.dumps(catalogue.reply(LAYER, "wsgi", path=environ["PATH_INFO"])).encode()
    start_response(
        "200 OK", [("content-type", "application/json"), ("content-length", str(len(body)))]
    )
    return [body]


async def http_error(request: Request, exc: Exception) -> Response:
    # FastAPI's shape for 404 and 405, so the three layers answer alike.
    if not isinstance(exc, HTTPException):
        raise exc
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


routes = Starlette(
    routes=[
        Route("/", root),
        Route("/quick", quick),
        Route("/async/sleep", async_sleep),
        Route("/async/block", async_block),
        Route("/sync/sleep", sync_sleep),
        Route("/sync/cpu", sync_cpu),
        Route("/async/cpu", async_cpu),
        Route("/echo", echo, methods=["POST"]),
        Route("/scope", show_scope),
        Route("/_lab/records", lab_records),
        Route("/endpoint", Both, methods=["GET", "POST"]),
        Route("/background", background),
        Route("/stream", stream),
        Mount("/wsgi", WSGIMiddleware(wsgi_app)),  # type: ignore[arg-type]
    ],
    exception_handlers={**ERRORS, HTTPException: http_error},
    lifespan=catalogue.lifespan(LAYER),
)

#: What `uvicorn asgi_lab.routes:app` serves: Starlette with the probe around it, as pure ASGI
#: middleware (BaseHTTPMiddleware would cost most of the throughput; see the docs).
app = ProbeMiddleware(routes, log=True, watchdog=True)
