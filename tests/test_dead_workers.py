"""A worker SIGKILLed under uvicorn's supervisor is named in the trace's summary and in
`asgi-lab report`, with the worker that took its place and the count of the requests it
answered whose records died with it; a clean run says no worker died."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from asgi_lab.console import plain
from asgi_lab.records import read_stalls, read_trace
from asgi_lab.records.ledger import read_ledgers
from asgi_lab.serving import Server
from asgi_lab.timeline.report import report_trace
from asgi_lab.trace.summary import summary
from tests.conftest import facts, serve

APP = "tests.apps.held:app"  # its writer holds every record until it closes
WAIT = 30.0  # seconds at most for any one thing to happen


def answers_from_every_worker(server: Server, pids: set[int]) -> Counter[int]:
    """Requests on fresh connections until each of `pids` has answered one (at most 200):
    the requests each worker answered."""
    answered: Counter[int] = Counter()
    for _ in range(200):
        with httpx.Client(base_url=server.url, timeout=WAIT) as client:
            response = client.get("/")
        response.raise_for_status()
        answered[facts(response).pid] += 1
        if pids <= set(answered):
            return answered
    raise AssertionError(f"200 requests reached only {sorted(answered)} of {sorted(pids)}")


def summary_text(directory: Path) -> str:
    trace = read_trace(directory)
    return plain(summary(trace.records, trace, read_stalls(directory)), columns=200)


def test_a_killed_worker_is_named_with_its_successor_and_its_unwritten_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(APP, workers=2, env={"ASGI_LAB_TRACE_DIR": str(tmp_path)}) as server:
        first = set(server.worker_pids)
        assert len(first) == 2
        answered = answers_from_every_worker(server, first)
        victim, survivor = sorted(first)
        # The client can have its answer an instant before the probe counts the request (its
        # record is made once the app returns): kill once the ledger has counted them all.
        deadline = time.monotonic() + WAIT
        while read_ledgers(tmp_path)[victim].made < answered[victim]:
            assert time.monotonic() < deadline, "the ledger never counted the answers"
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + WAIT
        while not (successors := set(server.worker_pids) - first):
            assert time.monotonic() < deadline, "uvicorn started no worker in the victim's place"
            time.sleep(0.05)
        [successor] = successors
        # Ready once it answers: its ledger is open, and it will close it on the way out.
        served = answers_from_every_worker(server, {successor})
        assert served[victim] == 0  # the dead answer nobody
        assert server.stop() == 0
    text = summary_text(tmp_path)
    assert (
        f"worker {victim} died without closing its trace (killed?); "
        f"worker {successor} took its place" in text
    ), text
    lost = answered[victim]
    assert f"worker {victim}: {lost} request(s) it finished never reached the trace" in text
    assert "no worker died" not in text
    assert f"worker {survivor}:" not in text and f"worker {successor}:" not in text, text
    records = read_trace(tmp_path).records
    assert {r.pid for r in records} == {survivor, successor}  # the victim wrote nothing
    assert len(records) == answered[survivor] + sum(served.values()) - served[victim]
    # `asgi-lab report` reads the same directory and says the same.
    assert report_trace(str(tmp_path)) == 0
    said = capsys.readouterr().err
    assert f"asgi-lab report: worker {victim} died without closing its trace (killed?)" in said
    assert f"asgi-lab report: worker {victim}: {lost} request(s) it finished" in said


def test_a_clean_run_says_no_worker_died(tmp_path: Path) -> None:
    with serve(APP, workers=2, env={"ASGI_LAB_TRACE_DIR": str(tmp_path)}) as server:
        pids = set(server.worker_pids)
        answered = answers_from_every_worker(server, pids)
        assert server.stop() == 0
    text = summary_text(tmp_path)
    assert "no worker died: all 2 closed their trace" in text, text
    assert "died without" not in text and "never reached" not in text
    assert len(read_trace(tmp_path).records) == sum(answered.values())


def test_a_worker_of_an_app_without_lifespan_is_not_called_dead_or_alive(tmp_path: Path) -> None:
    # uvicorn stops such a worker by raising SIGTERM again after its own shutdown: nothing
    # closes the probe's writer, so the run cannot tell a clean stop from a kill, and says so.
    with serve("tests.apps.held:silent", workers=2, env={"ASGI_LAB_TRACE_DIR": str(tmp_path)}) as s:
        pids = set(s.worker_pids)
        answers_from_every_worker(s, pids)
        s.stop()
    text = summary_text(tmp_path)
    for pid in pids:
        assert (
            f"worker {pid} did not close its trace: its app runs no lifespan, so a clean stop "
            "cannot be told from a death" in text
        ), text
    assert "died without" not in text and "no worker died" not in text
