"""The probe never changes an answer, on any server: the same requests to the same FastAPI app,
with and without `ProbeMiddleware`, give the same status, headers (ours and the date aside) and
body, under uvicorn, granian, hypercorn and daphne, with one worker and with two."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

from asgi_lab.records import HEADER
from asgi_lab.serving import Server
from tests.apps.parity import BIG, LEAVE_SECONDS
from tests.servers.conftest import Pair

pytestmark = pytest.mark.server

TIMEOUT = httpx.Timeout(15.0)
#: Headers that may differ between two runs of the same app: the clock's, and the probe's own.
VARYING = {"date", HEADER}
#: Each request is sent this many times, on fresh connections, so that two workers both serve.
TIMES = 4

Answer = tuple[int, list[tuple[str, str]], bytes]

REQUESTS = [
    ("GET", "/async/quick", None),
    ("GET", "/async/slow", None),
    ("GET", "/sync", None),
    ("GET", "/dependency", None),
    ("GET", "/stream", None),
    ("POST", "/upload", bytes(range(256)) * (BIG // 256)),
    ("GET", "/big", None),
    ("GET", "/no/such/path", None),
]


def answer(server: Server, method: str, path: str, body: bytes | None) -> tuple[Answer, bool]:
    """One request on a fresh connection: what came back, and whether the probe's header did."""
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        response = client.request(method, path, content=body)
    headers = sorted((k, v) for k, v in response.headers.items() if k not in VARYING)
    return (response.status_code, headers, response.content), HEADER in response.headers


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS, ids=[r[1] for r in REQUESTS])
def test_the_same_answer_with_and_without_the_probe(
    pair: Pair, method: str, path: str, body: bytes | None
) -> None:
    for _ in range(TIMES):
        plain, plain_marked = answer(pair.plain, method, path, body)
        probed, probe_marked = answer(pair.probed, method, path, body)
        assert probed == plain
        assert (plain_marked, probe_marked) == (False, True)
    expected = 404 if path == "/no/such/path" else 200
    assert plain[0] == expected, plain


def leave(server: Server, marks: Path) -> str:
    """Ask `/leave`, go once it has started, and return what the app saw of it."""
    token = uuid.uuid4().hex
    started, seen = marks / f"{token}.started", marks / token
    with socket.create_connection((server.host, server.port), timeout=10) as conn:
        conn.sendall(f"GET /leave?token={token} HTTP/1.1\r\nHost: lab\r\n\r\n".encode())
        wait_for(started, 10)
    wait_for(seen, LEAVE_SECONDS + 10)
    return seen.read_text(encoding="utf-8")


def wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} did not appear within {timeout:g} s")
        time.sleep(0.01)


def test_a_client_that_leaves_is_seen_alike_and_the_server_goes_on(pair: Pair) -> None:
    plain = leave(pair.plain, pair.marks)
    probed = leave(pair.probed, pair.marks)
    assert probed == plain
    for server in (pair.plain, pair.probed):
        assert answer(server, "GET", "/async/quick", None)[0][0] == 200


def talk(server: Server) -> list[object]:
    """Two messages over a WebSocket and a goodbye: everything the server said, and its close."""
    heard: list[object] = []
    with connect(f"ws://{server.host}:{server.port}/ws", open_timeout=10) as ws:
        for text in ("hello", "é" * 1000):
            ws.send(text)
            heard.append(ws.recv(timeout=10))
        ws.send("bye")
        try:
            heard.append(ws.recv(timeout=10))
        except ConnectionClosedOK as closed:
            heard.append(("closed", closed.rcvd.code if closed.rcvd else None))
    return heard


def test_the_same_websocket_conversation_with_and_without_the_probe(pair: Pair) -> None:
    plain = talk(pair.plain)
    assert plain == ["echo: hello", "echo: " + "é" * 1000, ("closed", 1000)]
    assert talk(pair.probed) == plain
