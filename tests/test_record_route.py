"""Each record names its route as the framework does, so a thousand slugs make one group: FastAPI
and Starlette (mounts included), Litestar and Django; a path no route matched keeps none."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.records import RecordData
from asgi_lab.types import ASGIApp
from tests.test_probe import fastapi_app

pytestmark = pytest.mark.anyio


async def routes_of(app: ASGIApp, *paths: str) -> dict[str, RecordData]:
    probe = app if isinstance(app, ProbeMiddleware) else ProbeMiddleware(app, trace=None)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        for path in paths:
            await client.get(path)
    return {r.path: r.data() for r in probe.ring.recent(len(paths))}


async def test_fastapi_names_the_route_and_a_miss_names_none() -> None:
    found = await routes_of(fastapi_app(), "/sync", "/nowhere")
    assert found["/sync"].route == "/sync"
    assert found["/nowhere"].route == ""


async def test_starlette_names_the_route_below_its_mounts() -> None:
    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["slug"])

    inner = [Route("/recipes/{slug}", item)]
    app = Starlette(routes=[Mount("/api", routes=[Mount("/v1", routes=inner)])])
    found = await routes_of(app, "/api/v1/recipes/soup", "/api/v1/recipes/bread")
    assert {r.route for r in found.values()} == {"/api/v1/recipes/{slug}"}


async def test_litestar_names_its_path_template() -> None:
    from tests.apps import roads_litestar

    found = await routes_of(roads_litestar.app, "/items/3", "/items/4")
    assert {r.route for r in found.values()} == {"/items/{item_id}"}


async def test_django_names_the_pattern_its_resolver_matched() -> None:
    from tests.apps import roads_django

    found = await routes_of(roads_django.app, "/items/3", "/sync")
    assert found["/items/3"].route == "/items/<int:item_id>"
    assert found["/sync"].route == "/sync"
    # Any other app in a process that imported Django keeps to its own routes.
    [other] = (await routes_of(fastapi_app(), "/items/3")).values()
    assert other.route == ""
