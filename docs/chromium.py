"""A headless Chromium (Debian's `chromium`) showing one page, read and photographed over the
DevTools protocol: what the docs generator shoots the live page with, and what the browser tests
read the page through.

    with chromium("http://127.0.0.1:PORT/", profile_dir) as page:
        page.until("two workers", lambda dom: len(dom["workers"]) == 2, read=READ, timeout=15)
        png = page.screenshot()
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

__all__ = ["FLAGS", "Page", "chromium", "which"]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]


def which() -> str | None:
    """The browser's path, or None when it is not installed."""
    return shutil.which("chromium")


class Page:
    """One tab of Chromium, driven over the DevTools protocol."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            answer = json.loads(self.socket.recv(timeout=20))
            if answer.get("id") == number:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        """The value of a script that returns `JSON.stringify(...)`, parsed."""
        value = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return json.loads(value["result"]["value"])

    def until(self, what: str, seen: Callable[[Any], bool], *, read: str, timeout: float) -> Any:
        """What `read` evaluates to once `seen` holds of it, polled every 50 ms for at most
        `timeout` s; `TimeoutError` naming `what` and the last state read."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.evaluate(read)
            if seen(state):
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never showed {what}: {state}")
            time.sleep(0.05)

    def screenshot(self) -> bytes:
        """The tab as a PNG."""
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])


@contextlib.contextmanager
def chromium(
    url: str, profile: Path, *, binary: str = "chromium", size: str = "1700,1000"
) -> Iterator[Page]:
    """Headless Chromium showing `url` in a window of `size` pixels, its DevTools port chosen by
    the kernel, its profile in `profile`; always stopped (its process group killed if need be)."""
    process = subprocess.Popen(
        [
            binary,
            *FLAGS,
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            f"--window-size={size}",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("chromium never opened its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        [tab] = [t for t in targets if t["type"] == "page"]
        with connect(tab["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as socket:
            yield Page(socket)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
