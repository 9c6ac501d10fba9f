"""`asgi-lab trace`'s summary fits 100 columns, cuts nothing that says where a stall was, splits
no word across lines, groups requests by route and gives each worker one row."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from asgi_lab.console import plain
from asgi_lab.records import Trace, json_line
from asgi_lab.records.schema import BlockData
from asgi_lab.timeline.report import report_trace
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


def test_requests_group_by_route_and_each_worker_is_one_row() -> None:
    slugs = [
        dataclasses.replace(
            record(f"{pid}-{i}", pid=pid, handler=pid * 10 + i % 3, hops=[(0.0, 0.001)]),
            path=f"/api/recipes/slug-{i}",
            route="/api/recipes/{slug}",
        )
        for pid in (1, 2)
        for i in range(6)
    ]
    text = plain(summary(slugs), columns=100)
    served = text.split("who served", 1)[1].split("pools the hops", 1)[0]
    rows = [line.split("│") for line in served.splitlines() if line.startswith("│")]
    workers = [row[1].strip() for row in rows if row[1].strip()]
    assert workers == ["1", "2"], served  # one row per worker, its threads folded
    threads = " ".join(row[3].strip() for row in rows if row[3].strip())
    assert threads == "loop + 3 threads (anyio 3) loop + 3 threads (anyio 3)"
    slowest = text.split("slowest routes", 1)[1]
    assert "GET /api/recipes/{slug}" in slowest and "slug-" not in slowest


def test_no_word_is_cut_in_two_at_any_width() -> None:
    culprit = BlockData(120.0, "/srv/app/deep/package/a_module_named_at_length.py", 31,
                        "render_rows", (), "blocked", 0)  # fmt: skip
    route = "/organisations/{organisation}/households/{household}/shopping-lists/{item}"
    r = dataclasses.replace(record("1-1", pid=1), path="/x", route=route, blocks=(culprit,))
    words = {w for text in (route, culprit.frame.where()) for w in text.replace("/", " ").split()}
    for columns in (80, 100):  # narrower, a column may be narrower than its longest word
        text = plain(summary([r]), columns=columns)
        assert max(len(line) for line in text.splitlines()) <= columns
        # Every word of the route and of the culprit's line is whole on some line.
        for word in words:
            assert any(word in line for line in text.splitlines()), (columns, word, text)


def test_a_stall_names_the_tasks_awaiting_the_culprit_where_python_says_them() -> None:
    chain = ("outer (1-1) at app.py:12 in outer", "Task-1 (1-1) at app.py:20 in handler")
    culprit = BlockData(120.0, "/srv/app.py", 31, "render", (), "blocked", 0, awaited_by=chain)
    r = dataclasses.replace(record("1-1", pid=1), blocks=(culprit,))
    text = " ".join(plain(summary([r]), columns=200).split())
    assert f"/srv/app.py:31 in render, awaited by {chain[0]} <- {chain[1]}" in text


def test_stalls_with_no_request_say_when_they_were() -> None:
    served = [record("1-1", pid=1, start=1.0, end=1.1), record("1-2", pid=1, start=3.0, end=3.1)]

    def at(start: float) -> BlockData:  # fmt: skip
        return BlockData(200.0, "/srv/app/boot.py", 7, "warm", (), "blocked", int(start * 1e9))

    unclaimed = [(1, at(0.1)), (1, at(2.0)), (1, at(4.0))]
    text = " ".join(plain(summary(served, unclaimed=unclaimed), columns=100).split())
    for when in ("startup", "between requests", "shutdown"):
        assert f"no request ({when}, worker 1)" in text


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
