"""No orphans: servers stop when an experiment fails, is interrupted, or is terminated."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import threading

import pytest

from asgi_lab.lab.harness import Context, Experiment, run_experiment
from asgi_lab.serving import terminate_as_interrupt

from .fakes import alive, assert_no_orphans

pytestmark = pytest.mark.server

_READY = re.compile(r"ready at \S+, worker pids \[([\d, ]+)\]")
#: `python -m asgi_lab` as from a terminal, where Ctrl-C interrupts: a suite run in the
#: background (nohup, `&` in a script) hands its children SIGINT ignored, and Python keeps it so.
_AT_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'asgi-lab'; runpy.run_module('asgi_lab', run_name='__main__')"
)


def test_a_failing_experiment_stops_its_server() -> None:
    seen: list[int] = []

    def boom(ctx: Context) -> None:
        with ctx.server("doomed", workers=2) as server:
            seen.extend([server.pid, *server.worker_pids])
            assert all(alive(pid) for pid in seen)
            raise RuntimeError("the experiment broke")

    result = run_experiment(Experiment("boom", "breaks", "none", boom))
    assert result.error == "RuntimeError: the experiment broke"
    assert not result.passed
    assert len(seen) == 3
    assert_no_orphans(seen)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_stops_its_servers(signum: int) -> None:
    # Stopped as soon as its first server says it is ready, with requests in flight.
    command = [
        sys.executable,
        "-c",
        _AT_A_TERMINAL,
        "experiment",
        "threadpool-limit",
        "--scale",
        "1",
    ]
    lines: queue.Queue[str] = queue.Queue()
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    ) as process:

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                lines.put(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            while True:
                line = lines.get(timeout=30)
                if match := _READY.search(line):
                    pids = [int(p) for p in match.group(1).split(",")]
                    break
            assert all(alive(pid) for pid in pids)
            process.send_signal(signum)
            assert process.wait(timeout=30) == 130
            reader.join(10)
        finally:
            if process.poll() is None:
                process.kill()
    assert_no_orphans(pids)


async def _swallows_a_cancel() -> str:
    """What a client closing its session may do: a Ctrl-C arriving now cancels this task under
    asyncio.run's own handling, and the cancel is caught and the work goes on."""
    asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        return "went on"
    return "slept"


def test_a_ctrl_c_during_asyncio_run_interrupts_even_where_the_cancel_is_swallowed() -> None:
    # Python's own SIGINT handling (which a run in the background has set to ignore).
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # asyncio.run turns the Ctrl-C into a cancel of its task, which swallows it.
        assert asyncio.run(_swallows_a_cancel()) == "went on"
        # The lab's: the interrupt is raised where the main thread is, and remembered.
        with terminate_as_interrupt(signal.SIGINT) as interrupted:
            with pytest.raises(KeyboardInterrupt):
                asyncio.run(_swallows_a_cancel())
            assert interrupted()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_the_process_was_started_ignoring_stays_ignored() -> None:
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with terminate_as_interrupt(signal.SIGINT) as interrupted:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # ours
            signal.raise_signal(signal.SIGINT)
            assert not interrupted()
    finally:
        signal.signal(signal.SIGINT, before)


#: An interrupt at a random moment of a busy asyncio.run, `runs` times, each bounded: a run that
#: does not end within 10 s prints where it hangs and exits 3. The kernel's timer sends it
#: (SIGALRM, handled as SIGINT would be), so it lands on any bytecode of the main thread.
_INTERRUPT_ANYWHERE = """
import asyncio, faulthandler, os, random, signal, sys, threading
from asgi_lab.serving import terminate_as_interrupt

random.seed(int(sys.argv[1]))

async def child() -> None:
    for _ in range(50):
        await asyncio.sleep(0)

async def busy() -> None:
    while True:
        await asyncio.gather(*(child() for _ in range(50)))

for run in range(int(sys.argv[2])):
    ended = threading.Event()
    def watch() -> None:
        if not ended.wait(10):
            print(f"run {run} hangs", flush=True)
            faulthandler.dump_traceback()
            os._exit(3)
    threading.Thread(target=watch, daemon=True).start()
    try:
        with terminate_as_interrupt(signal.SIGALRM) as interrupted:
            signal.setitimer(signal.ITIMER_REAL, 0.001 + random.random() * 0.02)
            asyncio.run(busy())
    except KeyboardInterrupt:
        assert interrupted()
    ended.set()
print("all interrupted")
"""


def test_an_interrupt_at_any_moment_of_asyncio_run_ends_it() -> None:
    # Raised wherever the main thread was, the interrupt could land inside a gather's
    # bookkeeping and leave asyncio.run's cleanup waiting forever for a child.
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_ANYWHERE, "1", "300"],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("all interrupted")
