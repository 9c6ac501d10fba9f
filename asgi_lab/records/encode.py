"""The one fast JSON encoder of a record: `json_line(record)` is `record.to_json()` as one line.

It runs on the probe's writer thread, which shares the GIL with the loop, so it avoids building
the dict: what repeats across requests (the pid, the loop and the handler thread) is rendered
once per loop and thread and reused, and the rest is written field by field. A test holds it to
`json.loads(json_line(r)) == r.to_json()` for every shape of record.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from asgi_lab.records.schema import HandlerData, LoopData, RecordData

__all__ = ["json_line"]

_string = json.encoder.encode_basestring_ascii
_json = json.JSONEncoder(separators=(",", ":")).encode

# (loop, handler) -> '"ppid":..,"pid":..,"loop":{..},"handler":{..}', keyed by the objects'
# ids: the probe makes one LoopData per loop and one HandlerData per thread, so the ids repeat.
# The entry keeps both objects alive, so an id is never reused while its entry stands.
_where: dict[tuple[int, int], tuple[LoopData, HandlerData, str]] = {}
_MAX_ENTRIES = 4096
_lock = threading.Lock()


def _where_fragment(record: RecordData) -> str:
    loop, handler = record.loop, record.handler
    key = (id(loop), id(handler))
    entry = _where.get(key)
    if entry is not None and entry[0] is loop and entry[1] is handler:
        return entry[2]
    text = (
        f'"ppid":{record.ppid},"pid":{record.pid},"loop":{_json(loop.to_json())},'
        f'"handler":{_json(handler.to_json())}'
    )
    if record.ppid == 0 or len(_where) >= _MAX_ENTRIES:
        return text  # records read back from elsewhere: nothing worth keeping
    with _lock:
        _where[key] = (loop, handler, text)
    return text


def _number(value: float) -> str:
    # total_tokens may be math.inf, which plain JSON cannot spell.
    return str(value) if isinstance(value, int) else _json(value)


def _list(items: tuple[Any, ...]) -> str:
    return _json([item.to_json() for item in items]) if items else "[]"


def json_line(record: RecordData) -> str:
    """The record as one line of JSON, newline included."""
    client = record.client
    error = record.error
    tokens = record.threadpool
    waits = record.waits
    dropped = f'"dropped":{record.dropped},' if record.dropped else ""
    if record.rotated_away:
        dropped += f'"rotated_away":{record.rotated_away},'
    return (
        f'{{"id":{_string(record.id)},"method":{_string(record.method)},'
        f'"path":{_string(record.path)},"status":{record.status},'
        f'"client":{"null" if client is None else _string(client)},'
        f'"start_ns":{record.start_ns},"response_ns":{record.response_ns},'
        f'"end_ns":{record.end_ns},"duration_ns":{record.duration_ns},'
        f"{_where_fragment(record)},"
        f'"in_flight":{record.in_flight},"threadpool":{{"total":{_number(tokens.total)},'
        f'"borrowed":{tokens.borrowed},"waiting":{tokens.waiting},"wait_ns":{tokens.wait_ns}}},'
        f'"hops":{_list(record.hops)},'
        f'"error":{"null" if error is None else _string(error)},'
        f'"blocks":{_list(record.blocks)},"waited_on":{_list(record.waited_on)},{dropped}'
        f'"type":{_string(record.type)},"disconnected_ns":{record.disconnected_ns},'
        f'"departure_check":{_string(record.departure_check)},'
        f'"waits":{{"pool_ns":{waits.pool_ns},"loop_ns":{waits.loop_ns},'
        f'"stall_ns":{waits.stall_ns}}},"route":{_string(record.route)}}}\n'
    )
