"""The lab's HTTP clients: aiohttp for concurrency, the stdlib's http.client for blocking calls.

The client is part of the measurement, so it must not distort it. We measured the candidates
(`python bench/clients.py`, numbers in docs/05-clients-and-fan-out.md): httpx 0.28's
pool spreads 80 concurrent requests over more than a second and tops out near 300 req/s;
httpx2 is better but still spreads them over tens of milliseconds; aiohttp sends all 80 within a
few milliseconds and does thousands of requests a second, so it drives every concurrent
experiment. `http.client` adds nothing between a thread and its socket, which is what the
sequential and thread-pool cases want to show.

Every reply carries the wall-clock time it was sent and finished (`time.time_ns`, the clock the
probe stamps records with, so client and server events share one timeline) and the probe's
headers: which record, pid and thread served it.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from asgi_lab.records.schema import HEADER, HeaderData

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AsyncClient", "Reply", "SyncClient", "pin_connections", "pin_workers"]


@dataclass(frozen=True)
class Reply:
    """One answer, when it was asked for and received, and the probe's headers."""

    status: int
    headers: dict[str, str]
    body: Any
    sent_ns: int
    done_ns: int
    #: Monotonic seconds from send to the last byte of the body.
    seconds: float

    @property
    def probe(self) -> HeaderData:
        """The probe's `x-asgi-lab` header; `LookupError` when the answer has none."""
        value = self.headers.get(HEADER)
        if value is None:
            raise LookupError(f"the answer ({self.status}) has no {HEADER} header")
        return HeaderData.parse(value)

    @property
    def record_id(self) -> str:
        return self.probe.request

    @property
    def pid(self) -> int:
        return self.probe.pid

    @property
    def thread(self) -> int:
        return self.probe.thread


def _decode(content_type: str, raw: bytes) -> Any:
    if content_type.startswith("application/json") and raw:
        return json.loads(raw)
    return raw.decode("utf-8", "replace")


class AsyncClient:
    """An aiohttp session on one server: `connections=0` is unlimited, `fresh` closes each one."""

    def __init__(
        self, base_url: str, *, connections: int = 0, fresh: bool = False, timeout: float = 60.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._connections = connections
        self._fresh = fresh
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        # aiohttp (the lab extra) is imported when a session opens, not with this module:
        # `Reply` is read by the records' reader, which `asgi-lab trace` and `report` use on
        # a core install.
        import aiohttp

        # The connector must be made on the running loop.
        connector = aiohttp.TCPConnector(limit=self._connections, force_close=self._fresh)
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, path: str) -> Reply:
        if self._session is None:
            raise RuntimeError("use AsyncClient as `async with AsyncClient(url) as client:`")
        sent_ns = time.time_ns()
        started = time.perf_counter()
        async with self._session.get(self.base_url + path) as response:
            raw = await response.read()
            seconds = time.perf_counter() - started
            headers = {k.lower(): v for k, v in response.headers.items()}
            body = _decode(response.content_type, raw)
            return Reply(response.status, headers, body, sent_ns, time.time_ns(), seconds)


class SyncClient:
    """One keep-alive `http.client` connection; use one per thread."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"base_url must look like 'http://HOST:PORT', got {base_url!r}")
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection now rather than on the first request."""
        self._connection.connect()

    def close(self) -> None:
        self._connection.close()

    def get(self, path: str) -> Reply:
        sent_ns = time.time_ns()
        started = time.perf_counter()
        self._connection.request("GET", path)
        response = self._connection.getresponse()
        raw = response.read()
        seconds = time.perf_counter() - started
        headers = {k.lower(): v for k, v in response.getheaders()}
        body = _decode(headers.get("content-type", ""), raw)
        return Reply(response.status, headers, body, sent_ns, time.time_ns(), seconds)


#: Connections opened, at most, to find every worker. The kernel's split is far from even (the
#: workers experiment sees 86/7/4/3 %), so a worker taking a few percent of new connections can
#: go unseen for a few hundred: 200 once missed one of four workers on a loaded box.
ATTEMPTS = 2000


async def pin_workers(
    base_url: str, workers: int, *, attempts: int = ATTEMPTS, path: str = "/quick"
) -> list[AsyncClient]:
    """One single-connection client per worker process, found by opening connections."""
    pinned = await pin_connections(base_url, workers, 1, attempts=attempts, path=path)
    return [clients[0] for clients in pinned.values()]


async def pin_connections(
    base_url: str, workers: int, each: int, *, attempts: int = ATTEMPTS, path: str = "/quick"
) -> dict[int, list[AsyncClient]]:
    """`each` single-connection clients per worker process, by pid, found by opening connections.

    The kernel hands each new connection to whichever worker accepts first, so we open
    connections (asking `path`, which answers with the probe's header) until every worker has
    `each`, keeping those and closing the rest.
    """
    pinned: dict[int, list[AsyncClient]] = {}
    try:
        for _ in range(attempts):
            client = AsyncClient(base_url, connections=1)
            await client.__aenter__()
            try:
                pid = (await client.get(path)).pid
            except BaseException:
                await client.aclose()
                raise
            kept = pinned.setdefault(pid, [])
            if len(kept) < each:
                kept.append(client)
            else:
                await client.aclose()
            if len(pinned) == workers and all(len(c) == each for c in pinned.values()):
                return pinned
    except BaseException:
        for clients in pinned.values():
            for kept_client in clients:
                await kept_client.aclose()
        raise
    for clients in pinned.values():
        for kept_client in clients:
            await kept_client.aclose()
    found = {pid: len(c) for pid, c in pinned.items()}
    raise RuntimeError(
        f"found connections per worker {found}, wanted {each} on each of {workers} workers, "
        f"after {attempts} connections"
    )
