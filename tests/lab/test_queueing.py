"""The token-queue model the response-model-hop experiment derives its bounds from."""

from __future__ import annotations

import pytest

from asgi_lab.lab.queueing import finish_times


def test_one_trip_runs_in_waves() -> None:
    assert finish_times([0.0] * 6, [1.0], 2) == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]


def test_a_second_trip_queues_behind_every_waiting_first_trip() -> None:
    """3T requests at once on T tokens: the first wave's validations wait for the last wave."""
    assert finish_times([0.0] * 12, [1.0, 0.0], 4) == [3.0] * 12


def test_a_second_trip_finds_a_free_token_when_nobody_waits() -> None:
    assert finish_times([0.0] * 4, [1.0, 0.0], 4) == [1.0] * 4


def test_a_late_arrival_queues_behind_an_earlier_second_trip() -> None:
    """One token. A sleeps 0-1; its token goes to B (waiting since 0.5), A's validation queues at
    1.0, ahead of C (1.5) and runs at 2.0; B's validation queues at 2.0 behind C's sleep."""
    assert finish_times([0.0, 0.5, 1.5], [1.0, 0.25], 1) == [2.25, 3.5, 3.75]


def test_it_refuses_no_tokens_and_negative_durations() -> None:
    with pytest.raises(ValueError, match="tokens must be"):
        finish_times([0.0], [1.0], 0)
    with pytest.raises(ValueError, match="durations must be"):
        finish_times([0.0], [-1.0], 1)
