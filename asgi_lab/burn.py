"""CPU work of a fixed size: what `/sync/cpu` and `/async/cpu` do for `ms` milliseconds."""

from __future__ import annotations

import math
import time

from asgi_lab import settings

__all__ = ["burn", "loops_per_ms", "spin"]

_loops_per_ms: float = 0.0


def spin(n: int) -> int:
    """`n` iterations of pure-Python arithmetic: holds the GIL the whole time."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def loops_per_ms() -> float:
    """How many `spin` iterations make a millisecond of work: $ASGI_LAB_LOOPS_PER_MS, or
    measured once per process on this core.

    Processes calibrate apart and rarely agree to better than ~10-20 % on a shared or virtual
    CPU; experiments that compare workers set the variable so that every worker does the same
    amount of work.
    """
    global _loops_per_ms
    if not _loops_per_ms:
        fixed = settings.current().loops_per_ms
        if fixed:
            _loops_per_ms = fixed
        else:
            n = 20_000
            best = math.inf
            for _ in range(5):
                started = time.perf_counter()
                spin(n)
                best = min(best, time.perf_counter() - started)
            _loops_per_ms = n / (best * 1000)
    return _loops_per_ms


def burn(ms: int) -> int:
    """A fixed amount of pure-Python work that takes `ms` on an idle core.

    The amount is fixed, not the duration: two threads burning 100 ms each take ~200 ms together
    under the GIL, which is what the lab wants to show.
    """
    n = int(ms * loops_per_ms())
    spin(n)
    return n
