"""Verdict shapes and the facts read from records, on hand-made records that pass and fail."""

from __future__ import annotations

import math

import pytest

from asgi_lab.lab import verdicts as v

from .fakes import record


def test_at_most_passes_up_to_the_tolerance_and_fails_beyond() -> None:
    assert v.at_most("x", 1.05, 1.0).passed
    assert v.at_most("x", 0.5, 1.0).passed
    failed = v.at_most("x", 1.06, 1.0)
    assert not failed.passed
    assert failed.ratio == pytest.approx(1.06)


def test_near_is_two_sided() -> None:
    assert v.near("x", 0.96, 1.0).passed
    assert v.near("x", 1.04, 1.0).passed
    assert not v.near("x", 0.9, 1.0).passed
    assert not v.near("x", 1.1, 1.0).passed


def test_at_least_ratio_is_bound_over_measured() -> None:
    passed = v.at_least("delayed ack", 0.044, 0.040)
    assert passed.passed
    assert passed.ratio == pytest.approx(0.040 / 0.044)
    assert not v.at_least("delayed ack", 0.0003, 0.040).passed
    assert not v.at_least("nothing measured", 0.0, 0.040).passed


def test_exactly_accepts_only_the_count() -> None:
    assert v.exactly("pids", 2, 2).passed
    assert not v.exactly("pids", 1, 2).passed
    assert not v.exactly("pids", 3, 2).passed
    assert v.exactly("none", 0, 0).passed
    none_expected = v.exactly("none", 1, 0)
    assert not none_expected.passed
    assert math.isinf(none_expected.ratio)
    assert none_expected.as_dict()["ratio"] is None
    assert not none_expected.timing
    assert v.at_most("t", 1, 1).timing


def test_waves_counts_ceil_of_requests_over_slots() -> None:
    two_waves = v.waves("8 sleeps, 4 tokens", 2.01, 8, 4, 1.0)
    assert two_waves.bound == 2.0
    assert two_waves.passed
    # Finishing in one wave means more slots than claimed: that must fail too.
    assert not v.waves("8 sleeps, 4 tokens", 1.0, 8, 4, 1.0).passed
    assert v.waves("5 sleeps, 4 tokens", 2.0, 5, 4, 1.0).bound == 2.0


def test_latency_unaffected_allows_the_stated_noise_only() -> None:
    alone = [0.0003, 0.0004, 0.0005]
    assert v.latency_unaffected("quick", [0.0009, 0.001, 0.0011], alone, 0.002).passed
    blocked = v.latency_unaffected("quick", [0.8, 0.7, 0.9], alone, 0.002)
    assert not blocked.passed
    assert blocked.bound == pytest.approx(0.0024)
    with pytest.raises(ValueError, match="at least one"):
        v.latency_unaffected("quick", [], alone, 0.002)


def test_max_in_flight() -> None:
    assert v.max_in_flight([]) == 0
    assert v.max_in_flight([(0, 10), (1, 11), (2, 12)]) == 3
    # Back to back is not overlapping: an end at t comes before a start at t.
    assert v.max_in_flight([(0, 10), (10, 20), (20, 30)]) == 1
    assert v.max_in_flight([(0, 10), (0, 10), (10, 20), (10, 20), (10, 20)]) == 3


def test_in_order() -> None:
    assert v.in_order("ABCD", "ABCD") == 4
    assert v.in_order("DCBA", "ABCD") == 0
    assert v.in_order("ABDC", "ABCD") == 2


def test_facts_from_records() -> None:
    quick = record("1-1", pid=100, loop_thread=100)
    sleep = record("1-2", path="/sync/sleep", pid=100, loop_thread=100, handler=105, wait=0.5)
    other = record("2-1", pid=200, loop_thread=200)
    assert v.pids([quick, sleep, other]) == {100, 200}
    assert v.loop_threads([quick, sleep]) == {100}
    assert v.handler_threads([quick, sleep]) == {100, 105}
    assert v.queued_s(sleep) == pytest.approx(0.5)
    assert v.distinct([1, 1, 2]) == 2


def test_same_loop_claim_fails_for_two_loop_threads() -> None:
    """What blocking-sleep asserts, on records that must fail it."""
    block = record("1-1", path="/async/block", loop_thread=100)
    quick_elsewhere = record("2-1", pid=200, loop_thread=200)
    claim = v.exactly(
        "loop threads that served both", len(v.loop_threads([block, quick_elsewhere])), 1
    )
    assert not claim.passed
    same = record("1-2", loop_thread=100)
    assert v.exactly("same", len(v.loop_threads([block, same])), 1).passed


def test_threads_busy_at_once_from_hops() -> None:
    """What threadpool-limit asserts: T tokens mean at most T hops overlap."""
    two_waves = [
        record(str(i), handler=10 + i % 4, hops=[(0.0, 1.0) if i < 4 else (1.0, 2.0)])
        for i in range(8)
    ]
    hops = [(h["start_ns"], h["end_ns"]) for r in two_waves for h in r["hops"]]
    assert v.exactly("busy", v.max_in_flight(hops), 4).passed
    one_wave = [record(str(i), handler=10 + i, hops=[(0.0, 1.0)]) for i in range(8)]
    hops = [(h["start_ns"], h["end_ns"]) for r in one_wave for h in r["hops"]]
    assert not v.exactly("busy", v.max_in_flight(hops), 4).passed
