"""The lab: start real uvicorn servers, drive them with real clients, read their records, judge.

A run reads straight through this package:

- `clients`     aiohttp and http.client, stamping each reply on the probe's wall clock
- `records`     every worker's records, read back after the server stopped, and facts from them
- `cpu`         cores our processes used and cores the rest of the machine left free
- `verdicts`    a measured value against its bound: a ratio where 1.0 is the ideal
- `queueing`    anyio's FIFO token queue, simulated: the bound for each request's finish
- `experiment`  the registry, the `Context` an experiment runs with, the `Result` it leaves
- `experiments` one module per idea; `apps` the ASGI apps they need besides the catalogue
- `report`      tables, the tour summary, progress lines
- `runner`      what `asgi-lab experiment` and `asgi-lab tour` call

Servers are started by `asgi_lab.serving`, which `asgi-lab serve` shares.
"""

__all__: list[str] = []
