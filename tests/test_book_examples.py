"""The book's claims about today's asyncio and aiohttp, read back from its examples' own output:
what chapter 8 and chapter 5 say is what the scripts print on this machine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
#: The examples whose output a test here reads back: `test_docs.py` leaves them out of its own
#: run of every example, which could only say less about them.
READ_BACK = frozenset(
    {
        "wait_coroutines.py",
        "asyncio_versions.py",
        "asyncio_repl.py",
        "client_sessions.py",
        "quick_def_vs_async.py",
        "async_db.py",
        "servers_tour.py",
    }
)


def run(name: str) -> str:
    assert name in READ_BACK, f"{name} is read back here: add it to READ_BACK"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_wait_refuses_coroutines_and_takes_tasks() -> None:
    out = run("wait_coroutines.py")
    refused, fixed = out.split("2. the same with tasks", 1)
    assert "raised TypeError: Passing coroutines is forbidden, use tasks explicitly." in refused
    # Both coroutines it was given were made and never run.
    assert refused.count("RuntimeWarning: coroutine 'job' was never awaited") == 2
    assert "-> 2 done, 0 pending" in fixed
    assert "results in the order you made them: ['a', 'b']" in fixed


def test_each_python_says_what_get_event_loop_and_wait_do() -> None:
    out = run("asyncio_versions.py")
    blocks = dict(re.findall(r"^Python (3\.\d+)\.\d+.*\n((?:  .*\n?)*)", out, re.M))
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in blocks  # this interpreter
    assert "(this interpreter)" in out
    for version, block in blocks.items():
        minor = int(version.split(".")[1])
        lines = block.splitlines()
        first = lines[: lines.index("  get_event_loop() after asyncio.run(...)")]
        warned = any("DeprecationWarning: There is no current event loop" in x for x in first)
        assert warned == (minor in (12, 13)), version
        after = block.split("after asyncio.run(...)\n", 1)[1]
        assert after.startswith("    raises RuntimeError: There is no current event loop")
        if minor >= 11:
            assert "raises TypeError: Passing coroutines is forbidden" in block, version
        else:
            assert "DeprecationWarning: The explicit passing of coroutine objects" in block
    if "3.14" not in blocks:
        assert "Python 3.14: not installed here, not run." in out


def test_the_repl_awaits_at_top_level_on_its_loop_thread() -> None:
    out = run("asyncio_repl.py")
    assert out.startswith("asyncio REPL 3.")
    assert ">>> threading.current_thread().name\n'MainThread'\n" in out
    assert ">>> print(asyncio.current_task())\nNone\n" in out  # a line without await: no task
    assert ">>> await asyncio.sleep(0.1, result=\"slept\")\n'slept'\n" in out
    assert re.search(r">>> await whoami\(\)\n'Task-\d+'\n", out)
    assert ">>> later.done()\nFalse\n" in out
    assert "(True, 'ran between lines')" in out  # it ran while the next lines were typed
    assert "RuntimeError: asyncio.run() cannot be called from a running event loop" in out
    assert out.rstrip().endswith("exiting asyncio REPL...")


@pytest.mark.server
def test_a_session_per_request_opens_a_connection_per_request() -> None:
    out = run("client_sessions.py")
    rows = {
        m["label"]: (int(m["opened"]), int(m["ports"]), int(m["requests"]))
        for m in re.finditer(
            r"^  (?P<label>one .+?)\s+[\d.]+ s"
            r"\s+(?P<opened>\d+)\s+(?P<ports>\d+)\s+(?P<requests>\d+)$",
            out,
            re.M,
        )
    }
    assert rows["one ClientSession per request"] == (200, 200, 200)
    opened, ports, requests = rows["one shared ClientSession"]
    assert requests == 200
    # The shared pool opens at most one connection per request in flight, and the server saw
    # exactly the connections aiohttp opened.
    assert 1 <= opened <= 10 and ports == opened


@pytest.mark.server
def test_quick_def_goes_to_a_thread_and_async_def_stays_on_the_loop() -> None:
    out = run("quick_def_vs_async.py")
    # Each load's table: "N GETs a round, C in flight", then its rows.
    tables = re.split(r"^(\d+) GETs a round, (\d+) in flight$", out, flags=re.M)[1:]
    loads = [(int(n), int(c)) for n, c in zip(tables[0::3], tables[1::3], strict=True)]
    assert [c for _, c in loads] == [1, 8]
    for (requests, _), table in zip(loads, tables[2::3], strict=True):
        rounds = re.findall(r"^  (/quick/\w+)\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+  (.+)$", table, re.M)
        assert [path for path, _ in rounds] == ["/quick/async"] * 3 + ["/quick/def"] * 3
        for path, ran in rounds:
            # Every answer of a round came from one kind of thread: the loop's, or the pool's.
            expected = "MainThread" if path == "/quick/async" else "AnyIO worker thread"
            assert ran == f"{expected} x{requests}", (path, ran)
        assert len(re.findall(r"^\s+median\s+\d+\s+[\d.]+$", table, re.M)) == 2


@pytest.mark.server
@pytest.mark.serial  # its waits judge timings: a client held off the CPU sends late, waits less
def test_async_sessions_on_fastapi_one_per_task_pool_waits_and_finally() -> None:
    out = run("async_db.py")
    shared, rest = out.split("a Session per task, three gathered:\n", 1)
    assert "task 1: ok, 1" in shared
    refused = "sqlalchemy.exc.InvalidRequestError: This session is provisioning a new connection"
    assert shared.count(refused) == 2
    assert "results [1, 1, 1]" in rest
    # Two connections, ten requests holding one 0.2 s each: five waves, so the k-th pair waited
    # at least k holds (a floor the machine's load can only raise), all on the loop thread.
    assert "predicted: ceil(10/2) = 5 waves x 0.2 s = 1.00 s" in rest
    took = re.search(r"measured: all answered in ([\d.]+) s", rest)
    assert took is not None and float(took[1]) >= 1.0 * 0.95
    found = re.search(r"\(s, fastest first\): ([\d. ]+)$", rest, re.M)
    assert found is not None
    waits = [float(w) for w in found[1].split()]
    assert len(waits) == 10 and waits == sorted(waits)
    assert all(w >= k // 2 * 0.2 * 0.95 for k, w in enumerate(waits))
    assert "threads that ran them: MainThread\n" in rest
    finally_part, leaked = rest.split("x /fail/after-yield", 1)
    assert "answered [409, 409, 409, 409]" in finally_part
    assert "pool: 0 checked out, Sessions closed: {'finally': 4}" in finally_part
    assert "pool: 2 checked out, Sessions closed: {'finally': 4}" in leaked  # none after yield
    assert re.search(r"then GET /hold: 500 'Internal Server Error' after [\d.]+ s", leaked)
    assert "sqlalchemy.exc.TimeoutError raised 1 time(s)" in leaked


@pytest.mark.server
def test_each_server_runs_the_loop_on_the_main_thread_and_def_in_the_pool() -> None:
    """Chapter 16's table, read back from its example: every worker a child of the process we
    started, the loop on the worker's main thread, a `def` on an anyio thread, and the
    listening socket shared under uvicorn and hypercorn, one per worker under granian."""
    out = run("servers_tour.py")
    found = re.findall(r"^(\w+): started pid (\d+)\n((?:  .*\n?)*)", out, re.M)
    blocks = {name: (int(pid), block) for name, pid, block in found}
    assert set(blocks) == {"uvicorn", "granian", "hypercorn"}
    for name, (started, block) in blocks.items():
        workers = re.findall(r"^  worker (\d+) \(child of (\d+)\), listening on (.+)$", block, re.M)
        assert len(workers) == 2, block
        assert all(int(parent) == started for _, parent, _ in workers), block
        for pid, _, _ in workers:
            assert f"pid {pid}, loop {pid}:1 " in block and f"on MainThread/{pid}\n" in block
        assert block.count("handler on AnyIO worker thread/") == 2, block
        sockets = {listening for _, _, listening in workers}
        assert len(sockets) == (2 if name == "granian" else 1), (name, sockets)
        assert re.search(r"2000 x /quick, 32 in flight: [\d,]+ req/s", block), block
