"""A request's waits split by cause, from its hops and the stalls it sat through (`WaitsData`).

Each cause is a set of intervals on the wall clock:

- the pool: from a hop's call to its start on a thread, when its pool was full at the call;
- the loop: from a hop's call to its start when its pool had room (the loop had yet to hand it
  over), and from a hop's end to its task running again on the loop;
- a stall: each `waited_on`, from when the request began to sit through it, for its length.

Stalls come first: their time is taken out of the others, then the pool's out of the loop's, so
that an instant is counted once, under the cause that held it. Overlapping hops of one cause (a
gather) count an instant once too. Pure: records in, numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from asgi_lab.records.schema import HopData, WaitData, WaitsData

__all__ = ["split_waits"]

Interval = tuple[int, int]

#: What most requests waited: nothing (frozen, so one is shared).
_NONE = WaitsData()


def split_waits(hops: Sequence[HopData], waited_on: Sequence[WaitData]) -> WaitsData:
    """How long a request with these hops and these stalls sat through waited, by cause."""
    if not hops and not waited_on:
        return _NONE  # most requests: nothing to split, and the writer does this per record
    pool: list[Interval] = []
    loop: list[Interval] = []
    for hop in hops:
        if hop.start_ns > hop.called_ns:
            (pool if hop.pool.full else loop).append((hop.called_ns, hop.start_ns))
        if hop.end_ns and hop.resumed_ns > hop.end_ns:
            loop.append((hop.end_ns, hop.resumed_ns))
    if not waited_on:  # no stall: nothing to take out (the common case, kept short)
        pool_only = _merged(pool)
        return WaitsData(_length(pool_only), _length(_minus(_merged(loop), pool_only)), 0)
    stalls = _merged((w.start_ns, w.end_ns) for w in waited_on if w.start_ns)
    pool_only = _minus(_merged(pool), stalls)
    loop_only = _minus(_minus(_merged(loop), stalls), pool_only)
    stall_ns = sum(int(w.ms * 1e6) for w in waited_on)
    return WaitsData(_length(pool_only), _length(loop_only), stall_ns)


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of `intervals`, as sorted disjoint intervals."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _minus(intervals: list[Interval], holes: list[Interval]) -> list[Interval]:
    """`intervals` without `holes`, both sorted and disjoint."""
    out: list[Interval] = []
    for start, end in intervals:
        for hole_start, hole_end in holes:
            if hole_end <= start or hole_start >= end:
                continue
            if hole_start > start:
                out.append((start, hole_start))
            start = max(start, hole_end)
            if start >= end:
                break
        if start < end:
            out.append((start, end))
    return out


def _length(intervals: list[Interval]) -> int:
    return sum(end - start for start, end in intervals)
