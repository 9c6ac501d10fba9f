"""The pytest plugin every asgi-lab install registers (entry point `pytest11`): one marker.

`@pytest.mark.asgi_lab_no_block(max_ms=50)` fails a test when any probed client it started
(`ProbeClient`, or `Probed` under another client) saw a request block the loop for longer than
`max_ms`. The clients announce themselves (see `watch.py`); after the test body has passed, the
plugin reads their records. Nothing else happens for tests without the marker.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from asgi_lab.testing import watch

__all__ = [
    "MARKER",
    "pytest_configure",
    "pytest_runtest_call",
    "pytest_runtest_setup",
    "pytest_runtest_teardown",
]

MARKER = "asgi_lab_no_block"

_watched = pytest.StashKey[tuple[AbstractContextManager[list[Any]], list[Any], float]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(max_ms=50): fail the test if a probed client in it saw a request block "
        "the event loop for longer than max_ms milliseconds (asgi_lab.testing)",
    )


def _max_ms(marker: pytest.Mark) -> float:
    value = marker.kwargs.get("max_ms", marker.args[0] if marker.args else 50)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER} takes max_ms, a number of milliseconds >= 0, got {value!r}"
        )
    return float(value)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    marker = item.get_closest_marker(MARKER)
    if marker is not None:
        # From setup on: a client may come from a fixture.
        watching = watch.watching()
        item.stash[_watched] = (watching, watching.__enter__(), _max_ms(marker))
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield  # a failing test fails for its own reason first
    if _watched in item.stash:
        from asgi_lab.testing.asserts import assert_no_loop_block

        _, clients, max_ms = item.stash[_watched]
        for client in clients:
            if client.block_ms > max_ms:
                raise pytest.UsageError(
                    f"@pytest.mark.{MARKER}(max_ms={max_ms:g}) cannot see blocks this client "
                    f"ignores: it reports stalls from block_ms={client.block_ms:g}; "
                    f"expected block_ms <= {max_ms:g}"
                )
            assert_no_loop_block(client, max_ms)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        watched = item.stash.get(_watched, None)
        if watched is not None:
            watched[0].__exit__(None, None, None)
            del item.stash[_watched]
