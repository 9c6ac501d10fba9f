"""sizing-tokens, sizing-pool, sizing-workers: three sizing rules, each beside the run it checks.

- tokens ≈ arrival rate × blocking seconds per request (Little's law), and a burst of N on T
  tokens takes ceil(N/T) waves, the last one a tail that leaves tokens idle;
- pool ≥ tokens × connections held per request, and every worker opens its own: the database
  sees workers × (pool + overflow), plus each thread's own connection where threads keep one;
- workers ≈ cores for CPU-bound work, bounded by memory: each worker is a whole interpreter.

Each prints the rule's prediction beside the measured figure; the verdicts judge the rules with
generous margins, since the point is the rule, not the machine's speed.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asgi_lab.burn import loops_per_ms
from asgi_lab.lab.clients import AsyncClient, Reply, pin_connections
from asgi_lab.lab.cpu import CpuMeter, cores
from asgi_lab.lab.experiments.threadpool import SECOND_TRIP_LAYERS, concurrent
from asgi_lab.lab.footprint import memory_available, open_files, rss
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.observed import hop_intervals, max_in_flight, per_worker
from asgi_lab.lab.queueing import finish_times
from asgi_lab.lab.verdicts import at_least, at_most, exactly, near
from asgi_lab.records.schema import RecordData
from asgi_lab.settings import Settings

__all__ = ["pool", "tokens", "workers"]

CHAPTER = "17-sizing"
#: The threadpool a burst meets, and a burst that is not a multiple of it: a tail of 2.
TOKENS = 4
BURST = 10
SECONDS = 0.5
#: A steady stream: requests arriving at NEEDED / S a second, each blocking S, keep NEEDED
#: tokens busy on average. ROOM tokens are plenty; SHORT are too few.
NEEDED = 4
ROOM = 8
SHORT = 2
STREAM = 24
#: Generous margins: a rule is a rule of thumb, and the box is shared.
MARGIN = 1.25

MIB = 1024 * 1024


async def stream(url: str, path: str, n: int, interval: float) -> list[Reply]:
    """`n` requests, one every `interval` seconds, on connections opened beforehand."""
    async with AsyncClient(url) as client:
        await asyncio.gather(*(client.get("/quick") for _ in range(n)))  # open n connections
        sent: list[asyncio.Task[Reply]] = []
        for _ in range(n):
            sent.append(asyncio.create_task(client.get(path)))
            await asyncio.sleep(interval)
        return list(await asyncio.gather(*sent))


def busy_between(records: Sequence[RecordData], start_ns: int, end_ns: int) -> float:
    """Threads busy on average from `start_ns` to `end_ns`: the hops' overlap with it."""
    overlap = sum(
        max(0, min(end, end_ns) - max(begin, start_ns)) for begin, end in hop_intervals(records)
    )
    return overlap / (end_ns - start_ns)


@experiment(
    "sizing-tokens",
    title="tokens = arrival rate x blocking seconds; a burst of N on T tokens: ceil(N/T) waves",
    chapter=CHAPTER,
    tiny_scale=0.6,
    tour_scale=0.6,
)
def tokens(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    path = f"/sync/sleep?seconds={secs:g}"
    phase = f"burst, threads={TOKENS}"
    with ctx.server(phase, threads=TOKENS) as server:
        ctx.step(f"{phase}: {BURST} concurrent GET {path}")
        elapsed, _ = asyncio.run(concurrent(server.url, path, BURST))
    waves = math.ceil(BURST / TOKENS)
    ctx.check(
        near(
            f"{phase}: {BURST} sleeps of S take ceil(N/T) x S",
            elapsed,
            waves * secs,
            tolerance=MARGIN,
            note=f"ceil({BURST}/{TOKENS}) x {secs:g} s",
        )
    )
    # A request of the last wave waited for every wave before it: (waves - 1) x S.
    last_wave = [r for r in ctx.records(phase, "/sync/sleep") if r.wait_s > (waves - 1.5) * secs]
    tail = BURST - (waves - 1) * TOKENS
    ctx.check(exactly(f"{phase}: the tail, requests in the last wave", len(last_wave), tail))
    ctx.fact(
        f"{phase}: the tail",
        f"{tail} requests on {TOKENS} tokens: {TOKENS - tail} idle for the last {secs:g} s",
    )

    rate = NEEDED / secs
    jobs = [secs, 0.0] if ctx.layer in SECOND_TRIP_LAYERS else [secs]
    for threads in (ROOM, SHORT):
        phase = f"stream, threads={threads}"
        with ctx.server(phase, threads=threads) as server:
            ctx.step(f"{phase}: {STREAM} GET {path}, {rate:g} a second")
            asyncio.run(stream(server.url, path, STREAM, 1 / rate))
        records = sorted(ctx.records(phase, "/sync/sleep"), key=lambda r: r.start_ns)
        first, last = records[0].start_ns, records[-1].start_ns
        if threads >= NEEDED:
            # Once the first requests have ended, arrivals and departures balance: Little's law.
            steady = busy_between(records, first + int(secs * 1e9), last)
            ctx.check(
                near(
                    f"{phase}: busy on average = rate x S",
                    steady,
                    rate * secs,
                    "",
                    tolerance=MARGIN,
                    note=f"{rate:.3g}/s x {secs:g} s",
                )
            )
            peak = max_in_flight(hop_intervals(records))
            ctx.fact(f"{phase}: busy at most at once", f"{peak} of {threads} threads")
        else:
            # Too few: the queue grows by rate - T/S a second; anyio's FIFO replayed on the
            # measured arrivals predicts the last request's wait.
            arrivals = [(r.start_ns - first) / 1e9 for r in records]
            done = finish_times(arrivals, jobs, threads)
            predicted = done[-1] - arrivals[-1] - sum(jobs)
            ctx.check(
                near(
                    f"{phase}: last one's token wait",
                    records[-1].wait_s,
                    predicted,
                    tolerance=MARGIN,
                    note=f"queue grows {rate - threads / secs:.3g}/s",
                )
            )
            waits = " ".join(f"{r.wait_s * 1e3:.0f}" for r in records[:: STREAM // 6])
            ctx.fact(f"{phase}: token waits, every {STREAM // 6}th (ms)", waits)


DB_APP = "asgi_lab.lab.apps.db:app"
DB_WORKERS = 2


async def hold_connections(
    url: str, secs: float, kinds: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """On every worker at once, for each of `kinds`: TOKENS requests to `/db/<kind>`, then each
    worker's stats; each worker's TOKENS requests run on TOKENS connections pinned to it."""
    pinned = await pin_connections(url, DB_WORKERS, TOKENS, path="/db/stats")
    out: dict[int, dict[str, Any]] = {}
    try:
        for kind in kinds:
            replies = await asyncio.gather(
                *(c.get(f"/db/{kind}?seconds={secs:g}") for cs in pinned.values() for c in cs)
            )
            for reply in replies:
                out.setdefault(reply.pid, {}).setdefault(kind, []).append(reply)
        for pid, clients in pinned.items():
            out[pid]["stats"] = (await clients[0].get("/db/stats")).body
    finally:
        for clients in pinned.values():
            for client in clients:
                await client.aclose()
    return out


@experiment(
    "sizing-pool",
    title="pool >= tokens x connections per request; the database sees workers x every one",
    chapter=CHAPTER,
    tiny_scale=0.6,
    serves="its own SQLite app (Layer 0)",
)
def pool(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    size = TOKENS * 1  # each request holds one connection
    small = size // 2
    ctx.fact("app", f"{DB_APP} (its own app: --layer does not apply)")
    out: dict[int, dict[int, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="asgi-lab-db-") as tmp:
        db = str(Path(tmp) / "lab.sqlite3")
        for pooled in (size, small):
            phase = f"workers={DB_WORKERS}, pool={pooled}"
            kinds = ("thread-local", "pool") if pooled == size else ("pool",)
            settings = Settings(threads=TOKENS, db=db, db_pool=pooled)
            with ctx.server(phase, DB_APP, workers=DB_WORKERS, settings=settings) as server:
                ctx.step(f"{phase}: {TOKENS} requests per worker to " + ", then ".join(kinds))
                out[pooled] = asyncio.run(hold_connections(server.url, secs, kinds))
                if pooled == size:
                    # While they are still open: the kernel's count, a descriptor a connection.
                    files = {pid: open_files(pid, db) for pid in sorted(server.worker_pids)}
    expected = 1 + TOKENS + size  # the loop's own, one per thread, the pool
    ctx.check(exactly("workers that opened connections", len(files), DB_WORKERS))
    for pid, seen in sorted(out[size].items()):
        ctx.check(
            exactly(
                f"pid {pid}: thread-local connections (one per thread)",
                seen["stats"]["local_connections"],
                TOKENS,
            )
        )
    # At least: what the rule counts is what max_connections must cover. (With two workers
    # the kernel has shown one descriptor more per worker than the app accounts for, not
    # explained yet: see the changelog's "Known".)
    ctx.check(
        at_least(
            "connections on the database, every worker (/proc), at least",
            sum(files.values()),
            DB_WORKERS * expected,
            "",
            tolerance=1.0,
            note=f"{DB_WORKERS} x (1 + {TOKENS} + {size})",
        )
    )
    for pooled in (size, small):
        waits = sorted(r.body["pool_wait"] for seen in out[pooled].values() for r in seen["pool"])
        queued = [w for w in waits if w > secs / 2]
        relation = "=" if pooled == size else "<"
        ctx.check(
            exactly(
                f"pool={pooled} {relation} tokens x 1: requests that queued for one",
                len(queued),
                DB_WORKERS * (TOKENS - pooled),
                note=f"{DB_WORKERS} x ({TOKENS} - {pooled})",
            )
        )
        ctx.fact(
            f"pool={pooled}: waits for a connection (ms)", " ".join(f"{w * 1e3:.0f}" for w in waits)
        )
    for pid, count in files.items():
        ctx.fact(
            f"pid {pid}: connections (/proc)",
            f"{count} = 1 loop's + {TOKENS} threads' + {size} pooled",
        )
    limit = 100  # PostgreSQL's default max_connections
    ctx.fact(
        "workers x (pool + overflow) <= max_connections",
        f"{DB_WORKERS} x ({size} + 0) = {DB_WORKERS * size} pooled here; at 100 (PostgreSQL's "
        f"default) at most {limit // expected} workers holding {expected} each",
    )


#: Worker counts to run, the same app each time: up to twice this machine's two cores.
WORKER_COUNTS = (1, 2, 3, 4)
#: Bounded load: this many requests per worker count, CONNECTIONS at a time.
REQUESTS = 100
CONNECTIONS = 8
MILLISECONDS = 20


async def load(url: str, path: str, n: int, connections: int) -> tuple[float, list[Reply]]:
    """`n` requests, `connections` at a time, each on a fresh connection.

    Fresh: a worker busy burning CPU is not accepting, so the next connection goes to an idle
    one; kept-alive connections would stay with whichever worker won them first.
    """
    gate = asyncio.Semaphore(connections)
    async with AsyncClient(url, fresh=True) as client:

        async def one() -> Reply:
            async with gate:
                return await client.get(path)

        started = time.perf_counter()
        replies = await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - started, list(replies)


@experiment(
    "sizing-workers",
    title="workers = cores for CPU-bound work, bounded by memory: 1 to 4 workers, req/s and RSS",
    chapter=CHAPTER,
    tiny_scale=0.5,
)
def workers(ctx: Context) -> None:
    ms = max(10, round(MILLISECONDS * ctx.scale))
    # The loop runs the work itself (async def): a busy worker accepts nothing until it is done.
    path = f"/async/cpu?ms={ms}"
    same_work = Settings(loops_per_ms=round(loops_per_ms(), 3))
    rates: dict[int, float] = {}
    memory: dict[int, list[int]] = {}
    meters: dict[int, CpuMeter] = {}

    def per_core(count: int) -> float:
        return rates[count] / max(meters[count].cores_used, 1e-9)

    for count in WORKER_COUNTS:
        phase = f"workers={count}"
        with ctx.server(phase, workers=count, settings=same_work) as server:
            ctx.step(f"{phase}: {REQUESTS} GET {path}, {CONNECTIONS} at a time")
            pids = sorted(server.worker_pids)
            with CpuMeter(pids) as meters[count]:
                elapsed, replies = asyncio.run(load(server.url, path, REQUESTS, CONNECTIONS))
            memory[count] = [rss(pid) for pid in pids]
        rates[count] = REQUESTS / elapsed
        split = "/".join(map(str, per_worker(replies, pids).values()))
        ctx.fact(
            f"{phase}: req/s; cores busy",
            f"{rates[count]:.0f} req/s; {meters[count].cores_used:.2f} of "
            f"{meters[count].free_cores:.2f} free = {per_core(count):.0f} req/s a busy core; "
            f"served {split}",
        )
        ctx.fact(
            f"{phase}: RSS per worker (MiB)",
            ", ".join(f"{m / MIB:.0f}" for m in memory[count])
            + f"; {sum(memory[count]) / MIB:.0f} in all",
        )
    usable = cores()
    ranking = sorted(rates, key=rates.__getitem__, reverse=True)
    ctx.fact(f"req/s ranking ({usable} cores)", " > ".join(f"{w} workers" for w in ranking))
    # The rule predicts req/s in proportion to the cores the workers can have: min(W, cores),
    # of which the machine's other processes leave only `free_cores`.
    one, two = meters[1], meters[2]
    predicted = min(2.0, two.free_cores) / min(1.0, one.free_cores)
    ctx.check(
        at_least(
            "2 workers over 1: req/s speed-up",
            rates[2] / rates[1],
            predicted,
            "x",
            tolerance=1.6,
            note=f"min(2, {two.free_cores:.2f} free cores) / min(1, {one.free_cores:.2f})",
        )
    )
    for count in WORKER_COUNTS[1:]:
        # What a worker adds is a core: per busy core, every count serves alike.
        ctx.check(
            near(
                f"{count} workers: req/s a busy core, over 1 worker's",
                per_core(count) / per_core(1),
                1.0,
                "x",
                tolerance=MARGIN,
            )
        )
    for count in [w for w in WORKER_COUNTS if w > usable]:
        ctx.check(
            at_most(
                f"{count} workers: cores they kept busy, at most {usable}",
                meters[count].cores_used,
                usable,
                "",
                note="more workers than cores: no more CPU",
            )
        )
    first, most = WORKER_COUNTS[0], WORKER_COUNTS[-1]
    ctx.check(
        at_least(
            f"RSS, {most} workers over {first}: an interpreter each",
            sum(memory[most]) / sum(memory[first]),
            most / first,
            "x",
            tolerance=MARGIN,
        )
    )
    per = max(m for each in memory.values() for m in each)
    available = memory_available()
    ctx.fact(
        "memory bound",
        f"{available / MIB:.0f} MiB available / {per / MIB:.0f} MiB per worker = "
        f"{available // per} workers; cores say {usable}",
    )
