"""The loop watchdog: which request blocked the loop, on which line, and who waited for it.

Theory of operation
-------------------
One watchdog per event loop: a heartbeat on the loop and a daemon thread beside it.

- The loop runs `_beat` every `beat` seconds (a `call_later` callback), stamping the time. When
  a handler blocks the loop (`time.sleep`, a sync driver, a CPU loop), no beat runs.
- The thread wakes every `beat` seconds too. When the last beat is older than `block_ms`, the
  loop is stalled: the thread opens a `Stall` and, until the loop comes back, samples the loop
  thread's stack (`sys._current_frames()`) and the task it is running (`asyncio.current_task`),
  which the probe maps to the request it serves (each request's task, and the tasks it creates,
  through the loop's task factory). This works on asyncio and uvloop alike: nothing patches the
  loop's internals.
- The stall is closed on the loop thread, by the next beat or by the first request to finish,
  whichever comes first, so every record is settled before it is written: the culprit gets a
  `blocks` entry (the deepest frame of user code, skipping asyncio, uvloop, uvicorn, starlette,
  anyio, FastAPI, the wrapper and the probe), every other request in flight gets `waited_on`
  (how long it sat through the stall, and for whom). Bystanders are never culprits.
- "Starved" is not "blocked": a loop thread that waits for the GIL held by worker threads (CPU-
  bound `def` endpoints) stalls too, and whatever frame it was preempted in is nobody's fault.
  The thread tells them apart by CPU time over the stall (`time.pthread_getcpuclockid`): the
  loop thread barely ran while the other threads of the process kept a core busy, or the
  samples show no task and no user frame. Then no request is blamed; the requests in flight get
  `waited_on` of kind "starved" naming the threadpool calls running then. A loop thread that
  waits for the GIL on a user's line (at the call into a Python function, say) looks like one
  stuck in a blocking call there; the watchdog thread waits for the GIL too, so when it woke
  later than the threshold during the stall, the line it saw is no evidence of a block.
- "Held off the CPU" is not "blocked" either: on a loaded machine, or in a container that used
  its CPU quota, the whole process waits for a core, and the loop thread is on whatever line it
  was preempted on. Linux counts that wait per thread (`/proc/self/task/TID/schedstat`); when
  the stall minus the loop thread's wait for a core is under the threshold, the loop would not
  have stalled without it, and the stall counts as starved (the report says how long it waited).
- A stall no request was running in (the app's startup, a background task) is kept in
  `unclaimed`, for the probe to write beside the records when the app shuts down.
- On Python 3.14+ (feature-tested: `asyncio.capture_call_graph`), the block also names the tasks
  awaiting the culprit's task (a gather's or a TaskGroup's parent, up to the request's own task):
  captured on the loop thread as the stall is settled, never from the watchdog's thread (the
  call graph walks tasks and coroutines, which asyncio does not make thread-safe, and its
  documentation promises nothing else). So it is the chain as it stands when the loop runs
  again: a culprit task already done has none.

A stall that ends before the thread has sampled it is not reported: the threshold is a floor,
and the watchdog never reports what it did not see. The WARNING line for each stall is logged by
the watchdog's thread (logger `asgi_lab.watchdog`), not on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import sysconfig
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from asgi_lab import procfs
from asgi_lab.probe.faults import fault
from asgi_lab.probe.hook import current_record
from asgi_lab.probe.record import Record
from asgi_lab.records.schema import BlockData, FrameData, LineShareData, WaitData
from asgi_lab.redact import printable

__all__ = ["Stall", "Watchdog", "awaiting_chain", "culprit_frame"]

logger = logging.getLogger("asgi_lab.watchdog")

# Frames of these packages are machinery, never the line to blame.
_MACHINERY = (
    "asyncio",
    "uvloop",
    "uvicorn",
    "starlette",
    "anyio",
    "sniffio",
    "fastapi",
    "h11",
    "httptools",
    "selectors",
    "threading",
    "concurrent",
    "contextlib",
    "asgi_lab.framework",
    "asgi_lab.probe",
)
# Where the standard library and installed packages live: user code is elsewhere.
_LIBRARIES = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)
_STACK_DEPTH = 20
#: Samples kept per stall: at `_STALL_BEAT` apart, two seconds' worth; a longer stall keeps
#: its first ones, each still standing for the time until the next.
_MAX_SAMPLES = 1000
#: How often a stalled loop is sampled: dense enough to place a 20 ms call in a 500 ms stall.
_STALL_BEAT = 0.002
#: How often a stall's samples read the loop thread's wait for a core, at most (seconds).
_READ_WAIT = 0.02
#: The lines a stall report names.
_TOP_LINES = 5
#: Stalls with no request kept per loop: a background task blocking every second stays small.
_MAX_UNCLAIMED = 100
#: Python 3.14's `asyncio.capture_call_graph` (None before): who awaits a task.
_capture_call_graph: Callable[..., Any] | None = getattr(asyncio, "capture_call_graph", None)


def _machinery(frame: FrameType) -> bool:
    module = str(frame.f_globals.get("__name__", ""))
    return any(module == m or module.startswith(m + ".") for m in _MACHINERY)


def _library(frame: FrameType, own: frozenset[str] = frozenset()) -> bool:
    if own and str(frame.f_globals.get("__name__", "")).partition(".")[0] in own:
        return False  # the app's own package, though installed (`Watchdog(own=...)`)
    name = frame.f_code.co_filename
    if name.startswith("<"):  # <frozen runpy>, <string>: nobody's line to fix
        return True
    return str(Path(name).resolve()).startswith(_LIBRARIES) or _main_of_a_library(frame)


def _main_of_a_library(frame: FrameType) -> bool:
    # `python -m uvicorn` runs uvicorn/__main__.py as "__main__": machinery, by its path.
    return (
        frame.f_globals.get("__name__") == "__main__"
        and "site-packages" in frame.f_code.co_filename
    )


def _frame(frame: FrameType) -> FrameData:
    return FrameData(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def culprit_frame(
    top: FrameType | None, own: frozenset[str] = frozenset()
) -> tuple[FrameType | None, list[FrameData]]:
    """The frame to blame in a stack (innermost first from `top`), and the stack leading there.

    The deepest frame of user code (neither machinery nor an installed library, unless its
    top-level package is in `own`); else the deepest frame that is not machinery (a library
    called from nowhere we can see); else None.
    """
    frames = []
    while top is not None:
        frames.append(top)
        top = top.f_back
    ours = [f for f in frames if not _machinery(f)]
    user = [f for f in ours if not _library(f, own)]
    chosen = user[0] if user else (ours[0] if ours else None)
    # The stack a reader wants: their own frames, outermost first, down to the one blamed.
    shown = [f for f in user if f.f_code.co_filename[:1] not in ("<", "")]
    if chosen is not None and chosen not in shown:
        shown.insert(0, chosen)
    return chosen, [_frame(f) for f in reversed(shown)][-_STACK_DEPTH:]


def awaiting_chain(graph: Any, requests: Mapping[Any, str]) -> tuple[str, ...]:
    """The futures awaiting the one of `graph`, nearest first (breadth first, at most
    `_STACK_DEPTH`): each task by name, with the id of the request it serves (`requests`), at the
    line it awaits on (its innermost frame that is not machinery).

    `graph` is shaped as 3.14's `asyncio.FutureCallGraph`: `future`, `call_stack` (entries with
    a `frame`, innermost first) and `awaited_by` (more graphs).
    """
    chain: list[str] = []
    pending = list(graph.awaited_by)
    while pending and len(chain) < _STACK_DEPTH:
        node = pending.pop(0)
        pending.extend(node.awaited_by)
        future = node.future
        name = future.get_name() if isinstance(future, asyncio.Task) else type(future).__name__
        request = requests.get(future)
        who = name if request is None else f"{name} ({request})"
        frames = [entry.frame for entry in node.call_stack]
        shown = [f for f in frames if not _machinery(f)] or frames
        chain.append(f"{who} at {_frame(shown[0]).where()}" if shown else who)
    return tuple(chain)


@dataclass
class _Sample:
    at: float  # monotonic seconds when it was taken
    task: asyncio.Task[Any] | None
    record: Record | None
    file: str | None
    line: int
    function: str
    stack: list[FrameData]
    user: bool  # the frame is the user's own code, not a library's
    top: bool  # ... and the innermost frame of all: the loop is stuck on that very line


@dataclass
class _Clocks:
    """CPU seconds of the loop thread, of the whole process and of the watchdog's own thread,
    and the seconds the loop thread waited for a core (None: not known), at one instant."""

    wall: float
    loop: float
    process: float
    watchdog: float = 0.0
    waited: float | None = None


@dataclass
class Stall:
    """A stall seen by the watchdog thread, closed on the loop thread."""

    start_ns: int  # wall clock of the last beat before it
    start_mono: float
    samples: list[_Sample] = field(default_factory=list)
    first: _Clocks | None = None
    last: _Clocks | None = None
    #: The watchdog thread woke later than the threshold while it sampled: it waited for the
    #: GIL as long as a block lasts, so the process was short of the GIL.
    contended: bool = False
    #: The clocks read at or just before the stall's start: the loop thread's wait for a core
    #: is counted from there (`first` comes up to a threshold later, the loop still in time).
    since: _Clocks | None = None
    #: The latest clocks of the stall with the loop thread's wait for a core read.
    last_wait: _Clocks | None = None

    def cpu_shares(self) -> tuple[float, float] | None:
        """Share of a core the loop thread and the other threads used between the first and
        the last sample; None with fewer than two samples. The watchdog's own sampling is not
        counted among the others: it is no request's work."""
        if self.first is None or self.last is None or self.last.wall <= self.first.wall:
            return None
        wall = self.last.wall - self.first.wall
        loop = self.last.loop - self.first.loop
        watchdog = self.last.watchdog - self.first.watchdog
        others = (self.last.process - self.first.process) - loop - watchdog
        return loop / wall, max(others, 0.0) / wall

    def held_off(self) -> float | None:
        """Share of the stall the loop thread was runnable but waited for a core, as seen from
        the stall's start to its latest sample that read it; None where the kernel does not
        say. (The rest of the stall, after that sample, is taken to be like what was seen.)"""
        since, last = self.since, self.last_wait
        if since is None or last is None or since.waited is None or last.waited is None:
            return None
        seen = last.wall - self.start_mono
        if seen <= 0:
            return None
        # `since` may precede the start by a beat: no more than the stall seen is counted.
        return min(max(last.waited - since.waited, 0.0) / seen, 1.0)

    def weighted(self, end: float) -> list[tuple[_Sample, float]]:
        """Each sample with the seconds it stands for: until the next sample (or the stall's
        end), the first also for the unseen start of the stall. A sample that waited for the
        GIL still stands for the whole gap, so a long call that held it is not under-counted."""
        out = []
        samples = self.samples
        for i, sample in enumerate(samples):
            until = samples[i + 1].at if i + 1 < len(samples) else end
            seconds = until - sample.at + (sample.at - self.start_mono if i == 0 else 0.0)
            out.append((sample, max(seconds, 0.0)))
        return out

    def culprit(self, end: float) -> tuple[_Sample | None, list[LineShareData]]:
        """The request seen running for the most time, at the line it spent the most time on
        (with every line's share of the stall); else the user's line seen the longest."""
        weighted = self.weighted(end)
        by_request: defaultdict[int, float] = defaultdict(float)
        for sample, seconds in weighted:
            if sample.record is not None:
                by_request[id(sample.record)] += seconds
        if by_request:
            most = max(by_request, key=by_request.__getitem__)
            mine = [(s, w) for s, w in weighted if id(s.record) == most]
        else:
            mine = [(s, w) for s, w in weighted if s.user]
        return _longest_line(mine, end - self.start_mono)

    def suspect(self) -> tuple[Record | None, FrameData | None]:
        """The request and the line of the latest sample: who holds the loop right now, as the
        live page shows a stall while it lasts (the culprit is settled when it ends)."""
        samples = self.samples
        if not samples:
            return None, None
        last = samples[-1]
        line = FrameData(last.file, last.line, last.function) if last.file is not None else None
        return last.record, line

    def starved(self) -> bool:
        """The loop thread could not run: it waited for the GIL or a core, not on a line of
        the user's.

        A loop thread busy on the CPU (half a core or more) is blocked by what it runs. One
        that barely ran while other threads kept a core busy waited for the GIL, unless every
        sample shows it stuck on a user's line (a blocking call made from user code) and the
        watchdog itself got the GIL on time (else waiting for it on that line looks the same).
        On a loaded box the process gets less than a core: other threads that ran a tenth of
        one while the loop thread ran next to nothing held the GIL too. And when no sample
        shows a task or a user frame, nobody's code held it.
        """
        shares = self.cpu_shares()
        if shares is not None:
            loop, others = shares
            if loop >= 0.5:
                return False
            stuck = all(s.top for s in self.samples) and not self.contended
            busy = others > 0.3 or (loop < 0.05 and others > 0.1)
            if busy and not stuck:
                return True
        return all(s.task is None and not s.user for s in self.samples)


class Watchdog:
    """Watches one loop; start it on the loop's thread."""

    def __init__(
        self, loop_id: str, *, block_ms: float = 100.0, own: frozenset[str] = frozenset()
    ) -> None:
        """`own`: top-level packages whose frames are the app's own code even when installed
        (an app run from site-packages, such as `pip install`ed LNbits, is all "library")."""
        if not block_ms > 0:
            raise ValueError(f"block_ms must be a number above 0, got {block_ms!r}")
        self.loop_id = loop_id
        self.block_ms = block_ms
        self.own = own
        #: Heartbeat period: a tenth of the threshold, at most 10 ms (the timing error bound).
        self.beat = min(block_ms / 10_000, 0.01)
        #: The request each task serves (request tasks and the tasks they create).
        self.requests: dict[asyncio.Task[Any], Record] = {}
        self.stall: Stall | None = None
        #: Stalls no request was running in (a startup's, a background task's), in order.
        self.unclaimed: list[BlockData] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_ident = 0
        self._native_id = 0  # the loop thread's id for the kernel (its /proc/self/task entry)
        self._run_queue: procfs.RunQueueClock | None = None  # the watchdog thread's
        #: The clocks of the latest wakes that found the loop in time, enough to reach back
        #: past a stall's start when it is seen (a threshold of wakes, and two more).
        self._recent: deque[_Clocks] = deque(maxlen=int(block_ms / 1000 / self.beat) + 2)
        self._last_mono = time.monotonic()
        self._last_ns = time.time_ns()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._handle: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._messages: deque[str] = deque()
        # The loop's task factory before ours, and ours: put back on stop when ours is on top.
        self._previous_factory: Any = None
        self._factory: Any = None

    @property
    def last_beat(self) -> float:
        """When the loop last ran the heartbeat (`time.monotonic()`); read from any thread."""
        return self._last_mono

    # On the loop thread.

    def start(self) -> None:
        """Begin the heartbeat and the watching thread; on the loop's own thread."""
        if self._thread is not None:
            return
        loop = self._loop = asyncio.get_running_loop()
        self._thread_ident = threading.get_ident()
        self._native_id = threading.get_native_id()
        self._install_task_factory(loop)
        self._beat()
        self._thread = threading.Thread(target=self._watch, name="asgi-lab-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the heartbeat and the thread, and put back the loop's task factory when ours is
        still the one installed (on the loop thread)."""
        if self._handle is not None:
            self._handle.cancel()
        self._stop.set()
        loop = self._loop
        if loop is not None and self._factory is not None and not loop.is_closed():
            if loop.get_task_factory() is self._factory:
                loop.set_task_factory(self._previous_factory)
            # Another factory went on top of ours and still calls it: ours stays in its chain,
            # passing every task through now that nobody reads what it notes.
            self.requests.clear()
            self._factory = None
        if self._thread is not None:
            self._thread.join(1.0)
        self._flush_messages()

    def _install_task_factory(self, loop: asyncio.AbstractEventLoop) -> None:
        # Tasks a request creates (a streaming body in a task group, a gather) serve it too.
        # The factory runs in the creating task's context, so the probe's context variable says
        # which request that is: one lookup, and nothing more for tasks no request made.
        previous = loop.get_task_factory()
        requests = self.requests
        forget = _forget(requests)
        stopped = self._stop

        def factory(
            loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
        ) -> asyncio.Future[Any]:
            if previous is not None:
                task = previous(loop, coro, **kwargs)
            else:
                task = asyncio.Task(coro, loop=loop, **kwargs)
            record = current_record.get()
            if record is not None and isinstance(task, asyncio.Task) and not stopped.is_set():
                requests[task] = record
                task.add_done_callback(forget)
            return task

        loop.set_task_factory(factory)  # type: ignore[arg-type]
        self._previous_factory, self._factory = previous, factory

    def _beat(self) -> None:
        if self.stall is not None:
            self.settle()
        with self._lock:
            self._last_mono = time.monotonic()
            self._last_ns = time.time_ns()
        loop = self._loop
        if loop is not None and not self._stop.is_set():
            self._handle = loop.call_later(self.beat, self._beat)

    def settle(self) -> None:
        """Close the open stall, if any: the loop is running again. On the loop thread."""
        with self._lock:
            stall, self.stall = self.stall, None
            # The loop is alive: a stall the thread sees from now on is a new one.
            self._last_mono = time.monotonic()
            self._last_ns = time.time_ns()
        if stall is None:
            return
        end_ns = time.time_ns()
        ms = (time.monotonic() - stall.start_mono) * 1000
        self._attribute(stall, end_ns, ms, set(self.requests.values()))

    def _attribute(self, stall: Stall, end_ns: int, ms: float, in_flight: Iterable[Record]) -> None:
        culprit, lines = stall.culprit(stall.start_mono + ms / 1000)
        held = stall.held_off()
        waited_ms = None if held is None else held * ms
        # Runnable but kept off the CPU for so long that the loop would not have stalled past
        # the threshold without that wait: the line it was on is not to blame.
        off_cpu = waited_ms is not None and ms - waited_ms < self.block_ms
        starved = off_cpu or stall.starved()
        blamed = culprit.record if culprit is not None and not starved else None
        chain = self._awaited_by(culprit.task) if blamed is not None and culprit is not None else ()
        running = [] if not starved else _running_hops(in_flight, stall.start_ns)
        block = None
        if culprit is not None:
            block = BlockData(
                round(ms, 3),
                culprit.file or "?",
                culprit.line,
                culprit.function,
                tuple(culprit.stack),
                "blocked",
                stall.start_ns,
                tuple(lines),
                len(stall.samples),
                chain,
            )
        if blamed is None and not starved and block is not None and block.file != "?":
            # No request to carry it (the app's startup, a background task): kept apart.
            if len(self.unclaimed) < _MAX_UNCLAIMED:
                self.unclaimed.append(block)
        for record in in_flight:
            if record is blamed and block is not None:
                record.add_block(block)
                continue
            since = max(stall.start_ns, record.start_ns)
            overlap = (end_ns - since) / 1e6
            if overlap <= 0:
                continue
            record.add_wait(
                WaitData(
                    None if blamed is None else blamed.id,
                    round(min(overlap, ms), 3),
                    "starved" if starved else "blocked",
                    tuple(running),
                    max(since, end_ns - int(ms * 1e6)),
                )
            )
        message = _describe(
            self.loop_id, ms, culprit, blamed, starved, running, waited_ms if off_cpu else None
        )
        if lines and not starved:
            spent = "; ".join(f"{x.frame.where()} {x.share:.0%}" for x in lines[:3])
            message += f" (of the stall: {spent}; {len(stall.samples)} samples)"
        if chain:
            message += f"; awaited by {' <- '.join(chain)}"
        shares = stall.cpu_shares()
        if shares is not None:
            cpu = f"loop thread {shares[0]:.0%}, other threads {shares[1]:.0%}"
            if waited_ms is not None:
                cpu += f", the loop thread waiting for a core {waited_ms / ms:.0%}"
            message += f" [cpu: {cpu}]"
        self._messages.append(printable(message))

    def _awaited_by(self, task: asyncio.Task[Any] | None) -> tuple[str, ...]:
        """Who awaits the culprit's `task` (Python 3.14+), on the loop thread; () before 3.14."""
        if _capture_call_graph is None or task is None or task.done():
            return ()
        try:
            # Only its `awaited_by` is read: when the stall is settled from inside the culprit's
            # own task, its `call_stack` would be the settling code's, not the blocked line's.
            graph = _capture_call_graph(task, limit=_STACK_DEPTH)
            if graph is None:
                return ()
            requests = {t: r.id for t, r in self.requests.items()}
            return awaiting_chain(graph, requests)
        except Exception as exc:  # an observer never fails what it observes
            fault("watchdog call graph", exc)
            return ()

    # On the watchdog thread.

    def _watch(self) -> None:
        self._run_queue = procfs.RunQueueClock(self._native_id)
        try:
            self._watching()
        finally:
            self._run_queue.close()

    def _watching(self) -> None:
        # The CPU clocks at the last wake that found the loop well: a stall's CPU shares are
        # counted from there, so even a stall sampled once can tell blocked from starved.
        quiet = self._clocks()
        loop = self._loop
        asked = time.monotonic()
        wait = self.beat
        while not self._stop.wait(wait):
            # How much later than asked this thread runs: its own wait for the GIL.
            woke = time.monotonic()
            late_ms, asked = (woke - asked - wait) * 1000, woke
            # A stalled loop is sampled densely (see `_STALL_BEAT`), a healthy one at the beat.
            wait = self.beat if self.stall is None else _STALL_BEAT
            if loop is None or loop.is_closed():
                break  # the loop is gone (a test's loop, a finished asyncio.run): so are we
            if not loop.is_running():
                continue
            lag_ms = (woke - self._last_mono) * 1000
            if lag_ms >= self.block_ms:
                self._sample(quiet, contended=late_ms >= self.block_ms)
            else:
                quiet = self._clocks()
                if quiet is not None:
                    self._recent.append(quiet)
            self._flush_messages()

    def _sample(self, quiet: _Clocks | None, *, contended: bool = False) -> None:
        loop = self._loop
        frame = sys._current_frames().get(self._thread_ident)
        task = asyncio.current_task(loop) if loop is not None else None
        chosen, stack = culprit_frame(frame, self.own)
        sample = _Sample(
            time.monotonic(),
            task,
            self.requests.get(task) if task is not None else None,
            chosen.f_code.co_filename if chosen is not None else None,
            chosen.f_lineno if chosen is not None else 0,
            chosen.f_code.co_name if chosen is not None else "?",
            stack,
            chosen is not None and not _library(chosen, self.own),
            chosen is not None and chosen is frame,
        )
        # The wait for a core is read on a stall's first sample and then every `_READ_WAIT`
        # at most: each read lets go of the GIL, and a thread that takes it meanwhile delays the
        # next sample (samples far apart, as in a process held off the CPU, each read it).
        stall = self.stall
        latest = stall.last_wait if stall is not None else None
        read = latest is None or time.monotonic() - latest.wall >= _READ_WAIT
        clocks = self._clocks(waited=read)
        with self._lock:
            if (time.monotonic() - self._last_mono) * 1000 < self.block_ms:
                return  # the loop came back while we looked
            if self.stall is None:
                since = _reading_before(self._recent, self._last_mono)
                self.stall = Stall(
                    self._last_ns, self._last_mono, first=quiet or clocks, since=since
                )
            if len(self.stall.samples) < _MAX_SAMPLES:  # a stall of minutes stays small
                self.stall.samples.append(sample)
            self.stall.last = clocks
            if clocks is not None and clocks.waited is not None:
                self.stall.last_wait = clocks
            self.stall.contended |= contended

    def _clocks(self, *, waited: bool = True) -> _Clocks | None:
        try:
            loop_cpu = time.clock_gettime(time.pthread_getcpuclockid(self._thread_ident))
        except (OSError, AttributeError):  # not on this platform, or the thread is gone
            return None
        # Called on the watchdog's thread: thread_time() is its own CPU.
        run_queue = self._run_queue if waited else None
        wait = run_queue.read() if run_queue is not None else None
        return _Clocks(time.monotonic(), loop_cpu, time.process_time(), time.thread_time(), wait)

    def _flush_messages(self) -> None:
        while self._messages:
            logger.warning(self._messages.popleft())


def _reading_before(readings: Iterable[_Clocks], start: float) -> _Clocks | None:
    """The latest of `readings` taken at or before `start` (monotonic seconds), if any."""
    before = None
    for reading in readings:
        if reading.wall <= start:
            before = reading
    return before


def _longest_line(
    weighted: list[tuple[_Sample, float]], stall_seconds: float
) -> tuple[_Sample | None, list[LineShareData]]:
    """The first sample at the line that stood for the most time, and the lines longest first
    with their share of the stall and how many samples saw each."""
    if not weighted:
        return None, []
    seconds: defaultdict[tuple[str | None, int], float] = defaultdict(float)
    seen: Counter[tuple[str | None, int]] = Counter()
    first: dict[tuple[str | None, int], _Sample] = {}
    for sample, weight in weighted:
        key = (sample.file, sample.line)
        seconds[key] += weight
        seen[key] += 1
        first.setdefault(key, sample)
    ranked = sorted(seconds, key=lambda k: -seconds[k])
    total = max(stall_seconds, sum(seconds.values()), 1e-9)
    lines = [
        LineShareData(
            FrameData(first[k].file or "?", first[k].line, first[k].function),
            round(seconds[k] / total, 3),
            seen[k],
        )
        for k in ranked[:_TOP_LINES]
    ]
    return first[ranked[0]], lines


def _forget(requests: dict[asyncio.Task[Any], Record]) -> Callable[[asyncio.Future[Any]], None]:
    def done(task: asyncio.Future[Any]) -> None:
        requests.pop(task, None)  # type: ignore[call-overload]

    return done


def _running_hops(records: Iterable[Record], since_ns: int) -> list[str]:
    """The threadpool calls that ran during a stall begun at `since_ns` (wall clock), named
    `call #tid (request)`: those still running, and those that ended after it began (the
    burner that starved the loop may be done by the time the loop settles the stall)."""
    return [
        f"{h.call} #{h.thread.native_id} ({r.id})"
        for r in records
        for h in r.hops
        if h.thread is not None and (not h.end_ns or h.end_ns > since_ns)
    ]


def _describe(
    loop_id: str,
    ms: float,
    culprit: _Sample | None,
    blamed: Record | None,
    starved: bool,
    running: list[str],
    waited_ms: float | None = None,
) -> str:
    if starved:
        busy = ", ".join(running[:5]) or "no threadpool call of a request"
        why = "the loop thread could not run"
        if waited_ms is not None:
            why = f"held off the CPU: the loop thread waited about {waited_ms:.0f} ms for a core"
        return f"loop {loop_id} starved {ms:.0f} ms ({why}; busy: {busy})"
    who = f"{blamed.method} {blamed.path} ({blamed.id})" if blamed is not None else "no request"
    where = ""
    if culprit is not None and culprit.file is not None:
        where = f" at {FrameData(culprit.file, culprit.line, culprit.function).where()}"
    return f"loop {loop_id} blocked {ms:.0f} ms by {who}{where}"
