"""Records: one request as the probe saw it, defined once and read by everyone.

The schema (`RecordData` and its parts, frozen), the one JSON encoder, the JSON-lines files
written and read back, the `x-asgi-lab` header and the request id. It imports nothing of the
rest of asgi_lab: the probe writes these, and the lab, the reports, the timelines, the trace
command and the tests read them.
"""

from asgi_lab.records.encode import json_line
from asgi_lab.records.lines import (
    JsonLines,
    RecordsError,
    Trace,
    file_name,
    read_records,
    read_stalls,
    read_trace,
    write_stalls,
)
from asgi_lab.records.schema import (
    CANCELLED,
    HEADER,
    STILL_RUNNING,
    BlockData,
    FrameData,
    HandlerData,
    HeaderData,
    HopData,
    LineShareData,
    LoopData,
    PoolData,
    RecordData,
    ServedBy,
    ThreadData,
    ThreadpoolData,
    WaitData,
    WaitsData,
    request_id,
    short_path,
)
from asgi_lab.records.waits import split_waits

__all__ = [
    "CANCELLED",
    "HEADER",
    "STILL_RUNNING",
    "BlockData",
    "FrameData",
    "HandlerData",
    "HeaderData",
    "HopData",
    "JsonLines",
    "LineShareData",
    "LoopData",
    "PoolData",
    "RecordData",
    "RecordsError",
    "ServedBy",
    "ThreadData",
    "ThreadpoolData",
    "Trace",
    "WaitData",
    "WaitsData",
    "file_name",
    "json_line",
    "read_records",
    "read_stalls",
    "read_trace",
    "request_id",
    "short_path",
    "split_waits",
    "write_stalls",
]
