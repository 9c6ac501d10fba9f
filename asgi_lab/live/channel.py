"""The channel: a Unix datagram socket the parent owns, in a private temporary directory, read by a
thread of its own into the board.

The directory is made with mode 0700 (`tempfile.mkdtemp`), so only this user's processes can send
to it; it is removed, socket and all, on `close()`: nothing is left for anyone to clean up. Each
datagram is one worker's whole snapshot: there is no stream to resynchronise, and when this
thread falls behind, the kernel's queue fills and the workers drop their snapshots, not we.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
from pathlib import Path

from asgi_lab.live.board import Board
from asgi_lab.records.snapshot import MAX_BYTES, parse

__all__ = ["Channel"]


class Channel:
    """Binds the socket on `open()`; `path` is what $ASGI_LAB_LIVE tells the workers."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self._dir: Path | None = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def path(self) -> str:
        if self._dir is None:
            raise RuntimeError("the channel is not open")
        return str(self._dir / "live.sock")

    def open(self) -> Channel:
        self._dir = Path(tempfile.mkdtemp(prefix="asgi-lab-live-"))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(self.path)
            # Wake now and then to notice close(); datagrams wake it at once.
            sock.settimeout(0.25)
        except BaseException:
            sock.close()
            shutil.rmtree(self._dir, ignore_errors=True)
            raise
        self._socket = sock
        self._thread = threading.Thread(
            target=self._read, name="asgi-lab-live-channel", daemon=True
        )
        self._thread.start()
        return self

    def _read(self) -> None:
        sock = self._socket
        assert sock is not None
        while not self._closing.is_set():
            try:
                data = sock.recv(MAX_BYTES + 1)
            except TimeoutError:
                continue
            except OSError:  # closed under us
                return
            snapshot = parse(data) if len(data) <= MAX_BYTES else None
            if snapshot is None:
                self.board.refuse()
            else:
                self.board.take(snapshot)

    def close(self) -> None:
        """Stop reading, close the socket and remove its directory."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._socket is not None:
            self._socket.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
