"""What a client sends is shown as text: no forged log lines, no terminal escapes, no password
from an absolute-form target, in the log line, the watchdog's warning and the trace summary."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

import pytest

from asgi_lab import redact
from asgi_lab.console import plain
from asgi_lab.probe.log import as_line
from asgi_lab.records import PoolData, ThreadData, read_records
from asgi_lab.trace.summary import summary
from tests.conftest import serve
from tests.lab.fakes import record

FORGED = "/x\nGET /admin 200 0.1 ms FORGED"
NASTY = ["\n", "\r", "\x1b[2J", "\x00", "\x7f", "\u2028", "\u202e", "\x85"]


def unprintable(text: str) -> list[str]:
    return [c for c in text if not c.isprintable()]


@pytest.mark.parametrize("nasty", NASTY)
@pytest.mark.parametrize("field", ["method", "path", "error", "thread", "call", "loop"])
def test_every_field_of_the_log_line_is_printed_as_text(field: str, nasty: str) -> None:
    value = f"a{nasty}b"
    base = record("7-1", handler=9, hops=[(0.0, 0.001)])
    hop = dataclasses.replace(base.hops[0], endpoint=True)
    changes: dict[str, object] = {"hops": (hop,)}
    if field == "method":
        changes["method"] = value
    elif field == "path":
        changes["path"] = value
    elif field == "error":
        changes["error"] = value
    elif field == "thread":
        thread = ThreadData(value, 9)
        changes["handler"] = dataclasses.replace(base.handler, thread=thread)
    elif field == "call":
        changes["hops"] = (dataclasses.replace(hop, call=value), hop)
    else:
        changes["loop"] = dataclasses.replace(base.loop, impl=value)
    line = as_line(dataclasses.replace(base, **changes))  # type: ignore[arg-type]
    assert unprintable(line) == [] and "a" in line and "b" in line
    assert line.count("\n") == 0 and repr(nasty)[1:-1] in line or "\\x" in line or "\\u" in line


def test_a_forged_line_stays_on_its_own_line_and_says_what_was_sent() -> None:
    line = as_line(dataclasses.replace(record("7-1"), path=FORGED))
    assert line.startswith("GET /x\\nGET /admin 200 0.1 ms FORGED 200 ")
    assert redact.printable("a\\nb") == "a\\\\nb"  # a backslash sent is not an escape we made


def test_the_trace_summary_prints_paths_and_lines_as_text() -> None:
    from asgi_lab.records import BlockData, FrameData

    culprit = dataclasses.replace(
        record("7-1", path=FORGED),
        blocks=(BlockData(120.0, "/srv/a\x1bb.py", 3, "f", (FrameData("/srv/a.py", 3, "f"),),
                          "blocked", 1),),
    )  # fmt: skip
    text = plain(summary([culprit, record("7-2", path="/ok\x1b[31m")]))
    assert unprintable(text.replace("\n", "")) == []
    assert "\\x1b" in text


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("http://user:SECRET@host/scope", "http://[redacted]@host/scope"),
        ("https://token@host:8443/a?b=c", "https://[redacted]@host:8443/a?b=c"),
        ("/plain/path", "/plain/path"),
        ("/a@b/c", "/a@b/c"),  # an @ in a path is not userinfo
        ("http://host/a@b", "http://host/a@b"),
    ],
)
def test_userinfo_is_redacted_from_a_target(target: str, shown: str) -> None:
    assert redact.userinfo(target) == shown
    scope = redact.scope({"path": target, "raw_path": target.encode()})
    assert scope["path"] == scope["raw_path"] == shown


@pytest.mark.server
@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_no_password_from_an_absolute_form_target_reaches_a_record(
    http: str, tmp_path: Path
) -> None:
    from asgi_lab.settings import Settings

    server = serve("asgi_lab.raw:app", http=http, settings=Settings(trace_dir=str(tmp_path)))
    try:
        with socket.create_connection((server.host, server.port), timeout=10) as conn:
            conn.sendall(
                b"GET http://user:SECRET@host/scope HTTP/1.1\r\nHost: host\r\n"
                b"Connection: close\r\n\r\n"
            )
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
    finally:
        server.stop()
    # h11 passes the absolute target on as the path (the raw layer then answers 404, as it
    # would for any unknown path); httptools passes on only its path.
    assert answer.startswith(b"HTTP/1.1 404" if http == "h11" else b"HTTP/1.1 200")
    assert b"SECRET" not in answer  # /scope, where it answers, shows the userinfo redacted
    [seen] = read_records(tmp_path)
    assert "SECRET" not in json.dumps(seen.to_json())
    assert seen.path in ("/scope", "http://[redacted]@host/scope")


@pytest.mark.parametrize(
    ("borrowed", "waiting", "said"),
    [
        (0, 0, "anyio 1/40 busy)"),
        (39, 0, "anyio 40/40 busy)"),
        (40, 0, "anyio 40/40 busy, queued behind 0)"),  # was "41/40"
        (40, 3, "anyio 40/40 busy, queued behind 3)"),
    ],
)
def test_the_log_line_never_says_more_tokens_busy_than_there_are(
    borrowed: int, waiting: int, said: str
) -> None:
    base = record("7-1", handler=9, hops=[(0.0, 0.001)])
    pool = PoolData("anyio", 40, borrowed, waiting)
    hop = dataclasses.replace(base.hops[0], endpoint=True, pool=pool)
    line = as_line(dataclasses.replace(base, hops=(hop,)))
    assert said in line
