"""Records as JSON lines: the one place that writes them to files and reads them back.

Each worker writes `records-<pid>.jsonl` in a trace directory (workers never share a file), one
`json_line` per record, from the probe's writer thread. With a size limit, a file that would grow
past it becomes `records-<pid>.jsonl.1` (the older ones `.2`, `.3`, ... up to `keep`) and a new
file begins; the records of a file rotated past `keep` are counted and said in the next record
written (`rotated_away`), so a reader knows what it cannot read.

Beside them, `stalls-<pid>.jsonl` holds the stalls of that worker's loop that no request was
running in (its startup, a background task), one `BlockData` per line, written once as the
worker shuts down.

Beside them too, `worker-<pid>.json`, the worker's ledger (`ledger.py`): the records it
finished, counted where a SIGKILL cannot take them, and whether its writer closed. A trace
from before ledgers has none, and says nothing of deaths.

Reading is strict: every line must be a record. The one exception is a last line cut short
without its newline (a worker killed mid-write), which is left out and counted; any other bad
line raises `RecordsError` naming the file, the line number and the field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from asgi_lab.records.encode import json_line
from asgi_lab.records.ledger import LedgerData, deaths, read_ledgers
from asgi_lab.records.schema import BlockData, RecordData

logger = logging.getLogger("asgi_lab.probe")

__all__ = [
    "PATTERN",
    "JsonLines",
    "RecordsError",
    "Trace",
    "file_name",
    "read_records",
    "read_stalls",
    "read_trace",
    "write_stalls",
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
    """What a trace directory holds: its records by start time, the files read, the last
    lines found cut short (a worker killed while writing), and the workers' ledgers."""

    records: list[RecordData]
    files: list[Path]
    cut: list[Path]
    ledgers: dict[int, LedgerData] = field(default_factory=dict)

    @property
    def dropped(self) -> int:
        """Records the workers' writers lost for want of room, as their records say."""
        return sum(r.dropped for r in self.records)

    @property
    def rotated_away(self) -> int:
        """Records deleted with rotated files past the number kept, as the records say."""
        return sum(r.rotated_away for r in self.records)

    def losses(self) -> str | None:
        """What these records cannot show, in one sentence; None when nothing was lost."""
        parts = []
        if self.dropped:
            parts.append(f"{self.dropped} dropped by a writer that fell behind")
        if self.rotated_away:
            parts.append(f"{self.rotated_away} rotated away (ASGI_LAB_TRACE_KEEP keeps more)")
        if self.cut:
            parts.append(f"{len(self.cut)} last line(s) cut short by a worker that died writing")
        return "records not read: " + "; ".join(parts) if parts else None

    def workers(self) -> list[str]:
        """What the ledgers say of the workers, a sentence each: who died without closing
        its trace, who took its place, and what never reached the trace (`ledger.deaths`)."""
        accounted: dict[int, int] = {}
        for r in self.records:
            accounted[r.pid] = accounted.get(r.pid, 0) + 1 + r.dropped + r.rotated_away
        for path in self.cut:  # one record each, cut short
            pid = _pid_of(path)
            if pid is not None:
                accounted[pid] = accounted.get(pid, 0) + 1
        return deaths(self.ledgers, accounted)


def _pid_of(path: Path) -> int | None:
    """The pid in `records-<pid>.jsonl[.N]`."""
    middle = path.name.removeprefix("records-").partition(".")[0]
    return int(middle) if middle.isdigit() else None


def _read_file(path: Path, into: list[RecordData]) -> bool:
    """Append `path`'s records to `into`; True when its last line was cut short."""
    with path.open(encoding="utf-8", errors="replace", newline="\n") as stream:
        lines = stream.read().split("\n")
    # A complete file ends with a newline, so the last piece is empty; anything else there is
    # a line whose writer stopped before its end.
    tail = lines.pop()
    for number, line in enumerate(lines, 1):
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            said = f"not a JSON line ({exc.msg}, column {exc.colno})"
            raise RecordsError(path, number, said) from None
        try:
            into.append(RecordData.from_json(data))
        except ValueError as exc:
            raise RecordsError(path, number, str(exc)) from None
    if not tail:
        return False
    try:
        into.append(RecordData.from_json(json.loads(tail)))
    except ValueError:
        return True
    return False


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def read_trace(directory: str | os.PathLike[str]) -> Trace:
    """Every record in `directory`'s JSON-lines files (rotated ones too), by start time."""
    records: list[RecordData] = []
    files = sorted(Path(directory).glob(PATTERN))
    cut = [path for path in files if _read_file(path, records)]
    records.sort(key=lambda r: r.start_ns)
    return Trace(records, files, cut, read_ledgers(directory))


def read_records(directory: str | os.PathLike[str]) -> list[RecordData]:
    """`read_trace(directory).records`."""
    return read_trace(directory).records


def write_stalls(directory: str | os.PathLike[str], pid: int, stalls: Sequence[BlockData]) -> None:
    """Write a worker's stalls with no request (nothing when there are none)."""
    if stalls:
        text = "".join(json.dumps(b.to_json(), separators=(",", ":")) + "\n" for b in stalls)
        (Path(directory) / f"stalls-{pid}.jsonl").write_text(text, encoding="utf-8")


def read_stalls(directory: str | os.PathLike[str]) -> list[tuple[int, BlockData]]:
    """Every worker's stalls with no request, with its pid, by start time."""
    found: list[tuple[int, BlockData]] = []
    for path in sorted(Path(directory).glob("stalls-*.jsonl")):
        pid = int(path.stem.partition("-")[2])
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                found.append((pid, BlockData.from_json(json.loads(line))))
            except (ValueError, KeyError, TypeError) as exc:
                raise RecordsError(path, number, f"not a stall: {exc!r}") from None
    return sorted(found, key=lambda pb: pb[1].start_ns)


class JsonLines:
    """A sink writing one JSON line per record to `file_name(pid)` in a directory, or to an open
    text stream. With `max_bytes`, at most twice that on disk per worker (see above).

    A directory's file is never left with half a line: each batch goes out in one `os.write`,
    and a write that fails part way (a full disk) is cut back to the last whole line, its
    records counted in `lost`. A file deleted while running (its directory removed) is noticed
    within `CHECK_EVERY` seconds, said once, the records written into it since the last check
    counted in `lost`, and a new file begun.
    """

    #: How often, in seconds at most, the file is checked to be still where it was.
    CHECK_EVERY = 1.0

    def __init__(
        self, target: str | os.PathLike[str] | IO[str], *, max_bytes: int = 0, keep: int = 3
    ):
        if keep < 1:
            raise ValueError(f"keep must be a whole number from 1, got {keep!r}")
        self.target = target
        self.max_bytes = max_bytes
        self.keep = keep
        self.path: Path | None = None
        self.lost = 0  # records that never reached the file (full disk, deleted file)
        self.rotated_away = 0  # records deleted with the oldest rotated file
        self._unannounced = 0  # of those, not yet said in a record
        self._stream: IO[str] | None = None
        self._fd = -1
        self._size = 0
        self._checked = 0.0
        self._since_check = 0  # records written since the file was last seen in place

    def __repr__(self) -> str:
        return f"JSON-lines writer ({self.path or self.target})"

    def check(self) -> None:
        """Raise `OSError` unless the directory can be made and written: at startup, so a trace
        directory that cannot be written stops the app before it serves."""
        target = self.target
        if isinstance(target, str | os.PathLike):
            directory = Path(target)
            directory.mkdir(parents=True, exist_ok=True)
            probe = directory / f".{file_name(os.getpid())}.check"
            probe.write_bytes(b"")
            probe.unlink()

    def open(self) -> None:
        target = self.target
        if not isinstance(target, str | os.PathLike):
            self._stream = target
            return
        directory = Path(target)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / file_name(os.getpid())
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        self._checked = time.monotonic()
        self._since_check = 0

    def write(self, records: Sequence[RecordData]) -> None:
        if self._unannounced and records:
            first = dataclasses.replace(records[0], rotated_away=self._unannounced)
            records = [first, *records[1:]]
            self._unannounced = 0
        text = "".join([json_line(r) for r in records])
        if self._stream is not None:
            self._stream.write(text)
            self._stream.flush()
            return
        if self._fd < 0 or self.path is None:
            return
        self._notice_deletion()
        data = text.encode("utf-8")
        if self.max_bytes and self._size + len(data) > self.max_bytes and self._size:
            self._rotate()
            if self._unannounced:  # said in the first record of the new file
                self.write(records)
                return
        before = self._size
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, f"wrote {written} of {len(data)} bytes")
        except OSError as exc:
            # Never leave half a line behind: back to the last whole line, and say what was lost.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, before)
            self.lost += len(records)
            logger.error("%s: %d records lost: %s", self, len(records), exc)
            return
        self._size += written
        self._since_check += len(records)

    def _notice_deletion(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.CHECK_EVERY or self.path is None:
            return
        self._checked = now
        try:
            here = os.stat(self.path)
            mine = os.fstat(self._fd)
            gone = (here.st_ino, here.st_dev) != (mine.st_ino, mine.st_dev)
        except FileNotFoundError:
            gone = True
        if not gone:
            self._since_check = 0
            return
        lost, self._since_check = self._since_check, 0
        self.lost += lost
        logger.error(
            "%s: the file was deleted while in use; up to %d records written since the last "
            "check are lost, a new file begins",
            self,
            lost,
        )
        os.close(self._fd)
        self.open()

    def _rotate(self) -> None:
        """`.1` becomes `.2` and so on, the current file `.1`; the file past `keep` is deleted
        and its records counted, to be said in the next record written."""
        if self._fd < 0 or self.path is None:
            return
        os.close(self._fd)
        generation = self.path.with_name
        oldest = generation(f"{self.path.name}.{self.keep}")
        if oldest.exists():
            away = _count_lines(oldest)
            oldest.unlink()
            self.rotated_away += away
            self._unannounced += away
        for n in range(self.keep - 1, 0, -1):
            older = generation(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(generation(f"{self.path.name}.{n + 1}"))
        self.path.replace(generation(self.path.name + ".1"))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        self._size = 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._stream = None
