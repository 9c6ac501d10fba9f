"""Chapter 8: the same three calls on every Python found on this machine (this one and pyenv's,
3.10 and later): `get_event_loop()` before any loop and after `asyncio.run`, and
`asyncio.wait([coroutine])`. Each runs in its own interpreter, every warning recorded."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

#: Run by each interpreter as it is: it must read the same on 3.10 and on 3.14.
CHECKS = r"""
import asyncio, gc, json, sys, warnings

def check(label, step):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = step()
            outcome = "returns " + type(value).__name__
            if isinstance(value, asyncio.AbstractEventLoop):
                value.close()  # ours to close: its ResourceWarning would land in the next check
        except Exception as exc:
            outcome = "raises %s: %s" % (type(exc).__name__, exc)
        gc.collect()  # a coroutine never awaited warns when it is collected: here, not later
    seen = ["%s: %s" % (w.category.__name__, w.message) for w in caught]
    return [label, outcome, seen]

async def nothing():
    return None

checks = [
    check("get_event_loop() on the main thread, no loop yet", asyncio.get_event_loop),
    check("get_event_loop() after asyncio.run(...)",
          lambda: (asyncio.run(nothing()), asyncio.get_event_loop())[1]),
    check("asyncio.wait([coroutine])", lambda: asyncio.run(asyncio.wait([nothing()]))),
]
print(json.dumps({"version": sys.version.split()[0], "checks": checks}))
"""


def interpreters() -> list[Path]:
    """This interpreter, then each pyenv version from 3.10 on (none when pyenv is absent)."""
    found = [Path(sys.executable)]
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return found
    root = Path(subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip())
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True).stdout
    for version in listed.split():
        parts = version.split(".")
        if len(parts) >= 2 and parts[0] == "3" and parts[1].isdigit() and int(parts[1]) >= 10:
            python = root / "versions" / version / "bin" / "python"
            if python.exists():
                found.append(python)
    return found


def wrapped(text: str, indent: str) -> str:
    return textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent + "  ")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


results: dict[str, dict[str, Any]] = {}
for python in interpreters():
    done = subprocess.run(
        [str(python), "-c", CHECKS], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(done.stdout)
    # This interpreter may also be one of pyenv's: the first seen (this one) is kept.
    results.setdefault(result["version"], {**result, "mine": python == Path(sys.executable)})

for version in sorted(results, key=version_key):
    result = results[version]
    print(f"Python {version}{' (this interpreter)' if result['mine'] else ''}")
    for label, outcome, warned in result["checks"]:
        print(f"  {label}")
        print(wrapped(outcome, "    "))
        for warning in warned:
            print(wrapped(f"warning {warning}", "    "))

if not any(version.startswith("3.14.") for version in results):
    print("Python 3.14: not installed here, not run. Its documentation says get_event_loop()")
    print("  raises RuntimeError when there is no current event loop, as it does after asyncio.run")
