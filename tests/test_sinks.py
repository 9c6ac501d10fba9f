"""The writer thread and its sinks: bounded, never blocking the loop, saying what it dropped,
rotating its files, and logging a line per request off the loop."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from asgi_lab.probe import JsonLines, ProbeMiddleware, Record, RecordWriter
from asgi_lab.probe.log import LOGGER, LogLines, as_json, as_line, default_handler
from asgi_lab.records import RecordData, json_line, read_trace
from tests.test_probe import fastapi_app, starlette_app

pytestmark = pytest.mark.anyio


async def records_of(app: object, paths: Sequence[str]) -> list[Record]:
    """Real records: `paths` requested from `app` wrapped in a probe with no sinks."""
    probe = ProbeMiddleware(app, trace=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        for path in paths:
            await client.get(path)
    return list(probe.ring)


class Stuck:
    """A sink whose first write blocks until released: the writer falls behind on purpose."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[tuple[int, int]] = []
        self.wrote = threading.Condition()

    def open(self) -> None:
        pass

    def write(self, records: Sequence[RecordData]) -> None:
        with self.wrote:
            self.batches.append((len(records), records[0].dropped))
        self.entered.set()
        if not self.release.wait(10):
            raise TimeoutError("the test never released the sink")
        with self.wrote:
            self.wrote.notify_all()

    def wait_for(self, batches: int) -> bool:
        """Until `batches` writes have returned (bounded)."""
        with self.wrote:
            return self.wrote.wait_for(lambda: len(self.batches) >= batches, timeout=10)

    def close(self) -> None:
        pass


class Collecting:
    """A sink that keeps what it is given and says when it has `want` records."""

    def __init__(self) -> None:
        self.records: list[RecordData] = []
        self.changed = threading.Condition()

    def open(self) -> None:
        pass

    def write(self, records: Sequence[RecordData]) -> None:
        with self.changed:
            self.records.extend(records)
            self.changed.notify_all()

    def wait_for(self, want: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.records) >= want, timeout=10)

    def close(self) -> None:
        pass


async def test_a_stuck_sink_never_delays_another_and_its_losses_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [record] = await records_of(starlette_app(), ["/async"])
    stuck, other = Stuck(), Collecting()
    writer = RecordWriter([stuck, other], interval=0.001, capacity=2)
    writer.put(record)
    assert stuck.entered.wait(10)  # the stuck sink sits inside write()
    for n in range(2, 7):
        writer.put(record)
        assert other.wait_for(n)  # ... and the other sink gets every record all the same
    [stuck_lane, other_lane] = writer.lanes
    # The stuck sink's queue holds two; three had no room: counted, logged, never buffered.
    assert (stuck_lane.queued, stuck_lane.dropped) == (2, 3)
    assert (other_lane.dropped, writer.dropped) == (0, 0)
    # Logged once at the first loss, not once per record (at most once per WARN_EVERY).
    assert caplog.text.count("falls behind: 1 records dropped so far (queue of 2)") == 1
    assert caplog.text.count("falls behind") == 1
    stuck.release.set()
    # Its queue emptied (the two it held are written): the next record has room, and says
    # what the sink lost before it.
    assert stuck.wait_for(2) and stuck_lane.queued == 0
    writer.put(record)
    writer.close()
    assert stuck.batches == [(1, 0), (2, 0), (1, 3)]
    assert [r.dropped for r in other.records] == [0] * 7


async def test_closing_abandons_a_stuck_sink_with_its_count_within_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    [record] = await records_of(starlette_app(), ["/async"])
    stuck, other = Stuck(), Collecting()
    writer = RecordWriter([stuck, other], interval=0.001, capacity=10)
    for _ in range(4):
        writer.put(record)
    assert stuck.entered.wait(10) and other.wait_for(4)
    writer.close(timeout=0.2)
    # close() came back while the sink was still stuck: it did not wait for it.
    assert not stuck.release.is_set() and writer.lanes[0].alive
    [stuck_lane, other_lane] = writer.lanes
    assert (
        stuck_lane.abandoned
        == stuck_lane.queued
        == 4 - len(stuck.batches[0:1]) * stuck.batches[0][0]
    )
    assert not other_lane.alive and other_lane.written == 4
    assert "abandoned with" in caplog.text
    stuck.release.set()


async def test_flush_says_whether_every_record_put_so_far_is_written() -> None:
    [record] = await records_of(starlette_app(), ["/async"])
    stuck, other = Stuck(), Collecting()
    writer = RecordWriter([stuck, other], interval=0.001, capacity=10)
    for _ in range(3):
        writer.put(record)
    assert stuck.entered.wait(10)
    # One sink is inside a write: not everything has reached every sink, and flush says so.
    assert writer.flush(timeout=0.05) is False
    stuck.release.set()
    assert writer.flush(timeout=10) is True
    # By then both sinks hold all three, with nothing left queued or in flight.
    assert sum(n for n, _ in stuck.batches) == 3 and len(other.records) == 3
    assert all(lane.queued == 0 for lane in writer.lanes)
    writer.close()


async def test_a_json_line_after_a_loss_carries_the_count() -> None:
    [record] = await records_of(starlette_app(), ["/async"])
    stream = io.StringIO()
    sink = JsonLines(stream)
    sink.open()
    sink.write([dataclasses.replace(record.data(), dropped=7), record.data()])
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["dropped"] == 7 and "dropped" not in second
    assert RecordData.from_json(first).dropped == 7


@pytest.mark.parametrize("keep", [1, 2])
async def test_files_rotate_keep_generations_and_count_what_is_rotated_away(
    tmp_path: Path, keep: int
) -> None:
    records = [r.data() for r in await records_of(starlette_app(), ["/async"] * 12)]
    check_rotation(tmp_path, records, keep)


def check_rotation(tmp_path: Path, records: list[RecordData], keep: int) -> None:
    # Three records a file: rotations after the 3rd, 6th and 9th record.
    line = max(len(json_line(r)) for r in records) + len('"rotated_away":99,')
    sink = JsonLines(tmp_path, max_bytes=3 * line + line // 2, keep=keep)
    sink.open()
    for record in records:
        sink.write([record])
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 + keep and files[1].endswith(".jsonl.1")
    assert all(p.stat().st_size <= 3 * line + line // 2 for p in tmp_path.iterdir())
    # Every record written is either read back or counted as rotated away; none is cut in two.
    trace = read_trace(tmp_path)
    assert len(trace.records) + trace.rotated_away == len(records) == 12
    assert trace.rotated_away == sink.rotated_away == 3 * (3 - keep)
    assert trace.records[-1].id == records[-1].id and trace.cut == []
    said = trace.losses()
    assert said is not None and f"{trace.rotated_away} rotated away" in said


async def test_the_log_line_names_worker_loop_thread_and_hops() -> None:
    sync, async_ = (r.data() for r in await records_of(fastapi_app(), ["/sync", "/async"]))
    line = as_line(sync)
    loop = sync.loop
    handler = sync.handler.thread
    assert line.startswith("GET /sync 200 ")
    assert f"worker {sync.pid}" in line and f"loop {loop.id} ({loop.impl})" in line
    assert f"thread #{handler.native_id} {handler.name}" in line
    assert "(anyio 1/40 busy)" in line  # the pool its endpoint went through
    assert " → " in line and line.count("#") == 1 + len(sync.hops)  # every hop named
    plain = as_line(async_)
    assert "(the loop)" in plain and "hops:" not in plain
    # For machines, the record itself in its one JSON form: no dialect of the log's own.
    assert RecordData.from_json(json.loads(as_json(sync))) == sync


async def test_lines_are_logged_on_the_writer_thread(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    probe = ProbeMiddleware(starlette_app(), trace=None, log="line", writer_interval=0)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        for _ in range(3):
            await client.get("/async")
    await probe.aclose()
    lines = [r for r in caplog.records if r.name == LOGGER]
    assert [r.getMessage().split()[:3] for r in lines] == [["GET", "/async", "200"]] * 3
    assert {r.threadName for r in lines} == {"asgi-lab-sink LogLines"}


async def test_asgi_lab_log_wins_over_the_code(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    monkeypatch.setenv("ASGI_LAB_LOG", "json")
    probe = ProbeMiddleware(starlette_app(), trace=None, log=False, writer_interval=0)
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        await client.get("/async")
    await probe.aclose()
    [line] = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert json.loads(line)["path"] == "/async"
    assert isinstance(LogLines("json"), LogLines)
    with pytest.raises(ValueError, match="log mode must be 'line' or 'json', got 'loud'"):
        LogLines("loud")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    [record] = await records_of(starlette_app(), ["/async"])
    message = logging.LogRecord(LOGGER, logging.INFO, "", 0, as_line(record.data()), None, None)
    message.asgi_lab_pid = record.loop.pid
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert "\x1b[" in default_handler(Terminal()).format(message)
    assert "\x1b[" not in default_handler(io.StringIO()).format(message)
    monkeypatch.setenv("FORCE_COLOR", "1")  # a pipe that ends in a terminal (serve, trace)
    assert "\x1b[" in default_handler(io.StringIO()).format(message)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in default_handler(Terminal()).format(message)


def test_serve_and_trace_tell_their_workers_when_the_lines_reach_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from asgi_lab.serving import _colour

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _colour(Terminal()) == {"FORCE_COLOR": "1"}
    assert _colour(io.StringIO()) == {} and _colour(None) == {}
    monkeypatch.setenv("NO_COLOR", "1")
    assert _colour(Terminal()) == {}
