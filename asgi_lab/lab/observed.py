"""The lab's view of probe records: read back from every worker's trace, tagged with the phase
of the run that made them, and the facts experiments read from them.

Each server gets a fresh trace directory (`ASGI_LAB_TRACE_DIR`); every worker writes
`records-<pid>.jsonl` there from its writer thread and flushes on lifespan shutdown. We read the
directory only after the server has stopped, so no record is still in a queue. Records are the
probe's frozen `RecordData`; the lab never changes them, it wraps them (`Observed`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asgi_lab.lab.clients import Reply
from asgi_lab.records.lines import read_records
from asgi_lab.records.overlap import peak
from asgi_lab.records.schema import HEADER, RecordData

__all__ = [
    "Observed",
    "Served",
    "TraceDir",
    "answered_without_record",
    "handler_threads",
    "hop_intervals",
    "loop_threads",
    "max_in_flight",
    "per_worker",
    "pids",
    "request_intervals",
    "served_summary",
]


class TraceDir:
    """A temporary directory for one server's records; removed by `cleanup()`."""

    def __init__(self, prefix: str = "asgi-lab-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))

    def read(self) -> list[RecordData]:
        return read_records(self.path)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@dataclass(frozen=True)
class Observed:
    """A record and the phase of the experiment whose server wrote it."""

    phase: str
    record: RecordData

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase, "record": self.record.to_json()}


# Facts read from records: pure functions, records in, numbers or sets out.


def pids(records: Iterable[RecordData]) -> set[int]:
    return {r.pid for r in records}


def loop_threads(records: Iterable[RecordData]) -> set[int]:
    """Native ids of the loop threads that received these requests."""
    return {r.loop.thread.native_id for r in records}


def handler_threads(records: Iterable[RecordData]) -> set[int]:
    """Native ids of the threads that ran these requests' handlers."""
    return {r.handler.thread.native_id for r in records}


def request_intervals(records: Iterable[RecordData]) -> list[tuple[int, int]]:
    """(start_ns, end_ns) of each request on the server."""
    return [(r.start_ns, r.end_ns) for r in records]


def hop_intervals(records: Iterable[RecordData]) -> list[tuple[int, int]]:
    """(start_ns, end_ns) of every threadpool call these requests made that started."""
    return [(h.start_ns, h.end_ns) for r in records for h in r.hops if h.thread is not None]


def answered_without_record(replies: Iterable[Reply], records: Iterable[RecordData]) -> list[Reply]:
    """The replies a client received, with the probe's header, whose record no worker wrote.

    The count the lab owes its reader: a record lost (a worker killed before its writer
    flushed, a full writer buffer) is otherwise invisible, since the records are all it reads.
    """
    written = {(r.pid, r.id) for r in records}
    return [r for r in replies if HEADER in r.headers and (r.pid, r.record_id) not in written]


def per_worker(replies: Iterable[Reply], workers: Iterable[int]) -> dict[int, int]:
    """How many of `replies` each worker pid answered, in pid order, a worker that answered none
    included: a split is judged by its idle workers too, and those leave no reply to count."""
    counts = dict.fromkeys(sorted(workers), 0)
    for reply in replies:
        if reply.pid not in counts:
            raise ValueError(f"reply from pid {reply.pid}, expected one of workers {list(counts)}")
        counts[reply.pid] += 1
    return counts


def max_in_flight(intervals: Iterable[tuple[int, int]]) -> int:
    """The most (start, end) intervals open at one instant (`records.overlap.peak`)."""
    return peak(intervals)[0]


@dataclass(frozen=True)
class Served:
    """Who served one (phase, path): the requests and the pids, loops and threads involved."""

    phase: str
    path: str
    requests: int
    pids: list[int]
    loops: list[str]
    loop_threads: list[int]
    handler_threads: list[int]
    in_threadpool: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def served_summary(observed: Iterable[Observed]) -> list[Served]:
    """Per (phase, path) in order of first request: who served it."""
    groups: dict[tuple[str, str], list[RecordData]] = {}
    for seen in sorted(observed, key=lambda o: o.record.start_ns):
        groups.setdefault((seen.phase, seen.record.path), []).append(seen.record)
    return [
        Served(
            phase=phase,
            path=path,
            requests=len(group),
            pids=sorted(pids(group)),
            loops=sorted({r.loop.id for r in group}),
            loop_threads=sorted(loop_threads(group)),
            handler_threads=sorted(handler_threads(group)),
            in_threadpool=sum(1 for r in group if r.handler.in_threadpool),
        )
        for (phase, path), group in groups.items()
    ]
