"""The live page of the lab's own runs and `asgi-lab top`: a real experiment, its servers' workers
on the page (read from its feed, as the page's script reads it), and the terminal's view of a
running page."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from asgi_lab.live.feed import frames
from tests.cli import ROOT

pytestmark = pytest.mark.server


@contextlib.contextmanager
def experiment(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`asgi-lab experiment ARGS --live` and the live page's URL from its stderr, read within
    30 s; the whole process group killed when the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "asgi_lab", "experiment", *args, "--live", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stderr = process.stderr
        assert stderr is not None
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(stderr.readline()))
        reader.start()
        reader.join(30)
        assert got and "live page: " in got[0], f"no live page named: {got}"
        yield process, got[0].split("live page: ", 1)[1].strip()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(15)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def full_pool(frame: dict[str, Any]) -> int | None:
    """The pid of a live worker whose anyio pool has every token busy, in `frame`."""
    for worker in frame["workers"]:
        for pool in worker["snapshot"]["pools"]:
            if (
                worker["state"] == "live"
                and pool["name"] == "anyio"
                and pool["busy"] == pool["size"]
            ):
                return int(worker["pid"])
    return None


def test_experiment_live_shows_the_worker_of_each_phase_and_its_full_pool(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    # threadpool-limit: 8 sleeps on 4 tokens, then on 8; one worker a phase.
    with experiment("threadpool-limit", "--scale", "0.6", "--json", str(out)) as (process, url):
        assert url.startswith("http://127.0.0.1:")
        seen: set[int] = set()
        full: int | None = None
        deadline = time.monotonic() + 60
        for frame in frames(url):
            seen |= {w["pid"] for w in frame["workers"]}
            full = full or full_pool(frame)
            if len(seen) == 2 and full is not None or time.monotonic() > deadline:
                break
        status = process.wait(60)
    assert status == 0
    servers = json.loads(out.read_text())["results"][0]["servers"]
    phases = {s["phase"]: s["worker_pids"] for s in servers}
    # Each phase's one worker fed the page, and nobody else did.
    assert seen == {pid for pids in phases.values() for pid in pids}
    # The 4-token phase's worker (or the 8-token one's: 8 sleeps fill 8 tokens too) was seen
    # with every token busy.
    assert full in seen
