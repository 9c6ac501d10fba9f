"""Hard edges on real servers: WebSocket upgrades, clients that leave, and a raw-socket suite of
bad input, each against all three layers, read back from the JSON lines after a normal stop."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from asgi_lab.catalogue import app_path
from asgi_lab.records import read_records
from asgi_lab.records.schema import HEADER, RecordData
from asgi_lab.serving import Server
from asgi_lab.settings import Settings
from tests.conftest import SERVER_LAYERS, serve

pytestmark = pytest.mark.server


@pytest.fixture(params=SERVER_LAYERS)
def layer(request: pytest.FixtureRequest) -> str:
    """The layers served for real here (see `SERVER_LAYERS`)."""
    return str(request.param)


TIMEOUT = 5.0


def traced(layer: str, directory: Path, http: str = "auto") -> Server:
    return serve(app_path(layer), http=http, settings=Settings(trace_dir=str(directory)))


@dataclass(frozen=True)
class Answer:
    """One HTTP response read off a raw socket: its status and the probe's request id, if any."""

    status: int
    request: str | None


_STATUS = re.compile(rb"HTTP/1\.1 (\d{3}) ")
_REQUEST = re.compile(rb"(?im)^" + HEADER.encode() + rb":[^\r\n]*request=([0-9-]+)")


def exchange(
    server: Server, payload: bytes, *, answers: int = 1, close: bool = False
) -> list[Answer]:
    """Send `payload` on a fresh connection and read up to `answers` responses (or until the
    server closes); `close` leaves right after sending, reading nothing."""
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(payload)
        if close:
            return []
        data = b""
        deadline = time.monotonic() + TIMEOUT
        while len(_STATUS.findall(data)) < answers or not _complete(data, answers):
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
    starts = [m.start() for m in _STATUS.finditer(data)]
    found = []
    for begin, end in zip(starts, [*starts[1:], len(data)], strict=True):
        part = data[begin:end]
        status = _STATUS.match(part)
        assert status is not None
        request = _REQUEST.search(part)
        found.append(Answer(int(status.group(1)), request.group(1).decode() if request else None))
    return found


def _complete(data: bytes, answers: int) -> bool:
    """Whether the last of `answers` responses has all the body its content-length promises."""
    head, sep, body = data.rpartition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"(?i)content-length: (\d+)", head.rsplit(b"HTTP/1.1 ", 1)[-1])
    return length is None or len(body) >= int(length.group(1))


def in_flight_seen(server: Server) -> None:
    """Wait (bounded) until a /quick is served while another request is in flight."""
    deadline = time.monotonic() + TIMEOUT
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        while time.monotonic() < deadline:
            if client.get("/quick").json()["served_by"]["in_flight"] >= 1:
                return
    raise AssertionError("the slow request never showed as in flight")


def by_path(records: list[RecordData], path: str) -> list[RecordData]:
    return [r for r in records if r.path == path]


# 1. WebSocket upgrades


def test_a_websocket_upgrade_is_refused_with_a_403_and_recorded(layer: str, tmp_path: Path) -> None:
    with traced(layer, tmp_path) as server:
        with pytest.raises(InvalidStatus) as refused:
            with connect(f"ws://{server.host}:{server.port}/ws", open_timeout=TIMEOUT):
                pass
        assert refused.value.response.status_code == 403
        assert httpx.get(f"{server.url}/quick", timeout=TIMEOUT).status_code == 200
    assert "Traceback" not in server.output()
    [record] = [r for r in read_records(tmp_path) if r.type == "websocket"]
    assert (record.path, record.method, record.status, record.error) == ("/ws", "GET", 403, None)
    assert all(r.type == "http" for r in by_path(read_records(tmp_path), "/quick"))


# 2. Clients that leave before their response


@pytest.mark.parametrize("http", ["auto", "h11"])
def test_a_client_that_leaves_early_is_recorded_as_gone(
    layer: str, http: str, tmp_path: Path
) -> None:
    slow = b"GET /async/sleep?seconds=0.3 HTTP/1.1\r\nhost: lab\r\n\r\n"
    # The one that leaves lasts long enough to be seen in flight on a loaded box: at 0.3 s, and
    # once at 1 s (3.13, load average 6), the polls came late and found it already answered.
    # Its record is written when it ends, well within the final wait's TIMEOUT.
    leaving = slow.replace(b"seconds=0.3", b"seconds=2")
    with traced(layer, tmp_path, http) as server:
        with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
            sock.sendall(leaving)
            in_flight_seen(server)  # the request is being served; now the client leaves
        left_ns = time.time_ns()
        # Cut short: 10 of 100 promised bytes, then gone.
        cut = b"POST /echo HTTP/1.1\r\nhost: lab\r\ncontent-length: 100\r\n\r\n" + b"x" * 10
        exchange(server, cut, close=True)
        # The same slow request, answered in full on a keep-alive connection, then another.
        kept = exchange(server, slow + b"GET /quick HTTP/1.1\r\nhost: lab\r\n\r\n", answers=2)
        assert [a.status for a in kept] == [200, 200]
        # Every record is written once its request ends; wait (bounded) for both departures.
        # The whole ring: each poll is a record too, and would push a short window's out.
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                seen = client.get("/_lab/records", params={"limit": 1000}).json()["records"]
                if sum(1 for r in seen if r["disconnected_ns"]) >= 2:
                    break
                time.sleep(0.05)  # a poll's pause: the departing request ends on its own
        assert sum(1 for r in seen if r["disconnected_ns"]) >= 2, "both departures recorded"
    records = read_records(tmp_path)
    gone, answered = by_path(records, "/async/sleep")
    assert (gone.status, gone.error) == (499, None)
    assert gone.disconnected and gone.disconnected_ns >= left_ns - 10**9
    assert (answered.status, answered.disconnected_ns) == (200, 0)
    [echo] = by_path(records, "/echo")
    assert (echo.status, echo.disconnected) == (499, True)
    assert all(not r.disconnected for r in by_path(records, "/quick"))


# 7. Bad input on a raw socket


def request(line: str, *headers: str, body: bytes = b"") -> bytes:
    head = "\r\n".join([line, "host: lab", *headers, "connection: close", "", ""])
    return head.encode("latin-1") + body


#: name: (bytes sent, the statuses expected). The 400s come from uvicorn's parser, before the
#: app (no record); httptools sets no limit on header size, so a 200 KB header reaches the app.
SUITE: dict[str, tuple[bytes, list[int]]] = {
    "garbage": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", [400]),
    "nul in the path": (b"GET /qu\x00ick HTTP/1.1\r\nhost: lab\r\n\r\n", [400]),
    "nul in a header": (b"GET /quick HTTP/1.1\r\nhost: lab\r\nx-a: b\x00c\r\n\r\n", [400]),
    "nul in the query": (request("GET /async/sleep?seconds=%00 HTTP/1.1"), [422]),
    "bad utf-8 in the path": (request("GET /%ff%fe HTTP/1.1"), [404]),
    "oversized header": (request("GET /quick HTTP/1.1", "x-big: " + "a" * 200_000), [200]),
    "many headers": (request("GET /quick HTTP/1.1", *[f"x-h{i}: v" for i in range(2000)]), [200]),
    "huge query value": (request("GET /async/sleep?seconds=" + "9" * 60_000 + " HTTP/1.1"), [422]),
    "content-length and chunked": (
        request(
            "POST /echo HTTP/1.1",
            "content-length: 5",
            "transfer-encoding: chunked",
            body=b"0\r\n\r\n",
        ),
        [400],
    ),
    "two content-lengths": (
        request("POST /echo HTTP/1.1", "content-length: 1", "content-length: 2", body=b"ab"),
        [400],
    ),
    "negative content-length": (request("POST /echo HTTP/1.1", "content-length: -1"), [400]),
    "pipelined": (
        b"GET /quick HTTP/1.1\r\nhost: lab\r\n\r\n"
        b"GET /async/sleep?seconds=0 HTTP/1.1\r\nhost: lab\r\n\r\n"
        b"GET /quick HTTP/1.1\r\nhost: lab\r\nconnection: close\r\n\r\n",
        [200, 200, 200],
    ),
    "unknown method": (request("BREW /quick HTTP/1.1"), [400]),
    "http/1.0 without host": (b"GET /quick HTTP/1.0\r\n\r\n", [200]),
}


def test_bad_input_on_a_raw_socket_never_gets_a_5xx_and_loses_no_record(
    layer: str, tmp_path: Path
) -> None:
    answers: dict[str, list[Answer]] = {}
    with traced(layer, tmp_path) as server:
        started = time.monotonic()
        for name, (payload, expected) in SUITE.items():
            answers[name] = exchange(server, payload, answers=len(expected))
        # A body cut short: no answer is possible, but the record must say the client left.
        cut = b"POST /echo HTTP/1.1\r\nhost: lab\r\ncontent-length: 100\r\n\r\n" + b"x" * 10
        exchange(server, cut, close=True)
        assert time.monotonic() - started < 30
        assert httpx.get(f"{server.url}/quick", timeout=TIMEOUT).status_code == 200
    records = {r.id: r for r in read_records(tmp_path)}
    statuses = {name: [a.status for a in found] for name, found in answers.items()}
    assert not {n: s for n, s in statuses.items() if any(x >= 500 for x in s)}, statuses
    assert statuses == {name: expected for name, (_, expected) in SUITE.items()}
    # Every answer the app gave (it carries the probe's header) has its record, same status.
    from_app = [a for found in answers.values() for a in found if a.request is not None]
    assert from_app
    missing = [a for a in from_app if a.request not in records]
    assert not missing
    assert all(records[a.request].status == a.status for a in from_app if a.request)
    assert not [r for r in records.values() if r.status >= 500 or r.error is not None]
    assert [r.status for r in records.values() if r.disconnected] == [499]
    assert "Traceback" not in server.output()
