"""The endpoint catalogue every layer serves: routing, bad input, bodies, scopes, records."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from asgi_lab import settings
from asgi_lab.interpreter import PythonData
from asgi_lab.types import Message
from tests.conftest import facts

pytestmark = pytest.mark.anyio

BAD_INPUT = [
    ("/async/sleep", "seconds", None, "missing"),
    ("/async/sleep", "seconds", "abc", "float_parsing"),
    ("/async/block", "seconds", "-1", "greater_than_equal"),
    ("/sync/sleep", "seconds", "31", "less_than_equal"),
    ("/sync/sleep", "seconds", "nan", "finite_number"),
    ("/sync/cpu", "ms", "1.5", "int_parsing"),
    ("/async/cpu", "ms", "30001", "less_than_equal"),
    ("/async/cpu", "ms", None, "missing"),
]


@pytest.mark.parametrize(("path", "name", "value", "kind"), BAD_INPUT)
async def test_bad_input_is_a_422_naming_the_parameter(
    client: httpx.AsyncClient, path: str, name: str, value: str | None, kind: str
) -> None:
    params = {} if value is None else {name: value}
    response = await client.get(path, params=params)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", name]
    assert error["type"] == kind
    assert error["input"] == value
    assert error["msg"]


async def test_the_cap_is_the_setting_and_the_message_names_it(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cap is read when the worker starts (here: loaded again), never baked in at import;
    # every layer, Layer 2 included, words the cap's error the same way.
    monkeypatch.setenv("ASGI_LAB_MAX_SECONDS", "0.01")
    settings.load()
    try:
        [error] = (await client.get("/sync/sleep", params={"seconds": "0.02"})).json()["detail"]
        assert error["msg"] == "seconds must be a number from 0 to 0.01, got '0.02'"
        assert (await client.get("/sync/sleep", params={"seconds": "0.01"})).status_code == 200
    finally:
        monkeypatch.delenv("ASGI_LAB_MAX_SECONDS")
        settings.load()


async def test_bad_input_is_recorded_and_the_worker_keeps_serving(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.get("/sync/sleep", params={"seconds": "forever"})
    assert bad.status_code == 422
    good = await client.get("/quick")
    assert good.status_code == 200
    records = (await client.get("/_lab/records", params={"limit": 3})).json()["records"]
    by_id = {r["id"]: r for r in records}
    assert by_id[facts(bad).request]["status"] == 422
    assert by_id[facts(good).request]["status"] == 200


async def test_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/quick")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    response = await client.get("/echo")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


async def test_root_names_the_layer(client: httpx.AsyncClient, layer: str) -> None:
    body = (await client.get("/")).json()
    assert body["layer"] == layer
    assert set(body["served_by"]) >= {"pid", "loop", "handler", "threadpool"}
    assert PythonData.from_json(body["python"]) == PythonData.here()


async def test_echo_counts_chunks_and_bytes(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 1000

    body = (await client.post("/echo", content=chunks())).json()
    assert (body["chunks"], body["bytes"], body["disconnected"]) == (4, 4000, False)


async def test_echo_refuses_a_declared_body_over_the_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert "1048576" in response.json()["detail"]


async def test_echo_refuses_a_streamed_body_over_the_limit(client: httpx.AsyncClient) -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(2000):  # 2 MB, no content-length: the app must stop reading at 1 MB
            yield b"x" * 1000

    response = await client.post("/echo", content=endless())
    assert response.status_code == 413


def echo_scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    """The scope of a `POST /echo` as a server would build it, to call an app directly."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/echo",
        "raw_path": b"/echo",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"lab"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def test_echo_reports_a_client_disconnect(layer_app: Any) -> None:
    incoming: list[Message] = [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await layer_app(echo_scope(), receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["disconnected"] is True


async def test_scope_redacts_secrets(client: httpx.AsyncClient) -> None:
    secrets = ["Bearer s3cr3t-token", "session=c00kie-value", "k3y-value", "qu3ry-secret"]
    response = await client.get(
        "/scope",
        params={"access_token": secrets[3], "page": "2"},
        headers={"Authorization": secrets[0], "Cookie": secrets[1], "X-API-Key": secrets[2]},
    )
    assert response.status_code == 200
    for secret in secrets:
        assert secret not in response.text
    scope = response.json()["scope"]
    headers = dict(scope["headers"])
    assert headers["authorization"] == headers["cookie"] == headers["x-api-key"] == "[redacted]"
    assert "page=2" in scope["query_string"]
    assert scope["path"] == "/scope"


@pytest.mark.parametrize("limit", ["0", "-3", "lots", "100000"])
async def test_records_limit_is_bounded(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get("/_lab/records", params={"limit": limit})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "limit"]


async def test_records_are_newest_last(client: httpx.AsyncClient) -> None:
    first = await client.get("/quick")
    second = await client.get("/sync/sleep", params={"seconds": "0"})
    records = (await client.get("/_lab/records", params={"limit": 2})).json()["records"]
    assert [r["id"] for r in records] == [
        facts(first).request,
        facts(second).request,
    ]
    assert [r["path"] for r in records] == ["/quick", "/sync/sleep"]


@pytest.mark.parametrize("declared", ["\u00b2", "9" * 5000, "-1", "1e3"])
async def test_an_odd_content_length_is_not_a_500(layer_app: Any, declared: str) -> None:
    sent: list[Message] = []
    incoming: list[Message] = [{"type": "http.request", "body": b"abc", "more_body": False}]

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await layer_app(echo_scope((b"content-length", declared.encode("latin-1"))), receive, send)
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    assert start["status"] < 500


# One behaviour for all three layers at the edges of the input.


@pytest.mark.parametrize(
    ("path", "name", "value"), [("/async/sleep", "seconds", "١"), ("/sync/cpu", "ms", "١٢")]
)
async def test_only_ascii_digits_are_numbers(
    client: httpx.AsyncClient, path: str, name: str, value: str
) -> None:
    response = await client.get(path, params={name: value})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["loc"], error["type"], error["input"]) == (
        ["query", name],
        "float_parsing" if name == "seconds" else "int_parsing",
        value,
    )


async def test_a_huge_bad_value_is_echoed_cut_short_and_marked(client: httpx.AsyncClient) -> None:
    response = await client.get("/async/sleep", params={"seconds": "9" * 60_000})
    assert response.status_code == 422
    assert len(response.content) < 1000
    [error] = response.json()["detail"]
    assert error["input"] == "9" * 64 + "...[60000 characters]"


GETS = [
    "/",
    "/quick",
    "/async/sleep?seconds=0",
    "/sync/sleep?seconds=0",
    "/scope",
    "/_lab/records?limit=1",
]


@pytest.mark.parametrize("path", GETS)
async def test_every_get_answers_head(client: httpx.AsyncClient, path: str) -> None:
    response = await client.head(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


async def test_a_wrong_method_names_get_and_head(client: httpx.AsyncClient) -> None:
    response = await client.post("/quick")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD"}


@pytest.mark.parametrize(
    ("path", "to"), [("/quick/", "/quick"), ("/async/sleep/?seconds=0", "/async/sleep?seconds=0")]
)
async def test_a_trailing_slash_redirects_to_the_route(
    client: httpx.AsyncClient, path: str, to: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 307
    assert response.headers["location"] == f"http://lab{to}"
    assert (await client.get("/nowhere/")).status_code == 404
