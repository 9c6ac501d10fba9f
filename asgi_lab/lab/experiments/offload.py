"""offload: the same blocking call sent off the loop by each road, and how many run at once.

An `async def` endpoint (app: `asgi_lab.lab.apps.offload`) sends a sleep of S seconds away by
anyio's threadpool (40 tokens), by `asyncio.to_thread` (the loop's default executor,
`min(32, cpus + 4)` threads) or to an own `ThreadPoolExecutor(4)`. N = twice the default
executor's size of them at once take ceil(N / slots) waves of S: one on anyio, two on the
default executor, more on the own pool. Every figure is read from the records: each hop names
its pool and size, its thread, its wait (`queued_ns`), and when it was asked for and ended.

Then pure-Python work: 2P jobs on the pool of 4 threads all run at once and still keep one core
busy (the GIL); on a `ProcessPoolExecutor` of P processes they take turns on P cores, so
processes beat threads by up to P, as far as the cores other processes leave free allow.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from asgi_lab.burn import loops_per_ms
from asgi_lab.lab.apps.offload import PROCESSES, THREADS
from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.lab.cpu import CpuMeter
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.observed import hop_intervals, max_in_flight
from asgi_lab.lab.verdicts import at_least, at_most, exactly, waves
from asgi_lab.probe.pools import default_size
from asgi_lab.records.schema import HopData
from asgi_lab.settings import Settings

__all__ = ["run"]

APP = "asgi_lab.lab.apps.offload:app"
SECONDS = 1.0
MILLISECONDS = 300
TRIALS = 2
#: Seconds of the warm-up sleeps: long enough that every thread of a pool is started.
WARM = 0.05
#: As in the gil experiment: a virtual CPU is not a dedicated core (both busy, the same work
#: takes ~5-15 % longer), so processes are held to their speed-up with this slack. The claim
#: stays sharp: threads give ~1x, and 1.4 is far from it.
PARALLEL_TOLERANCE = 1.4


@dataclass(frozen=True)
class Road:
    """One road off the loop: its label, the endpoint that takes it, the pool it should name."""

    label: str
    path: str
    pool: str
    #: Its slots when the records cannot tell (a `ThreadPoolExecutor` hides `max_workers`).
    known_size: int | None = None


ROADS = (
    Road("anyio.to_thread", "/offload/sleep/anyio", "anyio"),
    Road("asyncio.to_thread", "/offload/sleep/to-thread", "default-executor"),
    Road(f"ThreadPoolExecutor({THREADS})", "/offload/sleep/executor", "executor:offload", THREADS),
)


Burst = tuple[float, list[Reply]]


async def burst(client: AsyncClient, path: str, n: int) -> Burst:
    started = time.perf_counter()
    replies = await asyncio.gather(*(client.get(path) for _ in range(n)))
    return time.perf_counter() - started, list(replies)


async def sleeps(url: str, n: int, secs: float) -> dict[str, Burst]:
    """`n` sleeps at once by each road in turn, on `n` connections opened beforehand.

    A short burst by each road first starts the pools' threads: the waves are what is measured,
    not how long a busy machine takes to start a dozen threads.
    """
    out: dict[str, Burst] = {}
    async with AsyncClient(url) as client:
        await burst(client, "/offload/processes", n)
        for road in ROADS:
            await burst(client, f"{road.path}?seconds={WARM:g}", n)
        for road in ROADS:
            out[road.path] = await burst(client, f"{road.path}?seconds={secs:g}", n)
    return out


@dataclass(frozen=True)
class CpuTrial:
    """One burst of CPU jobs: its wall time, the cores our processes used, the cores free."""

    seconds: float
    cores_used: float
    free_cores: float


async def cpu(
    url: str, jobs: int, ms: int, pids: list[int], processes: bool
) -> dict[str, list[CpuTrial]]:
    """`jobs` CPU jobs at once on the threads, then on the processes (where the worker has
    them), `TRIALS` times."""
    out: dict[str, list[CpuTrial]] = {"threads": [], **({"processes": []} if processes else {})}
    async with AsyncClient(url) as client:
        await burst(client, "/offload/processes", jobs)
        for _ in range(TRIALS):
            for road in out:
                with CpuMeter(pids) as meter:
                    took, _ = await burst(client, f"/offload/cpu/{road}?ms={ms}", jobs)
                out[road].append(CpuTrial(took, meter.cores_used, meter.free_cores))
    return out


async def children(url: str) -> tuple[list[int], str | None]:
    """The process pool's pids, and why the worker has none, when it has none."""
    async with AsyncClient(url) as client:
        reply = await client.get("/offload/processes")
        return list(reply.body["pids"]), reply.body["unavailable"]


def span(hops: list[HopData]) -> float:
    """Seconds from the first call asked for to the last one ended, on the server's clock."""
    return (max(h.end_ns for h in hops) - min(h.called_ns for h in hops)) / 1e9


@experiment(
    "offload",
    title="sleeps via anyio (40 tokens), asyncio.to_thread (cpus+4 threads), a pool of 4; "
    "CPU work via processes",
    chapter="02-the-threadpool",
    tour_scale=0.3,
    tiny_scale=0.3,
)
def run(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    ms = max(20, round(MILLISECONDS * ctx.scale))
    n = 2 * default_size()
    jobs = 2 * PROCESSES
    ctx.fact("app", f"{APP} (its own app: --layer does not apply)")
    # One calibration for the worker and its processes: the same work, wherever it runs.
    same_work = Settings(loops_per_ms=round(loops_per_ms(), 3))
    with ctx.server("offload", APP, settings=same_work) as server:
        ctx.step(f"{n} sleeps of {secs:g} s by each road: anyio, asyncio.to_thread, own pool")
        bursts = asyncio.run(sleeps(server.url, n, secs))
        kids, unavailable = asyncio.run(children(server.url))
        pids = [*server.worker_pids, *kids]
        ctx.step(f"{jobs} CPU jobs of {ms} ms on {THREADS} threads, then {PROCESSES} processes")
        trials = asyncio.run(cpu(server.url, jobs, ms, pids, unavailable is None))

    for road in ROADS:
        seconds, replies = bursts[road.path]
        records = [ctx.record_of(reply) for reply in replies]
        hops = [h for r in records for h in r.hops]
        named = sum(1 for h in hops if h.pool.name == road.pool)
        ctx.check(exactly(f"{road.label}: hops through pool {road.pool!r}", named, n))
        size = road.known_size or hops[0].pool.size
        if size is None:
            raise LookupError(f"{road.label}: the records name no size for pool {road.pool!r}")
        if road.pool == "default-executor":
            ctx.check(
                exactly(
                    f"{road.label}: its size in the records, min(32, cpus+4)",
                    int(size),
                    default_size(),
                )
            )
        slots = int(min(n, size))
        threads = {h.thread.native_id for h in hops if h.thread is not None}
        ctx.check(exactly(f"{road.label}: threads that ran the {n} sleeps", len(threads), slots))
        ctx.check(
            exactly(
                f"{road.label}: sleeps running at once (max)",
                max_in_flight(hop_intervals(records)),
                slots,
            )
        )
        ctx.check(
            waves(
                f"{road.label}: {n} sleeps of S, first asked to last done",
                span(hops),
                n,
                slots,
                secs,
            )
        )
        waited = sum(1 for h in hops if h.queued_ns > secs / 2 * 1e9)
        ctx.check(exactly(f"{road.label}: sleeps that waited for a thread", waited, n - slots))
        waits = sorted(h.queued_ns / 1e6 for h in hops)
        ctx.fact(
            f"{road.label}: pool",
            f"{road.pool}, size {size:g}, {math.ceil(n / slots)} wave(s); "
            f"client saw {seconds:.2f} s",
        )
        ctx.fact(f"{road.label}: waits (ms)", " ".join(f"{w:.0f}" for w in waits))

    # CPU work: threads all run, one core busy; processes use the cores.
    thread_hops = [h for r in ctx.records("offload", "/offload/cpu/threads") for h in r.hops]
    process_records = ctx.records("offload", "/offload/cpu/processes")
    process_hops = [h for r in process_records for h in r.hops]
    ctx.check(
        exactly(
            f"CPU on {THREADS} threads: jobs running at once (max)",
            max_in_flight((h.start_ns, h.end_ns) for h in thread_hops if h.thread is not None),
            jobs,
        )
    )
    ctx.check(
        at_most(
            f"CPU on {THREADS} threads: cores busy meanwhile (max)",
            max(t.cores_used for t in trials["threads"]),
            1.0,
            "cores",
        )
    )
    if unavailable is not None:
        # A server's property (hypercorn's workers are daemonic), measured, not a failure.
        ctx.fact(f"CPU on processes under {ctx.server_name}", unavailable)
        ctx.fact(
            f"CPU on {THREADS} threads, per trial",
            "; ".join(
                f"{t.seconds * 1e3:.0f} ms, {t.cores_used:.2f} cores" for t in trials["threads"]
            ),
        )
        return
    away = sum(1 for h in process_hops if h.pool.processes and h.thread is None)
    ctx.check(
        exactly(
            "CPU on processes: hops run in another process",
            away,
            len(process_records),
        )
    )
    threads_best = min(t.seconds for t in trials["threads"])
    best = min(trials["processes"], key=lambda t: t.seconds)
    usable = min(PROCESSES, best.free_cores)
    ctx.check(
        at_least(
            f"CPU: speed-up, {PROCESSES} processes over {THREADS} threads",
            threads_best / best.seconds,
            usable,
            "x",
            tolerance=PARALLEL_TOLERANCE,
            note=f"min({PROCESSES} processes, {best.free_cores:.2f} cores free); vCPU tolerance",
        )
    )
    names = sorted({h.pool.name for h in process_hops})
    ctx.fact("process pool", f"{', '.join(names)}, its processes' pids {pids[1:]}")
    for kind, seen in trials.items():
        ctx.fact(
            f"CPU on {kind}, per trial",
            f"{jobs} x {ms} ms: "
            + "; ".join(f"{t.seconds * 1e3:.0f} ms, {t.cores_used:.2f} cores" for t in seen),
        )
