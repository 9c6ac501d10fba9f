"""The probe: where did this request run? Process, event loop, thread(s), threadpool tokens.

`ProbeMiddleware(app)` wraps any ASGI app; `served_by()` tells a handler where it runs.
"""

from asgi_lab.probe.identity import LoopInfo, ThreadInfo, current_loop, current_thread
from asgi_lab.probe.middleware import SCOPE_KEY, TRACE_DIR_ENV, ProbeMiddleware, served_by
from asgi_lab.probe.record import Hop, Record
from asgi_lab.probe.sinks import JsonLinesWriter, RecordRing
from asgi_lab.probe.threadpool import current_record

__all__ = [
    "SCOPE_KEY",
    "TRACE_DIR_ENV",
    "Hop",
    "JsonLinesWriter",
    "LoopInfo",
    "ProbeMiddleware",
    "Record",
    "RecordRing",
    "ThreadInfo",
    "current_loop",
    "current_record",
    "current_thread",
    "served_by",
]
