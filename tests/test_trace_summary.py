"""`asgi-lab trace`'s summary fits 100 columns and cuts nothing that says where a stall was."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from asgi_lab.console import plain
from asgi_lab.lab.traces import report_trace
from asgi_lab.records import Trace, json_line
from asgi_lab.records.schema import BlockData
from asgi_lab.trace.summary import summary
from tests.lab.fakes import record


def test_a_long_path_and_culprit_line_wrap_within_100_columns_and_stay_whole() -> None:
    culprit = BlockData(120.0, "/srv/app/deep/package/a_module_named_at_length.py", 31,
                        "render_rows", (), "blocked", 0)  # fmt: skip
    long_path = "/reports/" + "daily-" * 20 + "[id]"
    r = dataclasses.replace(record("1-1", pid=1), path=long_path, blocks=(culprit,))
    text = plain(summary([r]), columns=100)
    assert max(len(line) for line in text.splitlines()) <= 100
    # Folded cells: the stall table's columns read back together, borders and padding removed.
    stall_rows = text.split("loop stalls", 1)[1].splitlines()
    columns: dict[int, str] = {}
    for line in (row for row in stall_rows if row.startswith("│")):
        for i, part in enumerate(line.split("│")):
            columns[i] = columns.get(i, "") + part.replace(" ", "")
    assert "/srv/app/deep/package/a_module_named_at_length.py:31inrender_rows" in columns.values()
    assert any(
        c.startswith("GET/reports/daily-") and c.endswith("[id](1-1)") for c in columns.values()
    ), "the path whole, brackets and all: text is text, not markup"
    assert "…" not in text, "nothing cut short"


def test_the_summary_says_what_it_could_not_read(tmp_path: Path) -> None:
    records = [dataclasses.replace(record("1-1"), dropped=3), record("1-2")]
    records.append(dataclasses.replace(record("1-3"), rotated_away=120))
    trace = Trace(records, [tmp_path / "records-1.jsonl"], [tmp_path / "records-2.jsonl"])
    text = " ".join(plain(summary(records, trace)).split())
    assert (
        "records not read: 3 dropped by a writer that fell behind; 120 rotated away "
        "(ASGI_LAB_TRACE_KEEP keeps more); 1 last line(s) cut short by a worker that died writing"
    ) in text
    assert "records not read" not in plain(summary([record("1-1")], Trace([], [], [])))


def test_report_names_the_file_and_line_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "records-1.jsonl"
    path.write_text(json_line(record("1-1")) + "not json\n" + json_line(record("1-2")))
    assert report_trace(str(tmp_path)) == 2
    assert (
        f"asgi-lab report: {path}:2: not a JSON line (Expecting value, column 1)"
        in capsys.readouterr().err
    )
