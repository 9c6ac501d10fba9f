"""How often the garbage collector runs in a uvicorn worker under wrk, bare and probed, at
several connection counts: the part of the probe's cost under a server that is not its code.

    python bench/gc_pressure.py [--rounds 3] [--seconds 3] [--connections 32 64 128]

Same method as bench/peers.py (uvicorn with uvloop and httptools on core 0, wrk on core 1,
variants interleaved round by round, medians). The app is the FastAPI bench app's `async def`
hello; each variant answers `GET /_gc` with its process's collections and the time they took
(bench/apps/gc_counted.py), read before and after each wrk run. Printed per variant: the rate
and its ratio to bare in the same round, the server's CPU per request and what it adds to
bare's, then per 1,000 requests the collections of each generation (0/1/2) and the
milliseconds spent collecting (which is also microseconds per request: compare it with the
CPU added).

Why it matters: CPython collects generation 0 when the tracked objects allocated and not yet
freed pass 700. A request in flight holds a few of them, so the concurrent requests' holdings
decide whether the worker collects at all; each collection promotes the in-flight requests'
objects, and enough promotions bring a full collection over the whole app's heap. The frozen
variants show what `gc.freeze()` after startup (everything loaded so far out of the collector's
reach) leaves of that: full collections then walk only what was made since.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from asgi_lab.serving import start  # noqa: E402
from bench import wrk  # noqa: E402

VARIANTS = {
    "bare": "bench.apps.gc_counted:bare",
    "pass_through": "bench.apps.gc_counted:pass_through",
    "context_variable": "bench.apps.gc_counted:context_variable",
    "probe": "bench.apps.gc_counted:probe",
    # The same two with the heap loaded at import frozen (gc.freeze()): the advice below.
    "bare, frozen": "bench.apps.gc_frozen:bare",
    "probe, frozen": "bench.apps.gc_frozen:probe",
}


@dataclass(frozen=True)
class Run:
    rate: float
    requests: int
    cpu_us: float  # the server's CPU per request
    collections: tuple[int, int, int]
    ms: float  # spent collecting during the run

    def per_thousand(self) -> tuple[float, ...]:
        return tuple(c * 1000 / self.requests for c in self.collections)


def _gc(url: str) -> dict[str, list[float]]:
    with urllib.request.urlopen(url + "/_gc", timeout=10) as answer:
        counts: dict[str, list[float]] = json.load(answer)
        return counts


def measure(variant: str, seconds: int, connections: int) -> Run:
    options = wrk.server_options(VARIANTS[variant])
    with start(options) as server:
        wrk.requests_per_second(server.url + "/", 1, connections)  # warm-up
        before = _gc(server.url)
        load = wrk.load(server.url + "/", seconds, connections, pid=server.pid)
        after = _gc(server.url)
    made = tuple(
        int(a - b) for a, b in zip(after["collections"], before["collections"], strict=True)
    )
    spent = sum(after["seconds"]) - sum(before["seconds"])
    cpu = load.cpu_us_per_request
    if cpu is None:  # the server's pid was given: /proc always says
        raise RuntimeError(f"no CPU figure for {variant}")
    return Run(load.rate, load.requests, cpu, (made[0], made[1], made[2]), spent * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 64, 128])
    args = parser.parse_args()
    print(f"$ {shlex.join([os.path.basename(sys.executable), *sys.argv])}")
    runs: dict[tuple[int, str], list[Run]] = {}
    for round_ in range(1, args.rounds + 1):
        for connections in args.connections:
            for variant in VARIANTS:
                run = measure(variant, args.seconds, connections)
                runs.setdefault((connections, variant), []).append(run)
            print(f"  round {round_} -c{connections} done", flush=True)
    for connections in args.connections:
        bare = runs[(connections, "bare")]
        print(f"\nwrk -c{connections}, FastAPI `async def` hello; per 1,000 requests:")
        for variant in VARIANTS:
            mine = runs[(connections, variant)]
            ratio = statistics.median(m.rate / b.rate for m, b in zip(mine, bare, strict=True))
            per = [statistics.median(m.per_thousand()[g] for m in mine) for g in range(3)]
            ms = statistics.median(m.ms * 1000 / m.requests for m in mine)
            added = statistics.median(m.cpu_us - b.cpu_us for m, b in zip(mine, bare, strict=True))
            print(
                f"  {variant:<17} {statistics.median(m.rate for m in mine):>7,.0f} req/s"
                f"  {ratio:.3f} of bare  cpu {statistics.median(m.cpu_us for m in mine):5.1f}"
                f" µs/req (+{added:4.1f})  collections {per[0]:4.1f} / {per[1]:4.2f} /"
                f" {per[2]:4.2f}  {ms:4.2f} ms collecting"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
