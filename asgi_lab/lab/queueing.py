"""anyio's token queue, simulated: when each request finishes, given when it arrived and its jobs.

Every trip to the threadpool borrows one of T tokens of anyio's `CapacityLimiter`. A request that
finds none waits at the back of one queue, and a released token is handed to the front of that
queue at once (first in, first out). A request with two jobs (a `def` endpoint, then the
validation of its result) releases its token after the first and asks again: by then the token
has gone to the longest waiter, so the second job joins the back of the queue, behind every
request that arrived before the first job ended. `finish_times` replays exactly that, so the lab
can derive a bound for each request instead of guessing one, and compare it with the records.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Sequence

__all__ = ["finish_times"]


def finish_times(arrivals: Sequence[float], jobs: Sequence[float], tokens: int) -> list[float]:
    """When each request finishes: request i arrives at `arrivals[i]` and runs `jobs` (their
    durations in seconds) one after another, each holding one of `tokens`, handed out FIFO."""
    if tokens < 1:
        raise ValueError(f"tokens must be a whole number of at least 1, got {tokens!r}")
    if any(d < 0 for d in jobs):
        raise ValueError(f"job durations must be seconds of at least 0, got {list(jobs)!r}")
    order = itertools.count()
    # Events: (time, tie-break, request, job index just finished; -1 for an arrival).
    events = [(at, next(order), i, -1) for i, at in sorted(enumerate(arrivals), key=lambda e: e[1])]
    heapq.heapify(events)
    waiting: deque[tuple[int, int]] = deque()  # (request, job) in the order they asked
    free = tokens
    done = [0.0] * len(arrivals)

    def hand_out(now: float) -> None:
        nonlocal free
        while free and waiting:
            request, job = waiting.popleft()
            free -= 1
            heapq.heappush(events, (now + jobs[job], next(order), request, job))

    while events:
        now, _, request, finished = heapq.heappop(events)
        if finished >= 0:
            # The token goes to the longest waiter before this request can ask for another.
            free += 1
            hand_out(now)
        following = finished + 1
        if following < len(jobs):
            waiting.append((request, following))
            hand_out(now)
        else:
            done[request] = now
    return done
