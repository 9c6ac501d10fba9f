"""The live page's parts: snapshots and their bounds, the board, the channel, the publisher, the
page's server."""

from __future__ import annotations

from pathlib import Path

#: The app the live page is tested on (its blocking line ends with `# BLOCKS`).
LIVE_APP = Path(__file__).parent / "apps" / "live_app.py"


def blocking_line() -> str:
    """`tests/apps/live_app.py:N`, N the line that blocks the loop."""
    [number] = [
        n
        for n, line in enumerate(LIVE_APP.read_text().splitlines(), 1)
        if line.endswith("# BLOCKS")
    ]
    return f"tests/apps/live_app.py:{number}"
