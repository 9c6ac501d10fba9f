"""What an endpoint returned, made into the response FastAPI would send.

A `Response` is sent as it is (given the request's background tasks if it has none). Anything
else is validated against the response model, in a worker thread of its own for a `def`
endpoint (FastAPI's second hop), dumped with the `response_model_*` options and written as JSON,
or handed to the route's `response_class`. A generator endpoint streams: through its
`response_class`, or else as JSON lines, one item per line. The status comes from the route,
then from a `response: Response` parameter, whose headers and cookies are added too.
"""

import dataclasses
import inspect
import json
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from functools import partial
from typing import Any, get_args, get_origin

import anyio
import anyio.lowlevel
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from asgi_lab.types import ASGIApp, Receive, Scope, Send

from .encode import jsonable_encoder, to_json
from .errors import ResponseValidationError
from .solve import Context

__all__ = ["INFER", "ResultWriter"]

# The default for response_model: use the endpoint's return annotation, as FastAPI does.
INFER: Any = object()
_STREAMS = (Iterable, Iterator, Generator, AsyncIterable, AsyncIterator, AsyncGenerator)


@dataclasses.dataclass(slots=True, eq=False)
class ResultWriter:
    """One route's way from result to response, decided at registration."""

    status_code: int | None
    # None: FastAPI's default, JSON (written by `to_json`, or pydantic's dump_json).
    response_class: type[Response] | None
    adapter: TypeAdapter[Any] | None
    dump: dict[str, Any]
    in_thread: bool
    stream_items: TypeAdapter[Any] | None = None

    @classmethod
    def for_endpoint(
        cls,
        endpoint: Callable[..., Any],
        *,
        is_async: bool,
        status_code: int | None,
        response_model: Any,
        response_class: type[Response] | None,
        dump: dict[str, Any],
    ) -> "ResultWriter":
        is_stream = inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint)
        stream_items = None
        if response_model is INFER:
            response_model = inspect.signature(endpoint, eval_str=True).return_annotation
            if response_model is inspect.Signature.empty or _is_response_class(response_model):
                response_model = None
            elif is_stream and get_origin(response_model) in _STREAMS:
                item = (get_args(response_model) or (Any,))[0]
                if response_class is None:
                    stream_items = TypeAdapter(item)
                response_model = None
        if _is_response_class(response_model):
            response_model = None
        adapter = TypeAdapter(response_model) if response_model else None
        return cls(status_code, response_class, adapter, dump, not is_async, stream_items)

    async def write(self, result: Any, ctx: Context | None) -> ASGIApp:
        """The response for `result`; `ctx` is None when the route solved nothing."""
        if isinstance(result, Response):
            if ctx is not None and ctx.background is not None and result.background is None:
                result.background = ctx.background
            return result
        extras = ctx is not None and (ctx.background is not None or ctx.response is not None)
        status = self.status_code
        if not extras and self.response_class is None:  # the plain route: JSON, no Response
            status = status or 200
            if self.adapter is not None:
                body = await self._dump_json(result)
            elif status < 200 or status in (204, 205, 304):
                body = b""
            else:
                body = to_json(result)
            if status < 200 or status in (204, 205, 304):
                return Response(b"", status_code=status, media_type="application/json")
            return partial(_send_json, body, status)
        kwargs = self._response_kwargs(ctx)
        if self.adapter is not None and self.response_class is None:
            body = await self._dump_json(result)
            response = Response(body, media_type="application/json", **kwargs)
        else:
            content = await self._dump(result)
            response = (self.response_class or JSONResponse)(content, **kwargs)
        if response.status_code < 200 or response.status_code in (204, 205, 304):
            response.body = b""
        if ctx is not None and ctx.response is not None:
            response.headers.raw.extend(ctx.response.headers.raw)
        return response

    def stream(self, items: Any, is_async: bool, ctx: Context) -> Response:
        """A generator endpoint's response: its own class, or else JSON lines."""
        kwargs = self._response_kwargs(ctx)
        if self.response_class is not None:
            content = _yielding(items) if is_async else items
            response = self.response_class(content=content, **kwargs)
        else:
            line = self._json_line
            content = _lines_async(items, line) if is_async else (line(i) for i in items)
            response = StreamingResponse(content, media_type="application/jsonl", **kwargs)
        if ctx.response is not None:
            response.headers.raw.extend(ctx.response.headers.raw)
        return response

    def _response_kwargs(self, ctx: Context | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"background": ctx.background if ctx else None}
        if self.status_code:
            kwargs["status_code"] = self.status_code
        if ctx is not None and ctx.response is not None and ctx.response.status_code:
            kwargs["status_code"] = ctx.response.status_code
        return kwargs

    async def _validated(self, result: Any) -> Any:
        assert self.adapter is not None
        if self.in_thread:
            # FastAPI validates a def endpoint's result in a worker thread too: a second hop.
            return await run_in_threadpool(_check, self.adapter, result)
        return _check(self.adapter, result)

    async def _dump_json(self, result: Any) -> bytes:
        checked = await self._validated(result)
        return self.adapter.dump_json(checked, **self.dump)  # type: ignore[union-attr]

    async def _dump(self, result: Any) -> Any:
        if self.adapter is None:
            return jsonable_encoder(result)
        checked = await self._validated(result)
        return self.adapter.dump_python(checked, mode="json", **self.dump)

    def _json_line(self, item: Any) -> bytes:
        if self.stream_items is not None:
            checked = _check(self.stream_items, item)
            return self.stream_items.dump_json(checked, **self.dump) + b"\n"
        return json.dumps(jsonable_encoder(item)).encode() + b"\n"


def _is_response_class(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Response)


def _check(adapter: TypeAdapter[Any], result: Any) -> Any:
    try:
        return adapter.validate_python(result, from_attributes=True)
    except ValidationError as exc:
        raise ResponseValidationError(exc.errors(include_url=False), body=result) from exc


async def _yielding(items: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for item in items:
        yield item
        # A checkpoint per chunk, so a disconnect can cancel a generator that never waits.
        await anyio.lowlevel.checkpoint()


async def _lines_async(items: AsyncIterator[Any], line: Callable[[Any], bytes]) -> Any:
    async for item in items:
        yield line(item)
        await anyio.lowlevel.checkpoint()


async def _send_json(body: bytes, status: int, scope: Scope, receive: Receive, send: Send) -> None:
    """Already-encoded JSON with JSONResponse's headers, sent without building a Response."""
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
