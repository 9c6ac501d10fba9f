"""The lab: start real uvicorn servers, drive them with real clients, read their records, judge.

A run reads straight through this package:

- `servers`     start and stop uvicorn on a loopback socket we bind (TCP_NODELAY, port 0)
- `clients`     aiohttp and http.client, stamping each reply on the probe's wall clock
- `traces`      every worker's JSON-lines records, read back after the server stopped
- `cpu`         cores our processes used and cores the rest of the machine left free
- `verdicts`    a measured value against its bound: a ratio where 1.0 is the ideal
- `experiment`  the registry, the `Context` an experiment runs with, the `Result` it leaves
- `experiments` one module per idea; `apps` the ASGI apps they need besides the catalogue
- `report`      tables, the tour summary, progress lines
- `runner`      what `asgi-lab experiment` and `asgi-lab tour` call
- `overhead`    how much each candidate client distorts a measurement
- `docs`        refresh the real output blocks in docs/
"""
