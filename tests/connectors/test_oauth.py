"""The self-renewing OAuth 2.0 bearer token, against a small token endpoint and API on a MockTransport."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import anyio
import anyio.lowlevel
import httpx
import pytest

from connectors.errors import AuthError, UpstreamError
from connectors.http.oauth import ClientCredentials, Grant, OAuth, RefreshToken
from connectors.http.upstream import DETAIL_LIMIT, Upstream
from tests.connectors.fakes.base import FAST, json_response

TOKEN_URL = "https://login.example.com/oauth2/token"
API = "https://api.example.com"
SECRET = "s3cret-client-secret"
REFRESH = "first-refresh-token"
HINT = "ESCALATION_ACME_CLIENT_ID and ESCALATION_ACME_CLIENT_SECRET (CONNECTORS.md)"


@dataclass
class Vendor:
    """A token endpoint (RFC 6749 §4.4, §6, §5.2 errors) and an API that takes only the latest token."""

    expires_in: int | None = None
    rotate: bool = False
    rejecting: bool = False  # the API refuses every token, however new
    refusal: tuple[int, dict[str, object]] | None = None  # the token endpoint's error answer, when set
    current: str | None = None
    issued: int = 0
    token_forms: list[dict[str, str]] = field(default_factory=list[dict[str, str]])
    api_calls: list[tuple[str, bytes]] = field(default_factory=list[tuple[str, bytes]])  # (authorization, body)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            form = dict(parse_qsl(request.content.decode()))
            self.token_forms.append(form)
            await anyio.sleep(0.01)  # slow enough that concurrent callers overlap
            if self.refusal is not None:
                return json_response(*self.refusal)
            self.issued += 1
            self.current = f"access-{self.issued}"
            body: dict[str, object] = {"access_token": self.current, "token_type": "Bearer"}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            if self.rotate:
                body["refresh_token"] = f"refresh-{self.issued}"
            return json_response(200, body)
        self.api_calls.append((request.headers.get("authorization", ""), request.content))
        await anyio.lowlevel.checkpoint()
        if self.rejecting or request.headers.get("authorization") != f"Bearer {self.current}":
            return json_response(401, {"error": "invalid_token"})
        return json_response(200, {"ok": True, "method": request.method})

    def expire(self) -> None:
        self.current = f"expired-{self.issued}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def vendor() -> Vendor:
    return Vendor()


def auth(
    grant: Grant | None = None,
    *,
    scope: str | None = None,
    access_token: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> OAuth:
    grant = grant or ClientCredentials("the-client", SECRET)
    return OAuth("acme", TOKEN_URL, grant, credentials_hint=HINT, scope=scope, access_token=access_token, clock=clock)


@pytest.fixture
async def client(vendor: Vendor) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=API, transport=httpx.MockTransport(vendor), auth=auth()) as c:
        yield c


def client_for(vendor: Vendor, flow: OAuth) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=API, transport=httpx.MockTransport(vendor), auth=flow)


async def test_a_token_is_fetched_on_first_use_and_reused_for_later_requests(vendor: Vendor, client: httpx.AsyncClient):
    first = await client.get("/things")
    second = await client.get("/things")

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(vendor.token_forms) == 1
    assert [sent for sent, _ in vendor.api_calls] == ["Bearer access-1", "Bearer access-1"]


async def test_the_client_credentials_grant_posts_its_id_and_secret_as_a_form(
    vendor: Vendor, client: httpx.AsyncClient
):
    await client.get("/things")

    assert vendor.token_forms == [
        {"grant_type": "client_credentials", "client_id": "the-client", "client_secret": SECRET}
    ]


async def test_the_refresh_token_grant_sends_the_refresh_token_and_scope_and_no_secret_for_a_public_app(
    vendor: Vendor,
):
    flow = auth(RefreshToken("the-app", REFRESH), scope="https://graph.example/.default offline_access")
    async with client_for(vendor, flow) as client:
        await client.get("/things")

    assert vendor.token_forms == [
        {
            "grant_type": "refresh_token",
            "client_id": "the-app",
            "refresh_token": REFRESH,
            "scope": "https://graph.example/.default offline_access",
        }
    ]


async def test_a_confidential_app_sends_its_secret_with_the_refresh_token(vendor: Vendor):
    async with client_for(vendor, auth(RefreshToken("the-app", REFRESH, SECRET))) as client:
        await client.get("/things")

    assert vendor.token_forms[0]["client_secret"] == SECRET


async def test_an_expired_token_is_refreshed_once_and_the_request_resent(vendor: Vendor, client: httpx.AsyncClient):
    await client.get("/things")
    vendor.expire()

    answer = await client.post("/things", json={"n": 1})

    assert answer.status_code == 200
    assert len(vendor.token_forms) == 2
    assert vendor.api_calls[-2:] == [("Bearer access-1", b'{"n":1}'), ("Bearer access-2", b'{"n":1}')]


async def test_a_token_refused_again_after_a_refresh_is_answered_with_the_401_and_not_refreshed_again(
    vendor: Vendor, client: httpx.AsyncClient
):
    vendor.rejecting = True

    answer = await client.get("/things")

    assert answer.status_code == 401
    assert len(vendor.token_forms) == 2  # the first token, then one refresh after its 401
    assert len(vendor.api_calls) == 2


async def test_a_token_past_its_expires_in_is_renewed_before_it_is_sent(vendor: Vendor):
    vendor.expires_in = 3600
    clock = Clock()
    async with client_for(vendor, auth(clock=clock)) as client:
        await client.get("/things")
        clock.now += 3600 - 61  # still inside the minute kept in hand
        await client.get("/things")
        clock.now += 2
        await client.get("/things")

    assert len(vendor.token_forms) == 2
    assert [sent for sent, _ in vendor.api_calls] == [
        "Bearer access-1",
        "Bearer access-1",
        "Bearer access-2",
    ]  # no call was refused: the token was renewed before it could be


async def test_concurrent_first_calls_fetch_one_token(vendor: Vendor, client: httpx.AsyncClient):
    statuses: list[int] = []

    async def call() -> None:
        statuses.append((await client.get("/things")).status_code)

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(call)

    assert statuses == [200] * 8
    assert len(vendor.token_forms) == 1


async def test_concurrent_calls_refused_together_refresh_once_and_all_succeed(
    vendor: Vendor, client: httpx.AsyncClient
):
    await client.get("/things")
    vendor.expire()
    statuses: list[int] = []

    async def call() -> None:
        statuses.append((await client.get("/things")).status_code)

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(call)

    assert statuses == [200] * 8
    assert len(vendor.token_forms) == 2


async def test_a_refused_refresh_is_an_auth_error_naming_the_variables_without_any_secret(vendor: Vendor):
    vendor.refusal = (400, {"error": "invalid_grant", "error_description": f"refresh token {REFRESH} was revoked"})

    async with client_for(vendor, auth(RefreshToken("the-app", REFRESH, SECRET))) as client:
        with pytest.raises(AuthError) as raised:
            await client.get("/things")

    message = str(raised.value)
    assert message.startswith("acme: could not get an access token from login.example.com (HTTP 400, invalid_grant: ")
    assert message.endswith(f"; check {HINT}")
    assert REFRESH not in message
    assert SECRET not in message
    assert vendor.api_calls == []


async def test_secrets_quoted_by_the_endpoint_are_redacted_even_when_one_contains_another(vendor: Vendor):
    vendor.refusal = (400, {"error": "invalid_grant", "error_description": f"{REFRESH}-2 and {REFRESH}"})
    flow = auth(RefreshToken("the-app", REFRESH, "first"))  # the secret is a part of the refresh token

    async with client_for(vendor, flow) as client:
        with pytest.raises(AuthError) as raised:
            await client.get("/things")

    assert "invalid_grant: [redacted]-2 and [redacted])" in raised.value.detail


async def test_a_refused_client_secret_is_an_auth_error_even_when_the_endpoint_answers_401(
    vendor: Vendor, client: httpx.AsyncClient
):
    vendor.refusal = (401, {"error": "invalid_client", "error_description": "invalid client credentials"})

    with pytest.raises(AuthError, match=r"HTTP 401, invalid_client: invalid client credentials\); check "):
        await client.get("/things")


async def test_a_long_error_description_is_cut_short_but_the_hint_is_kept(vendor: Vendor, client: httpx.AsyncClient):
    vendor.refusal = (400, {"error": "invalid_request", "error_description": "AADSTS90002: " + "why " * 200})

    with pytest.raises(AuthError) as raised:
        await client.get("/things")

    said = raised.value.detail.split("(HTTP 400, ")[1].split("); check")[0]
    assert len(said) == DETAIL_LIMIT
    assert said.endswith("…")
    assert raised.value.detail.endswith(HINT)


async def test_a_rotated_refresh_token_is_used_for_the_next_refresh(vendor: Vendor):
    vendor.rotate = True
    async with client_for(vendor, auth(RefreshToken("the-app", REFRESH))) as client:
        await client.get("/things")
        vendor.expire()
        await client.get("/things")
        vendor.expire()
        await client.get("/things")

    assert [f["refresh_token"] for f in vendor.token_forms] == [REFRESH, "refresh-1", "refresh-2"]


async def test_a_refresh_answer_without_a_new_refresh_token_keeps_the_old_one(vendor: Vendor):
    async with client_for(vendor, auth(RefreshToken("the-app", REFRESH))) as client:
        await client.get("/things")
        vendor.expire()
        await client.get("/things")

    assert [f["refresh_token"] for f in vendor.token_forms] == [REFRESH, REFRESH]


async def test_a_given_access_token_is_used_until_it_is_refused(vendor: Vendor):
    vendor.current = "configured-token"
    flow = auth(access_token="configured-token")
    async with client_for(vendor, flow) as client:
        await client.get("/things")
        vendor.expire()
        await client.get("/things")

    assert len(vendor.token_forms) == 1
    assert flow.token == "access-1"


async def test_the_token_request_carries_the_timeouts_of_the_request_that_needed_it(vendor: Vendor):
    seen: list[object] = []

    async def spy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            seen.append(request.extensions.get("timeout"))
        return await vendor(request)

    async with httpx.AsyncClient(base_url=API, transport=httpx.MockTransport(spy), auth=auth()) as client:
        await client.get("/things", timeout=httpx.Timeout(2.5))

    assert seen == [{"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}]


async def test_a_token_answer_without_an_access_token_is_an_upstream_error():
    transport = httpx.MockTransport(lambda _: json_response(200, {"token_type": "Bearer"}))
    async with httpx.AsyncClient(base_url=API, transport=transport, auth=auth()) as broken:
        with pytest.raises(UpstreamError, match="without an access token"):
            await broken.get("/things")


# -- through Upstream ------------------------------------------------------------------------------


async def test_through_upstream_a_token_endpoint_that_is_down_is_retried_like_any_answer(vendor: Vendor):
    down = [json_response(503, {"error": "temporarily_unavailable"}), json_response(500, {"error": "server_error"})]

    async def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token" and down:
            return down.pop(0)
        return await vendor(request)

    api = Upstream("acme", API, auth=auth(), policy=FAST, transport=httpx.MockTransport(flaky))
    try:
        body = await api.get("/things")
    finally:
        await api.aclose()

    assert body == {"ok": True, "method": "GET"}
    assert len(vendor.token_forms) == 1  # the two failures never reached the real endpoint


async def test_through_upstream_a_refused_refresh_is_raised_at_once_without_retries(vendor: Vendor):
    vendor.refusal = (400, {"error": "invalid_client", "error_description": f"bad secret {SECRET}"})
    api = Upstream("acme", API, auth=auth(), policy=FAST, transport=httpx.MockTransport(vendor))
    try:
        with pytest.raises(AuthError) as raised:
            await api.get("/things")
    finally:
        await api.aclose()

    assert len(vendor.token_forms) == 1
    assert SECRET not in str(raised.value)
    assert HINT in str(raised.value)
