"""Tables, the tour summary and progress lines."""

from __future__ import annotations

import io
from pathlib import Path

from asgi_lab.lab.experiment import Result
from asgi_lab.lab.records import Observed, served_summary
from asgi_lab.lab.report import WIDTH, StderrProgress, render, served_table, summary
from asgi_lab.lab.verdicts import at_most, exactly

from .fakes import record


def result(*, passed: bool) -> Result:
    r = Result("demo", "what it shows", 1.0, "raw")
    r.verdicts.append(at_most("elapsed", 1.01 if passed else 1.5, 1.0, note="N x S"))
    r.verdicts.append(exactly("pids", 2, 2))
    r.facts.append(("split", "pid 1: 3"))
    r.records.append(Observed("p", record("1-1")))
    return r


def test_render_shows_value_bound_ratio_verdict_and_who_served() -> None:
    text = render(result(passed=True))
    assert "elapsed" in text and "1.010 s" in text and "1.000 s" in text
    assert "1.010" in text and "<= 1.05" in text and "PASS" in text
    assert "(1) N x S" in text
    assert "split" in text and "pid 1: 3" in text
    assert "served by" in text and "/quick" in text
    assert "=> PASS" in text
    # Every report ends with a timeline per phase.
    tail = text[text.index("=> PASS") :]
    assert "phase p:" in tail and "loop 100:1 (uvloop)" in tail
    assert text.rstrip().splitlines()[-1].startswith("time (ms)")


def test_served_table_lists_fewer_ids_only_to_fit_the_width() -> None:
    two = [Observed("workers=2", record(f"{p}-1", pid=p, loop_thread=p)) for p in (10001, 10002)]
    assert "10001,10002" in served_table(served_summary(two)), "two workers fit: both listed"
    pids = range(10001, 10005)
    four = [Observed("workers=4", record(f"{p}-1", pid=p, loop_thread=p)) for p in pids]
    text = served_table(served_summary(four))
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "10001,+3" in text and "10001:1,+3" in text, "the first id, and how many more"


def test_render_failing_and_erroring_results() -> None:
    assert "FAIL" in render(result(passed=False))
    broken = Result("demo", "t", 1.0, "raw", error="RuntimeError: boom")
    text = render(broken)
    assert "ERROR: RuntimeError: boom" in text
    assert not broken.passed, "no verdicts is no pass"


def test_summary_counts_passes() -> None:
    text = summary([result(passed=True), result(passed=False)], 12.0)
    assert "1/2 experiments passed in 12.0 s" in text
    assert "1.500" in text


def test_progress_goes_to_its_stream_unless_disabled() -> None:
    stream = io.StringIO()
    StderrProgress(stream)("hello")
    StderrProgress(stream, enabled=False)("hidden")
    assert stream.getvalue() == "hello\n"


def test_the_tour_report_links_each_experiment_to_its_page(tmp_path: Path) -> None:
    from asgi_lab.lab.pages import write_tour

    index = write_tour(tmp_path / "out", [result(passed=True)], 1.0)
    assert sorted(p.name for p in index.parent.iterdir()) == ["demo.html", "index.html"]
    assert 'href="demo.html"' in index.read_text(encoding="utf-8")
    page = (index.parent / "demo.html").read_text(encoding="utf-8")
    assert "elapsed" in page and "phase p" in page and 'data-lane="100:100"' in page
