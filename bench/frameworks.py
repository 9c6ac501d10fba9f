"""Requests per second of the same endpoints on raw ASGI, Starlette, asgi_lab.framework and FastAPI.

In each round each app in turn gets a fresh uvicorn process (uvloop, httptools) pinned to CPU 0,
started by `asgi_lab.serving.start`, and wrk (pinned to CPU 1, see `bench/wrk.py`) measures
every endpoint after a one-second warm-up; only one server runs at a time. Rounds interleave the
apps so that drift in the machine hits all of them alike, and the median of the rounds is reported:
the wrapper against FastAPI (the headline), and every app against raw ASGI (the floor).

    python bench/frameworks.py [--rounds 3] [--duration 3] [--connections 64]
"""

import argparse
import os
import shlex
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Run as `python bench/<script>.py`, Python puts bench/ on the path, not the repository.
    sys.path.insert(0, str(ROOT))

from asgi_lab.serving import start  # noqa: E402
from bench import wrk  # noqa: E402

APPS = {
    "raw": "bench.apps.on_raw:app",
    "starlette": "bench.apps.on_starlette:app",
    "wrapper": "bench.apps.on_wrapper:app",
    "fastapi": "bench.apps.on_fastapi:app",
}
ENDPOINTS = {"async hello": "/", "def hello": "/sync", "query + sync dep": "/query?n=21"}


Results = dict[tuple[str, str], list[float]]


def measure(args: argparse.Namespace) -> tuple[Results, str]:
    """req/s for every (endpoint, app), one figure per round, and the server command used."""
    results: Results = {}
    command = ""
    for round_ in range(1, args.rounds + 1):
        for name, app in APPS.items():
            with start(wrk.server_options(app)) as server:
                argv = [str(arg) for arg in server.process.args]  # type: ignore[union-attr]
                command = shlex.join(argv).replace(app, "<app>")
                for label, path in ENDPOINTS.items():
                    url = server.url + path
                    wrk.requests_per_second(url, 1, args.connections)  # warm-up
                    rps = wrk.requests_per_second(url, args.duration, args.connections)
                    results.setdefault((label, name), []).append(rps)
                    print(f"round {round_}  {label:<18} {name:<10} {rps:>9.0f} req/s", flush=True)
    return results, command


def report(args: argparse.Namespace, results: Results, server: str) -> None:
    """The commands used, then the medians side by side with their ratios."""
    print(f"\n$ {shlex.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"server: {server}")
    print(f"client: {shlex.join(wrk.command('<url>', args.duration, args.connections))}")
    print(f"apps:   {', '.join(f'{name}={app}' for name, app in APPS.items())}")
    print(f"cpus:   {os.cpu_count()}; median req/s of {args.rounds} interleaved rounds\n")
    names = list(APPS)
    others = [name for name in names if name != "raw"]
    header = "".join(f"{name:>11}" for name in names)
    ratios = "".join(f"{name + '/raw':>15}" for name in others)
    print(f"{'endpoint':<18}{header}  {'wrapper/fastapi':>15}{ratios}")
    for label in ENDPOINTS:
        median = {name: statistics.median(results[(label, name)]) for name in names}
        row = "".join(f"{median[name]:>11.0f}" for name in names)
        headline = median["wrapper"] / median["fastapi"]
        vs_raw = "".join(f"{median[name] / median['raw']:>14.2f}x" for name in others)
        print(f"{label:<18}{row}  {headline:>14.2f}x{vs_raw}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds of wrk per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    report(args, *measure(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
