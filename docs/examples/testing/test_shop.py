"""The shop's tests: each helper fails on a mistake, with a sentence, and passes on its twin."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from shop import (
    app,
    get_db,
    get_db_async,
    read_items,
    read_items_fixed,
)

from asgi_lab.testing import (
    ProbeClient,
    ProbedClient,
    assert_in_threadpool,
    assert_max_tokens,
    assert_no_loop_block,
    assert_same_thread,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: anyio before 4.7 pairs every test with trio too, installed or not."""
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[ProbedClient]:
    async with ProbeClient(app) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "dependency", "endpoint"),
    [("/items", get_db, read_items), ("/fixed/items", get_db_async, read_items_fixed)],
)
async def test_the_session_stays_on_one_thread(
    client: ProbedClient,
    path: str,
    dependency: Callable[..., object],
    endpoint: Callable[..., object],
) -> None:
    response = await client.get(path)
    assert_same_thread(client.record(response), dependency, endpoint)


@pytest.mark.parametrize("path", ["/report", "/fixed/report"])
async def test_the_report_does_not_block_the_loop(client: ProbedClient, path: str) -> None:
    response = await client.get(path)
    assert_no_loop_block(client.record(response), max_ms=50)


@pytest.mark.parametrize("path", ["/report", "/fixed/report"])
async def test_the_report_runs_in_the_threadpool(client: ProbedClient, path: str) -> None:
    response = await client.get(path)
    assert_in_threadpool(client.record(response))


@pytest.mark.asgi_lab_no_block(max_ms=50)
@pytest.mark.parametrize("path", ["/items", "/report", "/fixed/report"])
async def test_no_page_blocks_the_loop(client: ProbedClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


@pytest.mark.parametrize("path", ["/prices", "/fixed/prices"])
async def test_prices_take_few_tokens(client: ProbedClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
    assert_max_tokens(client, 10)
