"""Layer 0: the catalogue as one hand-written ASGI callable, no framework.

Read it top to bottom: an ASGI app is `async def app(scope, receive, send)`. uvicorn calls it once
for the lifespan of the worker (`scope["type"] == "lifespan"`) and once per HTTP request. We
route on `(method, path)` ourselves, parse the query string ourselves, and send the response as
two messages: `http.response.start` (status and headers), then `http.response.body`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import anyio.to_thread

from asgi_lab import catalogue, inputs, redact, settings
from asgi_lab.caps import Overloaded
from asgi_lab.inputs import BadInput, BodyTooLarge
from asgi_lab.probe import SCOPE_KEY, ProbeMiddleware
from asgi_lab.send import send_bytes, send_json
from asgi_lab.types import Message, Receive, Scope, Send

__all__ = ["LAYER", "ROUTES", "app", "raw_app"]

LAYER = "raw"

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


def query(scope: Scope, name: str) -> str | None:
    """The last value of one query parameter, as Starlette's `request.query_params[name]`."""
    values = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True).get(name)
    return values[-1] if values else None


# The handlers. Each one answers one (method, path) of the catalogue.


async def root(scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 200, catalogue.about(LAYER))


async def quick(scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 200, catalogue.reply(LAYER, "quick"))


async def async_sleep(scope: Scope, receive: Receive, send: Send) -> None:
    secs = inputs.seconds(query(scope, "seconds"), settings.current())
    await send_json(send, 200, await catalogue.async_sleep(LAYER, secs))


async def async_block(scope: Scope, receive: Receive, send: Send) -> None:
    secs = inputs.seconds(query(scope, "seconds"), settings.current())
    await send_json(send, 200, await catalogue.async_block(LAYER, secs))


async def sync_sleep(scope: Scope, receive: Receive, send: Send) -> None:
    secs = inputs.seconds(query(scope, "seconds"), settings.current())
    # What Starlette does for a `def` endpoint, by hand: borrow a threadpool token and a worker
    # thread, run the blocking function there, and await its result on the loop.
    body = await anyio.to_thread.run_sync(catalogue.sync_sleep, LAYER, secs)
    await send_json(send, 200, body)


async def sync_cpu(scope: Scope, receive: Receive, send: Send) -> None:
    ms = inputs.milliseconds(query(scope, "ms"), settings.current())
    await send_json(send, 200, await anyio.to_thread.run_sync(catalogue.sync_cpu, LAYER, ms))


async def async_cpu(scope: Scope, receive: Receive, send: Send) -> None:
    ms = inputs.milliseconds(query(scope, "ms"), settings.current())
    await send_json(send, 200, await catalogue.async_cpu(LAYER, ms))


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    echoed = await inputs.read_body(receive, scope["headers"], settings.current().max_body)
    await send_json(send, 200, catalogue.reply(LAYER, "echo", **echoed.as_dict()))


async def show_scope(scope: Scope, receive: Receive, send: Send) -> None:
    await send_json(send, 200, catalogue.reply(LAYER, "scope", scope=redact.scope(scope)))


async def lab_records(scope: Scope, receive: Receive, send: Send) -> None:
    probe: ProbeMiddleware | None = scope.get(SCOPE_KEY)
    if probe is None:
        await send_json(send, 404, {"detail": "this app is not wrapped in ProbeMiddleware"})
        return
    limit = inputs.record_limit(query(scope, "limit"), probe.ring.size)
    await send_bytes(send, 200, await catalogue.lab_records(LAYER, probe.ring, limit))


ROUTES: dict[str, dict[str, Handler]] = {
    "/": {"GET": root},
    "/quick": {"GET": quick},
    "/async/sleep": {"GET": async_sleep},
    "/async/block": {"GET": async_block},
    "/sync/sleep": {"GET": sync_sleep},
    "/sync/cpu": {"GET": sync_cpu},
    "/async/cpu": {"GET": async_cpu},
    "/echo": {"POST": echo},
    "/scope": {"GET": show_scope},
    "/_lab/records": {"GET": lab_records},
}


async def redirect_slash(scope: Scope, send: Send, path: str) -> None:
    """307 to the same URL with its trailing slash added or removed, as Starlette redirects."""
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    if host is None:
        server_host, port = scope.get("server") or ("localhost", 80)
        host = f"{server_host}:{port}".encode()
    query = scope["query_string"]
    location = b"%s://%s%s%s" % (
        scope["scheme"].encode(),
        host,
        path.encode(),
        b"?" + query if query else b"",
    )
    await send_bytes(send, 307, b"", ((b"location", location),))


async def http(scope: Scope, receive: Receive, send: Send) -> None:
    """Route one request: 404 for an unknown path, 307 to its twin when only a trailing slash
    differs, 405 with `allow` for a wrong method; HEAD runs GET (the server drops the body)."""
    path = scope["path"]
    methods = ROUTES.get(path)
    if methods is None:
        twin = path[:-1] if path.endswith("/") else path + "/"
        if path != "/" and twin in ROUTES:
            await redirect_slash(scope, send, twin)
        else:
            await send_json(send, 404, {"detail": "Not Found"})
        return
    method = scope["method"]
    handler = methods.get("GET" if method == "HEAD" else method)
    if handler is None:
        allow = ", ".join(
            m for name in methods for m in (("GET", "HEAD") if name == "GET" else (name,))
        )
        await send_json(send, 405, {"detail": "Method Not Allowed"}, ((b"allow", allow.encode()),))
        return
    # As Starlette does, name the endpoint in the scope: the probe uses it to tell which
    # threadpool call, if any, was the handler.
    scope["endpoint"] = handler
    try:
        await handler(scope, receive, send)
    except BadInput as exc:
        await send_json(send, 422, exc.detail())
    except BodyTooLarge as exc:
        await send_json(send, 413, exc.detail())
    except Overloaded as exc:
        retry = tuple((k.encode(), v.encode()) for k, v in exc.headers().items())
        await send_json(send, 503, exc.detail(), retry)


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """Startup and shutdown of one worker; `scope["state"]` is copied into every request scope."""
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                state = catalogue.startup(LAYER)
            except settings.SettingError as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            if "state" in scope:
                scope["state"].update(state)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """No WebSocket endpoint: close before accepting, which uvicorn answers with a 403, as
    Starlette does for a path no WebSocket route matches."""
    await send({"type": "websocket.close", "code": 1000, "reason": ""})


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI callable: one function, three kinds of scope."""
    if scope["type"] == "http":
        await http(scope, receive, send)
    elif scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket(scope, receive, send)
    else:
        raise RuntimeError(
            f"raw_app serves 'http', 'websocket' and 'lifespan' scopes, not {scope['type']!r}"
        )


#: What `uvicorn asgi_lab.raw:app` serves: the raw callable with the probe around it.
app = ProbeMiddleware(raw_app, log=True, watchdog=True)
