"""The loop watchdog on real servers: every classic way to block the loop is named (request,
file and line) beside a clean twin that reports nothing, on asyncio and on uvloop; bystanders
are told how long they waited and never blamed; a starved loop blames nobody."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from asgi_lab.lab.clients import AsyncClient, Reply
from asgi_lab.records import read_records
from asgi_lab.records.schema import RecordData
from asgi_lab.serving import ServerOptions, start
from asgi_lab.settings import Settings
from tests.apps import blockers

# serial: the starved/blocked verdict reads CPU shares and GIL waits, which other tests' load skews.
pytestmark = [pytest.mark.server, pytest.mark.serial]

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(blockers.__file__)

#: case: (the blocking path, its clean twin, the function whose line blocks)
CASES = {
    "time.sleep in async def": ("/sleep/blocking", "/sleep/clean", "sleep_blocking"),
    "sqlite3 in an async dependency": ("/db/blocking", "/db/clean", "count_on_the_loop"),
    "a CPU loop in async def": ("/cpu/blocking", "/cpu/clean", "cpu_blocking"),
    "time.sleep in an async streaming body": ("/stream/blocking", "/stream/clean", "body"),
    "time.sleep in pure-ASGI middleware": ("/mw/blocking", "/mw/clean", "__call__"),
    "Lock.acquire on the loop, held by a thread": (
        "/lock/blocking",
        "/lock/clean",
        "lock_blocking",
    ),
}
LOOPS = ["asyncio", "uvloop"]


def blocking_lines() -> dict[str, set[int]]:
    """Each function's lines marked `# BLOCKS` in the app's source."""
    lines: dict[str, set[int]] = {}
    function = ""
    for number, text in enumerate(SOURCE.read_text().splitlines(), 1):
        found = re.match(r"\s*(?:async )?def (\w+)", text)
        if found:
            function = found.group(1)
        if text.rstrip().endswith("# BLOCKS"):
            lines.setdefault(function, set()).add(number)
    return lines


@dataclass
class Run:
    """One path sent beside a ticking bystander, and the ids of their records."""

    path: str
    culprit: str = ""
    bystander: str = ""
    others: list[str] = field(default_factory=list)


async def one_run(client: AsyncClient, path: str) -> Run:
    run = Run(path)
    # At most 2 s of ticks (a bound only): it ticks until told the culprit is answered.
    ticker = asyncio.ensure_future(client.get("/ticker?ticks=1000"))
    helpers = []
    if path.startswith("/lock/"):
        helpers.append(asyncio.ensure_future(client.get("/lock/hold")))
    # The bystander is ticking on the server before the culprit is sent (not paced by a sleep,
    # which under load let it arrive after the stall and see nothing to wait for).
    await client.get("/ticker/running")
    reply: Reply = await client.get(path)
    run.culprit = reply.record_id
    run.others = [(await h).record_id for h in helpers]
    # The culprit's stall, if any, is closed by now (its request finishing closes it, with the
    # bystander still in flight): the bystander may stop.
    await client.get("/ticker/stop")
    run.bystander = (await ticker).record_id
    return run


@pytest.fixture(scope="module", params=LOOPS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[Run], dict[str, RecordData]]:
    """Every case and its twin on one traced server of this loop; records read after stop."""
    loop = str(request.param)
    trace = tmp_path_factory.mktemp(f"trace-{loop}")
    settings = Settings(app="tests.apps.blockers:app", block_ms=50, trace_dir=str(trace), log="off")
    options = ServerOptions(
        "asgi_lab.trace.app:app", factory=True, loop=loop, app_dir=str(ROOT), settings=settings
    )

    async def traffic(url: str) -> list[Run]:
        async with AsyncClient(url, timeout=30) as client:
            await client.get("/ticker?ticks=1")  # warm up: imports, first connection
            return [
                await one_run(client, p)
                for blocking, clean, _ in CASES.values()
                for p in (blocking, clean)
            ]

    with start(options) as server:
        runs = asyncio.run(traffic(server.url))
    records = {r.id: r for r in read_records(trace)}
    return loop, runs, records


def run_of(runs: list[Run], path: str) -> Run:
    return next(r for r in runs if r.path == path)


@pytest.mark.parametrize("case", list(CASES))
def test_the_watchdog_names_the_request_and_the_line(
    served: tuple[str, list[Run], dict[str, RecordData]], case: str
) -> None:
    loop, runs, records = served
    path, _, function = CASES[case]
    run = run_of(runs, path)
    culprit = records[run.culprit]
    assert culprit.blocks, f"{case} on {loop}: no block reported on {path}"
    block = culprit.blocks[0]
    assert Path(block.file) == SOURCE, block
    assert block.function == function and block.line in blocking_lines()[function], block
    assert block.ms >= 50 and block.kind == "blocked"
    # The bystander sat through it, was told for whom, and is not blamed; nor is anyone else.
    bystander = records[run.bystander]
    assert not bystander.blocks
    assert [w.request for w in bystander.waited_on] == [culprit.id], bystander.waited_on
    assert all(not records[other].blocks for other in run.others)


@pytest.mark.parametrize("case", list(CASES))
def test_the_clean_twin_reports_nothing(
    served: tuple[str, list[Run], dict[str, RecordData]], case: str
) -> None:
    loop, runs, records = served
    _, clean, _ = CASES[case]
    run = run_of(runs, clean)
    for rid in (run.culprit, run.bystander, *run.others):
        assert not records[rid].blocks and not records[rid].waited_on, (loop, records[rid])


def test_a_starved_loop_blames_nobody(tmp_path: Path) -> None:
    """Eight CPU-bound `def` endpoints hold the GIL: the loop waits, and no request is blamed."""
    settings = Settings(
        app="tests.apps.blockers:app", block_ms=20, trace_dir=str(tmp_path), log="off"
    )
    options = ServerOptions(
        "asgi_lab.trace.app:app", factory=True, app_dir=str(ROOT), settings=settings
    )

    async def traffic(url: str) -> Reply:
        async with AsyncClient(url, timeout=30) as client:
            await client.get("/ticker?ticks=1")
            burners = [
                asyncio.ensure_future(client.get("/cpu/clean?seconds=0.6")) for _ in range(8)
            ]
            await asyncio.sleep(0.05)  # pacing only
            ticker = await client.get("/ticker?ticks=100")
            await asyncio.gather(*burners)
            return ticker

    # Whether eight burners starve the loop for the threshold is the kernel's and the GIL's
    # call (3.13 once let it run throughout): the load goes again, at most three times, until a
    # stall is seen; in every round, nobody is blamed.
    for _round in range(3):
        with start(options) as server:
            ticker = asyncio.run(traffic(server.url))
        records = read_records(tmp_path)
        assert not [r for r in records if r.blocks], "a starved loop is nobody's block"
        waits = [w for r in records for w in r.waited_on]
        if waits:
            break
        for path in tmp_path.iterdir():
            path.unlink()
    assert waits and {w.kind for w in waits} == {"starved"}
    assert all(w.request is None and w.hops for w in waits)
    # Which requests sat through a starved stall depends on when the kernel let the loop thread
    # run; that some did, and that none was blamed, does not.
    assert ticker.status == 200


#: A process that burns a core until killed (at most 30 s), saying when it has begun.
HOG = "import time\nprint(flush=True)\nend = time.monotonic() + 30\n"
HOG += "while time.monotonic() < end: pass"


async def get(url: str, path: str) -> Reply:
    async with AsyncClient(url, timeout=30) as client:
        return await client.get(path)


def test_a_process_held_off_the_cpu_blames_no_line(tmp_path: Path) -> None:
    """A loaded machine or a container's CPU quota: the server shares its core with nine
    processes that burn it, so a handler's 40 ms of CPU on the loop (under the 100 ms
    threshold) stalls the loop for several times that, the loop thread runnable but waiting for
    a core. Nobody is blamed; the stall is starved, and the report says the loop was held off."""
    settings = Settings(
        app="tests.apps.blockers:app", block_ms=100, trace_dir=str(tmp_path), log="off"
    )
    # One core this process may use, shared by the server and the burners alone.
    core = str(min(os.sched_getaffinity(0)))
    options = ServerOptions(
        "asgi_lab.trace.app:app", factory=True, app_dir=str(ROOT), settings=settings, cpus=core
    )
    with start(options) as server:
        asyncio.run(get(server.url, "/ticker?ticks=1"))  # warm up: imports, first connection
        hogs: list[subprocess.Popen[str]] = []
        try:
            for _ in range(9):
                hogs.append(
                    subprocess.Popen(
                        ["taskset", "-c", core, sys.executable, "-c", HOG],
                        stdout=subprocess.PIPE,
                        text=True,
                        # A session each: where the kernel shares a core between sessions first
                        # (autogroup), the server's session would keep half of it.
                        start_new_session=True,
                    )
                )
            for hog in hogs:
                assert hog.stdout is not None
                hog.stdout.readline()  # burning from here on
            reply = asyncio.run(get(server.url, "/cpu/own?ms=40"))
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait(10)
                assert hog.stdout is not None
                hog.stdout.close()
        server.stop()
        output = server.output()
    assert reply.status == 200
    [record] = [r for r in read_records(tmp_path) if r.id == reply.record_id]
    assert not record.blocks, f"a process held off the CPU is nobody's block: {output}"
    assert record.waited_on and {w.kind for w in record.waited_on} == {"starved"}, output
    assert "(held off the CPU: the loop thread waited about" in output
