"""Hand-made probe records for the lab's tests, and a check that no server survived."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from asgi_lab.lab.harness import Result
from asgi_lab.records.schema import (
    HandlerData,
    HopData,
    LoopData,
    PoolData,
    RecordData,
    ThreadData,
    ThreadpoolData,
)

NS = 1_000_000_000


def record(
    id: str = "1-1",
    *,
    path: str = "/quick",
    pid: int = 100,
    loop_thread: int = 100,
    handler: int | None = None,
    start: float = 0.0,
    end: float = 0.001,
    wait: float = 0.0,
    hops: Iterable[tuple[float, float]] = (),
) -> RecordData:
    """A probe record made by hand from the schema; times in seconds, stored as nanoseconds."""
    handler = loop_thread if handler is None else handler
    worker = ThreadData("AnyIO worker thread", handler)
    return RecordData(
        id=id,
        method="GET",
        path=path,
        status=200,
        client="127.0.0.1:5000",
        start_ns=int(start * NS),
        response_ns=int(end * NS),
        end_ns=int(end * NS),
        duration_ns=int((end - start) * NS),
        ppid=1,
        pid=pid,
        loop=LoopData(f"{pid}:1", "uvloop", ThreadData("MainThread", loop_thread)),
        handler=HandlerData(worker, handler != loop_thread),
        in_flight=0,
        threadpool=ThreadpoolData(40, 0, 0, int(wait * NS)),
        hops=tuple(
            HopData(
                "sync_sleep",
                True,
                worker,
                int(a * NS),
                int(a * NS),
                int(b * NS),
                0,
                PoolData("anyio", 40, 0, 0),
            )
            for a, b in hops
        ),
        error=None,
    )


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def assert_no_orphans(pids: Iterable[int]) -> None:
    survivors = [pid for pid in pids if alive(pid)]
    assert not survivors, f"server processes still running: {survivors}"


def judged(run: Callable[[], Result], check: Callable[[Result], None] = lambda _: None) -> Result:
    """`run()` an experiment: it leaves no server behind, ends without error, passes `check`, and
    every verdict holds. The box is shared: when only timing verdicts fail, it runs once more
    (tiny scales make fixed costs of a few milliseconds count). A failed count, an error or a
    failed `check` is never retried."""
    for attempt in (1, 2):
        result = run()
        servers = result.servers
        assert_no_orphans(
            [s["pid"] for s in servers] + [p for s in servers for p in s["worker_pids"]]
        )
        assert result.error is None, result.error
        check(result)
        failed = [v for v in result.verdicts if not v.passed]
        assert not [v for v in failed if not v.timing], failed
        if not failed:
            break
        assert attempt == 1, failed
    return result
