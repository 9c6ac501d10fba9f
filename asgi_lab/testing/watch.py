"""Which probed clients a test used: the pytest plugin asks, the clients tell.

Kept apart and free of heavy imports: the plugin loads this in every pytest session of everyone
who installs asgi-lab, most of which never touch a probe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["announce", "watching"]

#: One list per `watching()` block still open; every probed client started meanwhile joins each.
_watchers: list[list[Any]] = []


def announce(client: Any) -> None:
    """A probed client has started: tell every open `watching()` block."""
    for seen in _watchers:
        seen.append(client)


@contextmanager
def watching() -> Iterator[list[Any]]:
    """The probed clients started inside the block, in order."""
    seen: list[Any] = []
    _watchers.append(seen)
    try:
        yield seen
    finally:
        _watchers.remove(seen)
