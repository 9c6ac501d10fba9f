"""A Django app behind the probe: each view answers the native id of the thread it ran on.

With $LAB_SYNC_MIDDLEWARE=1 one sync-only middleware sits in front of every view, as an older
project's middleware often does.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from django.conf import settings  # type: ignore[import-untyped]

MIDDLEWARE = ["django_views.sync_middleware"] if os.environ.get("LAB_SYNC_MIDDLEWARE") else []
settings.configure(
    DEBUG=False,
    SECRET_KEY="docs-example",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=MIDDLEWARE,
    INSTALLED_APPS=[],
)

from django.core.asgi import get_asgi_application  # type: ignore[import-untyped]  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # type: ignore[import-untyped]  # noqa: E402
from django.urls import path  # type: ignore[import-untyped]  # noqa: E402

from asgi_lab.probe import ProbeMiddleware  # noqa: E402

Handler = Callable[[HttpRequest], HttpResponse]


def sync_middleware(get_response: Handler) -> Handler:
    """A plain function middleware: Django marks it sync-only and adapts around it."""

    def middleware(request: HttpRequest) -> HttpResponse:
        return get_response(request)

    return middleware


def sync_view(request: HttpRequest) -> JsonResponse:
    time.sleep(float(request.GET.get("seconds", "0")))
    return JsonResponse({"tid": threading.get_native_id()})


async def async_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"tid": threading.get_native_id()})


urlpatterns = [path("sync", sync_view), path("async", async_view)]

app = ProbeMiddleware(get_asgi_application())
