"""The same app on FastAPI and on asgi_lab.framework answers every request identically."""

from typing import Any

import fastapi
import httpx
import pytest

import asgi_lab.framework as ours
from asgi_lab.framework.errors import FastAPIError

from .parity_app import build, swallowing

JSON = {"content-type": "application/json"}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    # path, query, list query, constraints, missing and bad types
    ("GET", "/items/5", {}),
    ("GET", "/items/5?q=7&name=x&tags=1&tags=2", {}),
    ("GET", "/items/x", {}),
    ("GET", "/items/5?q=0", {}),
    ("GET", "/items/5?q=11", {}),
    ("GET", "/items/5?q=abc&tags=1&tags=b", {}),
    ("GET", "/items/5?q=", {}),
    ("GET", "/legacy?seconds=1.5", {}),
    ("GET", "/legacy", {}),
    ("GET", "/legacy?seconds=0", {}),
    ("GET", "/legacy?seconds=9&code=A", {}),
    ("GET", "/legacy?seconds=nan", {}),
    ("GET", "/legacy?seconds=1&code=abcdefg", {}),
    ("GET", "/legacy?seconds=1&code=a", {}),
    ("GET", "/documented?q=abc", {}),
    ("GET", "/documented?q=abcd", {}),
    # headers and cookies
    ("GET", "/headers", {}),
    ("GET", "/headers", {"headers": {"x-token": "t", "user-agent": "ua", "cookie": "session=c"}}),
    ("GET", "/headers", {"headers": [("x-token", "t"), ("x-multi", "1"), ("x-multi", "2")]}),
    ("GET", "/headers", {"headers": {"x_token": "underscore is not hyphen"}}),
    # bodies
    ("POST", "/items", {"json": {"name": "a", "price": 2, "tags": ["x"]}}),
    ("POST", "/items", {"json": {"price": "cheap"}}),
    ("POST", "/items", {"json": [1, 2]}),
    ("POST", "/items", {"json": None}),
    ("POST", "/items", {}),
    ("POST", "/items", {"content": b'{"name": "a",', "headers": JSON}),
    ("POST", "/items", {"content": b"[1, 2", "headers": JSON}),
    ("POST", "/items", {"content": b'{"name": "a"}', "headers": {"content-type": "text/plain"}}),
    ("POST", "/items", {"content": b'{"name": "a"}', "headers": {"content-type": "app/x+json"}}),
    ("POST", "/items", {"content": b"\xff\xfe", "headers": JSON}),
    ("PUT", "/items/3", {"json": {"item": {"name": "e"}}}),
    ("PUT", "/items/3", {"json": {"name": "e"}}),
    ("PUT", "/items/3", {"json": [{"item": {}}]}),
    ("PUT", "/items/x", {"json": "text"}),
    ("PATCH", "/several?note=n", {"json": {"item": {"name": "s"}, "importance": 2}}),
    ("PATCH", "/several", {"json": {"item": {"name": "s"}, "importance": 0}}),
    ("PATCH", "/several", {"json": {"name": "s"}}),
    ("PATCH", "/several?note=n", {"content": b"5", "headers": JSON}),
    # return values and status codes
    ("GET", "/model", {}),
    ("GET", "/dataclass", {}),
    ("GET", "/annotated", {}),
    ("DELETE", "/items/9", {}),
    ("DELETE", "/items/nine", {}),
    ("GET", "/response", {}),
    ("GET", "/request/abc?z=1", {}),
    # errors, routing and prefixes
    ("GET", "/fail/404", {}),
    ("GET", "/fail/401", {}),
    ("GET", "/fail/304", {}),
    ("GET", "/fail/418", {}),
    ("GET", "/missing-route", {}),
    ("POST", "/model", {}),
    ("GET", "/v1/users/ann", {}),
    ("GET", "/users/ann", {}),
    ("HEAD", "/v1/users/ann", {}),
    # dependencies: sub-dependencies, cache, use_cache=False, errors inside a dependency
    ("GET", "/deps", {"headers": {"x-key": "k"}}),
    ("GET", "/deps?limit=3", {"headers": {"x-key": "k"}}),
    ("GET", "/deps?limit=many", {}),
    # the rest of FastAPI: background tasks, streams, response models, router dependencies,
    # overrides (which take their own query values), limits, errors through yield dependencies
    ("GET", "/dispatch/background", {}),
    ("GET", "/dispatch/stream", {}),
    ("GET", "/dispatch/jsonl", {}),
    ("GET", "/dispatch/validated", {}),
    ("GET", "/dispatch/router/deps", {}),
    ("GET", "/dispatch/override?limit=5", {}),
    ("GET", "/dispatch/override?limit=x", {}),
    ("GET", "/dispatch/limited", {}),
    ("GET", "/dispatch/yield-error", {}),
]


async def answer(app: Any, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, url, **kwargs)


def summary(response: httpx.Response) -> dict[str, Any]:
    json_types = ("application/json", "application/jsonl")
    is_json = response.headers.get("content-type") in json_types and "\n" not in response.text
    body = response.json() if response.content and is_json else response.text
    headers = {
        k: v
        for k, v in response.headers.items()
        if k in ("content-type", "x-error", "x-raw", "allow", "content-length")
    }
    return {"status": response.status_code, "headers": headers, "body": body}


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "url", "kwargs"), CASES, ids=[f"{m} {u}" for m, u, _ in CASES])
async def test_same_answer(method: str, url: str, kwargs: dict[str, Any]) -> None:
    expected = summary(await answer(build(fastapi), method, url, kwargs))
    got = summary(await answer(build(ours), method, url, kwargs))
    assert got == expected


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "url", "kwargs"), CASES, ids=[f"{m} {u}" for m, u, _ in CASES])
async def test_never_a_server_error(method: str, url: str, kwargs: dict[str, Any]) -> None:
    response = await answer(build(ours), method, url, kwargs)
    assert response.status_code < 500


@pytest.mark.anyio
async def test_caching_counts_calls_once_per_request() -> None:
    app = build(ours)
    first = (await answer(app, "GET", "/deps", {"headers": {"x-key": "k"}})).json()
    second = (await answer(app, "GET", "/deps", {"headers": {"x-key": "k"}})).json()
    # common() runs once for first, second and again, and once more for use_cache=False.
    assert first["a"] == first["b"]["calls"] == first["again"]["calls"] == 1
    assert first["fresh"] == 1
    assert second["a"] == 3


@pytest.mark.anyio
async def test_a_swallowed_exception_is_fastapis_error() -> None:
    answers = [await answer(swallowing(fw), "GET", "/swallowed", {}) for fw in (fastapi, ours)]
    assert [(a.status_code, a.text) for a in answers] == [(500, "Internal Server Error")] * 2
    messages = []
    for fw, error in ((fastapi, fastapi.exceptions.FastAPIError), (ours, FastAPIError)):
        transport = httpx.ASGITransport(app=swallowing(fw))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with pytest.raises(error) as raised:
                await client.get("/swallowed")
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
