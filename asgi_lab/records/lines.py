"""Records as JSON lines: the one place that writes them to files and reads them back.

Each worker writes `records-<pid>.jsonl` in a trace directory (workers never share a file), one
`json_line` per record, from the probe's writer thread. With a size limit, a file that would grow
past it becomes `records-<pid>.jsonl.1` (replacing the previous one) and a new file begins.

Reading is strict: every line must be a record. The one exception is a last line cut short
without its newline (a worker killed mid-write), which is left out and counted; any other bad
line raises `RecordsError` naming the file, the line number and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from asgi_lab.records.encode import json_line
from asgi_lab.records.schema import RecordData

__all__ = [
    "PATTERN",
    "JsonLines",
    "RecordsError",
    "Trace",
    "file_name",
    "read_records",
    "read_trace",
]

#: The files of a trace directory, rotated generations included.
PATTERN = "records-*.jsonl*"


def file_name(pid: int) -> str:
    """The file a worker writes its records to."""
    return f"records-{pid}.jsonl"


class RecordsError(ValueError):
    """A line of a trace file that is not a record."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        super().__init__(f"{path}:{line}: {reason}")


@dataclass(frozen=True)
class Trace:
    """What a trace directory holds: its records by start time, the files read, and the last
    lines found cut short (a worker killed while writing)."""

    records: list[RecordData]
    files: list[Path]
    cut: list[Path]


def _read_file(path: Path, into: list[RecordData]) -> bool:
    """Append `path`'s records to `into`; True when its last line was cut short."""
    with path.open(encoding="utf-8", errors="replace", newline="\n") as stream:
        lines = stream.read().split("\n")
    # A complete file ends with a newline, so the last piece is empty; anything else there is
    # a line whose writer stopped before its end.
    tail = lines.pop()
    for number, line in enumerate(lines, 1):
        try:
            into.append(RecordData.from_json(json.loads(line)))
        except ValueError as exc:  # JSONDecodeError is a ValueError too
            raise RecordsError(path, number, str(exc)) from None
    if not tail:
        return False
    try:
        into.append(RecordData.from_json(json.loads(tail)))
    except ValueError:
        return True
    return False


def read_trace(directory: str | os.PathLike[str]) -> Trace:
    """Every record in `directory`'s JSON-lines files (rotated ones too), by start time."""
    records: list[RecordData] = []
    files = sorted(Path(directory).glob(PATTERN))
    cut = [path for path in files if _read_file(path, records)]
    records.sort(key=lambda r: r.start_ns)
    return Trace(records, files, cut)


def read_records(directory: str | os.PathLike[str]) -> list[RecordData]:
    """`read_trace(directory).records`."""
    return read_trace(directory).records


class JsonLines:
    """A sink writing one JSON line per record to `file_name(pid)` in a directory, or to an open
    text stream. With `max_bytes`, at most twice that on disk per worker (see above)."""

    def __init__(self, target: str | os.PathLike[str] | IO[str], *, max_bytes: int = 0):
        self.target = target
        self.max_bytes = max_bytes
        self.path: Path | None = None
        self._stream: IO[str] | None = None
        self._size = 0

    def __repr__(self) -> str:
        return f"JSON-lines writer ({self.path or self.target})"

    def open(self) -> None:
        target = self.target
        if not isinstance(target, str | os.PathLike):
            self._stream = target
            return
        directory = Path(target)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / file_name(os.getpid())
        self._stream = self.path.open("a", encoding="utf-8")
        self._size = self._stream.tell()

    def write(self, records: Sequence[RecordData]) -> None:
        if self._stream is None:
            return
        text = "".join([json_line(r) for r in records])
        if self.max_bytes and self.path is not None and self._size + len(text) > self.max_bytes:
            self._rotate()
        self._stream.write(text)
        self._stream.flush()
        self._size += len(text)

    def _rotate(self) -> None:
        if self._stream is None or self.path is None:
            return
        self._stream.close()
        self.path.replace(self.path.with_name(self.path.name + ".1"))
        self._stream = self.path.open("w", encoding="utf-8")
        self._size = 0

    def close(self) -> None:
        if self._stream is not None and self._stream is not self.target:
            self._stream.close()
        self._stream = None
