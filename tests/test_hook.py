"""The threadpool hook: installed when the probe starts, never on import, kept through other
wrappers of `anyio.to_thread.run_sync`, and every hop recorded exactly once."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import httpx
import pytest

from asgi_lab.probe import ProbeMiddleware, hook
from tests.test_probe import starlette_app

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def restore_run_sync() -> Iterator[None]:
    """Each test starts and ends with anyio's own function and no hook of ours."""
    hook.uninstall()
    saved = anyio.to_thread.run_sync
    yield
    hook.uninstall()
    anyio.to_thread.run_sync = saved


class ForeignWrapper:
    """Someone else's wrapper, installed and later undone, as a tracing library would."""

    def __init__(self, *, name_the_wrapped: bool) -> None:
        self.saved: Callable[..., Any] | None = None
        self.calls = 0
        self.name_the_wrapped = name_the_wrapped

    def install(self) -> None:
        self.saved = original = anyio.to_thread.run_sync

        async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await original(func, *args, **kwargs)

        if self.name_the_wrapped:
            run_sync = functools.wraps(original)(run_sync)
        anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]

    def undo(self) -> None:
        anyio.to_thread.run_sync = self.saved  # type: ignore[assignment]


async def hops_of_one_sync_request(probe: ProbeMiddleware) -> int:
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        assert (await client.get("/sync")).status_code == 200
    return len(list(probe.ring)[-1].hops)


def test_importing_the_layers_installs_nothing() -> None:
    code = (
        "import anyio.to_thread; before = anyio.to_thread.run_sync;"
        "import asgi_lab.raw, asgi_lab.routes, asgi_lab.api, asgi_lab.probe;"
        "print(anyio.to_thread.run_sync is before)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "True"


async def test_the_hook_lost_to_an_undone_wrapper_is_installed_again() -> None:
    """The old latch lost hops here: a wrapper active when the probe installed, later undone."""
    other = ForeignWrapper(name_the_wrapped=True)
    other.install()
    probe = ProbeMiddleware(starlette_app(), trace=None)
    assert await hops_of_one_sync_request(probe) == 1  # installed on the first request
    other.undo()  # takes our wrapper, which sat on top of theirs, with it
    assert not hook.installed()
    assert await hops_of_one_sync_request(probe) == 1  # the next request installs it again
    assert hook.installed()


@pytest.mark.parametrize("name_the_wrapped", [True, False])
async def test_a_wrapper_on_top_of_ours_still_sees_one_hop(name_the_wrapped: bool) -> None:
    probe = ProbeMiddleware(starlette_app(), trace=None)
    probe.start()
    other = ForeignWrapper(name_the_wrapped=name_the_wrapped)
    other.install()
    # Without `__wrapped__` we cannot see ourselves below theirs and wrap again: the inner copy
    # must pass through, so the hop is still recorded once, and their wrapper still runs.
    assert await hops_of_one_sync_request(probe) == 1
    assert other.calls == 1


async def test_uninstall_puts_back_what_was_wrapped_and_hooked_restores() -> None:
    original = anyio.to_thread.run_sync
    with hook.hooked():
        assert anyio.to_thread.run_sync is not original
        assert hook.installed()
    assert anyio.to_thread.run_sync is original
    hook.install()
    hook.install()  # idempotent: one wrapper, not two
    assert getattr(anyio.to_thread.run_sync, "__wrapped__", None) is original
    hook.uninstall()
    assert anyio.to_thread.run_sync is original


async def test_uninstalled_under_a_foreign_wrapper_records_nothing() -> None:
    probe = ProbeMiddleware(starlette_app(), trace=None)
    probe.start()
    other = ForeignWrapper(name_the_wrapped=True)
    other.install()
    hook.uninstall()  # ours stays in their chain, passing calls through
    # The probe re-installs on its next request: still one hop, never two.
    assert await hops_of_one_sync_request(probe) == 1


async def test_an_old_wrapper_put_back_after_uninstall_does_not_fool_the_probe() -> None:
    """A library that saved `run_sync` while our hook was on, and puts it back after we took it
    off, puts back a dead wrapper: the probe notices and installs a live one."""
    probe = ProbeMiddleware(starlette_app(), trace=None)
    assert await hops_of_one_sync_request(probe) == 1
    dead = anyio.to_thread.run_sync
    hook.uninstall()
    anyio.to_thread.run_sync = dead
    assert await hops_of_one_sync_request(probe) == 1
