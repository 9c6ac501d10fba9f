"""`asgi-lab trace` under a heavy load with nobody reading its log: what it answered, what it kept,
what it said it lost, how much memory each process held, and how long it took to stop.

    python bench/trace_load.py [--seconds 60] [--connections 256] [--workers 2] [--kill-one]

The hostile pass of the nothing-lost issue, repeatable: `asgi-lab trace` with two workers on a
FastAPI hello (bench/apps/peers.py's bare app: trace adds the probe), its log going to a pipe
this script does not read until the load ends (a paused terminal, a pager), wrk at 256
connections. The traced server may use both cores, wrk runs on core 1. Then SIGTERM, and the trace
directory read back: the records there against the requests wrk saw answered (a few more
records than answers: requests in flight when wrk stopped), and the drops and losses the records
and the summary own up to. `--kill-one` SIGKILLs a worker halfway through, as a crash would.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from asgi_lab import procfs  # noqa: E402
from asgi_lab.lab.footprint import rss  # noqa: E402
from asgi_lab.records import read_trace  # noqa: E402
from bench import wrk  # noqa: E402

_URL = re.compile(r"serving \S+ on (http://\S+)")
#: The summary's lines about dead workers, their successors and records that never arrived.
_WORKERS = re.compile(r"worker|never reached|records not read|dropped", re.IGNORECASE)


def mb(pid: int) -> float:
    """Resident memory of `pid` in MB; 0 when it is gone (or a zombie, which has none)."""
    try:
        return rss(pid) / 2**20
    except (OSError, LookupError):
        return 0.0


def role(pid: int, parent: int) -> str:
    """What a process of the run is: trace itself, or a server process by its command line."""
    if pid == parent:
        return "asgi-lab trace"
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "process"
    text = " ".join(w.decode(errors="replace") for w in words if w)
    return "server worker" if "spawn_main" in text else f"process ({text[-40:]})"


def stop(parent: subprocess.Popen[str]) -> None:
    """Leave nothing running: SIGTERM trace (it stops its server), then SIGKILL whatever of its
    tree is left (the server runs in a session of its own, out of trace's process group)."""
    if parent.poll() is not None:
        return
    tree = procfs.descendants(parent.pid)
    parent.send_signal(signal.SIGTERM)
    threading.Thread(target=drain, args=(parent,), daemon=True).start()
    try:
        parent.wait(60)
    except subprocess.TimeoutExpired:
        pass
    for pid in reversed(tree):
        if procfs.alive(pid):
            os.kill(pid, signal.SIGKILL)
    parent.wait(10)


def drain(process: subprocess.Popen[str]) -> None:
    """Read and drop what `process` writes to stderr, until it closes it."""
    assert process.stderr is not None
    for _ in process.stderr:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--app", default="bench.apps.peers:bare")
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL a worker halfway")
    parser.add_argument(
        "--cpus", help="run the traced server on these cores only (`taskset -c CPUS`), e.g. 0"
    )
    args = parser.parse_args()
    print(f"$ {shlex.join([os.path.basename(sys.executable), *sys.argv])}")
    with tempfile.TemporaryDirectory() as tmp:
        trace_dir = Path(tmp) / "trace"
        # Not pinned unless asked (`--cpus`): two workers on one core take turns at it, and a
        # turn away longer than the watchdog's threshold is a stall of that worker's loop (held
        # off the CPU: starved, nobody blamed). wrk stays on core 1.
        command = [sys.executable, "-m", "asgi_lab", "trace", args.app]
        command += ["--workers", str(args.workers), "--app-dir", str(ROOT)]
        command += ["--trace-dir", str(trace_dir), "--port", "0"]
        if args.cpus is not None:
            command = ["taskset", "-c", args.cpus, *command]
        # stderr (the log lines) is a pipe nobody reads: the stalled consumer.
        parent = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        out: list[str] = []
        ready = threading.Event()

        def read_stdout() -> None:
            assert parent.stdout is not None
            for line in parent.stdout:
                out.append(line)
                if _URL.search(line):
                    ready.set()

        threading.Thread(target=read_stdout, daemon=True).start()
        try:
            if not ready.wait(60):
                raise SystemExit(f"trace did not start:\n{''.join(out)}")
            match = _URL.search("".join(out))
            assert match is not None
            url = match.group(1) + "/"
            time.sleep(1)  # every worker up (trace waits for them before it prints the URL)
            workers = procfs.descendants(parent.pid)[1:]
            before = {pid: mb(pid) for pid in procfs.descendants(parent.pid)}
            killed: list[int] = []
            if args.kill_one:

                def kill_later() -> None:
                    time.sleep(args.seconds / 2)
                    victims = [p for p in procfs.descendants(parent.pid)[1:] if p in workers]
                    if victims:
                        os.kill(victims[-1], signal.SIGKILL)
                        killed.append(victims[-1])

                threading.Thread(target=kill_later, daemon=True).start()
            # Errors are findings here, not a failed run: a killed worker's connections break.
            load = wrk.load(url, args.seconds, args.connections, strict=False)
            after = {pid: mb(pid) for pid in procfs.descendants(parent.pid)}
            roles = {pid: role(pid, parent.pid) for pid in {*before, *after}}
            stopping = time.monotonic()
            os.kill(parent.pid, signal.SIGTERM)
            # The consumer comes back (the terminal unpaused): trace's last words go to stderr
            # too, and like any program's they wait for a reader.
            threading.Thread(target=drain, args=(parent,), daemon=True).start()
            code = parent.wait(120)
            stopped = time.monotonic() - stopping
        finally:
            stop(parent)
        trace = read_trace(trace_dir)
        summary = "".join(out)
    print(f"wrk: {load.requests:,} requests answered in {args.seconds} s ({load.rate:,.0f}/s)")
    for line in load.errors:
        print(f"  wrk: {line}")
    print(f"records read back: {len(trace.records):,} from {len(trace.files)} file(s)")
    missing = max(load.requests - len(trace.records), 0)
    print(f"  answers missing from the trace: at least {missing:,}")
    print(f"  owned up to: {trace.losses() or 'nothing lost'}")
    print(f"stopped {stopped:.1f} s after SIGTERM, exit status {code}")
    print("memory (RSS) from the start of the load to its end:")
    for pid in before:
        gone = " (killed)" if pid in killed else ""
        print(f"  {roles[pid]} {pid}: {before[pid]:.0f} MB -> {after.get(pid, 0.0):.0f} MB{gone}")
    for pid in after:
        if pid not in before:
            print(f"  {roles[pid]} {pid} (started during the load): {after[pid]:.0f} MB at the end")
    blocks = [b for r in trace.records for b in r.blocks]
    starved = sum(any(w.kind == "starved" for w in r.waited_on) for r in trace.records)
    print(f"stalls blamed on a request: {len(blocks)}; requests that waited on a starved loop:")
    print(f"  {starved:,}")
    for block in blocks[:5]:
        print(f"  blamed: {block.ms:.0f} ms at {block.frame.where()}")
    said = [line for line in summary.splitlines() if _WORKERS.search(line)]
    print("what the summary says of the workers and of losses:")
    for line in said or ["(nothing)"]:
        print(f"  | {line.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
