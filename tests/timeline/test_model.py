"""The timeline model on hand-made records: lanes, sub-rows, hops, curves, several workers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from asgi_lab.records.schema import PoolData, ThreadData
from asgi_lab.timeline import build
from asgi_lab.timeline.model import Series, steps
from tests.lab.fakes import NS, record


def test_an_empty_run_has_no_lanes() -> None:
    timeline = build([])
    assert timeline.workers == () and timeline.lanes == ()
    assert timeline.requests == () and timeline.hops == ()
    assert timeline.duration_ns == 0


def test_overlapping_requests_get_sub_rows_and_back_to_back_ones_share_a_row() -> None:
    timeline = build(
        [
            record("100-1", path="/async/block", start=0.0, end=0.2),
            record("100-2", path="/quick", start=0.2, end=0.201),  # starts where the block ends
            record("100-3", path="/async/sleep", start=0.1, end=0.3),  # overlaps both
        ]
    )
    rows = {bar.id: bar.row for bar in timeline.requests}
    assert rows == {"100-1": 0, "100-2": 0, "100-3": 1}
    (worker,) = timeline.workers
    assert worker.rows == 2
    (lane,) = worker.lanes
    assert lane.loop and lane.name == "loop 100:1 (uvloop)" and lane.key == (100, 100)
    assert worker.in_flight.peak == 2
    assert worker.pools == ()
    assert timeline.start_ns == 0 and timeline.end_ns == int(0.3 * NS)


def test_hops_sit_on_the_threads_that_ran_them_linked_to_their_request() -> None:
    timeline = build(
        [
            record("100-1", path="/sync/sleep", handler=201, start=0, end=0.2, hops=[(0, 0.1)]),
            record("100-2", path="/sync/sleep", handler=202, start=0, end=0.2, hops=[(0, 0.1)]),
            # The second wave: thread 201 again, after its first hop ended.
            record("100-3", path="/sync/sleep", handler=201, start=0, end=0.25, hops=[(0.1, 0.2)]),
        ]
    )
    (worker,) = timeline.workers
    assert [lane.name for lane in worker.lanes] == [
        "loop 100:1 (uvloop)",
        "thread 201",
        "thread 202",
    ]
    assert [lane.loop for lane in worker.lanes] == [True, False, False]
    on_201 = timeline.hops_on(worker.lanes[1])
    assert [h.request for h in on_201] == ["100-1", "100-3"]
    assert all(h.path == "/sync/sleep" and h.index == 0 for h in on_201)
    assert on_201[0].end_ns <= on_201[1].start_ns, "hops never overlap on one thread"
    (anyio,) = worker.pools
    assert anyio is worker.pool("anyio") and anyio.size == 40 and anyio.hops == 3
    assert anyio.busy.peak == 2
    # At 0.1 two hops end and one begins: back to back is not overlapping.
    assert anyio.busy.points == ((0, 2), (int(0.1 * NS), 1), (int(0.2 * NS), 0))


def test_a_hop_that_never_started_is_counted_but_on_no_lane() -> None:
    queued = record("100-1", path="/sync/sleep", handler=201, hops=[(0, 0.001)])
    never = replace(queued.hops[0], thread=None)
    timeline = build([replace(queued, hops=(never,))])
    assert timeline.hops == () and timeline.unstarted == 1
    assert [lane.loop for lane in timeline.lanes] == [True]


def test_several_workers_each_loop_lane_first_then_its_threads() -> None:
    a = record("100-1", pid=100, loop_thread=100, handler=101, start=0.0, end=0.1, hops=[(0, 0.1)])
    b = record(
        "200-1", pid=200, loop_thread=200, handler=201, start=0.05, end=0.2, hops=[(0.06, 0.2)]
    )
    timeline = build([b, a])
    assert [w.pid for w in timeline.workers] == [100, 200]
    assert [lane.key for lane in timeline.lanes] == [(100, 100), (100, 101), (200, 200), (200, 201)]
    assert [lane.name for lane in timeline.lanes][2] == "loop 200:1 (uvloop)"
    # One shared axis: the earliest start and the latest end of either worker.
    assert timeline.start_ns == 0 and timeline.end_ns == int(0.2 * NS)
    assert [len(timeline.hops_on(lane)) for lane in timeline.lanes] == [0, 1, 0, 1]


def test_a_request_with_hops_on_two_threads_links_both() -> None:
    base = record("100-1", path="/deps", handler=201, start=0, end=0.3, hops=[(0, 0.1), (0.1, 0.2)])
    other = replace(base.hops[1], thread=ThreadData("AnyIO worker thread", 202))
    timeline = build([replace(base, hops=(base.hops[0], other))])
    assert [(h.lane, h.request, h.index) for h in timeline.hops] == [
        ((100, 201), "100-1", 0),
        ((100, 202), "100-1", 1),
    ]


def test_steps_count_open_intervals_and_merge_equal_instants() -> None:
    series = steps([(0, 10), (5, 15), (10, 20)])
    assert series.points == ((0, 1), (5, 2), (10, 2), (15, 1), (20, 0))
    assert series.peak == 2 and series.at(-1) == 0 and series.at(12) == 2
    assert Series(()).peak == 0


def test_a_stall_the_watchdog_blamed_is_drawn_on_its_loop_lane() -> None:
    import dataclasses

    from asgi_lab.records.schema import BlockData
    from asgi_lab.timeline import svg, terminal

    block = BlockData(500.0, "/app/shop.py", 57, "render_rows", (), "blocked", int(0.2 * NS))
    culprit = dataclasses.replace(record("1-2", path="/daily", end=0.8), blocks=(block,))
    older = dataclasses.replace(block, start_ns=0)  # records older than the field: not drawn
    timeline = build(
        [record("1-1", end=1.0), culprit, dataclasses.replace(culprit, id="1-3", blocks=(older,))]
    )
    [stall] = timeline.stalls
    assert stall.lane == (100, 100) and stall.record.id == "1-2"
    assert stall.label == "loop blocked 500 ms by GET /daily at /app/shop.py:57 in render_rows"
    assert 'class="stall"' in svg.render(timeline) and stall.label in svg.render(timeline)
    text = terminal.render(timeline).plain
    assert "loop stalled" in text and stall.label in text


def test_each_pool_has_its_own_curve_and_a_process_pool_counts_its_calls_in_flight() -> None:
    """Hops through anyio, the default executor and a process pool: three curves, each counting
    only its own pool's calls, in the order a hop first named each."""
    two = record("100-1", handler=201, start=0, end=0.3, hops=[(0, 0.2), (0.05, 0.1)])
    default = PoolData("default-executor", 6, 0, 0)
    side = replace(two.hops[1], pool=default, thread=ThreadData("asyncio_0", 202))
    # A process pool's hop: no thread here, no start; in flight from asked for to answered.
    away = replace(
        two.hops[0],
        thread=None,
        called_ns=int(0.1 * NS),
        start_ns=0,
        end_ns=int(0.25 * NS),
        pool=PoolData("processes:1", None, 0, 0, processes=True),
    )
    timeline = build([replace(two, hops=(two.hops[0], side, away))])
    (worker,) = timeline.workers
    assert [p.name for p in worker.pools] == ["anyio", "default-executor", "processes:1"]
    assert [p.busy.peak for p in worker.pools] == [1, 1, 1]
    assert [p.shown_size for p in worker.pools] == ["40", "6", "?"]
    processes = worker.pool("processes:1")
    assert processes.processes and processes.busy.points == (
        (int(0.1 * NS), 1),
        (int(0.25 * NS), 0),
    )
    assert len(timeline.hops) == 2  # anyio's and the default executor's, on their threads
    assert timeline.unstarted == 0  # it ran, in another process: on no lane, not unstarted
    with pytest.raises(KeyError, match="no hop through pool 'asgiref'"):
        worker.pool("asgiref")
