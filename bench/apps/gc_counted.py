"""The FastAPI bench app bare, under a pass-through middleware, under one context variable set
for each request, and under the probe, each behind `counted`: a wrapper that answers
`GET /_gc` with what the garbage collector did in this process so far (bench/gc_pressure.py).

`counted` keeps no object alive while a request runs (one comparison, then the app), so it
moves no variant's collections; the callback that counts costs two clock reads a collection.
"""

import gc
import json
import time
from contextvars import ContextVar

import fastapi

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp, Receive, Scope, Send
from bench.apps.endpoints import build
from bench.apps.probe_variants import pass_through_of

__all__ = ["bare", "context_variable", "pass_through", "probe"]

#: Collections so far by generation, and the seconds they took.
collections = [0, 0, 0]
seconds = [0.0, 0.0, 0.0]
_began = [0.0]


def _count(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _began[0] = time.perf_counter()
        return
    generation = info["generation"]
    collections[generation] += 1
    seconds[generation] += time.perf_counter() - _began[0]


gc.callbacks.append(_count)


def counted(app: ASGIApp) -> ASGIApp:
    """`app`, but for `GET /_gc`, which answers the counts as JSON."""

    async def answer_or_pass(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/_gc":
            await app(scope, receive, send)
            return
        body = json.dumps({"collections": collections, "seconds": seconds}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return answer_or_pass


_request: ContextVar[object] = ContextVar("request")


def context_variable_of(app: ASGIApp) -> ASGIApp:
    """One context variable set for as long as each request runs, as the probe's record is."""

    async def with_variable(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        token = _request.set(scope)
        try:
            await app(scope, receive, send)
        finally:
            _request.reset(token)

    return with_variable


bare = counted(build(fastapi))
pass_through = counted(pass_through_of(build(fastapi)))
context_variable = counted(context_variable_of(build(fastapi)))
probe = counted(ProbeMiddleware(build(fastapi)))
