"""How many (start, end) intervals are open at once: the one sweep behind "requests in flight",
"tokens in use" and "threads busy at once", wherever they are counted or drawn.

An end at `t` comes before a start at `t`, so back-to-back intervals never count as overlapping.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["open_over_time", "peak"]


def open_over_time(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The step curve: `(t, n)` means n intervals are open from t until the next point."""
    events = sorted(e for start, end in intervals for e in ((start, 1), (end, -1)))
    points: list[tuple[int, int]] = []
    value = 0
    for t, step in events:
        value += step
        if points and points[-1][0] == t:
            points[-1] = (t, value)
        else:
            points.append((t, value))
    return points


def peak(intervals: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """The most intervals open at one instant, and the first instant it happens ((0, 0) for
    none): an interval is open at t when start <= t < end."""
    most, when = 0, 0
    for t, n in open_over_time(intervals):
        if n > most:
            most, when = n, t
    return most, when
