"""The live page of the lab's own runs and `asgi-lab top`: a real experiment, its servers' workers
on the page (read from its feed, as the page's script reads it), and the terminal's view of a
running page."""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from asgi_lab.live.feed import frames
from tests.cli import ROOT, ended, first_line, running

pytestmark = pytest.mark.server


@contextlib.contextmanager
def experiment(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`asgi-lab experiment ARGS --live` and the live page's URL from its stderr, read within
    30 s; stopped (SIGTERM, then its group killed) when the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "asgi_lab", "experiment", *args, "--live", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stderr = process.stderr
        assert stderr is not None
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(stderr.readline()))
        reader.start()
        reader.join(30)
        assert got and "live page: " in got[0], f"no live page named: {got}"
        yield process, got[0].split("live page: ", 1)[1].strip()
    finally:
        ended(process)


#: Seconds each worker's thread is held while `top` draws it.
SLEEP = 5


def get(connection: http.client.HTTPConnection, path: str) -> int:
    """GET `path` on `connection`; the pid of the worker that answered."""
    connection.request("GET", path)
    answer = connection.getresponse()
    answer.read()
    return int((answer.getheader("x-asgi-lab") or "").split(";")[0].removeprefix("pid="))


def pinned(url: str, pids: set[int]) -> list[http.client.HTTPConnection]:
    """One keep-alive connection to each worker of `pids` (the kernel deals the connections:
    at most 200 tried, the others closed)."""
    parts = urlsplit(url)
    held: dict[int, http.client.HTTPConnection] = {}
    for _ in range(200):
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
        pid = get(connection, "/quick")
        if pid in held or pid not in pids:
            connection.close()
        else:
            held[pid] = connection
        if len(held) == len(pids):
            return list(held.values())
    for connection in held.values():
        connection.close()
    raise AssertionError(f"200 connections reached only workers {sorted(held)} of {sorted(pids)}")


def full_pool(frame: dict[str, Any]) -> int | None:
    """The pid of a live worker whose anyio pool has every token busy, in `frame`."""
    for worker in frame["workers"]:
        for pool in worker["snapshot"]["pools"]:
            if (
                worker["state"] == "live"
                and pool["name"] == "anyio"
                and pool["busy"] == pool["size"]
            ):
                return int(worker["pid"])
    return None


def test_experiment_live_shows_the_worker_of_each_phase_and_its_full_pool(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    # threadpool-limit: 8 sleeps on 4 tokens, then on 8; one worker a phase.
    with experiment("threadpool-limit", "--scale", "0.6", "--json", str(out)) as (process, url):
        assert url.startswith("http://127.0.0.1:")
        seen: set[int] = set()
        full: int | None = None
        deadline = time.monotonic() + 60
        for frame in frames(url):
            seen |= {w["pid"] for w in frame["workers"]}
            full = full or full_pool(frame)
            if len(seen) == 2 and full is not None or time.monotonic() > deadline:
                break
        status = process.wait(60)
    result = json.loads(out.read_text())["results"][0]
    # Whether its timings pass on a busy box is the experiment tests' business (the serial
    # lane's); its counts must, and it must have run to the end.
    assert result["error"] is None
    failed = [v for v in result["verdicts"] if not v["passed"]]
    # An exact count accepts [1, 1] and nothing else (`Verdict.timing`'s rule, as JSON says it).
    assert not [v for v in failed if v["accepts"] == [1.0, 1.0]], failed
    assert status == (1 if failed else 0)
    servers = result["servers"]
    phases = {s["phase"]: s["worker_pids"] for s in servers}
    # Each phase's one worker fed the page, and nobody else did.
    assert seen == {pid for pids in phases.values() for pid in pids}
    # The 4-token phase's worker (or the 8-token one's: 8 sleeps fill 8 tokens too) was seen
    # with every token busy.
    assert full in seen


def test_top_draws_both_workers_of_a_running_page_and_the_request_each_holds() -> None:
    with running("serve", "--workers", "2", "--threads", "4", "--port", "0", "--live") as (
        process,
        url,
    ):
        live_url = first_line(process, "serve").split("live page: ", 1)[1].strip()
        pids: set[int] = set()
        for frame in frames(live_url):
            pids = {w["pid"] for w in frame["workers"] if w["state"] == "live"}
            if len(pids) == 2:
                break
        # A sleep in a thread on each worker, each on a connection it took.
        connections = pinned(url, pids)
        sleepers = [
            threading.Thread(target=get, args=(c, f"/sync/sleep?seconds={SLEEP}"))
            for c in connections
        ]
        for thread in sleepers:
            thread.start()
        for frame in frames(live_url):
            busy = {
                w["pid"]
                for w in frame["workers"]
                for p in w["snapshot"]["pools"]
                if p["name"] == "anyio" and p["busy"] >= 1
            }
            if busy == pids:
                break
        top = subprocess.run(
            [sys.executable, "-m", "asgi_lab", "top", live_url, "--frames", "3"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        for thread in sleepers:
            thread.join(SLEEP + 10)
        for connection in connections:
            connection.close()
    assert top.returncode == 0, top.stderr
    # Non-interactive, rich's Live prints the last frame drawn.
    shown = top.stdout
    for pid in pids:
        assert f"worker {pid} (live)" in shown
    assert "2 live workers" in shown
    assert shown.count("anyio threads: 1/4 busy") == 2, shown


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1/", "http:///events"])
def test_top_refuses_what_is_not_a_live_pages_url(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from asgi_lab.cli import main

    assert main(["top", url]) == 2
    assert f"expected the live page's URL, as printed (http://HOST:PORT/), got {url!r}" in (
        capsys.readouterr().err
    )


def test_top_names_a_page_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from asgi_lab.cli import main

    # A port bound and not listening: nothing answers on it while the test runs.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert main(["top", f"http://127.0.0.1:{port}/", "--frames", "1"]) == 1
    assert f"cannot read http://127.0.0.1:{port}/events" in capsys.readouterr().err
