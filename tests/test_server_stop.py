"""Servers stopped together: `terminate()` tells each at once, `stop()` then waits for each
without telling it twice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from asgi_lab.serving import Server, ServerOptions

#: A stand-in server (a real process): writes how many SIGTERMs it got to argv[1], and takes
#: 0.5 s to shut down once told, in which a second SIGTERM would be counted.
COUNTS_SIGTERMS = """
import pathlib, signal, sys, time
out = pathlib.Path(sys.argv[1])
got = []
def told(signum, frame):
    got.append(signum)
    out.write_text(f"{len(got)} SIGTERM")
signal.signal(signal.SIGTERM, told)
out.write_text("ready")
deadline = time.monotonic() + 30
while not got and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.5)
"""


def started(mark: Path) -> Server:
    process = subprocess.Popen([sys.executable, "-c", COUNTS_SIGTERMS, str(mark)], text=True)
    return Server(ServerOptions(), process, None, 0)


def test_terminated_servers_shut_down_side_by_side_on_one_sigterm_each(tmp_path: Path) -> None:
    marks = [tmp_path / "first", tmp_path / "second"]
    servers = [started(mark) for mark in marks]
    try:
        deadline = time.monotonic() + 30
        while not all(m.exists() and m.read_text() for m in marks):
            assert time.monotonic() < deadline, "the stand-ins never said they were ready"
            time.sleep(0.01)
        for server in servers:
            server.terminate()
        # Told without being waited for: each heard it before anyone waited...
        while not all(m.read_text() == "1 SIGTERM" for m in marks):
            assert time.monotonic() < deadline, [m.read_text() for m in marks]
            time.sleep(0.01)
        # ...stop() waits for the first in its shutdown, sending nothing more...
        assert servers[0].stop() == 0
        # ...and the second exits on its own, never stop()ped.
        assert servers[1].wait(30) == 0
        assert [m.read_text() for m in marks] == ["1 SIGTERM", "1 SIGTERM"]
    finally:
        for server in servers:
            server.stop()
