"""`asgi-lab trace MODULE:app`: any ASGI app under uvicorn with the probe, the log line and the
loop watchdog around it, and a summary when it stops.

- `app`      what uvicorn imports in each worker: the user's app, wrapped (`asgi_lab.trace.app:app`)
- `summary`  what the records of a traced run say: who served what, what was slow, what blocked
- `command`  what `asgi-lab trace` runs: start, wait for Ctrl-C or SIGTERM, stop, summarise
"""

__all__: list[str] = []
