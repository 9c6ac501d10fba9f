"""How the watchdog reads its samples, on hand-made stalls: which line is blamed, and when a
stall is starvation rather than a block."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import Any, cast

from asgi_lab.probe.record import Record
from asgi_lab.probe.watchdog import (
    Stall,
    Watchdog,
    _Clocks,
    _reading_before,
    _running_hops,
    _Sample,
    culprit_frame,
)
from asgi_lab.procfs import RunQueueClock
from asgi_lab.records import FrameData


def sample(
    record: object, line: int, at: float = 0.0, *, user: bool = True, top: bool = True
) -> _Sample:
    file = "app.py" if user else None
    return _Sample(at, None, record, file, line, "f", [], user, top)  # type: ignore[arg-type]


def test_the_line_that_held_the_loop_longest_is_blamed_not_the_last() -> None:
    request = object()
    seen = [sample(request, 10, 0.1), sample(request, 10, 0.2), sample(request, 12, 0.3)]
    chosen, lines = Stall(0, 0.0, seen).culprit(end=0.32)
    assert chosen is not None and chosen.line == 10
    assert [(x.frame.line, x.share, x.samples) for x in lines] == [
        (10, 0.938, 2),
        (12, 0.063, 1),
    ]  # 0.30 and 0.02 of 0.32 s


def test_a_sample_stands_for_the_time_until_the_next_not_for_one_tick() -> None:
    # One sample, then the watchdog could not run for 300 ms (a call that held the GIL), then
    # four quick samples on the next line: the long call is the culprit, seen once.
    request = object()
    seen = [sample(request, 10, 0.1)] + [sample(request, 12, 0.4 + i / 100) for i in range(4)]
    chosen, lines = Stall(0, 0.0, seen).culprit(end=0.44)
    assert chosen is not None and chosen.line == 10
    assert lines[0].samples == 1 and lines[0].share > 0.9


def test_the_request_seen_running_longest_is_the_culprit() -> None:
    a, b = object(), object()
    seen = [sample(a, 1, 0.1), sample(b, 2, 0.11), sample(b, 2, 0.12), sample(a, 1, 0.13)]
    chosen, _ = Stall(0, 0.0, seen).culprit(end=0.4)  # a: 0.11 + 0.27; b: 0.02
    assert chosen is not None and chosen.record is a


def clocks(wall: float, loop: float, process: float) -> _Clocks:
    return _Clocks(wall, loop, process)


def test_cpu_on_the_loop_thread_is_a_block_whatever_the_frame() -> None:
    stall = Stall(0, 0.0, [sample(object(), 5, top=False)], clocks(0, 0, 0), clocks(1, 0.9, 1.0))
    assert not stall.starved()


def test_an_idle_loop_thread_while_others_burn_is_starved_unless_stuck_on_a_user_line() -> None:
    preempted = Stall(
        0, 0.0, [sample(object(), 5, top=False)], clocks(0, 0, 0), clocks(1, 0.02, 0.9)
    )
    assert preempted.starved()
    sleeping = Stall(0, 0.0, [sample(object(), 5, top=True)], clocks(0, 0, 0), clocks(1, 0.02, 0.9))
    assert not sleeping.starved()  # time.sleep on a user's line while threads burn: a block


def test_a_user_line_is_no_evidence_when_the_watchdog_itself_waited_for_the_gil() -> None:
    """Seen once on a shared box: the loop thread waited for the GIL at the call on a user's line
    (a middleware's `await self.app(...)`) while eight threads burned, and the watchdog, late by
    more than the threshold itself, sampled it only there."""
    waiting = Stall(
        0,
        0.0,
        [sample(object(), 41, top=True)],
        clocks(0, 0, 0),
        clocks(1, 0.02, 0.9),
        contended=True,
    )
    assert waiting.starved()
    # Without other threads busy, a late watchdog proves nothing: the loop thread's own line
    # holds it (a time.sleep with a slow box around it).
    alone = Stall(
        0, 0.0, [sample(object(), 41, top=True)], clocks(0, 0, 0), clocks(1, 0.02, 0.1), True
    )
    assert not alone.starved()


def test_on_a_loaded_box_threads_running_while_the_loop_thread_does_not_starve_it() -> None:
    """Seen on a shared box: 314 ms, the loop thread at 0 % of a core inside the framework's
    code under a user's middleware, eight burning threads at 27 % (other processes had the
    rest): starved. The same stall with the other threads idle is a block (a blocking call in a
    library, `requests.get` say, made from the user's line)."""
    samples = [sample(object(), 41, top=False), sample(object(), 41, top=False)]
    loaded = Stall(0, 0.0, samples, clocks(0, 0, 0), clocks(0.314, 0.0, 0.085))
    assert loaded.starved()
    idle = Stall(0, 0.0, samples, clocks(0, 0, 0), clocks(0.314, 0.0, 0.01))
    assert not idle.starved()


def test_the_watchdogs_own_sampling_is_not_other_threads_work() -> None:
    """A time.sleep on the loop, sampled every beat on a loaded box (the watchdog late): the
    CPU the process used is the watchdog's own, so nothing starved the loop thread."""
    first, last = _Clocks(0, 0, 0, watchdog=0), _Clocks(0.2, 0.0, 0.05, watchdog=0.05)
    sleeping = Stall(0, 0.0, [sample(object(), 52, top=True)], first, last, contended=True)
    assert sleeping.cpu_shares() == (0.0, 0.0)
    assert not sleeping.starved()


def test_a_starved_stall_names_the_calls_that_ran_in_it_though_done_by_its_end() -> None:
    """The loop settles a stall when it runs again, often after the burners that starved it
    are done: seen as `busy: no threadpool call of a request` in 2 of 80 runs on a loaded box."""

    def hop(call: str, end_ns: int) -> SimpleNamespace:
        return SimpleNamespace(call=call, thread=SimpleNamespace(native_id=7), end_ns=end_ns)

    burner = SimpleNamespace(
        id="1-2", hops=[hop("running", 0), hop("ended-in-it", 150), hop("ended-before", 50)]
    )
    named = _running_hops(cast(list[Record], [burner]), since_ns=100)
    assert named == ["running #7 (1-2)", "ended-in-it #7 (1-2)"]


def held(waited: float, *, early: float = 0.0) -> Stall:
    """A 300 ms stall on a user's line, the loop thread on the CPU a tenth of it, waiting
    `waited` seconds for a core meanwhile (schedstat's run_delay), `early` of them in the
    stall's first 95 ms. As the watchdog sees it: clocks read just before the stall's start
    (`since`), the first 95 ms later, when the loop was still within the threshold."""
    since = _Clocks(-0.002, 0.0, 0.0, waited=1.0)
    first = _Clocks(0.095, 0.01, 0.01, waited=1.0 + early)
    last = _Clocks(0.3, 0.03, 0.03, waited=1.0 + waited)
    return Stall(0, 0.0, [sample(None, 7, 0.1, top=True)], first, last, since=since, last_wait=last)


def attributed(stall: Stall, ms: float = 300.0) -> Watchdog:
    watch = Watchdog("L", block_ms=100)
    watch._attribute(stall, end_ns=int(ms * 1e6), ms=ms, in_flight=[])
    return watch


def test_the_stall_after_its_last_reading_is_taken_to_be_like_what_was_seen() -> None:
    """A process held off the CPU is sampled rarely: a last reading 200 ms before the stall
    ended, 90 % of the stall so far spent waiting for a core. The rest is taken at 90 % too:
    not 200 ms of the line's own, which would be a block."""
    since = _Clocks(0.0, 0.0, 0.0, waited=1.0)
    last = _Clocks(0.4, 0.04, 0.04, waited=1.36)
    stall = Stall(0, 0.0, [sample(None, 7, 0.1, top=True)], last, last, since=since, last_wait=last)
    watch = attributed(stall, ms=600.0)
    assert watch.unclaimed == []
    assert "the loop thread waited about 540 ms for a core" in watch._messages[0]


def test_a_loop_held_off_the_cpu_for_most_of_a_stall_blames_no_line() -> None:
    """A loaded machine or a container's CPU quota: the loop thread was runnable but waited
    250 of 300 ms for a core. Without that wait it would have run 50 ms, under the threshold:
    the line it was preempted on is not a block."""
    watch = attributed(held(0.25, early=0.08))
    assert watch.unclaimed == [], "a held-off stall is nobody's block"
    [message] = watch._messages
    assert "starved 300 ms (held off the CPU: the loop thread waited about 250 ms for a core" in (
        message
    )
    assert "the loop thread waiting for a core 83%]" in message


def test_a_loop_that_ran_past_the_threshold_is_blocked_though_it_also_waited() -> None:
    """Waiting 150 of 300 ms for a core still leaves 150 ms of the line's own: a block (made
    longer by the machine), blamed as before; so is a kernel without schedstat."""
    for stall in (held(0.15), Stall(0, 0.0, [sample(None, 7, 0.01, top=True)])):
        watch = attributed(stall)
        assert [b.line for b in watch.unclaimed] == [7]
        assert "blocked 300 ms by no request at app.py:7" in watch._messages[0]


def test_the_wait_is_counted_from_the_stalls_start_not_from_the_first_sample() -> None:
    """Its own line for the first 110 ms (past the threshold), then 100 ms held off, then 18 ms
    more: a block (the wait is 44 % of what was seen). Counted from the first sample's clocks
    (95 ms in), the wait would be most of what the watchdog saw, and the block excused."""
    since = _Clocks(0.0, 0.0, 0.0, waited=1.0)
    first = _Clocks(0.095, 0.095, 0.095, waited=1.0)
    last = _Clocks(0.228, 0.128, 0.128, waited=1.1)
    stall = Stall(
        0, 0.0, [sample(None, 7, 0.1, top=True)], first, last, since=since, last_wait=last
    )
    watch = attributed(stall, ms=230.0)
    assert [b.line for b in watch.unclaimed] == [7]


def test_the_stall_counts_from_the_latest_reading_at_or_before_its_start() -> None:
    readings = [_Clocks(t, 0.0, 0.0) for t in (0.10, 0.11, 0.12)]
    assert _reading_before(readings, 0.115) is readings[1]
    assert _reading_before(readings, 0.12) is readings[2]
    assert _reading_before(readings, 0.05) is None


def test_the_run_queue_clock_says_nothing_it_cannot_know(tmp_path: Path) -> None:
    clock = RunQueueClock(threading.get_native_id())
    try:
        assert isinstance(clock.read(), float), "this machine's kernel keeps the statistics"
    finally:
        clock.close()
    assert clock.read() is None, "closed"
    assert RunQueueClock(-1).read() is None, "no such thread"
    # A kernel without scheduler statistics shows zeros, though the thread has run.
    zeros = tmp_path / "schedstat"
    zeros.write_text("0 0 0\n")
    clock._fd = os.open(zeros, os.O_RDONLY)
    try:
        assert clock.read() is None
    finally:
        clock.close()


def test_nothing_running_and_no_user_frame_is_starved_without_clocks() -> None:
    stall = Stall(0, 0.0, [_Sample(0.0, None, None, None, 0, "?", [], False, False)])
    assert stall.starved()


def test_the_deepest_user_frame_is_chosen_and_library_frames_skipped() -> None:
    def inner() -> tuple[FrameType | None, list[FrameData]]:
        return culprit_frame(sys._getframe())

    chosen, stack = inner()
    assert chosen is not None and chosen.f_code.co_name == "inner"
    assert stack[-1].function == "inner" and stack[-1].file == __file__
    assert all("site-packages" not in frame.file for frame in stack)


def test_the_watchdog_puts_back_the_task_factory_it_found() -> None:
    made: list[str] = []

    def foreign(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        made.append("foreign")
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(foreign)  # type: ignore[arg-type]
        for _ in range(3):  # probes come and go: factories must not pile up
            watch = Watchdog("7:1", block_ms=100)
            watch.start()
            assert loop.get_task_factory() is not foreign
            await asyncio.create_task(asyncio.sleep(0))  # ours still calls the one it found
            watch.stop()
            assert loop.get_task_factory() is foreign
        assert made == ["foreign"] * 3

        # A factory installed on top of ours stays where its owner put it, and keeps working.
        watch = Watchdog("7:2", block_ms=100)
        watch.start()
        ours = loop.get_task_factory()
        assert ours is not None

        def top(
            loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
        ) -> asyncio.Future[Any]:
            made.append("top")
            return ours(loop, coro, **kwargs)

        loop.set_task_factory(top)  # type: ignore[arg-type]
        watch.stop()
        assert loop.get_task_factory() is top
        await asyncio.create_task(asyncio.sleep(0))
        assert made[-2:] == ["top", "foreign"]
        loop.set_task_factory(None)

    asyncio.run(main())
