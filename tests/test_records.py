"""The records room: one JSON form written by one encoder, read back by one strict reader."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from asgi_lab.records import (
    JsonLines,
    RecordData,
    RecordsError,
    file_name,
    json_line,
    read_records,
    read_trace,
)
from asgi_lab.records.ledger import Ledger, read_ledgers
from asgi_lab.records.overlap import open_over_time, peak
from tests.lab.fakes import record


def write(path: Path, records: list[RecordData], tail: str = "") -> None:
    path.write_text("".join(json_line(r) for r in records) + tail, encoding="utf-8")


def test_workers_merge_in_start_order_rotated_files_included(tmp_path: Path) -> None:
    a = [record("100-1", pid=100, start=0.3), record("100-2", pid=100, start=0.1)]
    b = [record("200-1", pid=200, loop_thread=200, start=0.2)]
    older = [record("100-0", pid=100, start=0.05)]
    write(tmp_path / file_name(100), a)
    write(tmp_path / (file_name(100) + ".1"), older)  # the generation before a rotation
    write(tmp_path / file_name(200), b)
    (tmp_path / "other.txt").write_text("not a record")
    trace = read_trace(tmp_path)
    assert [r.id for r in trace.records] == ["100-0", "100-2", "200-1", "100-1"]
    assert trace.records[2] == b[0]  # typed and whole, not a dict
    assert len(trace.files) == 3 and trace.cut == []


def test_a_last_line_cut_short_is_left_out_and_counted(tmp_path: Path) -> None:
    good = record("200-1", pid=200)
    path = tmp_path / file_name(200)
    write(path, [good], tail=json_line(record("200-2", pid=200))[:40])  # killed mid-write
    trace = read_trace(tmp_path)
    assert trace.records == [good] and trace.cut == [path]


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"id": "1-9"', "Expecting"),  # cut short, but not the last line
        ("{}", "field 'id' is missing"),
    ],
)
def test_any_other_bad_line_names_the_file_the_line_and_the_field(
    tmp_path: Path, line: str, said: str
) -> None:
    good = record("1-1")
    path = tmp_path / file_name(1)
    path.write_text(json_line(good) + line + "\n" + json_line(record("1-2")))
    with pytest.raises(RecordsError, match=f"{path}:2: .*{said}") as caught:
        read_records(tmp_path)
    assert (caught.value.path, caught.value.line) == (path, 2)


def test_a_renamed_field_is_an_error_not_a_missing_record(tmp_path: Path) -> None:
    data = record("1-1").to_json()
    data["loop_impl"] = data.pop("loop")  # what a dialect of our own would have written
    (tmp_path / file_name(1)).write_text(json.dumps(data) + "\n")
    with pytest.raises(RecordsError, match="field 'loop' is missing"):
        read_records(tmp_path)


def test_the_sink_writes_what_the_reader_reads(tmp_path: Path) -> None:
    records = [record(f"{os.getpid()}-{n}", pid=os.getpid(), start=n) for n in range(3)]
    sink = JsonLines(tmp_path)
    sink.open()
    sink.write(records)
    sink.close()
    assert sink.path == tmp_path / file_name(os.getpid())
    assert read_records(tmp_path) == records


def test_the_overlap_sweep() -> None:
    assert peak([]) == (0, 0)
    assert peak([(0, 10), (1, 11), (2, 12)]) == (3, 2)
    assert peak([(0, 10), (10, 20)]) == (1, 0)  # back to back never overlap
    assert open_over_time([(0, 10), (5, 20)]) == [(0, 1), (5, 2), (10, 1), (20, 0)]


def test_a_full_disk_leaves_no_half_line_and_counts_what_it_lost(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system to stand in for a full disk")
    # /dev/full refuses every write with ENOSPC, as a full disk does: the sink's file is
    # linked to it, so the sink's own write path meets the fault.
    records = [record(f"{os.getpid()}-{n}", pid=os.getpid()) for n in range(3)]
    sink = JsonLines(tmp_path)
    sink.open()
    sink.write(records[:1])
    assert sink.path is not None
    good = sink.path.read_bytes()
    os.dup2(os.open("/dev/full", os.O_WRONLY), sink._fd)  # our own sink's descriptor
    sink.write(records[1:])
    sink.close()
    assert sink.lost == 2
    assert sink.path.read_bytes() == good and read_records(tmp_path) == records[:1]


def test_a_deleted_trace_file_is_noticed_counted_and_begun_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = [record(f"{os.getpid()}-{n}", pid=os.getpid()) for n in range(4)]
    sink = JsonLines(tmp_path / "trace")
    sink.CHECK_EVERY = 0.0  # check at every write: what a second of writes would do
    sink.open()
    sink.write(records[:2])
    for path in (tmp_path / "trace").iterdir():
        path.unlink()
    (tmp_path / "trace").rmdir()  # the directory too, as `rm -rf` on a running trace would
    sink.write(records[2:])
    sink.close()
    assert sink.lost == 2  # written into the deleted file since the last check
    assert caplog.text.count("the file was deleted while in use") == 1
    assert read_records(tmp_path / "trace") == records[2:]


def test_a_trace_directory_that_cannot_be_written_is_refused_before_serving(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError):
        JsonLines(blocker / "traces").check()
    JsonLines(tmp_path / "new" / "traces").check()  # made when missing
    assert (tmp_path / "new" / "traces").is_dir()
    assert list((tmp_path / "new" / "traces").iterdir()) == []  # and nothing left behind


def test_a_trace_from_before_ledgers_says_nothing_of_its_workers(tmp_path: Path) -> None:
    write(tmp_path / file_name(100), [record("100-1", pid=100)])
    trace = read_trace(tmp_path)
    assert trace.ledgers == {} and trace.workers() == []


def kill_between_the_two_stores(ledger: Ledger) -> None:
    """The file as a SIGKILL between the first and the second store of the last count leaves
    it: the second figure one behind, and never closed."""
    text = ledger.path.read_text(encoding="ascii")
    assert json.loads(text)["made"] == [ledger.made, ledger.made]
    behind = text.replace(f"{ledger.made:>20}]", f"{ledger.made - 1:>20}]")
    ledger.close()
    data = json.loads(behind)
    data["closed_ns"] = 0
    ledger.path.write_text(json.dumps(data), "ascii")


def test_a_dead_workers_unwritten_records_are_counted_cut_lines_included(
    tmp_path: Path,
) -> None:
    pid = os.getpid()
    ledger = Ledger(tmp_path)
    for _ in range(5):
        ledger.count()
    # Two records written, a third cut short by the kill, two never written.
    tail = json_line(record(f"{pid}-3", pid=pid))[:30]
    write(tmp_path / file_name(pid), [record(f"{pid}-{i}", pid=pid) for i in (1, 2)], tail)
    data = json.loads(ledger.path.read_text("ascii"))
    assert data["closed_ns"] == 0  # the worker "dies" here: never closed
    said = read_trace(tmp_path).workers()
    assert said == [
        f"worker {pid} died without closing its trace (killed?); "
        "no worker of its server started after it",
        f"worker {pid}: 2 request(s) it finished never reached the trace",
    ]
    ledger.close()
    said = read_trace(tmp_path).workers()
    assert said == ["no worker died: all 1 closed their trace", said[1]]
    assert said[1] == f"worker {pid}: 2 request(s) it finished never reached the trace"


def test_a_count_cut_in_the_middle_gives_a_bound_never_a_guess(tmp_path: Path) -> None:
    pid = os.getpid()
    ledger = Ledger(tmp_path)
    for _ in range(3):
        ledger.count()
    kill_between_the_two_stores(ledger)
    write(tmp_path / file_name(pid), [record(f"{pid}-1", pid=pid)])
    [data] = read_ledgers(tmp_path).values()
    assert (data.made, data.exact, data.closed) == (2, False, False)
    said = read_trace(tmp_path).workers()
    assert said[1] == f"worker {pid}: at least 1 request(s) it finished never reached the trace"


def test_probes_of_one_process_share_its_ledger_until_the_last_closes(tmp_path: Path) -> None:
    # Two probes of one process writing one directory share its records file: one ledger
    # counts for both, and it is closed only when both are.
    first, second = Ledger.open(tmp_path), Ledger.open(tmp_path)
    assert first is second
    first.count()
    second.count()
    first.close()
    [data] = read_ledgers(tmp_path).values()
    assert (data.made, data.closed) == (2, False)
    second.close()
    [data] = read_ledgers(tmp_path).values()
    assert (data.made, data.closed) == (2, True)
    assert Ledger.open(tmp_path) is not first  # a new run of this process: a new ledger
