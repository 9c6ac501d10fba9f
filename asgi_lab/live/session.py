"""An open live page: the board, its channel and its server, together for as long as a server
runs; and the server options that make its workers feed it."""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TextIO

from asgi_lab.live.board import Board
from asgi_lab.live.channel import Channel
from asgi_lab.live.server import PageServer
from asgi_lab.serving import ServerOptions

__all__ = ["Live", "feeding", "loopback", "open_live"]


@dataclass(frozen=True)
class Live:
    """An open live page: the socket the workers send to, and the page's URL."""

    channel: str
    url: str
    board: Board


def loopback(host: str) -> bool:
    """Whether `host` can be reached only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def open_live(
    host: str = "127.0.0.1", port: int = 0, *, echo: TextIO | None = sys.stderr
) -> Iterator[Live]:
    """The channel bound and the page served until the block ends; both removed after it.

    Another host than loopback only when named: the page shows the paths of the requests in
    flight to whoever reaches it, so `echo` is warned. Raises `OSError` when the address cannot
    be bound.
    """
    board = Board()
    channel = Channel(board).open()
    try:
        server = PageServer(board, host, port).start()
        try:
            if not loopback(host) and echo is not None:
                print(
                    f"warning: the live page listens on {host}: anyone who can reach it sees "
                    "the paths of the requests in flight",
                    file=echo,
                    flush=True,
                )
            yield Live(channel.path, server.url, board)
        finally:
            server.stop()
    finally:
        channel.close()


def feeding(options: ServerOptions, live: Live | None) -> ServerOptions:
    """`options` whose workers send their snapshots to `live` (unchanged when it is None)."""
    if live is None:
        return options
    return replace(options, settings=options.settings.replace(live=live.channel))
