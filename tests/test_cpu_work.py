"""The CPU work of /sync/cpu and /async/cpu: a fixed amount, the same in every worker if told."""

from __future__ import annotations

import pytest

from asgi_lab import catalogue


@pytest.fixture(autouse=True)
def fresh_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogue, "_loops_per_ms", 0.0)


def test_the_environment_fixes_the_amount_of_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalogue.LOOPS_PER_MS_ENV, "1234.5")
    assert catalogue.loops_per_ms() == 1234.5
    assert catalogue.burn(10) == 12345


def test_without_it_each_process_measures_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(catalogue.LOOPS_PER_MS_ENV, raising=False)
    rate = catalogue.loops_per_ms()
    assert rate > 100  # any machine spins more than a hundred loops a millisecond
    assert catalogue.loops_per_ms() == rate  # measured once


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalogue.LOOPS_PER_MS_ENV, "fast")
    with pytest.raises(ValueError, match=r"\$ASGI_LAB_LOOPS_PER_MS must be a number"):
        catalogue.loops_per_ms()
