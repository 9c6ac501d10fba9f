"""The board: the latest snapshot of every worker, which of them are gone, and who took over.

A worker is known by its pid. It is "live" while its snapshots keep coming, "gone" once it has been
silent for `GONE_AFTER` seconds (killed, crashed or stopped), and forgotten `FORGET_AFTER` seconds
later. A worker that first speaks around the time another of the same supervisor fell silent is
its successor: it takes the gone worker's place on the page, so a restart reads as one slot whose
pid changed. Every method takes the lock: the channel's thread writes, the page's threads read.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

from asgi_lab.records.snapshot import Snapshot

__all__ = ["FORGET_AFTER", "GONE_AFTER", "Board"]

#: A worker silent this long (seconds) is shown as gone.
GONE_AFTER = 1.0
#: ... and this long, no longer shown at all.
FORGET_AFTER = 30.0


@dataclass
class _Worker:
    snapshot: Snapshot
    first: float  # monotonic seconds of its first snapshot, and of its latest
    last: float
    slot: int
    succeeds: int | None = None
    successor: int | None = None


class Board:
    """The workers as the page draws them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[int, _Worker] = {}
        self._slots = itertools.count(1)
        self.received = 0
        self.refused = 0  # datagrams that were not snapshots

    def take(self, snapshot: Snapshot, now: float | None = None) -> None:
        """The latest word of one worker."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self.received += 1
            worker = self._workers.get(snapshot["pid"])
            if worker is None:
                slot = next(self._slots)
                self._workers[snapshot["pid"]] = _Worker(snapshot, now, now, slot)
            else:
                worker.snapshot, worker.last = snapshot, now

    def refuse(self) -> None:
        with self._lock:
            self.refused += 1

    def view(self, now: float | None = None) -> dict[str, Any]:
        """Every worker still shown, in slot order, as the page's script reads it."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._settle(now)
            shown = sorted(
                self._workers.items(), key=lambda kv: (kv[1].slot, kv[1].successor is None)
            )
            return {
                "workers": [
                    {
                        "pid": pid,
                        "state": "gone" if now - w.last > GONE_AFTER else "live",
                        "silent_ms": round((now - w.last) * 1000),
                        "succeeds": w.succeeds,
                        "successor": w.successor,
                        "snapshot": w.snapshot,
                    }
                    for pid, w in shown
                ],
                "received": self.received,
                "refused": self.refused,
            }

    def _settle(self, now: float) -> None:
        """Forget the long gone; give each newly gone worker its successor, if one came."""
        for pid, worker in list(self._workers.items()):
            silent = now - worker.last
            if silent > FORGET_AFTER:
                del self._workers[pid]
            elif silent > GONE_AFTER and worker.successor is None:
                heir = self._heir(pid, worker)
                if heir is not None:
                    worker.successor, heir.succeeds = heir.snapshot["pid"], pid
                    heir.slot = worker.slot

    def _heir(self, pid: int, gone: _Worker) -> _Worker | None:
        """The first worker of the same supervisor to appear once `gone` might have died (its
        last word, less the silence that would have told), and that succeeds nobody yet."""
        candidates = [
            w
            for other, w in self._workers.items()
            if other != pid
            and w.succeeds is None
            and w.snapshot["ppid"] == gone.snapshot["ppid"]
            and w.first >= gone.last - GONE_AFTER
            and w.first > gone.first
        ]
        return min(candidates, key=lambda w: w.first, default=None)
