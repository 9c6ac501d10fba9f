"""Failures of the probe's own machinery: counted, logged once per step, never the app's.

An observer never changes what it observes. Every step the probe takes for a request (beginning
its record, stamping `receive` and `send`, adding the header, noting a threadpool hop, finishing
the record) catches its own exceptions and reports them here; the request goes on as the app
answers it, unprobed from that step on. The count is per process: every probe in a worker shares
the hook, the ring's writer and the logger.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

__all__ = ["counts", "fault", "logger", "total"]

logger = logging.getLogger("asgi_lab.probe")

#: Faults so far in this process, by step ("begin", "send", "hop", ...).
counts: Counter[str] = Counter()
_lock = threading.Lock()  # hops fault on worker threads, the rest on loop threads


def fault(step: str, exc: BaseException) -> None:
    """Count a failure of the probe's own `step`, and log the first of each step's."""
    with _lock:
        counts[step] += 1
        first = counts[step] == 1
    if first:
        logger.warning(
            "probe step %r failed; the request goes on unprobed (logged once per step, "
            "counted in ProbeMiddleware.probe_faults): %r",
            step,
            exc,
            exc_info=exc,
        )


def total() -> int:
    """All faults so far in this process."""
    return sum(counts.values())
