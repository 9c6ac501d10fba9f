"""The page's feed read back: the board, frame by frame, from a live page's `/events`.

What `asgi-lab top` draws, and what a test reads of a running page; the same JSON the page's
script gets (`Board.view`), nothing translated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["FeedError", "events_url", "frames"]

#: Seconds without a byte before the feed is judged gone (the page sends five frames a second).
SILENCE = 5.0


class FeedError(ValueError):
    """The URL is not a live page's."""


def events_url(url: str) -> str:
    """The feed of the live page at `url` (its page, or its `/events` already)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedError(
            f"expected the live page's URL, as printed (http://HOST:PORT/), got {url!r}"
        )
    return url if parts.path.rstrip("/").endswith("/events") else urljoin(url, "/events")


def frames(url: str, *, silence: float = SILENCE) -> Iterator[dict[str, Any]]:
    """Every frame the live page at `url` sends, until it closes the stream.

    Raises `httpx.HTTPError` when it cannot be reached, answers other than 200 (503: too many
    pages open), or says nothing for `silence` seconds.
    """
    timeout = httpx.Timeout(silence)
    with httpx.stream("GET", events_url(url), timeout=timeout) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if line.startswith("data: "):
                frame: dict[str, Any] = json.loads(line[len("data: ") :])
                yield frame
