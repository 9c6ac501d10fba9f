"""What any Chrome trace we write must satisfy, whichever records it came from."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from typing import Any

Event = dict[str, Any]


def check_trace(events: list[Event]) -> None:
    """Metadata for every process and thread used, no overlapping `X` on one thread, every
    async slice and flow closed; raises AssertionError naming the first offence."""
    named_pids = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    named_threads = {
        (e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"
    }
    used = [e for e in events if e["ph"] != "M"]
    for e in used:
        assert e["pid"] in named_pids, f"pid {e['pid']} has no process_name: {e}"
        assert (e["pid"], e["tid"]) in named_threads, f"no thread_name for {e}"
        assert isinstance(e["ts"], int) and e["ts"] >= 0, e

    slices: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for e in used:
        if e["ph"] == "X":
            assert e["dur"] >= 0, e
            slices[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for where, spans in slices.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, f"X events overlap on {where}: one ends {end}, next starts {start}"

    begins = {(e["pid"], e["cat"], e["id"]): e["ts"] for e in used if e["ph"] == "b"}
    ends = {(e["pid"], e["cat"], e["id"]): e["ts"] for e in used if e["ph"] == "e"}
    assert begins.keys() == ends.keys(), "every b has its e, and no e without its b"
    assert all(begins[k] <= ends[k] for k in begins)
    assert max(Counter(e["id"] for e in used if e["ph"] == "b").values(), default=1) == 1

    starts = {e["id"]: e for e in used if e["ph"] == "s"}
    finishes = {e["id"]: e for e in used if e["ph"] == "f"}
    assert starts.keys() == finishes.keys(), "every flow start has its end"
    for flow, finish in finishes.items():
        assert finish["bp"] == "e"
        assert starts[flow]["ts"] <= finish["ts"]
        # It binds to the hop it lands on: an X on that thread that starts at that instant.
        spans = slices[(finish["pid"], finish["tid"])]
        assert any(s <= finish["ts"] <= e for s, e in spans), f"flow {flow} lands on no hop"
