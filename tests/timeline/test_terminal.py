"""The terminal timeline: lanes as rows, bars labelled by path, an ms axis, ASCII fallback."""

from __future__ import annotations

from asgi_lab.timeline import build
from asgi_lab.timeline.terminal import ASCII, UNICODE, charset_for, render
from tests.lab.fakes import NS, record


def blocked() -> list[str]:
    timeline = build(
        [
            record("100-1", path="/async/block", start=0.0, end=0.5),
            record("100-2", path="/quick", start=0.5, end=0.501),
        ]
    )
    return render(timeline).plain.splitlines()


def test_rows_fit_in_100_columns_and_name_the_loop_lane() -> None:
    lines = blocked()
    assert max(len(line) for line in lines) <= 100
    loop = next(line for line in lines if line.startswith("loop 100:1 (uvloop)"))
    assert "/async/block" in loop
    assert lines[-1].startswith("time (ms)") and "500" in lines[-1]


def test_a_request_starting_where_another_ends_is_drawn_right_after_it_on_the_same_row() -> None:
    lines = blocked()
    loop = next(line for line in lines if line.startswith("loop 100:1"))
    plot = loop[23:]
    # Bars alternate fills: the block is "█", /quick right after it "▓", no gap between.
    assert plot.lstrip().startswith("█/async/block")
    assert plot.rstrip().endswith("█▓"), plot
    callout = lines[lines.index(loop) + 1]
    assert "/quick" in callout, "a bar too narrow for its label gets a callout under it"


def test_hops_on_their_thread_rows_and_curves() -> None:
    timeline = build(
        [
            record("100-1", path="/sync/sleep", handler=201, start=0, end=0.2, hops=[(0, 0.1)]),
            record("100-2", path="/sync/sleep", handler=201, start=0, end=0.2, hops=[(0.1, 0.2)]),
        ]
    )
    lines = render(timeline, width=80).plain.splitlines()
    assert max(len(line) for line in lines) <= 80
    thread = next(line for line in lines if line.startswith("  thread 201"))
    assert thread.count("/sync/sleep") == 2, "two waves on one thread"
    assert any(line.startswith("  anyio 1/40 ") for line in lines)
    assert any(line.startswith("  in flight (max 2)") for line in lines)


def test_deep_loop_lanes_are_folded() -> None:
    timeline = build([record(f"1-{i}", start=0, end=0.1) for i in range(9)])
    text = render(timeline, max_rows=3).plain
    assert "+6 deeper reqs" in text


def test_ascii_when_the_encoding_cannot_encode_blocks() -> None:
    assert charset_for("utf-8") is UNICODE
    assert charset_for("ascii") is ASCII
    assert charset_for("latin-1") is ASCII
    assert charset_for(None) is ASCII
    assert charset_for("no-such-codec") is ASCII
    text = render(build([record("1-1", start=0, end=0.1)]), charset=ASCII).plain
    text.encode("ascii")
    assert "#/quick#" in text


def test_an_empty_timeline_says_so() -> None:
    assert render(build([])).plain == "timeline: no records"


def test_a_long_stall_label_is_cut_to_the_width() -> None:
    import dataclasses

    from asgi_lab.records.schema import BlockData

    function = "render_" + "rows_" * 20
    block = BlockData(500.0, "/app/shop.py", 57, function, (), "blocked", int(0.2 * NS))
    culprit = dataclasses.replace(record("1-2", path="/daily", end=0.8), blocks=(block,))
    lines = render(build([record("1-1", end=1.0), culprit])).plain.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert any("loop blocked 500 ms by GET /daily" in line and "…" in line for line in lines)
