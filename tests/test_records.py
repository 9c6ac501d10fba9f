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
