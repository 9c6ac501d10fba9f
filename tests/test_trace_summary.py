"""`asgi-lab trace`'s summary fits 100 columns and cuts nothing that says where a stall was."""

from __future__ import annotations

import dataclasses

from asgi_lab.console import plain
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
