"""The probe's hot path compiled by mypyc against pure Python, in-process: the process's CPU
microseconds per request, bare and probed, on the raw hello, FastAPI's `async def` hello and its
`def` endpoint with a sync dependency, each build in its own interpreter, alternated by round.

    python bench/compiled.py --compiled .nox/compiled/bin/python [--rounds 8]

The pure-Python build is the interpreter running this script (the dev venv); the compiled one is
any interpreter with the ASGI_LAB_COMPILE=1 build installed (noxfile's `compiled` session leaves
one in .nox/compiled). Each round runs each build once, in a fresh process that times the app
bare and probed in alternating chunks and reports the medians; printed are the medians over the
rounds of what the probe adds (µs) and of bare/probed. CPU time, of every thread of the process,
not wall time: a `def` endpoint's request waits for worker threads to wake, which costs no CPU
but varies a lot on a shared machine, and a server's throughput is bound by its CPU. No server:
this is the probe's own cost, not the cost under uvicorn (bench/peers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # Appended, not inserted: the asgi_lab under test is the one the interpreter has installed
    # (the compiled build), not the source tree beside this script.
    sys.path.append(str(ROOT))

from asgi_lab.types import ASGIApp, Message, Scope  # noqa: E402
from bench.apps.hello import hello  # noqa: E402

#: name: (path on the FastAPI app, or None for the raw hello; share of --requests)
APPS: dict[str, tuple[str | None, float]] = {
    "raw hello": (None, 1.0),
    "FastAPI async def hello": ("/", 0.1),
    "FastAPI def + sync Depends": ("/sync-dep", 0.05),
}


async def drive(app: ASGIApp, path: str, n: int) -> float:
    """CPU µs per request (the process's, all threads), calling the app with a full HTTP scope."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    def scope() -> Scope:
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
            "headers": [(b"host", b"lab")],
            "query_string": b"",
        }

    for _ in range(50):  # warm: routes compiled, threads started
        await app(scope(), receive, send)
    started = time.process_time_ns()
    for i in range(n):
        await app(scope(), receive, send)
        if i % 64 == 0:
            await asyncio.sleep(0)  # let the loop run its callbacks, as a server's would
    return (time.process_time_ns() - started) / n / 1e3


def one_round(requests: int, chunks: int) -> dict[str, Any]:
    """This interpreter's build: per app, the median µs bare and probed over `chunks`."""
    import fastapi

    import asgi_lab.probe
    from asgi_lab.probe import ProbeMiddleware
    from bench.apps.endpoints import build

    on_fastapi = build(fastapi)
    out: dict[str, Any] = {"compiled": asgi_lab.probe.compiled}
    for name, (path, share) in APPS.items():
        app: ASGIApp = hello if path is None else on_fastapi
        n = max(1, int(requests * share))
        probe = ProbeMiddleware(app, trace=None)
        bare, probed = [], []
        for _ in range(chunks):
            bare.append(asyncio.run(drive(app, path or "/quick", n)))
            probed.append(asyncio.run(drive(probe, path or "/quick", n)))
        probe.close()
        out[name] = [statistics.median(bare), statistics.median(probed)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compiled", help="an interpreter with the compiled build installed")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20_000, help="raw hellos per chunk")
    parser.add_argument("--chunks", type=int, default=5, help="bare/probed pairs per process")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_round(args.requests, args.chunks)))
        return 0
    if not args.compiled:
        parser.error("--compiled PYTHON is needed: an interpreter with the compiled build")

    print(f"$ {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    builds = {"pure Python": sys.executable, "compiled": args.compiled}
    runs: dict[str, list[dict[str, Any]]] = {build: [] for build in builds}
    for _ in range(args.rounds):
        for build, python in builds.items():
            command = [python, __file__, "--one", f"--requests={args.requests}"]
            done = subprocess.run(
                [*command, f"--chunks={args.chunks}"],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            run = json.loads(done.stdout)
            if run["compiled"] != (build == "compiled"):
                raise SystemExit(
                    f"{python} runs the probe {'' if run['compiled'] else 'not '}compiled"
                )
            runs[build].append(run)
    print(f"In-process, median of {args.rounds} rounds (CPU µs per request):")
    for name in APPS:
        for build, rows in runs.items():
            bare = statistics.median(r[name][0] for r in rows)
            probed = statistics.median(r[name][1] for r in rows)
            adds = statistics.median(r[name][1] - r[name][0] for r in rows)
            ratio = statistics.median(r[name][0] / r[name][1] for r in rows)
            print(
                f"  {name:<27} {build:<11} bare {bare:7.2f}  probed {probed:7.2f}"
                f"  probe adds {adds:6.2f}  bare/probed {ratio:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
