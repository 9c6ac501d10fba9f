"""Identity under every server, checked against /proc: the pid in each answer's header is a
worker of the server we started (its parents lead there), and the thread ids are those of the
threads that ran the code, as the code itself reports them (`threading.get_native_id()`)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from asgi_lab.records import HEADER, HeaderData, RecordData, read_records
from asgi_lab.serving import Server, ServerOptions, start
from asgi_lab.settings import Settings
from tests.servers.conftest import APP, Pair
from tests.servers.test_serving import lineage

pytestmark = pytest.mark.server

#: Requests per endpoint, each on a fresh connection, so that two workers both answer.
TIMES = 6


def ask(server: Server, path: str) -> tuple[HeaderData, dict[str, int]]:
    with httpx.Client(base_url=server.url, timeout=15) as client:
        response = client.get(path)
    response.raise_for_status()
    return HeaderData.parse(response.headers[HEADER]), response.json()


def record(trace: Path, request: str, pid: int) -> RecordData:
    """The record of `request`, once its worker's writer has written it (bounded)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for r in read_records(trace):
            if (r.id, r.pid) == (request, pid):
                return r
        time.sleep(0.02)
    raise AssertionError(f"no record of {request} from {pid} within 10 s")


def held(server: Server, marks: Path, path: str) -> tuple[HeaderData, dict[str, int]]:
    """Ask `path` and, while the handler waits, check in /proc that its thread is alive."""
    token = uuid.uuid4().hex
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(ask, server, f"{path}?token={token}")
        where = marks / f"{token}.where"
        deadline = time.monotonic() + 10
        while not where.exists() or not where.read_text():
            assert time.monotonic() < deadline, f"{path} did not start within 10 s"
            time.sleep(0.01)
        pid, tid = map(int, where.read_text().split())
        running = str(tid) in os.listdir(f"/proc/{pid}/task")
        (marks / f"{token}.go").touch()
        header, ran = answer.result(timeout=20)
    assert running, f"thread {tid} is not a thread of {pid} while it runs {path}"
    assert (ran["pid"], ran["tid"]) == (pid, tid)
    return header, ran


def check(server: Server, trace: Path, marks: Path) -> set[int]:
    """Every identity fact of `/whoami` (async) and `/whoami/sync` (def); the pids that answered."""
    pids: set[int] = set()
    for _ in range(TIMES):
        for path, on_loop in (("/whoami", True), ("/whoami/sync/held", False)):
            # The loop's thread lives as long as its worker; a `def`'s may not outlive its
            # request, so it is looked for in /proc while it runs.
            header, ran = held(server, marks, path) if not on_loop else ask(server, path)
            assert str(ran["tid"]) in os.listdir(f"/proc/{ran['pid']}/task") or not on_loop
            assert header.pid == ran["pid"]
            assert ran["pid"] in server.worker_pids
            assert server.pid in lineage(ran["pid"])
            assert header.thread == ran["tid"]
            r = record(trace, header.request, header.pid)
            assert r.handler.thread.native_id == ran["tid"]
            assert r.handler.in_threadpool is not on_loop
            # The loop runs on the worker's main thread (its tid is the pid), on every server.
            assert r.loop.thread.native_id == ran["pid"]
            assert (ran["tid"] == ran["pid"]) is on_loop
            pids.add(ran["pid"])
    return pids


def test_every_answer_names_the_worker_and_threads_that_ran_it(pair: Pair) -> None:
    pids = check(pair.probed, pair.trace, pair.marks)
    assert pids <= set(pair.probed.worker_pids)
    assert len(pair.probed.worker_pids) == pair.workers


@pytest.fixture(scope="module", params=[("st", 1), ("mt", 2)], ids=["st-1-thread", "mt-2-threads"])
def granian_mode(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    mode, threads = request.param
    marks = tmp_path_factory.mktemp(f"granian-{mode}")
    trace = marks / "trace"
    options = ServerOptions(
        f"{APP}:probed",
        server="granian",
        runtime_mode=mode,
        runtime_threads=threads,
        settings=Settings(trace_dir=str(trace)),
        env={"PARITY_DIR": str(marks)},
    )
    with start(options) as server:
        yield server, marks


def test_granian_runs_the_loop_on_the_workers_main_thread_in_either_runtime_mode(
    granian_mode: tuple[Server, Path],
) -> None:
    """Rust threads do the I/O; Python's loop, whichever `--runtime-mode`, is the main thread's."""
    server, marks = granian_mode
    check(server, marks / "trace", marks)
    threads = os.listdir(f"/proc/{server.worker_pids[0]}/task")
    assert len(threads) > 2, "granian's worker runs Rust threads beside Python's"
