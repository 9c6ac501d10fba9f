"""What a user of `pip install asgi-lab` (no extra) does with it, run as that user runs it.

`scripts/wheel-check` runs this folder in a clean virtualenv holding the wheel alone, FastAPI
and pytest; the suite runs it too. Nothing here reads the repository: only the installed
package, its `asgi-lab` command and its pytest plugin.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from asgi_lab.testing import ProbeClient, ProbedClient, assert_in_threadpool, assert_on_loop
from tests.wheel.user_app import app

#: The probe's answer header, as a user's tools read it.
HEADER = re.compile(r"pid=(\d+); loop=\d+:\d+; thread=\d+; request=\d+-\d+")


@pytest.fixture
def anyio_backend() -> str:
    # The probe watches asyncio loops; older anyio plugins (4.0) run every backend, trio too.
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[ProbedClient]:
    async with ProbeClient(app) as client:
        yield client


@pytest.mark.anyio
async def test_the_plugin_tells_where_each_endpoint_ran(client: ProbedClient) -> None:
    on_loop = await client.get("/async")
    in_pool = await client.get("/sync")
    assert (on_loop.status_code, in_pool.status_code) == (200, 200)
    assert_on_loop(client.record(on_loop))
    assert_in_threadpool(client.record(in_pool))


@pytest.mark.anyio
@pytest.mark.asgi_lab_no_block(max_ms=100)
async def test_the_marker_passes_a_test_whose_requests_never_block(client: ProbedClient) -> None:
    for path in ("/async", "/sync"):
        assert (await client.get(path)).status_code == 200


@pytest.mark.anyio
@pytest.mark.xfail(raises=AssertionError, strict=True, reason="the marker's own failure")
@pytest.mark.asgi_lab_no_block(max_ms=100)
async def test_the_marker_fails_a_test_whose_request_blocked_the_loop(
    client: ProbedClient,
) -> None:
    # The body passes; the plugin fails the test after it (strict: passing would be an error).
    assert (await client.get("/blocking")).status_code == 200


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line the process prints, waited for at most `timeout` seconds."""
    stdout = process.stdout
    assert stdout is not None
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert got and got[0], "asgi-lab trace printed nothing"
    return got[0]


def test_asgi_lab_trace_serves_the_app_and_summarises_it() -> None:
    command = Path(sys.executable).parent / "asgi-lab"  # the installed console script
    process = subprocess.Popen(
        [str(command), "trace", "tests.wheel.user_app:app", "--port", "0"],
        cwd=Path(__file__).resolve().parent.parent.parent,  # --app-dir "." finds tests.wheel
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so the whole group, the worker included, can be killed
    )
    try:
        line = first_line(process, timeout=60)
        url = line.rsplit(" on ", 1)[1].strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9]\d*", url), line
        answer = httpx.get(f"{url}/sync", timeout=30)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(15)
    assert answer.status_code == 200 and answer.json() == {"ran": "in the threadpool"}
    header = HEADER.fullmatch(answer.headers["x-asgi-lab"])
    assert header is not None, answer.headers["x-asgi-lab"]
    assert process.returncode == 0, err
    pid = header.group(1)
    assert f"1 requests, 1 worker(s): {pid}" in out, out
    assert "GET /sync" in out and "who served the requests" in out, out
    assert "GET /sync 200" in err  # the probe's log line for the request
