"""The fastapi layer: api.py's source built on FastAPI, seen by the probe as the wrapper is."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import fastapi
import httpx
import pytest
from starlette.routing import Route

import asgi_lab.framework as framework
from asgi_lab import api, catalogue, fastapi_layer
from asgi_lab.catalogue import app_path
from asgi_lab.extras import MissingExtra
from tests.conftest import facts, serve

pytestmark = pytest.mark.anyio

#: Where a sync request goes: dependencies, generator enter/exit, endpoint, result check.
PATHS = ["/quick", "/sync/sleep?seconds=0", "/sync/cpu?ms=1", "/deps/hops", "/deps/thread-local"]


def routes(app: Any) -> set[tuple[str, frozenset[str]]]:
    return {(r.path, frozenset(r.methods or ())) for r in app.routes if isinstance(r, Route)}


def test_one_source_built_on_each_framework() -> None:
    assert isinstance(api.api, framework.FastAPI)
    assert isinstance(fastapi_layer.api, fastapi.FastAPI)
    assert catalogue.app_path("fastapi") == "asgi_lab.fastapi_layer:app"
    # FastAPI adds its documentation routes; every catalogue route is on both.
    assert routes(api.api) <= routes(fastapi_layer.api)
    assert {"/sync/sleep", "/deps/hops", "/_lab/records"} <= {p for p, _ in routes(api.api)}


async def seen(app: Any) -> dict[str, Any]:
    """Per path: the reply's layer, whether the handler ran in the threadpool, and its hops."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lab") as client:
        layers = {p.split("?")[0]: (await client.get(p)).json()["layer"] for p in PATHS}
        reply = await client.get("/_lab/records", params={"limit": len(PATHS)})
    out: dict[str, Any] = {}
    for record in reply.json()["records"]:
        hops = record["hops"]
        out[record["path"]] = (
            layers[record["path"]],
            record["handler"]["in_threadpool"],
            [hop["endpoint"] for hop in hops],
            # FastAPI runs a def endpoint through its `_run_sync_endpoint`, and checks the
            # result with `ModelField.validate`: the same hops under other names.
            [hop["call"] for hop in hops if not hop["endpoint"]][:2],
        )
    return out


async def test_the_probe_sees_the_same_hops_on_the_wrapper_and_on_fastapi() -> None:
    wrapper, real = await seen(api.app), await seen(fastapi_layer.app)
    assert set(wrapper) == set(real) == {p.split("?")[0] for p in PATHS}
    for path in wrapper:
        layer, in_pool, endpoint_flags, _ = wrapper[path]
        assert (layer, real[path][0]) == ("api", "fastapi")
        assert real[path][1:3] == (in_pool, endpoint_flags), path
    # A def endpoint's result is checked on a second trip to the threadpool, on both.
    assert wrapper["/sync/sleep"][2] == real["/sync/sleep"][2] == [True, False]
    assert wrapper["/deps/hops"][3] == real["/deps/hops"][3]  # sync_dep, then the generator


def test_without_fastapi_the_layer_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "asgi_lab.fastapi_layer")
    monkeypatch.setitem(sys.modules, "fastapi", None)  # what `import fastapi` finds uninstalled
    expected = r'needs the lab extra \(fastapi is not installed\): pip install "asgi-lab\[lab\]"'
    with pytest.raises(MissingExtra, match=expected):
        importlib.import_module("asgi_lab.fastapi_layer")


@pytest.mark.server
def test_the_fastapi_layer_on_a_real_server_runs_def_in_the_pool_and_async_on_the_loop() -> None:
    with serve(app_path("fastapi")) as server, httpx.Client(base_url=server.url, timeout=15) as c:
        sync = c.get("/sync/sleep", params={"seconds": "0"})
        quick = c.get("/quick")
    assert sync.json()["layer"] == quick.json()["layer"] == "fastapi"
    assert sync.json()["served_by"]["handler"]["in_threadpool"] is True
    assert quick.json()["served_by"]["handler"]["in_threadpool"] is False
    assert facts(quick).thread == server.pid != facts(sync).thread  # the loop is the main thread
