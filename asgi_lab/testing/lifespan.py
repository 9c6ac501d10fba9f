"""Run an app's lifespan the way a server does, bounded: httpx's `ASGITransport` never does.

`Lifespan` sends `lifespan.startup`, waits (at most `timeout` seconds) for the app's answer,
keeps the app's lifespan task running while the tests talk to it, then sends
`lifespan.shutdown` and waits again. An app that raises before answering the startup message
does not speak the lifespan protocol; like uvicorn's default ("auto"), we go on without it.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from asgi_lab.types import ASGIApp, Message

__all__ = ["Lifespan", "LifespanError"]


class LifespanError(RuntimeError):
    """The app refused to start or stop (`lifespan.*.failed`), or did not answer in time."""


class Lifespan:
    """`async with Lifespan(app, timeout=10) as state:` the app is started inside the block;
    `state` is the lifespan state each request's scope gets a copy of."""

    def __init__(self, app: ASGIApp, *, timeout: float = 10.0) -> None:
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.app = app
        self.timeout = timeout
        self.state: dict[str, Any] = {}
        self.supported = True
        self._to_app, self._app_reads = anyio.create_memory_object_stream[Message](2)
        self._answers: list[Message] = []
        self._answered = anyio.Event()
        self._done = anyio.Event()
        self._group: TaskGroup | None = None

    async def __aenter__(self) -> dict[str, Any]:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._run)
        try:
            await self._ask("lifespan.startup")
        except BaseException:
            await self._stop()
            raise
        return self.state

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.supported and not self._done.is_set():
                await self._ask("lifespan.shutdown")
        finally:
            await self._stop()

    async def _stop(self) -> None:
        """End the app's lifespan task, whatever it is doing, and close its streams."""
        group, self._group = self._group, None
        if group is not None:
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)
        self._to_app.close()
        self._app_reads.close()

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as exc:
            if not self._answers:
                # Raised before any answer: the app does not speak lifespan (uvicorn's "auto").
                self.supported = False
            else:
                self._answers.append({"type": "lifespan.error", "message": repr(exc)})
        finally:
            self._done.set()
            self._answered.set()

    async def _receive(self) -> Message:
        return await self._app_reads.receive()

    async def _send(self, message: Message) -> None:
        self._answers.append(message)
        self._answered.set()

    async def _ask(self, kind: str) -> None:
        self._answered = anyio.Event()
        if self._done.is_set():
            return
        await self._to_app.send({"type": kind})
        with anyio.move_on_after(self.timeout) as waited:
            await self._answered.wait()
        if waited.cancelled_caught:
            raise LifespanError(
                f"the app did not answer {kind!r} within {self.timeout:g} s; "
                f"expected {kind}.complete or {kind}.failed"
            )
        if not self.supported:
            return
        answer = self._answers[-1] if self._answers else {"type": "none"}
        if answer["type"] != f"{kind}.complete":
            raise LifespanError(
                f"the app answered {kind!r} with {answer['type']!r}"
                f" ({answer.get('message') or 'no message'}); expected {kind}.complete"
            )
