"""Whether to write colour: one decision for the console, the log lines and the workers' output.

`NO_COLOR` (set to anything) always wins; then `FORCE_COLOR`, which `asgi-lab serve` and `trace`
set for workers whose output they pass on to a terminal; otherwise colour only on a terminal.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["wanted"]


def wanted(stream: Any) -> bool:
    """Whether text written to `stream` should carry colour escape codes."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False
