"""An app whose own code the test treats as installed in site-packages (as LNbits is, from
PyPI): its handler holds the loop inside one long library call (difflib, pure Python)."""

from __future__ import annotations

import difflib
import random

from asgi_lab.types import Receive, Scope, Send

# Two unrelated strings of 3,000 letters: comparing them without the junk heuristic takes about
# half a second here (quadratic), far past the test's 50 ms, all of it inside difflib. One call,
# not a loop until a deadline: the loop's own line would be the innermost frame whenever a
# sample caught it there, and a process held off the CPU takes few samples, each standing
# for a long stretch.
_letters = random.Random(7)
A, B = ("".join(_letters.choice("abcd") for _ in range(3000)) for _ in range(2))


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    difflib.SequenceMatcher(None, A, B, autojunk=False).ratio()  # the app's own line
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})
