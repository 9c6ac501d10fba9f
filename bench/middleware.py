"""What a middleware costs on Starlette: pure ASGI vs BaseHTTPMiddleware vs the probe.

    python bench/middleware.py [--rounds 3] [--duration 3] [--connections 64]

Each variant is the same one-route Starlette app; the middleware adds one response header (the
probe adds its four and keeps a record). Server on CPU 0, wrk on CPU 1, variants interleaved per
round, medians reported with the ratio to the app without middleware.
"""

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from asgi_lab.serving import start  # noqa: E402
from bench import wrk  # noqa: E402

VARIANTS = {
    "no middleware": "bench.apps.middleware:plain",
    "pure ASGI": "bench.apps.middleware:pure",
    "BaseHTTPMiddleware": "bench.apps.middleware:dispatch",
    "ProbeMiddleware": "bench.apps.middleware:probe",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_ in range(1, args.rounds + 1):
        for name, app in VARIANTS.items():
            with start(wrk.server_options(app)) as server:
                wrk.requests_per_second(server.url + "/", 1, args.connections)  # warm-up
                rate = wrk.requests_per_second(server.url + "/", args.duration, args.connections)
            rates[name].append(rate)
            print(f"round {round_}  {name:<20} {rate:>9,.0f} req/s", flush=True)
    print("\nserver: uvicorn <app> --loop uvloop --http httptools, pinned with taskset -c 0")
    print(f"client: {' '.join(wrk.command('<url>', args.duration, args.connections))}")
    print(f"median of {args.rounds} interleaved rounds:\n")
    base = statistics.median(rates["no middleware"])
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name:<20} {median:>9,.0f} req/s   {median / base:6.1%} of no middleware")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
