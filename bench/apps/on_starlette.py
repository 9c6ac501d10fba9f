"""The bench endpoints on plain Starlette routes: routing and requests, no signatures to solve.

Starlette runs a `def` endpoint in a worker thread itself; the async query endpoint sends its
sync dependency there with `run_in_threadpool`, as FastAPI would.
"""

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.apps.endpoints import settings


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


def hello_sync(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


async def query(request: Request) -> JSONResponse:
    conf = await run_in_threadpool(settings)
    try:
        n = int(request.query_params.get("n", ""))
    except ValueError:
        n = -1
    if n < 0:
        return JSONResponse({"detail": "n must be an integer >= 0"}, status_code=422)
    return JSONResponse({"n": n * conf["scale"]})


app = Starlette(
    routes=[
        Route("/", hello),
        Route("/sync", hello_sync),
        Route("/query", query),
    ]
)
