"""`asgi-lab trace` as a user runs it: a FastAPI app the project never served, two workers, a
log line per request, the blocking line named on both loops, a summary on Ctrl-C/SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from asgi_lab.records import FrameData, read_records, read_stalls
from tests.apps import blockers
from tests.cli import ROOT, running, stop
from tests.lab.fakes import alive

pytestmark = pytest.mark.server


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_trace_names_the_request_and_the_line_of_a_users_app(loop: str, tmp_path: Path) -> None:
    args = ["trace", "tests.apps.blockers:app", "--workers", "2", "--port", "0", "--loop", loop]
    args += ["--block-ms", "50", "--trace-dir", str(tmp_path)]
    with running(*args) as (process, url):
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        with httpx.Client(base_url=url, timeout=30) as client:
            client.get("/ticker", params={"ticks": 1})
            culprit = client.get("/sleep/blocking")
            clean = client.get("/sleep/clean")
        out, err = stop(process)
    assert process.returncode == 0, err
    culprit_id = culprit.headers["x-asgi-lab"].rsplit("request=", 1)[1]
    # The records: the culprit blamed with its line, nobody else.
    records = {r.id: r for r in read_records(tmp_path)}
    [block] = records[culprit_id].blocks
    line = min(blockers_lines("sleep_blocking"))
    assert (Path(block.file), block.line) == (Path(blockers.__file__), line)
    assert [r.id for r in records.values() if r.blocks] == [culprit_id]
    assert clean.status_code == 200
    # The terminal: a log line per request, the watchdog's warning, the summary.
    assert (
        sum("GET /sleep/" in x and " worker " in x and " loop " in x for x in err.splitlines()) == 2
    )
    # The line as every report writes one: the path from the worker's directory (ours).
    where = FrameData(blockers.__file__, line, "sleep_blocking").where()
    assert f"by GET /sleep/blocking ({culprit_id}) at {where}" in err
    assert "loop stalls" in out and "sleep_blocking" in out and f"({culprit_id})" in out


def blockers_lines(function: str) -> set[int]:
    from tests.test_watchdog import blocking_lines

    return blocking_lines()[function]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuch:app", 'Could not import module "nosuch".'),
        ("tests.apps.blockers:nope", 'Attribute "nope" not found in module "tests.apps.blockers".'),
    ],
)
def test_an_app_that_cannot_be_imported_is_named(target: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asgi_lab", "trace", target, "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().endswith(f"{target} did not start: {message}")
    assert "Traceback" not in done.stderr


def test_an_import_string_without_a_colon_is_refused_before_starting() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asgi_lab", "trace", "main"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert 'Import string "main" must be in format "<module>:<attribute>".' in done.stderr


@pytest.mark.server
def test_threads_applies_to_the_traced_app_in_every_worker(tmp_path: Path) -> None:
    args = ["trace", "tests.apps.blockers:app", "--workers", "2", "--port", "0"]
    args += ["--threads", "3", "--trace-dir", str(tmp_path)]
    with running(*args) as (process, url):
        with httpx.Client(base_url=url, timeout=30) as client:
            # New connections, so both workers are likely to answer; every answer must say 3.
            for _ in range(6):
                client.get("/cpu/clean", params={"seconds": 0.001}, headers={"connection": "close"})
        out, err = stop(process)
    assert process.returncode == 0, err
    records = read_records(tmp_path)
    assert len(records) == 6
    assert {r.threadpool.total for r in records} == {3}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_every_worker_and_prints_the_summary_though_sigint_was_ignored(
    signum: int,
) -> None:
    # A script that starts `asgi-lab trace ... &` hands it SIGINT ignored; so does this one,
    # through an exec that keeps the disposition (SIG_IGN survives exec, a handler would not).
    ignoring = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "os.execv(sys.executable, sys.argv[1:])"
    )
    args = ["trace", "tests.apps.blockers:app", "--workers", "2", "--port", "0"]
    with running(*args, prefix=[sys.executable, "-c", ignoring]) as (process, url):
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/sleep/clean").status_code == 200
        workers = worker_pids(process.pid)
        assert len(workers) >= 2
        process.send_signal(signum)  # to the parent alone, as `kill -INT %1` does
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "1 requests, 1 worker(s)" in out and "who served the requests" in out
    assert not [pid for pid in workers if alive(pid)], "every worker stopped"


def worker_pids(parent: int) -> list[int]:
    """Every process below `parent` (uvicorn's supervisor and its workers), from /proc."""
    found: list[int] = []
    todo = [parent]
    while todo:
        pid = todo.pop()
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            found += map(int, children)
            todo += map(int, children)
    return found


def test_a_stall_at_startup_is_listed_with_its_line(tmp_path: Path) -> None:
    from tests.apps import slow_start

    args = ["trace", "tests.apps.slow_start:app", "--port", "0", "--block-ms", "50"]
    with running(*args, "--trace-dir", str(tmp_path)) as (process, url):
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/ping").status_code == 200
        out, err = stop(process)
    assert process.returncode == 0, err
    [(pid, block)] = read_stalls(tmp_path)
    [record] = read_records(tmp_path)
    assert pid == record.pid and block.end_ns <= record.start_ns
    assert (Path(block.file), block.function) == (Path(slow_start.__file__), "load_catalogue")
    assert block.ms >= slow_start.STARTUP_S * 1000 / 2
    # The summary lists it, though no request was running: at startup, with its line.
    where = block.frame.where()
    assert f"no request (startup, worker {pid})" in " ".join(out.split())
    assert where.split(":")[0] in out and "load_catalogue" in out


@pytest.mark.server
def test_sigterm_with_long_requests_in_flight_records_them_as_cut_off(tmp_path: Path) -> None:
    import concurrent.futures
    import time

    from asgi_lab.records import CANCELLED

    args = ["trace", "tests.apps.long:app", "--port", "0", "--trace-dir", str(tmp_path)]
    args += ["--timeout-graceful-shutdown", "1"]
    paths = ["/async/long"] * 3 + ["/sync/long"] * 2
    with running(*args) as (process, url), concurrent.futures.ThreadPoolExecutor(5) as pool:
        with httpx.Client(base_url=url, timeout=30) as client:
            answers = [pool.submit(client.get, path) for path in paths]
            deadline = time.monotonic() + 20
            while client.get("/started").json() < len(paths):  # every one of them has begun
                assert time.monotonic() < deadline, "the long requests never all began"
            out, err = stop(process)
            for answer in answers:  # the server closed on them: each ends, one way or another
                answer.exception(timeout=30)
    # The drain was incomplete, and the exit status and the records say so.
    assert process.returncode == 1, err
    assert "the drain was incomplete: 5 request(s) cut off" in err
    cut = [r for r in read_records(tmp_path) if r.path.endswith("/long")]
    assert len(cut) == len(paths) and all(r.cut_off for r in cut)
    # The server cancels every request task; a sync one's thread runs on regardless.
    assert {r.error for r in cut if r.path == "/async/long"} == {CANCELLED}


def test_a_callable_that_is_not_an_asgi_app_is_refused_with_the_form_expected() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asgi_lab", "trace", "os:getcwd", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        '"os:getcwd" is not an ASGI app: expected a callable taking (scope, receive, send), '
        "such as `async def app(scope, receive, send)`, got getcwd()"
    ) in done.stderr
    assert "Traceback" not in done.stderr


def test_a_server_that_says_nothing_useful_is_quoted() -> None:
    from asgi_lab.trace.command import _reason

    said = _reason("INFO: starting\nINFO: waiting\n" + "".join(f"x {i}\n" for i in range(30)))
    assert said.startswith("its last lines:\n") and said.endswith("  | x 29")
    assert said.count("\n  | ") == 12 and "x 17" not in said  # the last twelve, in order


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "granian"])
def test_a_lifespan_startup_failure_shows_the_apps_own_message(server: str) -> None:
    from tests.apps.failing_lifespan import MESSAGE

    done = subprocess.run(
        [sys.executable, "-m", "asgi_lab", "trace", "tests.apps.failing_lifespan:app"]
        + ["--port", "0", "--server", server],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "tests.apps.failing_lifespan:app did not start: " in done.stderr
    assert MESSAGE in done.stderr.rsplit("did not start: ", 1)[1]
