"""Hand-made probe records for the lab's tests, and a check that no server survived."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def record(
    id: str = "1-1",
    *,
    path: str = "/quick",
    pid: int = 100,
    loop_thread: int = 100,
    handler: int | None = None,
    start: float = 0.0,
    end: float = 0.001,
    wait: float = 0.0,
    hops: Iterable[tuple[float, float]] = (),
) -> dict[str, Any]:
    """A record as `Record.as_dict()` writes it; times in seconds, stored as nanoseconds."""
    handler = loop_thread if handler is None else handler
    ns = 1_000_000_000
    return {
        "id": id,
        "method": "GET",
        "path": path,
        "status": 200,
        "client": "127.0.0.1:5000",
        "start_ns": int(start * ns),
        "response_ns": int(end * ns),
        "end_ns": int(end * ns),
        "duration_ns": int((end - start) * ns),
        "pid": pid,
        "ppid": 1,
        "loop": {
            "id": f"{pid}:1",
            "impl": "uvloop",
            "thread": {"name": "MainThread", "ident": 1, "native_id": loop_thread},
        },
        "handler": {
            "thread": {"name": "AnyIO worker thread", "native_id": handler},
            "in_threadpool": handler != loop_thread,
        },
        "threadpool": {"total": 40, "borrowed": 0, "waiting": 0, "wait_ns": int(wait * ns)},
        "hops": [
            {
                "call": "sync_sleep",
                "endpoint": True,
                "thread": {"name": "AnyIO worker thread", "ident": 2, "native_id": handler},
                "called_ns": int(a * ns),
                "start_ns": int(a * ns),
                "end_ns": int(b * ns),
                "queued_ns": 0,
                "borrowed": 0,
                "waiting": 0,
            }
            for a, b in hops
        ],
        "error": None,
    }


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def assert_no_orphans(pids: Iterable[int]) -> None:
    survivors = [pid for pid in pids if alive(pid)]
    assert not survivors, f"server processes still running: {survivors}"
