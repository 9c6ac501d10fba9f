"""Refresh the real output in the docs: `python -m asgi_lab.lab.docs [FILE ...]` (scripts/docs).

A chapter marks each block of output with the command that produces it:

    <!-- output: asgi-lab experiment clients -->
    ...replaced on every run...
    <!-- /output -->

Everything between the markers is replaced by a fenced block holding the command and what it
printed on stdout, so the numbers in the docs always come from a run, never from a keyboard.
Only `asgi-lab ...` and `python -m asgi_lab...` commands are allowed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["BLOCK", "command_line", "main", "refresh"]

BLOCK = re.compile(r"(<!-- output: (?P<command>.+?) -->\n)(?P<body>.*?)(<!-- /output -->)", re.S)

#: A command runner: the command as written in the marker in, (exit status, stdout) out.
Runner = Callable[[str], tuple[int, str]]


def command_line(command: str) -> list[str]:
    """The argv that runs a marker's command with this interpreter."""
    words = shlex.split(command)
    if words[:1] == ["asgi-lab"]:
        return [sys.executable, "-m", "asgi_lab", *words[1:]]
    if words[:2] == ["python", "-m"] and len(words) > 2 and words[2].startswith("asgi_lab"):
        return [sys.executable, *words[1:]]
    raise ValueError(
        f"a docs command must start with 'asgi-lab' or 'python -m asgi_lab', got {command!r}"
    )


def run(command: str) -> tuple[int, str]:
    done = subprocess.run(
        command_line(command), capture_output=True, text=True, timeout=300, check=False
    )
    return done.returncode, done.stdout


def refresh(text: str, runner: Runner = run, *, failed: list[str] | None = None) -> str:
    """`text` with every marked block replaced by its command's fresh output."""

    def replace(match: re.Match[str]) -> str:
        command = match.group("command").strip()
        status, output = runner(command)
        if status != 0 and failed is not None:
            failed.append(f"{command} (exit {status})")
        fenced = f"```text\n$ {command}\n{output.rstrip()}\n```\n"
        return match.group(1) + fenced + match.group(4)

    return BLOCK.sub(replace, text)


def main(argv: Sequence[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        paths = sorted(Path("docs").glob("*.md"))
    failed: list[str] = []
    for path in paths:
        before = path.read_text(encoding="utf-8")
        if not BLOCK.search(before):
            continue
        print(f"refreshing {path}", file=sys.stderr, flush=True)
        after = refresh(before, failed=failed)
        path.write_text(after, encoding="utf-8")
    for command in failed:
        print(f"failed: {command}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
