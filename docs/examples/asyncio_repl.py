"""Chapter 8: `python -m asyncio`, the REPL with top-level `await`, driven line by line through a
pipe: each line is written only once the REPL has asked for it, so the transcript below reads
as if typed, and every answer in it is the REPL's own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

#: What we type, one line at a time. The `async def` fits on one line, followed by a blank one:
#: 3.13's REPL, reading a pipe, takes no indented block (3.11 and 3.12 do).
TYPED = [
    "import threading",
    "threading.current_thread().name",
    "print(asyncio.current_task())",
    'await asyncio.sleep(0.1, result="slept")',
    "async def whoami(): return asyncio.current_task().get_name()",
    "",
    "await whoami()",
    'later = asyncio.create_task(asyncio.sleep(0.2, result="ran between lines"))',
    "later.done()",
    "await asyncio.sleep(0.3)",
    "later.done(), later.result()",
    "asyncio.run(whoami())",
]
PROMPTS = (">>> ", "... ")


class Transcript:
    """Everything the REPL prints, read by a thread so that a prompt without a newline shows."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.text = ""
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self.read, args=(process,), daemon=True)
        self.reader.start()

    def read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        while chunk := os.read(process.stdout.fileno(), 4096):
            with self.changed:
                self.text += chunk.decode()
                self.changed.notify_all()

    def wait_for_prompt(self, after: int, timeout: float = 10.0) -> None:
        """Until the REPL, having printed past `after`, asks for the next line."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (len(self.text) > after and self.text.endswith(PROMPTS)):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the REPL asked for nothing within {timeout} s")
                self.changed.wait(left)


process = subprocess.Popen(
    [sys.executable, "-m", "asyncio"],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,  # the banner and tracebacks go to stderr: one stream, in order
    env={**os.environ, "PYTHONUNBUFFERED": "1", "TERM": "dumb"},
)
try:
    transcript = Transcript(process)
    assert process.stdin is not None
    transcript.wait_for_prompt(0)
    for line in TYPED:
        # What the REPL has shown so far ends with its prompt: our line goes after it, echoed
        # into the transcript as a terminal would show it.
        with transcript.changed:
            transcript.text += line + "\n"
            shown = len(transcript.text)
        process.stdin.write(line.encode() + b"\n")
        process.stdin.flush()
        transcript.wait_for_prompt(shown)
    process.stdin.close()  # end of input: the REPL says goodbye and exits
    process.wait(timeout=10)
    transcript.reader.join(timeout=10)
finally:
    if process.poll() is None:
        process.kill()
        process.wait()


def shortened(text: str) -> str:
    """A traceback's frames (the REPL's machinery, long paths) cut to a count; the rest as is."""
    out: list[str] = []
    frames: int | None = None  # counting the frames of a traceback, or not in one
    for line in text.splitlines():
        if line == "Traceback (most recent call last):":
            out.append(line)
            frames = 0
        elif frames is not None and line.startswith(" "):
            frames += 1
        else:
            if frames:  # the exception's own line ends the traceback
                out.append(f"  ... {frames} lines of frames left out here")
            frames = None
            out.append(line.rstrip())  # a bare prompt's trailing space, gone from the page
    return "\n".join(out)


print(shortened(transcript.text.rstrip()))
