"""Where a probed server spends its CPU under load: a py-spy profile of the uvicorn worker while
wrk drives it, read back as the share of samples in the probe's own frames.

    python bench/where.py [--app bench.apps.peers:probe] [--path /] [--seconds 10]

The server is pinned to core 0 and wrk to core 1 as in the other benchmarks. py-spy runs on
wrk's core and samples the worker 250 times a second without pausing it (`--nonblocking`), so
the profile does not slow what it measures. Printed: the share of samples in the probe's own
work (its frames and what they call of their own or of the standard library; never the app's or
the server's code the probe calls into), the share with a probe frame innermost, and the probe
functions seen most. Compare the first share with the throughput lost in bench/peers.py: the
probe's frames are its direct cost; the rest of the loss is indirect (the app and the server
running slower beside it).

Needs py-spy (the bench extra: `pip install -e '.[bench]'`), wrk and taskset.
"""

from __future__ import annotations

import argparse
import collections
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from asgi_lab.serving import start  # noqa: E402
from asgi_lab.settings import Settings  # noqa: E402
from bench import wrk  # noqa: E402

#: py-spy names a frame `function (path:line)`, the path relative to its sys.path entry.
PROBE = "(asgi_lab/probe/"


def probe_frame(frame: str) -> bool:
    return PROBE in frame


def probe_work(frame: str) -> bool:
    """A frame the probe's own work can call into: ours, or the standard library's (`threading.py`,
    asyncio's); never the server's or the app's packages."""
    where = frame.rpartition(" (")[2]
    return where.startswith("asgi_lab/probe/") or "/" not in where or where.startswith("asyncio/")


def read(collapsed: Path) -> tuple[int, int, int, collections.Counter[str]]:
    """Samples in all, with a probe frame that is not just the probe calling the app, whose
    innermost frame is the probe's, and per probe function (inclusive)."""
    total = inclusive = own = 0
    functions: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        # The probe's __call__ awaits the app, and its `send` awaits the server's: the probe's
        # own work is the innermost probe frame when all it called is its own (or stdlib).
        # The departure check (`poll`) steps the server's `receive` only for the probe's sake:
        # what that costs the server is the probe's too.
        innermost = max((i for i, f in enumerate(frames) if probe_frame(f)), default=-1)
        if innermost < 0:
            continue
        polling = frames[innermost].startswith("poll ")
        if not polling and not all(probe_work(f) for f in frames[innermost + 1 :]):
            continue
        inclusive += n
        if innermost == len(frames) - 1:
            own += n
        functions[frames[innermost].split(" (")[0]] += n
    return total, inclusive, own, functions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="bench.apps.peers:probe")
    parser.add_argument("--path", default="/")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--watchdog", action="store_true", help="with the watchdog on")
    args = parser.parse_args()
    settings = Settings(log="off", block_ms=100.0 if args.watchdog else 0.0)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is needed: pip install -e '.[bench]'")
    print(f"$ {shlex.join([os.path.basename(sys.executable), *sys.argv])}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        start(wrk.server_options(args.app, settings)) as server,
    ):
        url = server.url + args.path
        wrk.requests_per_second(url, 1, args.connections)  # warm-up
        pid = server.pid  # one worker: uvicorn serves in the process it started as
        out = Path(tmp) / "collapsed.txt"
        # py-spy on wrk's core: the server keeps core 0 to itself.
        record = ["taskset", "-c", "1", spy, "record", "--pid", str(pid), "--rate", "250"]
        record += ["--nonblocking"]
        record += ["--duration", str(args.seconds), "--format", "raw", "--output", str(out)]
        spying = subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        rate: list[float] = []
        load = threading.Thread(
            target=lambda: rate.append(wrk.requests_per_second(url, args.seconds, args.connections))
        )
        load.start()
        load.join()
        _, err = spying.communicate(timeout=args.seconds + 30)
        if spying.returncode != 0 or not out.exists():
            raise SystemExit(f"py-spy failed ({spying.returncode}): {err.decode()[-2000:]}")
        total, inclusive, own, functions = read(out)
    print(f"{args.app} {args.path}: {rate[0]:,.0f} req/s under {args.connections} connections")
    print(f"  samples {total:,}; in the probe's own work {inclusive / total:.1%} (inclusive), ")
    print(f"  {own / total:.1%} with a probe frame innermost")
    for name, n in functions.most_common(12):
        print(f"    {n / total:6.2%}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
