"""Which function is the route's endpoint, as each framework says it publicly.

A hop is the request's handler when the function it runs is the route's endpoint (see
`resolve_handler` in `record.py`). Starlette and FastAPI put the endpoint in `scope["endpoint"]`;
Litestar puts the route handler in `scope["route_handler"]`, whose `fn` is the function (a sync
handler sent to a thread is wrapped in an `AsyncCallable` whose `func` is the function); Quart
names it in its request context (`request.url_rule.endpoint`, a key of
`current_app.view_functions`); Django tells nobody, so the probe asks Django's URL resolver
(`django.urls.resolve`) what Django's handler asks it. A framework is read only when it is already
imported: the probe imports none of them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from asgi_lab.types import Scope

__all__ = ["carries_endpoint", "django_route", "django_view", "endpoint_of"]


def endpoint_of(scope: Scope | None) -> object | None:
    """The route's endpoint as the framework serving `scope` names it so far, or None."""
    if scope is None:
        return None
    endpoint: object = scope.get("endpoint")
    if endpoint is not None:
        return endpoint
    handler = scope.get("route_handler")
    if handler is not None:
        try:
            fn: object = handler.fn
        except Exception:  # Litestar raises when no function is registered yet
            return None
        endpoint = getattr(fn, "func", fn)
        return endpoint
    quart: Any = sys.modules.get("quart")
    if quart is not None and quart.has_request_context():
        rule = quart.request.url_rule
        if rule is not None:
            endpoint = quart.current_app.view_functions.get(rule.endpoint)
    return endpoint


def django_view(scope: Scope | None) -> object | None:
    """The view Django's resolver gives for `scope`'s path (the default URLconf), or None when
    Django is not imported or the path resolves to nothing."""
    urls: Any = sys.modules.get("django.urls")
    if scope is None or urls is None:
        return None
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]  # Django's path_info, as its ASGIRequest makes it
    try:
        view: object = urls.resolve(path).func
    except urls.Resolver404:
        return None
    return view


def django_route(path: str, root: str) -> str | None:
    """The route of the URL pattern Django's resolver matches for `path` (`recipes/<slug:slug>`,
    Django's own spelling, under the root path), or None when Django is not imported, not set
    up, or matches nothing."""
    urls: Any = sys.modules.get("django.urls")
    if urls is None:
        return None
    try:
        route = urls.resolve(path[len(root) :] if root and path.startswith(root) else path).route
    except Exception:  # Resolver404, or Django imported but not configured: not a Django app
        return None
    return f"{root}/{route}" if isinstance(route, str) else None


def carries_endpoint(func: Callable[..., Any], endpoint: object) -> bool:
    """Whether calling `func` runs the route's `endpoint`.

    Starlette hands the threadpool `partial(endpoint, request)`, a class endpoint's bound method,
    FastAPI `partial(_run_sync_endpoint, function=endpoint, ...)`, Quart `partial(view, **args)`;
    all count.
    """
    if endpoint is None:
        return False
    while True:
        if func is endpoint:
            return True
        if isinstance(endpoint, type) and isinstance(getattr(func, "__self__", None), endpoint):
            return True
        if not isinstance(func, functools.partial):
            return False
        # Loops, not `any()` over a new tuple: this runs on the loop for every hop.
        for arg in func.args:
            if arg is endpoint:
                return True
        for arg in func.keywords.values():
            if arg is endpoint:
                return True
        func = func.func
