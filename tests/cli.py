"""Running `python -m asgi_lab ...` as a user does: its own process group, its first line read
with a bound, the whole group killed on the way out, workers included."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def running(
    *args: str, timeout: float = 30, prefix: Sequence[str] = ()
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The process, started from the project root, and the URL its first line names (`... on
    URL`), read within `timeout` seconds. Stop it with `stop()`; whatever happens, it is stopped
    (SIGTERM, then its group killed) when the block ends, so no worker outlives the test.
    `prefix` runs the command through another (a shell that set a signal's disposition, say)."""
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "asgi_lab", *args],
        cwd=ROOT,  # --app-dir defaults to ".", as uvicorn's does
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so the whole group can be killed
    )
    try:
        yield process, first_line(process, args[0], timeout).rsplit(" on ", 1)[1].strip()
    finally:
        ended(process)


def ended(process: subprocess.Popen[str]) -> None:
    """Stop `process` for good: SIGTERM, then its group killed, its pipes closed.

    The servers it started run in sessions of their own (asgi_lab.serving), out of reach of the
    group's SIGKILL: it is asked first, so that it stops them and removes what it made."""
    if process.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            stop(process)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(15)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def first_line(process: subprocess.Popen[str], name: str, timeout: float = 30) -> str:
    """The first line the process (`asgi-lab NAME`) prints, waited for at most `timeout` s."""
    stdout = process.stdout
    assert stdout is not None
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stdout.readline()))
    reader.start()
    reader.join(timeout)
    assert got and got[0], f"{name} printed nothing"
    return got[0]


def stop(process: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """SIGTERM, as Ctrl-C's twin, then everything it printed: (stdout, stderr)."""
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=timeout)
