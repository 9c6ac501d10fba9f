"""Requests per second of FastAPI and asgi_lab.framework on identical endpoints, measured with wrk.

In each round each framework in turn gets a fresh uvicorn process (uvloop, httptools) on a socket
this script binds, pinned to CPU 0, and wrk (pinned to CPU 1) measures every endpoint; only one
server runs at a time. Rounds interleave the frameworks so drift in the machine hits both alike,
and the median of the rounds is reported.

    python bench/frameworks.py [--rounds 3] [--duration 3] [--connections 64]
"""

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = {"fastapi": "bench.apps.on_fastapi:app", "wrapper": "bench.apps.on_wrapper:app"}
ENDPOINTS = {"async hello": "/", "def hello": "/sync", "query + sync dep": "/query?n=21"}


def listening_socket() -> socket.socket:
    """A loopback socket on a free port, with TCP_NODELAY, for uvicorn to inherit via --fd."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def wait_ready(port: int, timeout: float = 20.0) -> None:
    """Poll GET / until the server answers; the bound socket accepts before uvicorn is ready."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Server on port {port} not ready after {timeout}s.") from None
            time.sleep(0.05)


@contextmanager
def server(app: str) -> Iterator[int]:
    """A uvicorn process serving `app` on CPU 0; yields its port, always torn down."""
    sock = listening_socket()
    command = [
        "taskset", "-c", "0", sys.executable, "-m", "uvicorn", app,
        "--fd", str(sock.fileno()), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, pass_fds=[sock.fileno()])
    try:
        port = sock.getsockname()[1]
        wait_ready(port)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()


def wrk_command(url: str, duration: int, connections: int) -> list[str]:
    """wrk on CPU 1, one thread."""
    return [
        "taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", url,
    ]  # fmt: skip


def requests_per_second(url: str, duration: int, connections: int) -> float:
    """One wrk run against `url`; non-2xx answers make the figure meaningless, so they fail."""
    out = subprocess.run(
        wrk_command(url, duration, connections), capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors against {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"No Requests/sec in wrk output:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    results: dict[tuple[str, str], list[float]] = {}
    for round_ in range(1, args.rounds + 1):
        for name, app in APPS.items():
            with server(app) as port:
                for label, path in ENDPOINTS.items():
                    url = f"http://127.0.0.1:{port}{path}"
                    requests_per_second(url, 1, args.connections)  # warm up
                    rps = requests_per_second(url, args.duration, args.connections)
                    results.setdefault((label, name), []).append(rps)
                    print(f"round {round_}  {label:<18} {name:<8} {rps:>9.0f} req/s", flush=True)
    print()
    server_cmd = (
        f"taskset -c 0 {Path(sys.executable).name} -m uvicorn <app> --fd <fd> --loop uvloop"
    )
    print(f"server: {server_cmd} --http httptools --no-access-log --log-level warning")
    print(f"client: {' '.join(wrk_command('<url>', args.duration, args.connections))}")
    print(f"apps:   {APPS['fastapi']}  vs  {APPS['wrapper']}  (cpus: {os.cpu_count()})")
    print(f"median of {args.rounds} interleaved rounds:\n")
    print(f"{'endpoint':<18} {'fastapi':>10} {'wrapper':>10} {'ratio':>7}")
    for label in ENDPOINTS:
        theirs = statistics.median(results[(label, "fastapi")])
        mine = statistics.median(results[(label, "wrapper")])
        print(f"{label:<18} {theirs:>10.0f} {mine:>10.0f} {mine / theirs:>6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
