"""A worker's ledger: how many records it finished, kept where a SIGKILL cannot take it.

A killed worker loses the records its writer still held (`probe/sinks.py`): the reader of its
`records-<pid>.jsonl` cannot tell how many. So beside that file each worker keeps
`worker-<pid>.json`, one JSON line in a memory-mapped file: its parent, when it started, the
other workers of that parent alive then (its siblings), whether a lifespan startup started it,
the records handed to its writer so far, and, once its writer has closed, when. The figures
have a fixed width, so each is rewritten in place. A store into a shared mapping is in the
kernel's page cache as soon as it is made, so the count survives the process being killed at
any instant; bumping it is a memory write on the loop thread, no system call (at worst a page
fault when the kernel has just written the page back).

The count is written twice, first then second: a kill in the middle of one leaves the two
different, and the smaller is then a lower bound (`LedgerData.exact` is False). `closed_ns` is 0
until the writer closed: a ledger still at 0 after the run belongs to a worker that died
without closing its trace. Only a lifespan shutdown closes it in a server's worker (uvicorn ends
its workers by raising SIGTERM again after its own shutdown, so nothing runs at exit): for a
worker of an app that runs no lifespan, an open ledger cannot tell a clean stop from a kill, and
the reader says so, unless another worker took its place.

The siblings name successors. A supervisor such as uvicorn's starts a worker in a dead one's
place only once it has seen (and reaped) the death, so a worker that started after another and
did not see it among its siblings started after its death: it took its place. One started
beside it at startup saw it alive.
"""

from __future__ import annotations

import atexit
import itertools
import json
import mmap
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

__all__ = ["Ledger", "LedgerData", "deaths", "ledger_name", "read_ledgers"]

_WIDTH = 20  # digits of the largest 64-bit count
_FORMAT = (
    '{{"pid": {pid}, "ppid": {ppid}, "started_ns": {started}, "siblings": {siblings}, '
    '"lifespan": {lifespan}, '
    '"made": [{made:>20}, {again:>20}], "closed_ns": {closed:>20}}}\n'
)


def ledger_name(pid: int) -> str:
    """The file a worker keeps its ledger in."""
    return f"worker-{pid}.json"


@dataclass(frozen=True)
class LedgerData:
    """What a worker's ledger said after the run."""

    pid: int
    ppid: int
    started_ns: int
    siblings: frozenset[int]  # the parent's other children when it started
    lifespan: bool  # started by a lifespan startup, so a clean stop closes it
    made: int  # records handed to its writer (a lower bound unless `exact`)
    exact: bool
    closed_ns: int  # 0: the writer never closed (the worker died)

    @property
    def closed(self) -> bool:
        return self.closed_ns != 0


class Ledger:
    """The live ledger of this process for one directory (see above); `count` on the loop,
    `close` once. Probes of one process sharing a directory share its ledger (`Ledger.open`), as
    they share its records file: it closes when the last of them does."""

    _open: ClassVar[dict[Path, Ledger]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        siblings: Iterable[int] = (),
        *,
        lifespan: bool = True,
    ) -> Ledger:
        """This process's ledger for `directory`, made on first use, one more user counted."""
        key = (Path(directory) / ledger_name(os.getpid())).resolve()
        with cls._lock:
            ledger = cls._open.get(key)
            if ledger is None or ledger._map is None:
                ledger = cls._open[key] = cls(directory, siblings, lifespan=lifespan)
            ledger._users += 1
        return ledger

    def __init__(
        self,
        directory: str | os.PathLike[str],
        siblings: Iterable[int] = (),
        *,
        lifespan: bool = True,
    ) -> None:
        self.path = Path(directory) / ledger_name(os.getpid())
        self.made = 0
        self._users = 0  # probes using it (`open`); 0 for one made directly
        # A C iterator: two loop threads of one process never take the same number.
        self._numbers = itertools.count(1)
        pid, ppid, started = os.getpid(), os.getppid(), time.time_ns()
        others = json.dumps(sorted(set(siblings) - {pid}))
        fields = {
            "pid": pid,
            "ppid": ppid,
            "started": started,
            "siblings": others,
            "lifespan": json.dumps(lifespan),
        }
        text = _FORMAT.format(**fields, made=0, again=0, closed=0)
        head = text.index('"made": [') + len('"made": [')
        data = text.encode("ascii")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            self._map: mmap.mmap | None = mmap.mmap(fd, len(data))
        finally:
            os.close(fd)
        self._first = head
        self._second = self._first + _WIDTH + 2  # past the first figure and ", "
        self._closed_at = len(data) - 2 - _WIDTH  # before "}\n"
        atexit.register(self._close)  # outside a server's worker, a probe never closed

    def count(self) -> None:
        """One more record handed to the writer: a memory write, never a wait."""
        view = self._map
        if view is None:
            return
        self.made = made = next(self._numbers)
        figure = f"{made:>20}".encode("ascii")
        view[self._first : self._first + _WIDTH] = figure
        view[self._second : self._second + _WIDTH] = figure

    def close(self) -> None:
        """Say the writer closed (after its last record was written) and unmap: at the last
        user's close (at exit, whoever is left)."""
        with self._lock:
            self._users -= 1
            if self._users > 0:
                return
        self._close()

    def _close(self) -> None:
        view, self._map = self._map, None
        if view is None:
            return
        view[self._closed_at : self._closed_at + _WIDTH] = f"{time.time_ns():>20}".encode()
        view.close()
        atexit.unregister(self._close)


def read_ledgers(directory: str | os.PathLike[str]) -> dict[int, LedgerData]:
    """Every worker's ledger in `directory`, by pid; a trace written before ledgers has none.
    A ledger that cannot be read is left out (its worker's figures are then unknown)."""
    found: dict[int, LedgerData] = {}
    for path in sorted(Path(directory).glob("worker-*.json")):
        try:
            data = json.loads(path.read_text(encoding="ascii"))
            first, second = (int(n) for n in data["made"])
            ledger = LedgerData(
                int(data["pid"]),
                int(data["ppid"]),
                int(data["started_ns"]),
                frozenset(int(p) for p in data["siblings"]),
                data["lifespan"] is True,
                min(first, second),
                first == second,
                int(data["closed_ns"]),
            )
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            continue
        found[ledger.pid] = ledger
    return found


def deaths(ledgers: dict[int, LedgerData], accounted: dict[int, int]) -> list[str]:
    """What the ledgers say of each worker, one sentence each: which died without closing its
    trace and which worker of the same server took its place, and how many of a worker's
    finished requests never reached the trace. `accounted`: per pid, the records its files
    hold or say were lost (dropped, rotated away, cut short).

    A successor is the first worker of the same parent that started after the dead one and
    did not see it among its siblings (see above), each claimed once. "Finished" is what the
    ledger counts: a request whose record the probe made. One answered in the instant before
    its record was made (the response sent, the app not yet returned) is not counted, so the
    answers a dead worker left unrecorded may exceed the figure by the requests it was serving.
    """
    if not ledgers:
        return []  # a trace from before ledgers: nothing to say either way
    said: list[str] = []
    dead = sorted((w for w in ledgers.values() if not w.closed), key=lambda w: w.started_ns)
    claimed: set[int] = set()
    for worker in dead:
        later = sorted(
            (
                w
                for w in ledgers.values()
                if w.ppid == worker.ppid
                and w.started_ns > worker.started_ns
                and w.siblings
                and worker.pid not in w.siblings
            ),
            key=lambda w: w.started_ns,
        )
        successor = next((w for w in later if w.pid not in claimed), None)
        sentence = f"worker {worker.pid} died without closing its trace (killed?); "
        if successor is None and not worker.lifespan:
            sentence = (
                f"worker {worker.pid} did not close its trace: its app runs no lifespan, so a "
                "clean stop cannot be told from a death"
            )
        elif successor is None:
            sentence += "no worker of its server started after it"
        else:
            claimed.add(successor.pid)
            sentence += f"worker {successor.pid} took its place"
        said.append(sentence)
    for worker in sorted(ledgers.values(), key=lambda w: w.pid):
        missing = worker.made - accounted.get(worker.pid, 0)
        at_least = "" if worker.exact else "at least "
        if missing == 0 and not worker.exact:
            said.append(
                f"worker {worker.pid}: whether its last request reached the trace is unknown "
                "(killed while counting it)"
            )
        elif missing > 0:
            said.append(
                f"worker {worker.pid}: {at_least}{missing} request(s) it finished never "
                "reached the trace"
            )
        elif missing < 0:  # a file from an earlier process with the same pid, say
            said.append(
                f"worker {worker.pid}: its files hold more records than its ledger counts; "
                "how many never reached the trace is unknown"
            )
        elif not worker.closed:
            said.append(f"worker {worker.pid}: every request it finished reached the trace")
    if not dead:
        said.insert(0, f"no worker died: all {len(ledgers)} closed their trace")
    return said
