"""Starting every server: ready without reading its log, a failed import an error at once, the
options a server cannot honour refused by name, granian's port race closed, no orphans."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from asgi_lab import procfs, serving
from asgi_lab.cli import main
from asgi_lab.serving import ServerError, ServerOptionError, ServerOptions, bind, start
from tests.servers.conftest import SERVED

pytestmark = pytest.mark.server

IDS = [f"{s}-{w}w" for s, w in SERVED]


def parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def lineage(pid: int) -> Iterator[int]:
    """`pid`, its parent, and so on up to init."""
    while pid > 1:
        yield pid
        pid = parent(pid)


@pytest.mark.parametrize(("name", "workers"), SERVED, ids=IDS)
def test_an_app_that_silences_logging_is_served_by_every_worker(name: str, workers: int) -> None:
    with start(ServerOptions("tests.apps.quiet:app", server=name, workers=workers)) as server:
        response = httpx.get(f"{server.url}/", timeout=10)
        assert (response.status_code, response.text) == (200, "quiet")
        pids = server.worker_pids
        assert len(pids) == workers
        for pid in pids:
            assert server.pid in lineage(pid)
        tree = procfs.descendants(server.pid)
    assert not [pid for pid in tree if procfs.alive(pid)], "a process outlived stop()"


@pytest.mark.parametrize(("name", "workers"), SERVED, ids=IDS)
def test_an_app_that_fails_to_import_is_an_error_at_once(name: str, workers: int) -> None:
    options = ServerOptions("tests.apps.broken:app", server=name, workers=workers)
    with pytest.raises(ServerError) as caught:
        start(options)
    message = str(caught.value)
    # Said when the process or a worker exited, not when the ready timeout ran out.
    assert "exited" in message and "within" not in message, message
    assert "fails to import, on purpose" in message


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"server": "granian", "http": "h11"}, "granian cannot honour --http h11"),
        ({"server": "hypercorn", "http": "httptools"}, "hypercorn cannot honour --http httptools"),
        ({"server": "daphne", "workers": 2}, "daphne cannot honour --workers 2"),
        ({"server": "daphne", "loop": "uvloop"}, "daphne cannot honour --loop uvloop"),
        ({"server": "daphne", "factory": True}, "daphne cannot honour --factory"),
        ({"server": "uvicorn", "runtime_threads": 2}, "--runtime-threads is granian's own"),
        ({"server": "hypercorn", "runtime_mode": "st"}, "--runtime-mode is granian's own"),
        ({"server": "granian", "runtime_mode": "x"}, "--runtime-mode must be one of"),
        ({"server": "granian", "blocking_threads": 2}, "--blocking-threads must be 1, got 2"),
        ({"server": "gunicorn"}, "--server must be one of uvicorn, granian"),
    ],
)
def test_an_option_a_server_cannot_honour_is_named(options: dict[str, object], named: str) -> None:
    with pytest.raises(ServerOptionError, match=named.replace("-", r"\-")):
        ServerOptions(**options)  # type: ignore[arg-type]


def test_the_cli_refuses_it_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--server", "daphne", "--workers", "2"]) == 2
    assert "daphne cannot honour --workers 2: it takes 1" in capsys.readouterr().err
    assert main(["trace", "x:app", "--runtime-threads", "2"]) == 2
    assert "--runtime-threads is granian's own; uvicorn" in capsys.readouterr().err


def test_granian_moves_to_a_new_port_when_another_process_took_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """granian binds its own socket, so the port we pick for it can be taken before it binds:
    granian exits, and `start` picks another."""
    with bind() as thief:
        taken = int(thief.getsockname()[1])
        picks: list[int] = []
        pick = serving._pick_port

        def first_a_taken_one(host: str, port: int) -> int:
            picks.append(taken if not picks else pick(host, port))
            return picks[-1]

        monkeypatch.setattr(serving, "_pick_port", first_a_taken_one)
        started = time.monotonic()
        with start(ServerOptions("tests.apps.quiet:app", server="granian")) as server:
            assert server.port == picks[1] != taken
            assert httpx.get(f"{server.url}/", timeout=10).text == "quiet"
        assert time.monotonic() - started < ServerOptions().ready_timeout


def test_a_taken_port_given_to_granian_is_refused_as_for_any_server() -> None:
    with bind() as thief:
        port = thief.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            start(ServerOptions("tests.apps.quiet:app", server="granian", port=port))
