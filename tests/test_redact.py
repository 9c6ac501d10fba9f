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
        # Missed by the first list: short words, whole.
        "X-Pass",
        "X-Sig",
        "X-Client-Key",
        "X-Upstream-Key",
        "X-Otp",
        "X-Bearer",
        "key",
        "sig",
        "code",
        "pass",
        "x-csrf-token",
        "X-Session",
        "oauth_verifier_token",
        "accesstoken",
        "credentials",
        "hmac",
    ],
)
def test_secret_names(name: str) -> None:
    assert redact.is_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "author",
        "authority",
        ":authority",
        "host",
        "accept",
        "page",
        "user-agent",
        "x-request-id",
        "content-type",
        "keyboard",
        "monkey",
        "turkey",
        "design",
        "passenger",
        "x-country-code",
        "keep-alive",
        "signal",
    ],
)
def test_ordinary_names(name: str) -> None:
    assert not redact.is_secret(name)


def test_headers_and_query_keep_their_shape() -> None:
    shown = redact.headers([(b"x-authorization", b"Bearer t"), (b"accept", b"*/*")])
    assert shown == [["x-authorization", "[redacted]"], ["accept", "*/*"]]
    assert redact.query_string(b"page=2&token=t0k3n&author=me") == (
        "page=2&token=[redacted]&author=me"
    )
    assert redact.query_string(b"page=2") == "page=2"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"x=1;token=t0k3n", "x=1;token=[redacted]"),
        (
            b"key=k&sig=s&code=c&pass=p&page=2",
            "key=[redacted]&sig=[redacted]&code=[redacted]&pass=[redacted]&page=2",
        ),
        (b"a=1;b=2&api%5Fkey=k", "a=1;b=2&api%5Fkey=[redacted]"),
        (b"token", "token=[redacted]"),
        (b"monkey=1&keyboard=2", "monkey=1&keyboard=2"),
    ],
)
def test_query_strings_and_forms_split_on_both_separators(raw: bytes, shown: str) -> None:
    assert redact.query_string(raw) == shown
    assert redact.form(raw.decode()) == shown
