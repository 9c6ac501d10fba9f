"""The live page as a person sees it: `asgi-lab trace --live` with two workers, a load that fills
one worker's threadpool and a request that blocks a loop, the page open in a real headless
Chromium, read through its DOM (the DevTools protocol, over a websocket)."""

from __future__ import annotations

import http.client
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.cli import ROOT, first_line, running
from tests.test_live import blocking_line
from tests.timeline.test_browser import browser

sys.path.insert(0, str(ROOT / "docs"))
from chromium import chromium  # noqa: E402  (docs/chromium.py: the docs shoot with it too)

pytestmark = pytest.mark.server

#: What the test reads of the page: each worker card's pid, state and anyio pool, and every
#: stall line shown (a stall going on, or one that ended).
READ = """JSON.stringify({
  workers: [...document.querySelectorAll("section.worker")].map(w => ({
    pid: +w.dataset.pid, state: w.dataset.state,
    anyio: [...w.querySelectorAll('.pool[data-pool="anyio"]')].map(
      p => [+p.dataset.busy, +p.dataset.size, +p.dataset.queued]),
  })),
  lines: [...document.querySelectorAll("[data-line]")].map(e => e.dataset.line),
  fetches: document.querySelectorAll("script[src], link[href], img[src]").length,
})"""


def get(base: str, path: str, got: dict[str, str]) -> None:
    """GET on a connection of its own (each one a separate client), noting the worker's header."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        got[path + str(threading.get_ident())] = answer.getheader("x-asgi-lab") or ""
    finally:
        connection.close()


def test_the_page_shows_both_workers_a_full_pool_and_the_stall_with_its_line(
    tmp_path: Path,
) -> None:
    browser()  # skips (or fails on CI) before any server starts when there is no chromium
    culprit = blocking_line()
    args = ["trace", "tests.apps.live_app:app", "--workers", "2", "--threads", "4"]
    with running(*args, "--port", "0", "--live") as (process, url):
        live_url = first_line(process, "trace").split("live page: ", 1)[1].strip()
        assert live_url.startswith("http://127.0.0.1:")
        with chromium(live_url, tmp_path / "profile", binary=browser()) as page:
            # Both workers, each live.
            shown = page.until(
                "two live workers",
                lambda s: [w["state"] for w in s["workers"]] == ["live", "live"],
                read=READ,
                timeout=15,
            )
            pids = {w["pid"] for w in shown["workers"]}
            assert shown["fetches"] == 0, "the page fetches nothing"

            # Eight requests that each hold a thread for 4 s, on 2 workers of 4 tokens: one of
            # them gets at least four, and its pool is full.
            got: dict[str, str] = {}
            load = [
                threading.Thread(target=get, args=(url, "/hold?seconds=4", got)) for _ in range(8)
            ]
            for thread in load:
                thread.start()
            full = page.until(
                "a full threadpool",
                lambda s: any(
                    busy == size == 4 for w in s["workers"] for busy, size, _ in w["anyio"]
                ),
                read=READ,
                timeout=4,
            )
            assert len(full["workers"]) == 2

            # One request blocks its loop for a second: the page names its line within 2 s.
            blocker = threading.Thread(target=get, args=(url, "/block?seconds=1", got))
            sent = time.monotonic()
            blocker.start()
            page.until(
                f"the culprit line {culprit}",
                lambda s: any(culprit in line for line in s["lines"]),
                read=READ,
                timeout=2,
            )
            named_after = time.monotonic() - sent
            shot = page.screenshot()
            (tmp_path / "live.png").write_bytes(shot)
            keep = os.environ.get("ASGI_LAB_LIVE_SCREENSHOT")
            if keep:  # for the book: ASGI_LAB_LIVE_SCREENSHOT=docs/img/live-trace.png pytest ...
                Path(keep).write_bytes(shot)
            for thread in [*load, blocker]:
                thread.join(30)
            assert not any(t.is_alive() for t in [*load, blocker])
    assert named_after < 2
    # Every answer came from a worker the page showed.
    served = {int(header.split(";")[0].removeprefix("pid=")) for header in got.values()}
    assert len(got) == 9 and served <= pids
