"""A process SIGTERM would kill outright closes its record writers first, then dies of SIGTERM
all the same; one whose SIGTERM is someone else's is left alone (`probe/exits.py`).

Each case is its own Python process: a signal disposition is process-wide.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from asgi_lab import procfs

#: A writer holding five records it would not write for a minute, then `exits.install()`.
SCRIPT = """
import signal, sys, threading, time
from asgi_lab.probe import exits
from asgi_lab.probe.sinks import RecordWriter

class Count:
    def open(self): pass
    def write(self, records):
        with open(sys.argv[1], "a") as out:
            out.write(str(len(records)) + "\\n")
    def close(self): pass

class Finished:
    def data(self): return self

BEFORE
writer = RecordWriter([Count()], interval=60.0)
for _ in range(5):
    writer.put(Finished())
print(INSTALL, flush=True)
# Short sleeps: a Python signal handler runs on the main thread, and when the kernel hands the
# signal to another thread (the writer's) a 30 s sleep of the main thread is not interrupted.
for _ in range(300):
    time.sleep(0.1)
"""


def run(tmp_path: Path, before: str = "", install: str = "exits.install()") -> tuple[str, int]:
    """Start the script, read what install() said, SIGTERM it; what it wrote, and its status."""
    out = tmp_path / "written"
    code = SCRIPT.replace("BEFORE", before).replace("INSTALL", install)
    with subprocess.Popen(
        [sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            said = process.stdout.readline().strip()
            process.send_signal(signal.SIGTERM)
            status = process.wait(timeout=10)
        finally:
            process.kill()
    written = out.read_text() if out.exists() else ""
    return said + "|" + written.replace("\n", " ").strip(), status


def test_a_sigterm_that_would_kill_outright_writes_the_buffer_then_kills(tmp_path: Path) -> None:
    assert run(tmp_path) == ("True|5", -signal.SIGTERM)


def test_without_it_the_buffer_dies_with_the_process(tmp_path: Path) -> None:
    assert run(tmp_path, install="'not installed'") == ("not installed|", -signal.SIGTERM)


def test_a_sigterm_someone_catches_is_theirs(tmp_path: Path) -> None:
    # As uvicorn's: the process ends its own way (here by exiting, where the writer's atexit
    # close writes the five), and our handler is not installed over theirs.
    before = "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))"
    assert run(tmp_path, before=before) == ("False|5", 0)


def test_off_the_main_thread_nothing_changes(tmp_path: Path) -> None:
    before = "said = []\nthread = threading.Thread(target=lambda: said.append(exits.install()))"
    before += "\nthread.start()\nthread.join(10)"
    assert run(tmp_path, before=before, install="said") == ("[False]|", -signal.SIGTERM)


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("", "default"),
        ("signal.signal(signal.SIGTERM, signal.SIG_IGN)", "ignored"),
        ("signal.signal(signal.SIGTERM, lambda *_: None)", "caught"),
    ],
)
def test_procfs_reads_what_the_kernel_does_with_sigterm(before: str, expected: str) -> None:
    code = f"import signal, sys\n{before}\nprint('ready', flush=True)\nsys.stdin.read()"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
            assert procfs.disposition(process.pid, signal.SIGTERM) == expected
        finally:
            process.kill()
    assert procfs.disposition(process.pid, signal.SIGTERM) is None  # gone, reaped
