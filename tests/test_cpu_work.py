"""The CPU work of /sync/cpu and /async/cpu: a fixed amount, the same in every worker if told."""

from __future__ import annotations

import pytest

from asgi_lab import burn, settings


@pytest.fixture(autouse=True)
def fresh_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(burn, "_loops_per_ms", 0.0)
    monkeypatch.delenv("ASGI_LAB_LOOPS_PER_MS", raising=False)
    settings.load()


def test_the_setting_fixes_the_amount_of_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGI_LAB_LOOPS_PER_MS", "1234.5")
    settings.load()
    assert burn.loops_per_ms() == 1234.5
    assert burn.burn(10) == 12345


def test_without_it_each_process_measures_its_own() -> None:
    rate = burn.loops_per_ms()
    assert rate > 100  # any machine spins more than a hundred loops a millisecond
    assert burn.loops_per_ms() == rate  # measured once


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGI_LAB_LOOPS_PER_MS", "fast")
    with pytest.raises(settings.SettingError, match=r"\$ASGI_LAB_LOOPS_PER_MS must be a number"):
        settings.load()
