"""What the probe costs: Layer 0 under uvicorn with and without it, side by side in one run.

    python bench/probe_overhead.py [--rounds 5] [--seconds 3] [--connections 64]

The server is pinned to core 0 and wrk to core 1 (`taskset`), the variants are interleaved round
by round, and the medians are compared. A second part times the middleware in-process, on a
hello-world app, in microseconds per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.types import ASGIApp, Message, Scope

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as `python bench/<script>.py`, Python puts bench/ on the path, not the repository.
    sys.path.insert(0, str(ROOT))

from asgi_lab.serving import start  # noqa: E402
from asgi_lab.settings import Settings  # noqa: E402
from bench import wrk  # noqa: E402
from bench.apps.hello import hello  # noqa: E402
from bench.apps.probe_variants import least_probe_of, pass_through_of  # noqa: E402

VARIANTS: dict[str, tuple[str, str]] = {
    # name: (app, what the probe adds: nothing, a JSON-lines trace, a log line, the watchdog)
    "bare": ("asgi_lab.raw:raw_app", ""),
    # The floors: any middleware that wraps `send`; the least a probe can do (see the module).
    "pass-through": ("bench.apps.probe_variants:pass_through", ""),
    "least probe": ("bench.apps.probe_variants:least_probe", ""),
    "header only": ("bench.apps.probe_variants:header_only", ""),
    "probe, no header": ("bench.apps.probe_variants:no_header", ""),
    "probe": ("asgi_lab.raw:app", ""),
    "probe+watchdog": ("asgi_lab.raw:app", "watchdog"),
    "probe+trace": ("asgi_lab.raw:app", "trace"),
    "probe+log": ("asgi_lab.raw:app", "log"),
}


def serve_and_load(variant: str, seconds: int, connections: int, trace_root: str) -> float:
    app, adds = VARIANTS[variant]
    settings = Settings(
        log="line" if adds == "log" else "off", block_ms=100.0 if adds == "watchdog" else 0.0
    )
    if adds == "trace":
        settings = settings.replace(trace_dir=tempfile.mkdtemp(dir=trace_root))
    with start(wrk.server_options(app, settings)) as server:
        wrk.requests_per_second(server.url + "/quick", 1, connections)  # warm-up
        return wrk.requests_per_second(server.url + "/quick", seconds, connections)


async def drive(app: ASGIApp, n: int) -> float:
    """Seconds per request, calling the app directly with a minimal scope."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    def scope() -> Scope:
        return {
            "type": "http",
            "method": "GET",
            "path": "/quick",
            "client": ("127.0.0.1", 5000),
            "headers": [],
            "query_string": b"",
        }

    started = time.perf_counter()
    for i in range(n):
        await app(scope(), receive, send)
        if i % 64 == 0:
            # Let the loop run its callbacks (the watchdog's heartbeat) as a server's would.
            await asyncio.sleep(0)
    return (time.perf_counter() - started) / n


def in_process(n: int, rounds: int) -> dict[str, float]:
    """Median µs per request: the bare app, the two floors, the probe (ring + header)."""
    variants: dict[str, Callable[[], ASGIApp]] = {
        "bare": lambda: hello,
        "pass-through": lambda: pass_through_of(hello),
        "least probe": lambda: least_probe_of(hello),
        "probe": lambda: ProbeMiddleware(hello, trace=None),
        "probe+watchdog": lambda: ProbeMiddleware(hello, trace=None, watchdog=True),
        "probe+trace": lambda: ProbeMiddleware(hello, trace=open(os.devnull, "w")),  # noqa: SIM115
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, make in variants.items():
            app = make()
            results[name].append(asyncio.run(drive(app, n)) * 1e6)
            if isinstance(app, ProbeMiddleware):
                app.close()
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--requests", type=int, default=100_000, help="in-process requests")
    args = parser.parse_args()

    print(f"$ {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"cores: {os.cpu_count()}; server on core 0, wrk on core 1; uvloop + httptools")
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("wrk and taskset are needed for the server part (apt-get install wrk); skipping it")
    else:
        rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
        with tempfile.TemporaryDirectory() as traces:
            for round_ in range(args.rounds):
                for name in VARIANTS:
                    rates[name].append(serve_and_load(name, args.seconds, args.connections, traces))
                print(
                    f"  round {round_ + 1}: "
                    + ", ".join(f"{n} {r[-1]:,.0f}" for n, r in rates.items()),
                    flush=True,
                )
        bare = statistics.median(rates["bare"])
        load = shlex.join(wrk.command("<url>/quick", args.seconds, args.connections))
        print(f"\nLayer 0 /quick, {load}, median of {args.rounds}:")
        print("  (paired: the median of each round's ratio to bare, which drift between rounds")
        print("  cancels out; probe paired: the same against the probe, for what it adds)")
        for name, values in rates.items():
            median = statistics.median(values)
            paired = statistics.median(v / b for v, b in zip(values, rates["bare"], strict=True))
            line = f"  {name:<18} {median:>9,.0f} req/s  ratio {median / bare:.3f}"
            line += f"  paired {paired:.3f} ({(1 - paired) * 100:4.1f} % cost)"
            if name.startswith("probe+"):
                over = zip(values, rates["probe"], strict=True)
                line += f"  probe paired {statistics.median(v / p for v, p in over):.3f}"
            print(line)

    costs = in_process(args.requests, args.rounds)
    print(f"\nIn-process, hello-world app, {args.requests:,} calls, median of {args.rounds}:")
    for name, micro in costs.items():
        extra = micro - costs["bare"]
        print(f"  {name:<15} {micro:6.2f} µs/request   probe adds {extra:5.2f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
