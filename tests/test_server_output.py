"""What a server prints reaches the parent whole and bounded: a tail of lines kept, a stalled
terminal never stops the workers' output, and log batches go out in writes a pipe keeps whole."""

from __future__ import annotations

import select
import subprocess
import sys
import threading
from typing import Any

from asgi_lab.probe.log import _atomic_chunks
from asgi_lab.serving import ECHO_LINES, TAIL_LINES, Server, ServerOptions

PRINTS = TAIL_LINES + ECHO_LINES + 5_000


def printing(count: int) -> subprocess.Popen[str]:
    """A real process that prints `count` numbered lines and exits."""
    code = f"import sys\nfor i in range({count}): sys.stdout.write(f'line {{i}}\\n')"
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


class Stalled:
    """A terminal nobody reads: its first write blocks until the test lets it go."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.written: list[str] = []

    def write(self, text: str) -> int:
        self.written.append(text)
        self.release.wait(10)
        return len(text)

    def flush(self) -> None:
        pass


def test_the_parent_keeps_a_bounded_tail_and_a_stalled_terminal_stops_nothing() -> None:
    process = printing(PRINTS)
    server = Server(ServerOptions(), process, None, 0)
    server.ready.set()
    stalled = Stalled()
    server.start_echo(stalled)  # type: ignore[arg-type]
    reader = threading.Thread(target=server.read_output)
    reader.start()
    try:
        reader.join(30)
        # Every line was read although the terminal took none after the first.
        assert not reader.is_alive() and process.wait(10) == 0
        assert len(server.lines) == TAIL_LINES
        assert server.lines[-1] == f"line {PRINTS - 1}\n"
        assert server.unechoed >= PRINTS - ECHO_LINES - 1
    finally:
        stalled.release.set()
        if process.stdout is not None:
            process.stdout.close()


def test_log_batches_are_written_in_pieces_a_pipe_keeps_whole() -> None:
    lines = [f"GET /item/{i} 200 1.0 ms  worker 7  " + "x" * (i % 300) for i in range(500)]
    chunks = list(_atomic_chunks(lines))
    assert "".join(chunks) == "".join(line + "\n" for line in lines)
    assert all(len(c.encode()) <= select.PIPE_BUF and c.endswith("\n") for c in chunks)
    huge: Any = ["y" * (select.PIPE_BUF * 2)]
    assert list(_atomic_chunks(huge)) == [huge[0] + "\n"]  # a line longer than that stays whole


def test_lines_since_a_mark_are_the_ones_read_after_it() -> None:
    process = printing(30)
    server = Server(ServerOptions(), process, None, 0)
    try:
        server.read_output()
    finally:
        if process.stdout is not None:
            process.stdout.close()
        process.wait(10)
    assert server.lines_read == 30
    assert server.lines_since(27) == ["line 27\n", "line 28\n", "line 29\n"]
    assert server.lines_since(30) == []
