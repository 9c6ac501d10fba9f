"""The same app's req/s under each server: uvicorn, granian and hypercorn (and daphne), bare and
probed, side by side in one run.

    python bench/servers.py [--rounds 3] [--seconds 3] [--connections 64] [--path /]

The app is bench/apps/peers.py's FastAPI app (`/` an `async def` hello, `/sync-dep` a `def` with
a sync dependency). Each server runs one worker with its own defaults for loop and HTTP parser
(uvicorn picks uvloop and httptools when installed; hypercorn runs the stdlib asyncio loop and
h11; granian its Rust HTTP stack), pinned to core 0; wrk on core 1; the variants interleaved
round by round, medians reported, with the server's CPU per request. What this compares is the
servers as they come, not a tuned deployment of each.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from asgi_lab.serving import ServerOptions, start  # noqa: E402
from asgi_lab.settings import Settings  # noqa: E402
from bench import wrk  # noqa: E402

SERVERS = ("uvicorn", "granian", "hypercorn")
APPS = {"bare": "bench.apps.peers:bare", "probe": "bench.apps.peers:probe"}


def options(server: str, app: str) -> ServerOptions:
    return ServerOptions(
        app=app,
        server=server,
        cpus="0",
        app_dir=str(ROOT),
        settings=Settings(log="off", block_ms=0.0),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--path", default="/", help="'/' (async hello) or '/sync-dep' (def)")
    parser.add_argument("--daphne", action="store_true", help="daphne too")
    args = parser.parse_args()
    servers = (*SERVERS, "daphne") if args.daphne else SERVERS
    print(f"$ {shlex.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"cores: {os.cpu_count()}; each server on core 0 with its own defaults, wrk on core 1")
    runs: dict[tuple[str, str], list[wrk.Load]] = {(s, a): [] for s in servers for a in APPS}
    for round_ in range(1, args.rounds + 1):
        for (server, app), loads in runs.items():
            with start(options(server, APPS[app])) as running:
                url = running.url + args.path
                wrk.requests_per_second(url, 1, args.connections)  # warm-up
                loads.append(wrk.load(url, args.seconds, args.connections, pid=running.pid))
        print(
            f"  round {round_}: "
            + ", ".join(f"{s} {a} {r[-1].rate:,.0f}" for (s, a), r in runs.items()),
            flush=True,
        )
    command = shlex.join(wrk.command("<url>" + args.path, args.seconds, args.connections))
    print(f"\n{command}; median of {args.rounds} rounds (cpu: the server's processes, per request)")
    for server in servers:
        bare = runs[(server, "bare")]
        for app in APPS:
            loads = runs[(server, app)]
            rate = statistics.median(r.rate for r in loads)
            paired = statistics.median(v.rate / b.rate for v, b in zip(loads, bare, strict=True))
            cpu = statistics.median(r.cpu_us_per_request or 0.0 for r in loads)
            line = f"{server:<10} {app:<6} {rate:>9,.0f} req/s  {paired:.3f} of bare"
            print(f"  {line}  cpu {cpu:6.1f} µs/req")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
