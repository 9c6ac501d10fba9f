"""Reading every worker's JSON lines back, and summarising who served what."""

from __future__ import annotations

import json
from pathlib import Path

from asgi_lab.lab.traces import TraceDir, read_records, served_summary
from asgi_lab.probe import TRACE_DIR_ENV

from .fakes import record


def test_read_records_merges_workers_in_start_order(tmp_path: Path) -> None:
    a = [record("100-1", pid=100, start=0.3), record("100-2", pid=100, start=0.1)]
    b = [record("200-1", pid=200, loop_thread=200, start=0.2)]
    (tmp_path / "records-100.jsonl").write_text("".join(json.dumps(r) + "\n" for r in a))
    # A worker killed mid-write leaves half a line; the rest of its records still count.
    (tmp_path / "records-200.jsonl").write_text(json.dumps(b[0]) + '\n{"id": "200-2", "pa')
    (tmp_path / "other.txt").write_text("not a record")
    ids = [r["id"] for r in read_records(tmp_path)]
    assert ids == ["100-2", "200-1", "100-1"]


def test_trace_dir_env_and_cleanup() -> None:
    trace = TraceDir()
    try:
        assert trace.env() == {TRACE_DIR_ENV: str(trace.path)}
        assert trace.path.is_dir()
        assert trace.read() == []
    finally:
        trace.cleanup()
    assert not trace.path.exists()


def test_served_summary_groups_by_phase_and_path() -> None:
    records = [
        {**record("1-1", path="/sync/sleep", handler=7, start=0.1), "phase": "a"},
        {**record("1-2", path="/sync/sleep", handler=8, start=0.2), "phase": "a"},
        {**record("2-1", pid=200, loop_thread=200, start=0.3), "phase": "b"},
    ]
    rows = served_summary(records)
    assert [(r["phase"], r["path"], r["requests"]) for r in rows] == [
        ("a", "/sync/sleep", 2),
        ("b", "/quick", 1),
    ]
    assert rows[0]["handler_threads"] == [7, 8]
    assert rows[0]["in_threadpool"] == 2
    assert rows[1]["pids"] == [200]
