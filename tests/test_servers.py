"""Identity on real uvicorn servers: main-thread loops, worker pids, what blocks and what waits."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from asgi_lab.catalogue import app_path
from asgi_lab.serving import Server, ServerError
from tests.conftest import SERVER_LAYERS, facts, serve

pytestmark = pytest.mark.server

TIMEOUT = httpx.Timeout(15.0)


@pytest.fixture(scope="module", params=SERVER_LAYERS)
def one_worker(request: pytest.FixtureRequest) -> Iterator[Server]:
    """One worker per layer, shared by this module's tests (each start costs about a second)."""
    with serve(app_path(request.param)) as server:
        yield server


def get(server: Server, path: str, **params: Any) -> httpx.Response:
    """One request on a fresh connection."""
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        response = client.get(path, params=params)
    response.raise_for_status()
    return response


def records_of(server: Server, *responses: httpx.Response) -> list[dict[str, Any]]:
    """The probe's records of these responses, from the worker that served them."""
    records = get(server, "/_lab/records", limit=1000).json()["records"]
    by_id = {r["id"]: r for r in records}
    return [by_id[facts(response).request] for response in responses]


def in_background(server: Server, path: str, **params: Any) -> tuple[ThreadPoolExecutor, Any]:
    pool = ThreadPoolExecutor(1)
    return pool, pool.submit(get, server, path, **params)


def quick_while_in_flight(server: Server) -> httpx.Response:
    """Poll /quick until one is served while another request is in flight (bounded)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = get(server, "/quick")
        if response.json()["served_by"]["in_flight"] >= 1:
            return response
    raise AssertionError("no /quick was served while the slow request was in flight")


def test_every_loop_runs_on_its_workers_main_thread(one_worker: Server) -> None:
    responses = [get(one_worker, "/quick"), get(one_worker, "/sync/sleep", seconds=0)]
    for record in records_of(one_worker, *responses):
        assert record["pid"] == one_worker.pid
        assert record["loop"]["thread"]["native_id"] == record["pid"]
        assert record["loop"]["thread"]["name"] == "MainThread"
        assert record["loop"]["impl"] in {"uvloop", "asyncio"}


def test_a_sync_handler_runs_on_another_thread_of_the_worker(one_worker: Server) -> None:
    response = get(one_worker, "/sync/sleep", seconds=0)
    served_by = response.json()["served_by"]
    assert served_by["handler"]["in_threadpool"] is True
    assert served_by["handler"]["thread"]["native_id"] != one_worker.pid
    assert str(facts(response).pid) == str(one_worker.pid)


@pytest.mark.parametrize("slow", ["/async/sleep", "/sync/sleep"])
def test_sleeping_handlers_do_not_delay_quick(one_worker: Server, slow: str) -> None:
    pool, future = in_background(one_worker, slow, seconds=1.0)
    with pool:
        quick = quick_while_in_flight(one_worker)
        sleeper = future.result(timeout=15)
    quick_record, slow_record = records_of(one_worker, quick, sleeper)
    assert slow_record["start_ns"] < quick_record["start_ns"]
    assert quick_record["end_ns"] < slow_record["end_ns"]
    # Generous: quick took well under the second the sleeper took.
    assert quick_record["duration_ns"] * 5 < slow_record["duration_ns"]


def request_id(connection: http.client.HTTPConnection) -> str:
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    return str(facts(response).request)


def test_blocking_the_loop_delays_quick(one_worker: Server) -> None:
    host, port = one_worker.host, one_worker.port
    for _attempt in range(5):
        # http.client sends a request without waiting for its answer: with both connections
        # open, the block goes on the wire first, then quick, both from this thread.
        blocker = http.client.HTTPConnection(host, port, timeout=15)
        quick = http.client.HTTPConnection(host, port, timeout=15)
        try:
            blocker.connect()
            quick.connect()
            blocker.request("GET", "/async/block?seconds=1.0")
            quick.request("GET", "/quick")
            sent_ns = time.time_ns()
            ids = {"quick": request_id(quick), "block": request_id(blocker)}
        finally:
            blocker.close()
            quick.close()
        records = get(one_worker, "/_lab/records", limit=1000).json()["records"]
        by_id = {r["id"]: r for r in records}
        quick_record, block_record = by_id[ids["quick"]], by_id[ids["block"]]
        # The case to see: the block held the loop when quick arrived. Under load the loop can
        # dispatch quick before the block's handler reaches its sleep (or before the block):
        # then the race, not the loop, decided, and we send the pair again.
        if block_record["start_ns"] < quick_record["start_ns"] >= block_record["response_ns"]:
            break
    else:
        raise AssertionError("/quick was dispatched before the loop blocked, five times")
    # quick was on the wire while the loop slept, and was not dispatched until it woke.
    assert sent_ns < block_record["end_ns"]
    assert quick_record["start_ns"] >= block_record["response_ns"]
    assert quick_record["loop"]["thread"] == block_record["loop"]["thread"]


def test_fifty_sync_sleeps_share_at_most_forty_threads(one_worker: Server) -> None:
    barrier = threading.Barrier(50, timeout=15)

    def sleeper(_: int) -> httpx.Response:
        with httpx.Client(base_url=one_worker.url, timeout=TIMEOUT) as client:
            # Connected before the start: on a loaded box fifty connects could spread the
            # requests over longer than a sleep, and then none would find the tokens taken.
            client.get("/quick").raise_for_status()
            barrier.wait()
            return client.get("/sync/sleep", params={"seconds": 0.4})

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(sleeper, range(50)))
    records = records_of(one_worker, *responses)
    threads = {r["handler"]["thread"]["native_id"] for r in records}
    assert 2 <= len(threads) <= 40
    assert all(r["threadpool"]["total"] == 40 for r in records)
    # Ten requests found every token taken and waited for one (about 0.4 s each).
    waited = [r for r in records if r["threadpool"]["wait_ns"] > 200_000_000]
    assert len(waited) >= 10


def read_traces(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("records-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def reach_every_worker(server: Server, seconds: float, at_once: int) -> list[httpx.Response]:
    """`at_once` requests that block the loop for `seconds`, each on a fresh connection, in
    rounds until every worker has answered one (at most 10 rounds).

    A blocked worker cannot accept, so concurrent connections reach the others; but on a loaded
    box the client's threads may start late enough that one worker, free again, takes them all.
    """
    answers: list[httpx.Response] = []
    with ThreadPoolExecutor(at_once) as pool:
        for _ in range(10):
            answers += pool.map(
                lambda _: get(server, "/async/block", seconds=seconds), range(at_once)
            )
            if {facts(r).pid for r in answers} >= set(server.worker_pids):
                break
    return answers


@pytest.mark.parametrize("layer", SERVER_LAYERS)
def test_two_workers_two_pids_and_no_record_lost(layer: str, tmp_path: Path) -> None:
    with serve(app_path(layer), workers=2, env={"ASGI_LAB_TRACE_DIR": str(tmp_path)}) as s:
        assert len(s.worker_pids) == 2
        blocked = reach_every_worker(s, 0.3, 8)
        sequential = [get(s, "/quick") for _ in range(20)]
        parent = s.pid
        returncode = s.stop()
    assert returncode == 0
    sent = {facts(r).request for r in [*blocked, *sequential]}
    records = read_traces(tmp_path)
    assert {r["id"] for r in records} == sent
    assert len(records) == len(sent)
    pids = {r["pid"] for r in records if r["path"] == "/async/block"}
    assert pids == set(s.worker_pids)
    assert {r["ppid"] for r in records} == {parent}
    loops = {(r["pid"], r["loop"]["id"]) for r in records}
    assert len(loops) == 2
    for record in records:
        assert record["loop"]["thread"]["native_id"] == record["pid"]


@pytest.mark.parametrize("layer", SERVER_LAYERS)
def test_asgi_lab_threads_sets_every_workers_threadpool(layer: str) -> None:
    with serve(app_path(layer), workers=2, env={"ASGI_LAB_THREADS": "3"}) as server:
        blocked = reach_every_worker(server, 0.2, 4)
        served = [r.json()["served_by"] for r in blocked]
        assert {s["pid"] for s in served} == set(server.worker_pids)
        assert {s["threadpool"]["total"] for s in served} == {3}


@pytest.mark.parametrize("layer", SERVER_LAYERS)
def test_a_bad_asgi_lab_threads_stops_the_server_with_a_clear_error(layer: str) -> None:
    with pytest.raises(ServerError, match=r"ASGI_LAB_THREADS must be a whole number from 1"):
        serve(app_path(layer), env={"ASGI_LAB_THREADS": "lots"}, ready_timeout=20)


@pytest.mark.parametrize("layer", SERVER_LAYERS)
def test_each_request_logs_one_line_naming_its_worker_loop_and_thread(layer: str) -> None:
    """What a user sees in the terminal of `uvicorn asgi_lab.<layer>:app --workers 2`."""
    seen: list[tuple[int, str, int]] = []
    with serve(app_path(layer), workers=2) as server:
        for _ in range(8):
            # A fresh connection each time, so that both workers may answer.
            response = httpx.get(server.url + "/sync/sleep?seconds=0", timeout=15)
            header = facts(response)
            seen.append((header.pid, header.loop, header.thread))
        server.stop()  # the workers flush their log on shutdown
    lines = [line for line in server.output().splitlines() if "GET /sync/sleep 200" in line]
    assert len(lines) == len(seen)
    for pid, loop, thread in set(seen):
        named = [
            line
            for line in lines
            if f"worker {pid} " in line and f"loop {loop} " in line and f"thread #{thread} " in line
        ]
        assert len(named) == seen.count((pid, loop, thread)), lines
