"""The probe: where did this request run? Process, event loop, thread(s), threadpool tokens.

`ProbeMiddleware(app)` wraps any ASGI app; `served_by()` tells a handler where it runs; the
records it keeps read back as `RecordData` (see `schema.py`).
"""

from asgi_lab.probe.hook import current_record, hooked, install, uninstall
from asgi_lab.probe.identity import LoopInfo, ThreadInfo, current_loop, current_thread
from asgi_lab.probe.log import LOGGER, LogLines
from asgi_lab.probe.middleware import SCOPE_KEY, ProbeMiddleware, served_by
from asgi_lab.probe.record import Hop, Record
from asgi_lab.probe.schema import (
    HEADER,
    BlockData,
    HandlerData,
    HeaderData,
    HopData,
    LoopData,
    RecordData,
    ThreadData,
    ThreadpoolData,
    WaitData,
    request_id,
)
from asgi_lab.probe.sinks import JsonLines, RecordRing, RecordWriter

__all__ = [
    "HEADER",
    "SCOPE_KEY",
    "BlockData",
    "HandlerData",
    "HeaderData",
    "Hop",
    "HopData",
    "LOGGER",
    "LogLines",
    "JsonLines",
    "LoopData",
    "LoopInfo",
    "ProbeMiddleware",
    "Record",
    "RecordData",
    "RecordRing",
    "RecordWriter",
    "ThreadData",
    "ThreadInfo",
    "ThreadpoolData",
    "WaitData",
    "current_loop",
    "current_record",
    "current_thread",
    "hooked",
    "install",
    "request_id",
    "served_by",
    "uninstall",
]
