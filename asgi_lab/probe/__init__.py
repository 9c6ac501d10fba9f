"""The probe: where did this request run? Process, event loop, thread(s), threadpool tokens.

`ProbeMiddleware(app)` wraps any ASGI app; `served_by()` tells a handler where it runs. What it
records is defined in `asgi_lab.records` (`RecordData`), which every reader imports. `compiled`
says whether its hot path runs as built by mypyc (`ASGI_LAB_COMPILE=1`, see `hot.py`).
"""

from asgi_lab.probe.hook import current_record, hooked, install, uninstall
from asgi_lab.probe.hot import compiled_modules as _compiled_modules
from asgi_lab.probe.identity import LoopInfo, current_loop, current_thread
from asgi_lab.probe.log import LOGGER, LogLines
from asgi_lab.probe.middleware import SCOPE_KEY, ProbeMiddleware, served_by
from asgi_lab.probe.record import Hop, Record
from asgi_lab.probe.sinks import RecordRing, RecordWriter, Sink
from asgi_lab.records.lines import JsonLines

__all__ = [
    "LOGGER",
    "SCOPE_KEY",
    "Hop",
    "JsonLines",
    "LogLines",
    "LoopInfo",
    "ProbeMiddleware",
    "Record",
    "RecordRing",
    "RecordWriter",
    "Sink",
    "compiled",
    "current_loop",
    "current_record",
    "current_thread",
    "hooked",
    "install",
    "served_by",
    "uninstall",
]

#: True when every module of the probe's hot path is a compiled extension module (a build with
#: ASGI_LAB_COMPILE=1); False for the default, pure-Python install.
compiled: bool = all(_compiled_modules().values())
