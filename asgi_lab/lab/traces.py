"""Gather the probe records of every worker of a run into one list.

Each server gets a fresh trace directory through $ASGI_LAB_TRACE_DIR; every worker process
writes `records-<pid>.jsonl` there from its writer thread and flushes on lifespan shutdown. We
read the directory only after the server has stopped, so no record is still in a queue.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from asgi_lab.lab.verdicts import RecordDict
from asgi_lab.probe import TRACE_DIR_ENV

__all__ = ["TraceDir", "read_records", "served_summary"]


def read_records(directory: Path) -> list[RecordDict]:
    """Every record in `directory`'s JSON-lines files, ordered by start time.

    A line cut short (a worker killed mid-write) is skipped rather than failing the run.
    """
    records: list[RecordDict] = []
    for path in sorted(directory.glob("records-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    records.sort(key=lambda r: int(r["start_ns"]))
    return records


class TraceDir:
    """A temporary directory for one server's records; removed by `cleanup()`."""

    def __init__(self, prefix: str = "asgi-lab-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))

    def env(self) -> dict[str, str]:
        """The environment that makes every worker write here."""
        return {TRACE_DIR_ENV: str(self.path)}

    def read(self) -> list[RecordDict]:
        return read_records(self.path)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def served_summary(records: Iterable[RecordDict]) -> list[dict[str, Any]]:
    """Who served what: per (phase, path), the requests and the pids, loops and threads involved."""
    groups: dict[tuple[str, str], list[RecordDict]] = {}
    for record in sorted(records, key=lambda r: int(r["start_ns"])):
        key = (str(record.get("phase", "")), str(record["path"]))
        groups.setdefault(key, []).append(record)
    rows = []
    for (phase, path), group in groups.items():
        handlers = {int(r["handler"]["thread"]["native_id"]) for r in group}
        loop_threads = {int(r["loop"]["thread"]["native_id"]) for r in group}
        rows.append(
            {
                "phase": phase,
                "path": path,
                "requests": len(group),
                "pids": sorted({int(r["pid"]) for r in group}),
                "loops": sorted({str(r["loop"]["id"]) for r in group}),
                "loop_threads": sorted(loop_threads),
                "handler_threads": sorted(handlers),
                "in_threadpool": sum(1 for r in group if r["handler"]["in_threadpool"]),
            }
        )
    return rows
