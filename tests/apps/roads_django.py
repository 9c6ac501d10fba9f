"""A Django app whose views answer the native id of the thread they ran on, behind the probe.

Django runs a sync view through asgiref's `SyncToAsync` in thread-sensitive mode (one thread
per request); an async view runs on the loop and may send work off it with `sync_to_async`.
"""

from __future__ import annotations

import threading

from asgiref.sync import sync_to_async
from django.conf import settings  # type: ignore[import-untyped]

settings.configure(
    DEBUG=False,
    SECRET_KEY="roads-test",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)

from django.core.asgi import get_asgi_application  # type: ignore[import-untyped]  # noqa: E402
from django.http import HttpRequest, JsonResponse  # type: ignore[import-untyped]  # noqa: E402
from django.urls import path  # type: ignore[import-untyped]  # noqa: E402

from asgi_lab.probe import ProbeMiddleware  # noqa: E402


def sync_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"tid": threading.get_native_id()})


async def async_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"tid": threading.get_native_id()})


async def loose_view(request: HttpRequest) -> JsonResponse:
    """Sends one call to asgiref's other mode: the loop's default executor."""
    tid = await sync_to_async(threading.get_native_id, thread_sensitive=False)()
    return JsonResponse({"tid": tid, "loop": threading.get_native_id()})


def item_view(request: HttpRequest, item_id: int) -> JsonResponse:
    return JsonResponse({"item": item_id})


urlpatterns = [
    path("items/<int:item_id>", item_view),
    path("sync", sync_view),
    path("async", async_view),
    path("loose", loose_view),
]

app = ProbeMiddleware(get_asgi_application())
