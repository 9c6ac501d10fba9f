"""The Chrome trace: hand-made records, then a real two-worker run, checked for invariants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asgi_lab.records.schema import RecordData
from asgi_lab.timeline import build
from asgi_lab.timeline.perfetto import dumps, events
from tests.lab.fakes import record

from .invariants import check_trace


def sample() -> list[RecordData]:
    return [
        record("100-1", path="/sync/sleep", handler=201, start=0.0, end=0.2, hops=[(0.0, 0.1)]),
        record("100-2", path="/sync/sleep", handler=201, start=0.0, end=0.25, hops=[(0.1, 0.2)]),
        record("100-3", path="/quick", start=0.05, end=0.06),
        record(
            "300-1", pid=300, loop_thread=300, handler=301, start=0.1, end=0.3, hops=[(0.1, 0.3)]
        ),
    ]


def test_processes_threads_slices_flows_counters() -> None:
    trace = events(build(sample()))
    check_trace(trace)
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in trace
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    assert names[(100, 100)] == "loop 100:1 (uvloop)"
    assert names[(100, 201)] == "thread 201 (AnyIO worker thread)"
    assert {e["pid"] for e in trace if e["name"] == "process_name"} == {100, 300}

    hops = [e for e in trace if e["ph"] == "X"]
    assert [(e["pid"], e["tid"], e["ts"], e["dur"]) for e in hops] == [
        (100, 201, 0, 100_000),
        (100, 201, 100_000, 100_000),
        (300, 301, 100_000, 200_000),
    ]
    assert hops[1]["args"]["request"] == "100-2"

    requests = [e for e in trace if e["ph"] == "b"]
    assert [(e["id"], e["tid"], e["cat"]) for e in requests] == [
        ("100-1", 100, "request"),
        ("100-2", 100, "request"),
        ("100-3", 100, "request"),
        ("300-1", 300, "request"),
    ]
    # Flows leave the request's loop thread and land on its hop's thread.
    flows = [(e["ph"], e["pid"], e["tid"], e["ts"]) for e in trace if e["ph"] in "sf"]
    assert flows[:2] == [("s", 100, 100, 0), ("f", 100, 201, 0)]

    tokens = [
        (e["pid"], e["ts"], e["args"]["running"])
        for e in trace
        if e["name"] == "pool anyio (size 40)"
    ]
    # At 0.1 one hop ends as the next begins on the same thread: still one call running.
    assert tokens == [
        (100, 0, 1),
        (100, 100_000, 1),
        (100, 200_000, 0),
        (300, 100_000, 1),
        (300, 300_000, 0),
    ]
    flying = [
        e["args"]["requests"]
        for e in trace
        if e["name"] == "requests in flight" and e["pid"] == 100
    ]
    assert max(flying) == 3


def test_an_empty_run_is_a_valid_empty_trace() -> None:
    data = json.loads(dumps(build([])))
    assert data["traceEvents"] == []


def test_dumps_is_the_json_object_form() -> None:
    data = json.loads(dumps(build(sample())))
    assert data["displayTimeUnit"] == "ms"
    check_trace(data["traceEvents"])


@pytest.mark.server
def test_a_real_run_makes_a_consistent_trace(real_run: tuple[Path, list[RecordData]]) -> None:
    _, records = real_run
    trace = json.loads(dumps(build(records)))["traceEvents"]
    check_trace(trace)
    pids = {e["pid"] for e in trace}
    assert pids == {r.pid for r in records}
    assert len(pids) == 2, "both workers served some of the requests"
    threads = {r.loop.thread.native_id for r in records}
    threads |= {h.thread.native_id for r in records for h in r.hops if h.thread}
    assert {e["tid"] for e in trace if "tid" in e} == threads
    assert sum(e["ph"] == "X" for e in trace) == sum(len(r.hops) for r in records)
    assert sum(e["ph"] == "b" for e in trace) == len(records)
