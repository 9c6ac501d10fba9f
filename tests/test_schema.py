"""The record schema is the one contract: the probe's JSON, its fast JSON line and the typed
records the lab reads must agree field for field, and the header must read back."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from asgi_lab.probe import ProbeMiddleware
from asgi_lab.probe.schema import HEADER, HeaderData, RecordData
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
        as_dict = record.as_dict()
        # The dict has exactly the schema's fields, nested ones included.
        assert set(as_dict) == field_names(RecordData) - {"dropped"}  # only when non-zero
        assert set(as_dict["loop"]) == {"id", "impl", "thread"}
        for hop in as_dict["hops"]:
            assert set(hop) == {f.name for f in dataclasses.fields(type(data.hops[0]))}
        # The fast line, the dict and the typed record say the same thing.
        assert json.loads(record.json_line()) == as_dict
        assert RecordData.from_json(json.loads(record.json_line())) == data
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
