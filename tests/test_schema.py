"""The record schema is the one contract: the probe's JSON, its fast JSON line and the typed
records the lab reads must agree field for field, and the header must read back."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading

import httpx
import pytest

from asgi_lab.probe import ProbeMiddleware, served_by
from asgi_lab.records import (
    HEADER,
    BlockData,
    FrameData,
    HeaderData,
    RecordData,
    ServedBy,
    json_line,
    short_path,
)
from tests.test_probe import fastapi_app, starlette_app

pytestmark = pytest.mark.anyio


def field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("make", [starlette_app, fastapi_app])
async def test_every_writer_of_the_record_agrees_with_the_schema(make: object) -> None:
    probe = ProbeMiddleware(make(), trace=None)  # type: ignore[operator]
    transport = httpx.ASGITransport(app=probe)
    async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
        for path in ("/sync", "/async", "/missing"):
            response = await client.get(path)
            assert HeaderData.parse(response.headers[HEADER]).request.startswith(
                f"{HeaderData.parse(response.headers[HEADER]).pid}-"
            )
    records = list(probe.ring)
    assert len(records) == 3
    for record in records:
        data = record.data()
        as_dict = data.to_json()
        # The dict has exactly the schema's fields, nested ones included.
        # `dropped` and `rotated_away` only when non-zero; `parent` in-process only, never written.
        assert set(as_dict) == field_names(RecordData) - {"dropped", "rotated_away", "parent"}
        assert set(as_dict["loop"]) == {"id", "impl", "thread"}
        for hop in as_dict["hops"]:
            assert set(hop) == {f.name for f in dataclasses.fields(type(data.hops[0]))}
        # The fast line, the dict and the typed record say the same thing.
        assert json.loads(json_line(data)) == as_dict
        assert RecordData.from_json(json.loads(json_line(data))) == data
        assert RecordData.from_json(as_dict).to_json() == as_dict
    assert any(r.data().hops for r in records), "a def endpoint made at least one hop"


def test_a_dict_that_is_not_a_record_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"not a probe record \(7-1\)"):
        RecordData.from_json({"id": "7-1", "method": "GET"})


def test_the_header_reads_back_and_a_bad_one_says_the_form() -> None:
    facts = HeaderData(4242, "4242:1", 4250, "4242-17")
    value = facts.render()
    assert value == "pid=4242; loop=4242:1; thread=4250; request=4242-17"
    assert HeaderData.parse(value) == facts
    with pytest.raises(ValueError, match="must look like 'pid=N; loop=N:N"):
        HeaderData.parse("pid=abc")


def test_a_record_that_does_not_fit_names_its_field() -> None:
    probe = ProbeMiddleware(starlette_app(), trace=None)

    async def one() -> dict[str, object]:
        transport = httpx.ASGITransport(app=probe)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            await client.get("/sync")
        return probe.ring.recent(1)[0].data().to_json()

    import asyncio

    good = asyncio.run(one())
    for field, value, said in [
        ("status", "two hundred", "field 'status' does not fit"),
        ("loop", {"id": "1:1"}, "field 'loop' does not fit: KeyError('impl')"),
        ("hops", [{"call": "f"}], "field 'hops' does not fit"),
        ("path", 7, "field 'path' does not fit"),
    ]:
        with pytest.raises(ValueError, match=re.escape(said)):
            RecordData.from_json({**good, field: value})
    missing = {k: v for k, v in good.items() if k != "departure_check"}
    with pytest.raises(ValueError, match="field 'departure_check' is missing"):
        RecordData.from_json(missing)
    with pytest.raises(ValueError, match="expected a JSON object, got list"):
        RecordData.from_json([])  # type: ignore[arg-type]


def test_a_code_location_is_written_one_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    here = os.path.abspath(__file__)
    assert FrameData(here, 7, "f").where() == "tests/test_schema.py:7 in f"
    # Outside the current directory: from the import path it came from.
    library = os.path.abspath(httpx.__file__)
    assert short_path(library) == os.path.join("httpx", "__init__.py")
    assert short_path("/nowhere/at/all.py") == "/nowhere/at/all.py"
    block = BlockData(12.5, here, 9, "g", (FrameData(here, 3, "outer"),), "blocked", 1)
    assert block.frame == FrameData(here, 9, "g")
    assert BlockData.from_json(json.loads(json.dumps(block.to_json()))) == block


def test_served_by_reads_back_whole_and_outside_a_request() -> None:
    outside = served_by()  # no loop, no request: what cannot be known is None
    assert outside.loop is None and outside.in_threadpool is None and outside.threadpool is None
    assert outside.thread.native_id == threading.get_native_id()
    assert ServedBy.from_json(json.loads(json.dumps(outside.to_json()))) == outside
