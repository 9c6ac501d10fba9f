"""`asgi_lab.testing` as users meet it: a pytest plugin every install registers, a client that
finds each response's record, and assertions whose failures say what ran where."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import asgi_lab.testing
from asgi_lab.records.schema import HopData, PoolData, RecordData, ThreadData
from asgi_lab.testing import (
    Lifespan,
    LifespanError,
    ProbeClient,
    assert_in_threadpool,
    assert_max_tokens,
    assert_on_loop,
    assert_same_thread,
    peak_tokens,
)
from asgi_lab.types import Message, Receive, Scope, Send
from tests.conftest import PLUGIN, PLUGIN_ARGS
from tests.lab.fakes import record as fake_record

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "testing"
#: What a strict user project runs with.
STRICT = ("--strict-markers", "-W", "error", "-p", "no:cacheprovider", *PLUGIN_ARGS)


def test_every_install_registers_the_plugin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"asgi_lab": PLUGIN}
    assert project["optional-dependencies"]["otel"] <= project["optional-dependencies"]["dev"]


def test_the_package_exports_what_it_loads_on_first_use() -> None:
    assert set(asgi_lab.testing.__all__) == set(asgi_lab.testing._HOMES)
    for name in asgi_lab.testing.__all__:
        assert getattr(asgi_lab.testing, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        asgi_lab.testing.nope  # noqa: B018


def test_loading_the_plugin_loads_no_probe() -> None:
    """Every pytest session of everyone with asgi-lab installed loads the plugin."""
    code = (
        "import sys, asgi_lab.testing.plugin\n"
        "print(sorted(m for m in ('httpx', 'asgi_lab.probe', 'opentelemetry') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# serial: its mistakes and twins are told apart by a 50 ms loop block, which load can fake.
@pytest.mark.serial
def test_the_shop_example_as_its_users_run_it(pytester: pytest.Pytester) -> None:
    """The docs' FastAPI shop and its tests: each helper fails on its mistake, with a sentence
    naming what ran where, and passes on the fixed twin."""
    for example in EXAMPLE.glob("*.py"):
        pytester.makepyfile(**{example.stem: example.read_text()})
    result = pytester.runpytest(*STRICT, "-rf")
    result.assert_outcomes(failed=5, passed=7)
    result.stdout.fnmatch_lines_random(
        [
            "E * AssertionError: GET /items: def get_db ran on threadpool thread *, async def"
            " read_items on the loop thread (*); expected one thread for both",
            "E * AssertionError: GET /report blocked the loop for * ms at shop.py:* in"
            " build_report; expected no block over 50 ms (stack: shop.py:* in build_report <-*",
            "E * AssertionError: GET /report ran on the loop thread (async def report); expected"
            " a threadpool thread",
            "E * AssertionError: * threadpool tokens were held at once (fetch_price x*, on *"
            " threads); expected at most 10",
            "FAILED test_shop.py::test_the_session_stays_on_one_thread[[]/items-*",
            "FAILED test_shop.py::test_the_report_does_not_block_the_loop[[]/report[]]*",
            "FAILED test_shop.py::test_the_report_runs_in_the_threadpool[[]/report[]]*",
            "FAILED test_shop.py::test_no_page_blocks_the_loop[[]/report[]]*",
            "FAILED test_shop.py::test_prices_take_few_tokens[[]/prices[]]*",
        ]
    )
    # The marker's failure is the same sentence, raised after the test body passed.
    assert result.stdout.str().count("blocked the loop for") >= 2


def test_the_marker_is_listed_and_checks_its_argument(pytester: pytest.Pytester) -> None:
    assert (
        "@pytest.mark.asgi_lab_no_block(max_ms=50)"
        in pytester.runpytest("--markers", *PLUGIN_ARGS).stdout.str()
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asgi_lab_no_block(max_ms="soon")
        def test_nothing():
            pass
        """
    )
    result = pytester.runpytest(*STRICT)
    assert result.ret != 0
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*asgi_lab_no_block takes max_ms, a number of milliseconds*"])


def record(
    *hops: tuple[str, int, int, int], handler: int = 1, endpoint: bool = False
) -> RecordData:
    """A hand-made record (`tests/lab/fakes.py`) of GET /p: loop thread 1; each hop (call,
    thread, start, end)."""
    made = fake_record("9-1", path="/p", pid=9, loop_thread=1, handler=handler)
    return dataclasses.replace(
        made,
        hops=tuple(
            HopData(call, endpoint, ThreadData("w", t), s, s, e, 0, PoolData("anyio", 40, 0, 0))
            for call, t, s, e in hops
        ),
    )


def test_the_peak_is_swept_from_the_hops_own_times() -> None:
    # Two overlap from 5 to 10; at 10 one ends as the third starts: never three at once.
    three = record(("a", 2, 0, 10), ("b", 3, 5, 15), ("c", 4, 10, 20))
    peak, running = peak_tokens(three)
    assert (peak, [h.call for h in running]) == (2, ["a", "b"])
    assert_max_tokens([three], 2)
    with pytest.raises(AssertionError, match=r"^2 threadpool tokens were held at once \(a x1"):
        assert_max_tokens([three], 1)


def test_the_peak_is_counted_per_pool() -> None:
    # Two calls overlap, one through anyio and one through the default executor.
    both = record(("a", 2, 0, 10), ("b", 3, 5, 15))
    b = dataclasses.replace(both.hops[1], pool=PoolData("default-executor", 6, 0, 0))
    mixed = dataclasses.replace(both, hops=(both.hops[0], b))
    assert peak_tokens(mixed)[0] == 1 == peak_tokens(mixed, pool="default-executor")[0]
    assert peak_tokens(mixed, pool=None)[0] == 2
    assert_max_tokens([mixed], 1)
    assert_max_tokens([mixed], 1, pool="default-executor")
    with pytest.raises(AssertionError, match=r"^2 threads of any pool were held at once"):
        assert_max_tokens([mixed], 1, pool=None)


def test_where_it_ran_is_told_in_a_sentence() -> None:
    on_a_thread = record(("work", 7, 0, 10), handler=7)
    assert_in_threadpool(on_a_thread)
    with pytest.raises(AssertionError) as caught:
        assert_on_loop(on_a_thread)
    assert str(caught.value) == (
        "GET /p ran on threadpool thread 7 (its handler); expected the loop thread (1)"
    )
    assert_on_loop(record())
    with pytest.raises(AssertionError, match=r"^GET /p ran on the loop thread \(its handler\)"):
        assert_in_threadpool(record())


def test_same_thread_by_name_by_function_and_a_name_it_cannot_find() -> None:
    both = record(("get_db", 5, 0, 10), ("app.<locals>.read", 5, 10, 20), handler=5)
    assert_same_thread(both, "get_db", "read")
    apart = record(("get_db", 5, 0, 10), ("read", 6, 10, 20), handler=6)
    with pytest.raises(AssertionError) as caught:
        assert_same_thread(apart, "get_db", "read")
    assert str(caught.value) == (
        "GET /p: def get_db ran on threadpool thread 5, def read on threadpool thread 6; "
        "expected one thread for both"
    )

    async def read_items() -> None: ...

    with pytest.raises(AssertionError, match=r"async def .*read_items on the loop thread \(1\)"):
        assert_same_thread(apart, "get_db", read_items)
    with pytest.raises(AssertionError, match="made no threadpool call named 'read_items'.*pass"):
        assert_same_thread(apart, "get_db", "read_items")


def starlette(**routes: object) -> Starlette:
    return Starlette(routes=[Route(f"/{name}", endpoint) for name, endpoint in routes.items()])  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_records_are_matched_by_request_id_not_by_order() -> None:
    release = anyio.Event()

    async def slow(request: Request) -> JSONResponse:
        await release.wait()
        return JSONResponse({})

    async def fast(request: Request) -> JSONResponse:
        release.set()
        return JSONResponse({})

    responses: dict[str, httpx.Response] = {}
    async with ProbeClient(starlette(slow=slow, fast=fast)) as client:

        async def get(path: str) -> None:
            responses[path] = await client.get(path)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(get, "/slow")
                tasks.start_soon(get, "/fast")
        # /slow arrived first and finished last: the ring holds them in the other order.
        assert [r.path for r in client.records] == ["/fast", "/slow"]
        for path, response in responses.items():
            assert client.record(response).path == path
        with pytest.raises(AssertionError, match="has no x-asgi-lab header"):
            client.record(httpx.Response(200))


@pytest.mark.anyio
async def test_the_client_runs_the_lifespan_and_hands_its_state_to_requests() -> None:
    said: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                said.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["db"] = "open"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = scope["state"]["db"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async with ProbeClient(app) as client:
        assert said == ["lifespan.startup"]
        assert (await client.get("/")).text == "open"
    assert said == ["lifespan.startup", "lifespan.shutdown"]


@pytest.mark.anyio
async def test_a_failed_or_silent_lifespan_says_so_within_its_bound() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(LifespanError, match="'lifespan.startup.failed' \\(no database\\)"):
        async with Lifespan(failing):
            pass

    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await anyio.sleep_forever()

    with anyio.fail_after(10), pytest.raises(LifespanError, match="did not answer .* 0.05 s"):
        async with Lifespan(silent, timeout=0.05):
            pass


@pytest.mark.anyio
async def test_an_app_without_lifespan_is_served_anyway() -> None:
    async def http_only(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"only http, got {scope['type']}")
        message: Message = {"type": "http.response.start", "status": 204, "headers": []}
        await send(message)
        await send({"type": "http.response.body", "body": b""})

    async with ProbeClient(http_only) as client:
        response = await client.get("/")
        assert client.record(response).status == 204
