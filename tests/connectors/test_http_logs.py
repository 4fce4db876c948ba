"""No secret at any log level and no customer data at INFO, even with the embedding process logging at DEBUG."""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
import pytest

from connectors.http.logs import GUARDED_LOGGERS, HttpLogGuard
from connectors.http.oauth import ClientCredentials, OAuth
from connectors.http.upstream import Json, Upstream
from tests.connectors.fakes.base import FAST, json_response
from tests.connectors.loopback import WithHeaders, serve

SECRET = "tok-l0g-s3cr3t-9f8e7d6c5b4a"
CUSTOMER = "Globex Holdings"


def echoing(request: httpx.Request) -> httpx.Response:
    """A vendor that echoes the caller's token back in a response header (some proxies and sandboxes do)."""
    token = request.headers["authorization"].removeprefix("Bearer ")
    return json_response(200, {"ok": True}, {"x-echo-token": token, "x-echo-auth": f"Bearer {token}"})


def said(body: Json) -> str | None:
    """The vendor's error text, as an adapter's `describe` reads it."""
    return str(cast(dict[str, Any], body).get("error")) if isinstance(body, dict) else None


def upstream(base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> Upstream:
    return Upstream(
        "acme",
        base_url,
        headers={"authorization": f"Bearer {SECRET}"},
        secrets=[SECRET],
        policy=FAST,
        transport=transport,
    )


def everything(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.levelname} {r.name} {r.getMessage()}" for r in caplog.records)


async def test_a_token_echoed_in_a_response_header_never_reaches_the_log(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    answers = iter(["fail", "ok"])

    def echoing_then_failing_once(request: httpx.Request) -> httpx.Response:
        """The echoing vendor, whose first answer is a 500 quoting the token in its error text too."""
        answer = echoing(request)
        if next(answers) == "fail":
            token = request.headers["authorization"].removeprefix("Bearer ")
            return json_response(500, {"error": f"upstream rejected {token}"}, dict(answer.headers))
        return answer

    api = Upstream(
        "acme",
        "https://api.acme.example",
        headers={"authorization": f"Bearer {SECRET}"},
        secrets=[SECRET],
        policy=FAST,
        transport=httpx.MockTransport(echoing_then_failing_once),
        describe=said,
    )
    try:
        await api.get("/search", params={"query": CUSTOMER})
    finally:
        await api.aclose()

    retried = [r for r in caplog.records if "attempt 1 failed" in r.getMessage()]
    assert retried  # the retry was logged, with the vendor's error text
    assert "upstream rejected [redacted]" in retried[0].getMessage()
    assert SECRET not in everything(caplog)


async def test_search_terms_are_not_logged_at_info_and_the_request_line_moves_to_debug(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    api = upstream("https://api.acme.example", httpx.MockTransport(echoing))
    try:
        await api.get("/search", params={"query": CUSTOMER})
    finally:
        await api.aclose()

    at_info = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert not [r for r in at_info if "Globex" in r.getMessage()]
    request_lines = [r for r in caplog.records if r.name == "httpx" and "HTTP Request" in r.getMessage()]
    assert request_lines
    assert all(r.levelno == logging.DEBUG for r in request_lines)
    assert all("Globex" not in r.getMessage() and "/search?[query removed]" in r.getMessage() for r in request_lines)


async def test_httpx_request_lines_are_dropped_when_the_host_process_logs_at_info(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)  # as `logging.basicConfig(level=INFO)` in an embedding process
    api = upstream("https://api.acme.example", httpx.MockTransport(echoing))
    try:
        await api.get("/search", params={"query": CUSTOMER})
    finally:
        await api.aclose()

    assert not [r for r in caplog.records if r.name == "httpx"]


async def test_response_headers_httpcore_logs_over_a_real_socket_carry_no_token(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    async with serve(WithHeaders({"x-echo-token": SECRET, "set-cookie": f"session={SECRET}"})) as up:
        api = upstream(up.url)
        try:
            await api.get("/search", params={"query": CUSTOMER})
        finally:
            await api.aclose()

    header_lines = [r for r in caplog.records if r.name.startswith("httpcore") and "x-echo-token" in r.getMessage()]
    assert header_lines  # httpcore did print the response headers
    assert SECRET not in everything(caplog)
    assert "Globex" not in "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)


def test_credential_headers_are_redacted_even_when_the_secret_is_not_known():
    guard = HttpLogGuard()

    cleaned = guard.clean(
        "send_request_headers.started request=[(b'Host', b'x'), (b'Authorization', b'Bearer abc123'), "
        "(b'X-Api-Key', b'k-999')] Authorization: Basic dXNlcjpwYXNz"
    )

    assert "abc123" not in cleaned
    assert "k-999" not in cleaned
    assert "dXNlcjpwYXNz" not in cleaned
    assert "(b'Host', b'x')" in cleaned


async def test_each_http_logger_gets_one_guard_however_many_upstreams_are_built():
    apis = [upstream(f"https://api{i}.acme.example") for i in range(3)]
    try:
        for name in GUARDED_LOGGERS:
            guards = [f for f in logging.getLogger(name).filters if isinstance(f, HttpLogGuard)]
            assert len(guards) == 1
    finally:
        for api in apis:
            await api.aclose()


async def test_an_access_token_obtained_through_oauth_is_redacted_from_the_http_logs_too():
    issued = ["at-issued-0001-abcdef", "at-issued-0002-abcdef"]

    def vendor(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return json_response(200, {"access_token": issued.pop(0), "token_type": "Bearer", "expires_in": 0})
        return json_response(200, {"ok": True})

    flow = OAuth(
        "acme",
        "https://login.acme.example/oauth/token",
        ClientCredentials("app", "app-secret-9f8e7d"),
        credentials_hint="ESCALATION_ACME_CLIENT_ID",
    )
    api = Upstream(
        "acme",
        "https://api.acme.example",
        auth=flow,
        secrets=["app-secret-9f8e7d"],
        policy=FAST,
        transport=httpx.MockTransport(vendor),
    )
    guard = next(f for f in logging.getLogger("httpcore.http11").filters if isinstance(f, HttpLogGuard))
    try:
        await api.get("/items")
        first = flow.token
        await api.get("/items")  # expires_in 0: renewed on every call
        second = flow.token
    finally:
        await api.aclose()

    assert first == "at-issued-0001-abcdef"
    assert second == "at-issued-0002-abcdef"
    assert guard.clean(f"(b'x-echo', b'{second}')") == "(b'x-echo', b'[redacted]')"
    assert (
        guard.clean(f"(b'x-echo', b'{first}')") == f"(b'x-echo', b'{first}')"
    )  # replaced, not piled up: the guard does not grow with every renewal
