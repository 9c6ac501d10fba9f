"""What counts as a secret, wherever the lab shows headers or a query string."""

from __future__ import annotations

import pytest

from asgi_lab import redact


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "proxy-authorization",
        "X-Authorization",
        "x-forwarded-authorisation",
        "Cookie",
        "set-cookie",
        "X-API-Key",
        "api_key",
        "x-auth-token",
        "access_token",
        "client_secret",
        "password",
        "db-pwd",
        "x-jwt",
        "aws-access-key",
        "private_key",
        "sessionid",
        "x-amz-signature",
    ],
)
def test_secret_names(name: str) -> None:
    assert redact.is_secret(name)


@pytest.mark.parametrize("name", ["author", "authority", "host", "accept", "page", "user-agent"])
def test_ordinary_names(name: str) -> None:
    assert not redact.is_secret(name)


def test_headers_and_query_keep_their_shape() -> None:
    shown = redact.headers([(b"x-authorization", b"Bearer t"), (b"accept", b"*/*")])
    assert shown == [["x-authorization", "[redacted]"], ["accept", "*/*"]]
    assert redact.query_string(b"page=2&token=t0k3n&author=me") == (
        "page=2&token=[redacted]&author=me"
    )
    assert redact.query_string(b"page=2") == "page=2"
