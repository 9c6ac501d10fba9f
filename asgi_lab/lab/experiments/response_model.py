"""response-model-hop: a `def` endpoint's result is validated in a second threadpool trip, which
queues behind every request already waiting; the fixes, measured against the same queue model."""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass

from asgi_lab.catalogue import app_path
from asgi_lab.lab.experiments.threadpool import SECOND_TRIP_LAYERS, concurrent
from asgi_lab.lab.harness import Context, experiment
from asgi_lab.lab.queueing import finish_times
from asgi_lab.lab.verdicts import exactly, near
from asgi_lab.records.schema import RecordData

__all__ = ["run"]

SECONDS = 1.0
TOKENS = 4
#: Three waves' worth: enough for the first wave's validations to queue behind two more.
REQUESTS = 3 * TOKENS
#: The documented case, simulated only: 60 requests of 1 s on 4 tokens, all arriving at once.
BIG = 60


@dataclass(frozen=True)
class Phase:
    """One server and one way of writing the endpoint: what the queue model is told about it."""

    name: str
    path: str
    tokens: int
    trips: int  # threadpool trips per request: the sleep, then the validation
    pooled: bool = True  # False: the sleep runs on the loop and takes no token


def phases(n: int) -> tuple[Phase, ...]:
    return (
        Phase(f"def, response model, threads={TOKENS}", "/sync/sleep", TOKENS, 2),
        Phase(f"response_model=None, threads={TOKENS}", "/sync/sleep/unvalidated", TOKENS, 1),
        Phase(f"async def, threads={TOKENS}", "/async/sleep", TOKENS, 0, pooled=False),
        Phase(f"def, response model, threads={n}", "/sync/sleep", n, 2),
    )


def simulated(records: list[RecordData], phase: Phase, secs: float) -> tuple[list[float], ...]:
    """(measured, simulated) finish times in seconds from the phase's first arrival, per request.

    Arrivals are the records' own; a sleep lasts S and a validation 0 s, on `phase.tokens`
    tokens (an async sleep waits for none: as many tokens as requests)."""
    t0 = min(r.start_ns for r in records)
    arrivals = [(r.start_ns - t0) / 1e9 for r in records]
    jobs = [secs] + [0.0] * (phase.trips - 1) if phase.pooled else [secs]
    tokens = phase.tokens if phase.pooled else len(records)
    measured = [(r.end_ns - t0) / 1e9 for r in records]
    return measured, finish_times(arrivals, jobs, tokens)


def seconds_list(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in sorted(values))


@experiment(
    "response-model-hop",
    title="a def endpoint's response model is a 2nd threadpool trip: saturated, it waits its turn",
    chapter="03-def-or-async-def",
    tiny_scale=0.5,
)
def run(ctx: Context) -> None:
    secs = ctx.seconds(SECONDS)
    n = REQUESTS
    layer = ctx.layer if ctx.layer in SECOND_TRIP_LAYERS else "api"
    if layer != ctx.layer:
        ctx.fact("layer", f"api (--layer {ctx.layer} has no response models)")
    for phase in phases(n):
        with ctx.server(phase.name, app_path(layer), threads=phase.tokens) as server:
            ctx.step(f"{phase.name}: {n} concurrent GET {phase.path}")
            asyncio.run(concurrent(server.url, f"{phase.path}?seconds={secs:g}", n))
        records = ctx.records(phase.name, phase.path)
        ctx.check(
            exactly(
                f"{phase.name}: requests that made {phase.trips} threadpool trip(s)",
                sum(1 for r in records if len(r.hops) == phase.trips),
                n,
            )
        )
        measured, model = simulated(records, phase, secs)
        note = f"FIFO tokens, {phase.tokens} of them" if phase.pooled else "no token needed"
        ctx.check(near(f"{phase.name}: fastest response", min(measured), min(model), note=note))
        median = statistics.median
        ctx.check(near(f"{phase.name}: median response", median(measured), median(model)))
        ctx.check(
            exactly(
                f"{phase.name}: finished within S/4 of the simulation",
                sum(1 for m, s in zip(measured, model, strict=True) if abs(m - s) <= secs / 4),
                n,
            )
        )
        ctx.fact(f"{phase.name}: finished (s)", seconds_list(measured))
        ctx.fact(f"{phase.name}: simulated (s)", seconds_list(model))
        if phase.trips == 2 and phase.tokens < n:
            waits = [r.hops[1].queued_ns / 1e9 for r in records if len(r.hops) == 2]
            ctx.fact(f"{phase.name}: validation's wait for a token (s)", seconds_list(waits))
    for trips in (2, 1):
        done = finish_times([0.0] * BIG, [SECONDS] + [0.0] * (trips - 1), TOKENS)
        ctx.fact(
            f"simulated on {TOKENS} tokens: {BIG} x {SECONDS:g} s at once, {trips} trip(s)",
            f"fastest {min(done):.1f} s, median {statistics.median(done):.1f} s",
        )
