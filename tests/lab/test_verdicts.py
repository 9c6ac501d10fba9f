"""Verdict shapes, on measurements that pass and that fail."""

from __future__ import annotations

import math

import pytest

from asgi_lab.lab import verdicts as v


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


def test_uneven_passes_only_when_the_busiest_beats_an_even_split() -> None:
    even = v.uneven("fresh", [25, 25, 25, 25], "reqs")
    assert not even.passed
    assert (even.measured, even.bound, even.ratio) == (25, 25, 1.0)
    one_more = v.uneven("fresh", [26, 25, 25, 24])
    assert one_more.passed, "whole counts: one more than even is uneven"
    assert one_more.ratio == pytest.approx(25 / 26)
    all_on_one = v.uneven("keep-alive", [0, 100, 0, 0], "reqs")
    assert all_on_one.passed and all_on_one.ratio == pytest.approx(1 / 4)
    assert all_on_one.note == "even: ceil(100/4)" and all_on_one.unit == "reqs"
    assert all_on_one.timing, "a split is a chance, with slack, not a fixed count"


def test_uneven_bound_is_the_busiest_share_of_the_most_even_split() -> None:
    # 10 over 4: the most even split is 3/3/2/2, so a busiest 3 is still even.
    assert v.uneven("x", [3, 3, 2, 2]).bound == 3
    assert not v.uneven("x", [3, 3, 2, 2]).passed
    assert v.uneven("x", [4, 2, 2, 2]).passed
    # The order of the counts does not matter.
    assert v.uneven("x", [2, 2, 4, 2]).passed


@pytest.mark.parametrize("counts", [[], [5], [3, -1], [0, 0, 0]])
def test_uneven_refuses_what_is_no_split(counts: list[int]) -> None:
    with pytest.raises(ValueError, match="counts must be 2 or more"):
        v.uneven("x", counts)


def test_latency_unaffected_allows_the_stated_noise_and_the_spread_alone_only() -> None:
    alone = [0.0003, 0.0004, 0.0005]
    assert v.latency_unaffected("quick", [0.0009, 0.001, 0.0011], alone, 0.002).passed
    blocked = v.latency_unaffected("quick", [0.8, 0.7, 0.9], alone, 0.002)
    assert not blocked.passed
    # median 0.4 ms + 2 ms noise + 0.1 ms of spread alone (0.5 - 0.4)
    assert blocked.bound == pytest.approx(0.0025)
    with pytest.raises(ValueError, match="at least one"):
        v.latency_unaffected("quick", [], alone, 0.002)
    with pytest.raises(ValueError, match=r"'quick' needs .* got 3 and 0"):
        v.latency_unaffected("quick", [0.001] * 3, [], 0.002)


def test_latency_unaffected_takes_the_mean_of_two_middles_as_the_median() -> None:
    """An even count's median is the mean of its two middle values, not the upper one."""
    verdict = v.latency_unaffected("quick", [0.004, 0.002], [0.001, 0.003], 0.0)
    assert verdict.measured == pytest.approx(0.003)
    assert verdict.bound == pytest.approx(0.002 + 0.001)  # median 2 ms + spread (3 - 2) ms


def test_in_order() -> None:
    assert v.in_order("ABCD", "ABCD") == 4
    assert v.in_order("DCBA", "ABCD") == 0
    assert v.in_order("ABDC", "ABCD") == 2
