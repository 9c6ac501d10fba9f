"""Tables, the tour summary and progress lines."""

from __future__ import annotations

import io
from pathlib import Path

from asgi_lab.lab.harness import Result
from asgi_lab.lab.observed import Observed
from asgi_lab.lab.report import StderrProgress, grouped, render, summary
from asgi_lab.lab.verdicts import at_most, exactly
from asgi_lab.timeline.terminal import ASCII

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


def test_the_served_by_table_of_four_workers_fits_the_width_and_names_each() -> None:
    pids = range(10001, 10005)
    four = Result("workers", "t", 1.0, "raw")
    four.records = [Observed("workers=4", record(f"{p}-1", pid=p, loop_thread=p)) for p in pids]
    text = render(four, charset=ASCII, columns=100)
    assert max(len(line) for line in text.splitlines()) <= 100
    served = text.split("served by", 1)[1].split("=>", 1)[0]
    assert all(str(p) in served for p in pids), "up to four ids a cell, wrapped, none cut"


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


def test_a_long_claim_fact_or_note_wraps_inside_100_columns() -> None:
    long = "a claim long enough to need two lines of its column " * 2
    r = Result("demo", "a title " * 20, 1.0, "raw", error="RuntimeError: " + "boom " * 40)
    r.verdicts.append(at_most(long.strip(), 1.0, 1.0, note="a note " * 30))
    r.facts.append(("a fact whose label is longer than its column can hold", "value " * 40))
    r.facts.append(("an-unbroken-value", "x" * 250))
    r.records.append(Observed("a phase name that goes on and on, as phases may", record("1-1")))
    text = render(r)
    assert max(len(line) for line in text.splitlines()) <= 100
    words = " ".join(text.split())
    for kept in ("a claim long enough", "a note a note", "value value", "boom boom", "on and on"):
        assert kept in words, f"{kept!r} lost, not wrapped"
    assert text.count("x") >= 250, "a word longer than its column folds, not cut"
    narrow = render(r, columns=60)
    assert max(len(line) for line in narrow.splitlines()) <= 60


def test_claims_sharing_a_prefix_are_grouped_under_it() -> None:
    labels = ["threads=4: 8 sleeps", "threads=4: waits", "alone: one", "fix: a: b", "fix: a: c"]
    assert grouped(labels) == [
        ("threads=4:", "8 sleeps"),
        (None, "waits"),
        (None, "alone: one"),  # a prefix of its own is not a group
        ("fix: a:", "b"),  # the prefix runs to the last ": "
        (None, "c"),
    ]
    r = Result("demo", "t", 1.0, "raw")
    for label in labels[:2]:
        r.verdicts.append(exactly(label, 1, 1))
    lines = render(r).splitlines()
    heading = next(i for i, line in enumerate(lines) if line.strip() == "threads=4:")
    assert lines[heading + 1].split()[:2] == ["8", "sleeps"]
    assert lines[heading + 1].index("8") == lines[heading].index("t") + 2, "indented under it"


def test_a_note_shared_by_bounds_is_numbered_once() -> None:
    r = Result("demo", "t", 1.0, "raw")
    for claim in ("first", "second"):
        r.verdicts.append(at_most(claim, 1.0, 1.0, note="N x S"))
    r.verdicts.append(at_most("third", 1.0, 1.0, note="other"))
    text = render(r)
    assert "1.000 s (1)" in text and "1.000 s (2)" in text and "(3)" not in text
    assert text.count("N x S") == 1


def test_the_summary_fits_in_100_columns() -> None:
    r = result(passed=True)
    r.name = "an-experiment-with-a-long-name"
    r.title = "what it shows, " * 20
    text = summary([r], 1.0)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "PASS" in text and "what it shows" in text


def test_an_experiment_with_an_app_of_its_own_says_which_not_a_layer() -> None:
    from asgi_lab.lab.experiments import EXPERIMENTS

    own = {e.name: e.serves for e in EXPERIMENTS if e.serves is not None}
    assert set(own) == {"db-threads", "sizing-pool", "sqlalchemy", "find-the-blocker"}
    text = render(Result("find-the-blocker", "t", 1.0, "raw", own["find-the-blocker"]))
    assert "serves the shop app on the wrapper (Layer 2)" in text and "layer raw" not in text
    assert "layer raw," in render(Result("demo", "t", 1.0, "raw"))
