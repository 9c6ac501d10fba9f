"""`judged`, the experiment tests' rule for a shared box: a timing verdict alone gets a second
run; a failed count, an error or a failed check never does."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from asgi_lab.lab.harness import Result

from .fakes import judged


def runs(*verdicts: tuple[bool, bool], error: str | None = None) -> list[Result]:
    """One result per (passed, timing) verdict, each a run of its own, served by nobody."""
    made = [
        SimpleNamespace(servers=[], error=error, verdicts=[SimpleNamespace(passed=p, timing=t)])
        for p, t in verdicts
    ]
    return cast(list[Result], made)


def test_a_timing_that_fails_once_gets_a_second_run() -> None:
    results = runs((False, True), (True, True))
    assert judged(lambda: results.pop(0)).verdicts[0].passed
    assert not results


def test_a_timing_that_fails_twice_fails() -> None:
    results = runs((False, True), (False, True))
    with pytest.raises(AssertionError):
        judged(lambda: results.pop(0))


def test_a_failed_count_an_error_or_a_failed_check_is_never_retried() -> None:
    for results in (
        runs((False, False), (True, False)),
        runs((True, True), (True, True), error="boom"),
    ):
        with pytest.raises(AssertionError):
            judged(lambda results=results: results.pop(0))  # type: ignore[misc]
        assert len(results) == 1

    def check(result: Result) -> None:
        raise AssertionError("wrong app")

    results = runs((True, True), (True, True))
    with pytest.raises(AssertionError, match="wrong app"):
        judged(lambda: results.pop(0), check)
    assert len(results) == 1
