"""Reading every worker's JSON lines back as typed records, and the facts read from them."""

from __future__ import annotations

import pytest

from asgi_lab.lab.clients import Reply
from asgi_lab.lab.observed import (
    Observed,
    TraceDir,
    answered_without_record,
    handler_threads,
    hop_intervals,
    loop_threads,
    max_in_flight,
    per_worker,
    pids,
    served_summary,
)
from asgi_lab.lab.verdicts import exactly, uneven
from asgi_lab.records.schema import HEADER

from .fakes import record


def test_trace_dir_reads_and_cleans_up() -> None:
    trace = TraceDir()
    try:
        assert trace.path.is_dir()
        assert trace.read() == []
    finally:
        trace.cleanup()
    assert not trace.path.exists()


def test_served_summary_groups_by_phase_and_path() -> None:
    observed = [
        Observed("a", record("1-1", path="/sync/sleep", handler=7, start=0.1)),
        Observed("a", record("1-2", path="/sync/sleep", handler=8, start=0.2)),
        Observed("b", record("2-1", pid=200, loop_thread=200, start=0.3)),
    ]
    rows = served_summary(observed)
    assert [(r.phase, r.path, r.requests) for r in rows] == [
        ("a", "/sync/sleep", 2),
        ("b", "/quick", 1),
    ]
    assert rows[0].handler_threads == [7, 8]
    assert rows[0].in_threadpool == 2
    assert rows[1].pids == [200]


def test_hop_intervals_feed_max_in_flight() -> None:
    records = [
        record("1-1", handler=7, hops=[(0.0, 1.0)]),
        record("1-2", handler=8, hops=[(0.5, 1.5)]),
        record("1-3", handler=9, hops=[(1.5, 2.0)]),  # starts as 1-2 ends: not at once
    ]
    assert max_in_flight(hop_intervals(records)) == 2


def test_max_in_flight() -> None:
    assert max_in_flight([]) == 0
    assert max_in_flight([(0, 10), (1, 11), (2, 12)]) == 3
    # Back to back is not overlapping: an end at t comes before a start at t.
    assert max_in_flight([(0, 10), (10, 20), (20, 30)]) == 1
    assert max_in_flight([(0, 10), (0, 10), (10, 20), (10, 20), (10, 20)]) == 3


def test_facts_from_records() -> None:
    quick = record("1-1", pid=100, loop_thread=100)
    sleep = record("1-2", path="/sync/sleep", pid=100, loop_thread=100, handler=105, wait=0.5)
    other = record("2-1", pid=200, loop_thread=200)
    assert pids([quick, sleep, other]) == {100, 200}
    assert loop_threads([quick, sleep]) == {100}
    assert handler_threads([quick, sleep]) == {100, 105}
    assert sleep.wait_s == pytest.approx(0.5)


def test_same_loop_claim_fails_for_two_loop_threads() -> None:
    """What blocking-sleep asserts, on records that must fail it."""
    block = record("1-1", path="/async/block", loop_thread=100)
    quick_elsewhere = record("2-1", pid=200, loop_thread=200)
    claim = exactly("loop threads that served both", len(loop_threads([block, quick_elsewhere])), 1)
    assert not claim.passed
    same = record("1-2", loop_thread=100)
    assert exactly("same", len(loop_threads([block, same])), 1).passed


def test_threads_busy_at_once_from_hops() -> None:
    """What threadpool-limit asserts: T tokens mean at most T hops overlap."""
    two_waves = [
        record(str(i), handler=10 + i % 4, hops=[(0.0, 1.0) if i < 4 else (1.0, 2.0)])
        for i in range(8)
    ]
    assert exactly("busy", max_in_flight(hop_intervals(two_waves)), 4).passed
    one_wave = [record(str(i), handler=10 + i, hops=[(0.0, 1.0)]) for i in range(8)]
    assert not exactly("busy", max_in_flight(hop_intervals(one_wave)), 4).passed


def reply(pid: int, seq: int) -> Reply:
    value = f"pid={pid}; loop={pid}:1; thread={pid}; request={pid}-{seq}"
    return Reply(200, {HEADER: value}, None, 0, 0, 0.0)


def test_replies_are_counted_against_the_records_written() -> None:
    written = [record("100-1", pid=100), record("200-1", pid=200, loop_thread=200)]
    replies = [reply(100, 1), reply(100, 2), reply(200, 1), reply(300, 1)]
    unheaded = Reply(503, {}, None, 0, 0, 0.0)  # no probe header: not the probe's to count
    lost = answered_without_record([*replies, unheaded], written)
    assert [r.record_id for r in lost] == ["100-2", "300-1"]


def test_per_worker_counts_every_worker_and_the_idle_ones_as_zero() -> None:
    replies = [reply(300, 1), reply(100, 1), reply(300, 2), reply(300, 3)]
    counts = per_worker(replies, [400, 300, 200, 100])
    assert counts == {100: 1, 200: 0, 300: 3, 400: 0}
    assert list(counts) == [100, 200, 300, 400], "pid order, whatever the replies' order"
    assert per_worker([], [1, 2]) == {1: 0, 2: 0}


def test_per_worker_refuses_a_reply_from_no_known_worker() -> None:
    with pytest.raises(ValueError, match=r"pid 9, expected one of workers \[1, 2\]"):
        per_worker([reply(1, 1), reply(9, 1)], [1, 2])


def test_a_split_is_judged_uneven_from_replies_including_idle_workers() -> None:
    """One keep-alive connection: every reply from one of four workers, the others idle."""
    keep_alive = per_worker([reply(100, i) for i in range(8)], [100, 200, 300, 400])
    assert uneven("keep-alive", list(keep_alive.values())).passed
    # Round-robin over the same four workers: even, and so not uneven.
    round_robin = per_worker([reply(100 * (i % 4 + 1), i) for i in range(8)], [100, 200, 300, 400])
    assert list(round_robin.values()) == [2, 2, 2, 2]
    assert not uneven("round-robin", list(round_robin.values())).passed
