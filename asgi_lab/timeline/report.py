"""`asgi-lab report`: any trace directory as a terminal timeline, an HTML page, a Perfetto trace.

The directory may come from an experiment, `asgi-lab serve` or any app under the probe with
`ASGI_LAB_TRACE_DIR` set: its `records-<pid>.jsonl` files are read, and the workers' ledgers
(`worker-<pid>.json`) say which worker died and what it never wrote.
"""

from __future__ import annotations

import sys
from pathlib import Path

from asgi_lab import console
from asgi_lab.records import RecordsError, read_trace
from asgi_lab.records.schema import RecordData
from asgi_lab.timeline import Timeline, build, html, perfetto, terminal

__all__ = ["report_trace", "write_html", "write_perfetto"]


def write_html(path: str | Path, timeline: Timeline, title: str) -> None:
    Path(path).write_text(html.timeline_page(timeline, title), encoding="utf-8")


def write_perfetto(path: str | Path, records: list[RecordData]) -> None:
    Path(path).write_text(perfetto.dumps(build(records)), encoding="utf-8")


def report_trace(
    directory: str, *, html_path: str | None = None, perfetto_path: str | None = None
) -> int:
    """Print the timeline of `directory`'s records and write the files asked for; 2 if there
    are no records to show."""
    where = Path(directory)
    if not where.is_dir():
        print(f"asgi-lab report: {directory!r} is not a directory", file=sys.stderr)
        return 2
    try:
        trace = read_trace(where)
    except RecordsError as exc:
        print(f"asgi-lab report: {exc}", file=sys.stderr)
        return 2
    records = trace.records
    lost = trace.losses()
    if lost is not None:
        print(f"asgi-lab report: {lost}", file=sys.stderr)
    for sentence in trace.workers():
        print(f"asgi-lab report: {sentence}", file=sys.stderr)
    if not records:
        print(
            f"asgi-lab report: no records in {directory!r}; expected records-<pid>.jsonl files "
            "written by the probe (ASGI_LAB_TRACE_DIR)",
            file=sys.stderr,
        )
        return 2
    timeline = build(records)
    charset = terminal.charset_for(sys.stdout.encoding)
    out = console.console()  # its width: 100, or a narrower terminal's
    out.print(terminal.render(timeline, width=out.width, charset=charset))
    if html_path:
        write_html(html_path, timeline, f"asgi-lab: {where.resolve().name}")
        print(f"wrote {html_path}", file=sys.stderr)
    if perfetto_path:
        write_perfetto(perfetto_path, records)
        print(f"wrote {perfetto_path} (open it in ui.perfetto.dev)", file=sys.stderr)
    return 0
