"""The resilient HTTP layer over real loopback sockets: retries, Retry-After, deadlines, breaker, pacing, scrubbing.

Timing assertions are bounds with wide margins (a sleep never ends early; an upper bound is many
times what the call needs), so a busy two-core machine does not make them flake.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import anyio
import httpx
import pytest

from connectors.errors import (
    AuthError,
    ConnectorError,
    ConnectorTimeout,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
)
from connectors.http.breaker import CircuitOpen
from connectors.http.upstream import Headroom, Json, Upstream, headroom_of, paginate, retry_after_of, shape
from tests.connectors.fakes.base import FAST
from tests.connectors.loopback import (
    Fails,
    Garbage,
    Hang,
    Healthy,
    Loopback,
    RateLimited,
    Slow,
    WithHeaders,
    http_date,
    refused,
    serve,
)

SECRET = "sk-loopback-s3cr3t-7f3a9c"
OK = {"ok": True, "path": "/items"}


def describe(body: Json) -> str | None:
    """The vendor's short message, as an adapter's `describe` hook extracts it."""
    if not isinstance(body, dict):
        return None
    said = cast(dict[str, Any], body).get("error")
    return str(said) if said is not None else None


@asynccontextmanager
async def opened(
    base_url: str, *, transport: httpx.AsyncBaseTransport | None = None, **policy: Any
) -> AsyncGenerator[Upstream]:
    """An Upstream as an adapter builds one: the secret in its headers and in `secrets`, FAST unless overridden."""
    api = Upstream(
        "acme",
        base_url,
        headers={"authorization": f"Bearer {SECRET}"},
        policy=replace(FAST, **policy),
        secrets=[SECRET],
        credentials_hint="ESCALATION_ACME_TOKEN",
        transport=transport,
        describe=describe,
    )
    try:
        yield api
    finally:
        await api.aclose()


def retries(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "connectors.http.upstream" and "retrying" in r.getMessage()]


async def wait_for_hits(up: Loopback, path: str, count: int = 1) -> None:
    with anyio.fail_after(10):
        await up.requested(path, count)


class Retrying(logging.Handler):
    """Set once the layer logs that it will retry: the call has read its answer and decided to wait."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            self.seen.set()


# -- retries ---------------------------------------------------------------------------------


async def test_a_read_is_retried_after_server_errors_and_then_answers():
    async with serve() as up, opened(up.url) as api:
        up.answer_next(Fails(500), Fails(503))

        assert await api.get("/items") == OK

    assert up.hits["/items"] == 3


async def test_a_read_that_times_out_is_retried_and_the_next_attempt_answers():
    async with serve() as up, opened(up.url, read_timeout=0.3) as api:
        up.answer_next(Slow(30))

        assert await api.get("/items") == OK

    assert up.hits["/items"] == 2


async def test_a_read_that_keeps_failing_surfaces_the_status_after_every_attempt():
    async with serve(Fails(502)) as up, opened(up.url) as api:
        with pytest.raises(UpstreamError) as raised:
            await api.get("/items")

    assert raised.value.status == 502
    assert "HTTP 502" in str(raised.value)
    assert up.hits["/items"] == FAST.attempts


async def test_a_refused_connection_is_retried_then_reported_naming_the_host(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="connectors.http.upstream")
    async with refused() as url, opened(url) as api:
        refused_words = r"could not reach 127\.0\.0\.1 \(the connection was refused or the host is unknown\)"
        with pytest.raises(UpstreamError, match=refused_words):
            await api.get("/items")

    assert len(retries(caplog)) == FAST.attempts - 1


async def test_a_write_that_is_not_idempotent_is_not_resent_after_a_server_error():
    async with serve(Fails(500)) as up, opened(up.url) as api:
        with pytest.raises(UpstreamError) as raised:
            await api.post("/notes", json={"body": "checked"}, idempotent=False)

    assert raised.value.status == 500
    assert up.hits["/notes"] == 1


async def test_a_write_that_is_not_idempotent_is_not_resent_after_a_timeout_since_it_may_have_landed():
    async with serve(Slow(30)) as up, opened(up.url, read_timeout=0.3) as api:
        with pytest.raises(ConnectorTimeout):
            await api.post("/notes", json={"body": "checked"}, idempotent=False)

    assert up.hits["/notes"] == 1


async def test_an_idempotent_write_is_resent_after_a_server_error():
    async with serve() as up, opened(up.url) as api:
        up.answer_next(Fails(500))

        assert await api.post("/search", json={"q": "export"}, idempotent=True) == {"ok": True, "path": "/search"}

    assert up.hits["/search"] == 2


async def test_a_write_that_is_not_idempotent_is_retried_when_the_connection_was_refused(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO, logger="connectors.http.upstream")
    async with refused() as url, opened(url) as api:
        with pytest.raises(UpstreamError, match="could not reach"):
            await api.post("/notes", json={"body": "checked"}, idempotent=False)

    assert len(retries(caplog)) == FAST.attempts - 1  # nothing was sent, so resending is safe


async def test_a_write_refused_once_lands_exactly_once_on_the_next_attempt():
    sent: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(201, json={"id": "n1"})

    async with opened("https://vendor.test", transport=httpx.MockTransport(vendor)) as api:
        assert await api.post("/notes", json={"body": "checked"}, idempotent=False) == {"id": "n1"}

    assert len(sent) == 2


async def test_an_empty_answer_decodes_to_none():
    async with opened("https://vendor.test", transport=httpx.MockTransport(lambda _: httpx.Response(204))) as api:
        assert await api.request("DELETE", "/notes/1", idempotent=True) is None


# -- Retry-After -------------------------------------------------------------------------------


async def test_a_retry_after_in_seconds_is_waited_out_before_the_read_is_retried():
    async with serve() as up, opened(up.url) as api:
        up.answer_next(RateLimited("1"))

        assert await api.get("/items") == OK

    told, retried = up.arrivals["/items"]
    assert retried - told >= 0.9


async def test_a_retry_after_on_a_503_is_waited_out_before_the_read_is_retried():
    arrivals: list[float] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return httpx.Response(503, headers={"retry-after": "0.5"}, json={"error": "busy"})
        return httpx.Response(200, json=OK)

    async with opened("https://vendor.test", transport=httpx.MockTransport(vendor)) as api:
        assert await api.get("/items") == OK

    assert arrivals[1] - arrivals[0] >= 0.45


async def test_a_retry_after_as_an_http_date_is_waited_out_before_the_read_is_retried():
    async with serve() as up, opened(up.url) as api:
        up.answer_next(RateLimited(http_date(2)))  # whole seconds: the pause is between 1 and 2 s

        assert await api.get("/items") == OK

    told, retried = up.arrivals["/items"]
    assert retried - told >= 0.8


async def test_a_retry_after_holds_back_every_concurrent_call_to_the_same_upstream(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO, logger="connectors.http.upstream")
    retrying = Retrying()
    logging.getLogger("connectors.http.upstream").addHandler(retrying)
    async with serve() as up, opened(up.url) as api:
        up.answer_next(RateLimited("1"))
        async with anyio.create_task_group() as group:
            group.start_soon(api.get, "/first")
            try:
                with anyio.fail_after(10):
                    await retrying.seen.wait()  # the first call has read the 429 and is waiting
            finally:
                logging.getLogger("connectors.http.upstream").removeHandler(retrying)

            assert await api.get("/second") == {"ok": True, "path": "/second"}

    assert up.hits["/second"] == 1  # it waited instead of being told off itself
    assert up.arrivals["/second"][0] - up.arrivals["/first"][0] >= 0.9


async def test_a_retry_after_beyond_the_deadline_fails_fast_with_rate_limited_instead_of_sleeping():
    async with serve(RateLimited("30")) as up, opened(up.url) as api:
        started = anyio.current_time()
        with anyio.fail_after(5), pytest.raises(RateLimitedError) as raised:
            await api.get("/items")
        elapsed = anyio.current_time() - started

    assert elapsed < 4  # well before the deadline, let alone the 30 s asked for
    assert raised.value.retry_after == 30
    assert up.hits["/items"] == 1


async def test_while_a_long_pause_lasts_a_call_with_a_shorter_deadline_fails_without_a_request():
    async with serve(RateLimited("30")) as up, opened(up.url) as api:
        with anyio.fail_after(5), pytest.raises(RateLimitedError):
            await api.get("/items")

        with anyio.fail_after(5), pytest.raises(RateLimitedError, match="pause ends after this call's deadline"):
            await api.get("/other")

    assert up.hits["/other"] == 0


async def test_while_a_long_pause_lasts_a_call_with_a_shorter_deadline_fails_without_backing_off(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO, logger="connectors.http.upstream")
    async with serve(RateLimited("30")) as up, opened(up.url) as api:
        with anyio.fail_after(5), pytest.raises(RateLimitedError):
            await api.get("/items")
        caplog.clear()

        with anyio.fail_after(5), pytest.raises(RateLimitedError):
            await api.get("/other")

    assert retries(caplog) == []


async def test_a_retry_after_longer_than_the_policy_allows_is_not_waited_for_even_without_a_deadline():
    async with serve(RateLimited("600")) as up, opened(up.url, max_retry_after=60) as api:
        started = anyio.current_time()
        with anyio.fail_after(30), pytest.raises(RateLimitedError) as raised:
            await api.get("/items")

    assert anyio.current_time() - started < 10
    assert raised.value.retry_after == 600
    assert up.hits["/items"] == 1


def said(retry_after: str) -> httpx.Response:
    return httpx.Response(429, headers={"retry-after": retry_after})


NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),  # IMF-fixdate, RFC 9110 section 5.6.7
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 30.0),  # the obsolete RFC 850 form
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # already past
        ("soon", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(value: str, seconds: float | None):
    assert retry_after_of(said(value), now=NOW) == seconds


@pytest.mark.parametrize(
    ("reset", "seconds"),
    [
        (f"{NOW + 30:.0f}", 30.0),  # a Unix time in seconds (Intercom)
        (f"{(NOW + 30) * 1000:.0f}", 30.0),  # in milliseconds
        ("5", 5.0),  # seconds to wait
        (f"{NOW - 10:.0f}", 0.0),  # already past
    ],
)
def test_without_retry_after_the_rate_limit_reset_header_says_how_long_to_wait(reset: str, seconds: float):
    assert retry_after_of(httpx.Response(429, headers={"x-ratelimit-reset": reset}), now=NOW) == seconds


def test_retry_after_in_the_obsolete_asctime_form_is_read_as_utc():
    assert retry_after_of(said("Wed Oct 21 07:28:00 2015"), now=NOW) == 30.0


def test_no_retry_after_header_means_no_pause():
    assert retry_after_of(httpx.Response(429)) is None


# -- deadlines ---------------------------------------------------------------------------------


async def test_an_enclosing_deadline_caps_the_read_timeout_so_a_hanging_upstream_costs_only_the_deadline():
    async with serve(Hang()) as up, opened(up.url, read_timeout=30, call_timeout=60) as api:
        started = anyio.current_time()
        # Its own read timeout, cut to the deadline, may fire before the scope's cancellation.
        with anyio.move_on_after(0.5), contextlib.suppress(ConnectorTimeout):
            await api.get("/items")
        elapsed = anyio.current_time() - started

    assert elapsed < 5  # the deadline, not the 30 s read timeout
    assert up.hits["/items"] == 1  # no retry started after the deadline


async def test_a_hanging_upstream_under_fail_after_ends_by_the_deadline_as_a_timeout():
    async with serve(Hang()) as up, opened(up.url, read_timeout=30, call_timeout=60) as api:
        started = anyio.current_time()
        with pytest.raises((TimeoutError, ConnectorTimeout)), anyio.fail_after(0.5):
            await api.get("/items")
        elapsed = anyio.current_time() - started

    assert elapsed < 5
    assert up.hits["/items"] == 1


async def test_retries_stop_at_the_enclosing_deadline_and_the_call_ends_by_then():
    async with serve(Fails(503)) as up, opened(up.url, attempts=10_000, backoff=0.05, backoff_cap=0.05) as api:
        started = anyio.current_time()
        # The last error, or a timeout when the deadline fell mid-request.
        with anyio.move_on_after(1.0), contextlib.suppress(ConnectorError):
            await api.get("/items")
        elapsed = anyio.current_time() - started

    assert elapsed < 5
    assert 1 < up.hits["/items"] < 10_000


async def test_without_a_caller_deadline_the_policy_call_timeout_bounds_the_whole_call():
    async with serve(Hang()) as up, opened(up.url, read_timeout=30, call_timeout=0.5) as api:
        started = anyio.current_time()
        with anyio.fail_after(20), pytest.raises(ConnectorTimeout, match="no answer within"):
            await api.get("/items")

    assert anyio.current_time() - started < 5
    assert up.hits["/items"] == 1


# -- circuit breaker ---------------------------------------------------------------------------


async def test_the_breaker_opens_after_consecutive_failures_and_then_fails_fast_without_a_request():
    async with serve(Fails(500)) as up, opened(up.url, attempts=1, breaker_failures=3, breaker_cooldown=60) as api:
        for _ in range(3):
            with pytest.raises(UpstreamError):
                await api.get("/items")
        assert api.breaker_state == "open"

        with pytest.raises(CircuitOpen, match="not called"):
            await api.get("/items")

    assert up.hits["/items"] == 3


async def test_one_call_counts_once_however_many_retries_it_made_so_it_cannot_open_the_breaker_alone():
    async with serve(Fails(500)) as up, opened(up.url, attempts=4, breaker_failures=3, breaker_cooldown=60) as api:
        with pytest.raises(UpstreamError, match="HTTP 500"):
            await api.get("/items")
        assert up.hits["/items"] == 4  # every retry went out
        assert api.breaker_state == "closed"

        up.mode = Healthy()
        assert await api.get("/items") == OK


async def test_concurrent_requests_of_one_operation_count_as_one_failure():
    async with serve(Fails(500)) as up, opened(up.url, attempts=1, breaker_failures=2, breaker_cooldown=60) as api:
        operation = api.operation()

        async def one() -> None:
            with pytest.raises(UpstreamError):
                await api.get("/items", operation=operation)

        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(one)
        assert up.hits["/items"] == 4
        assert api.breaker_state == "closed"

        with pytest.raises(UpstreamError):
            await api.get("/items")  # a second, separate failure: now two in a row
        assert api.breaker_state == "open"


async def test_a_success_resets_the_count_of_consecutive_failures():
    async with serve() as up, opened(up.url, attempts=1, breaker_failures=2, breaker_cooldown=60) as api:
        up.answer_next(Fails(500), Healthy(), Fails(500))
        for expected in (UpstreamError, None, UpstreamError):
            if expected is None:
                await api.get("/items")
            else:
                with pytest.raises(expected):
                    await api.get("/items")

        assert api.breaker_state == "closed"


async def test_the_breaker_half_opens_after_the_cooldown_and_a_successful_trial_closes_it():
    async with serve(Fails(500)) as up, opened(up.url, attempts=1, breaker_failures=2, breaker_cooldown=1.0) as api:
        for _ in range(2):
            with pytest.raises(UpstreamError):
                await api.get("/items")
        with pytest.raises(CircuitOpen):
            await api.get("/items")
        up.mode = Healthy()

        await anyio.sleep(1.1)
        assert api.breaker_state == "half_open"
        assert await api.get("/items") == OK

        assert api.breaker_state == "closed"
    assert up.hits["/items"] == 3


class RefusingAuth(httpx.Auth):
    """An auth flow whose token refresh the vendor refuses, as `connectors.http.oauth` raises it."""

    def __init__(self) -> None:
        self.refuse = False

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.refuse:
            raise AuthError("acme", "the token endpoint refused the refresh")
        yield request


async def test_a_half_open_trial_ended_by_a_refused_token_refresh_leaves_the_breaker_free_to_try_again():
    auth = RefusingAuth()
    calls = 0

    def vendor(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500 if calls == 1 else 200, json=OK)

    api = Upstream(
        "acme",
        "https://vendor.test",
        auth=auth,
        policy=replace(FAST, attempts=1, breaker_failures=1, breaker_cooldown=0.05),
        transport=httpx.MockTransport(vendor),
    )
    with pytest.raises(UpstreamError):
        await api.get("/items")
    await anyio.sleep(0.06)
    auth.refuse = True
    with pytest.raises(AuthError):
        await api.get("/items")  # the half-open trial
    auth.refuse = False

    assert await api.get("/items") == OK
    await api.aclose()


async def test_a_failed_trial_opens_the_breaker_again_for_another_cooldown():
    async with serve(Fails(500)) as up, opened(up.url, attempts=1, breaker_failures=2, breaker_cooldown=1.0) as api:
        for _ in range(2):
            with pytest.raises(UpstreamError):
                await api.get("/items")
        await anyio.sleep(1.1)

        with pytest.raises(UpstreamError) as trial:
            await api.get("/items")
        assert not isinstance(trial.value, CircuitOpen)  # the trial did go out
        with pytest.raises(CircuitOpen):
            await api.get("/items")

    assert up.hits["/items"] == 3


async def test_while_the_half_open_trial_runs_other_calls_fail_fast():
    async with serve(Fails(500)) as up, opened(up.url, attempts=1, breaker_failures=1, breaker_cooldown=0.2) as api:
        with pytest.raises(UpstreamError):
            await api.get("/items")
        up.mode = Slow(0.5)
        await anyio.sleep(0.3)

        async with anyio.create_task_group() as group:
            group.start_soon(api.get, "/trial")
            await wait_for_hits(up, "/trial")
            with pytest.raises(CircuitOpen):
                await api.get("/other")

        assert api.breaker_state == "closed"
    assert up.hits["/other"] == 0


async def test_a_half_open_trial_cancelled_by_the_caller_does_not_keep_the_breaker_open_forever():
    async with serve(Fails(500)) as up, opened(up.url, attempts=1, breaker_failures=1, breaker_cooldown=0.2) as api:
        with pytest.raises(UpstreamError):
            await api.get("/items")
        await anyio.sleep(0.3)
        up.mode = Hang()
        async with anyio.create_task_group() as group:
            group.start_soon(api.get, "/trial")
            await wait_for_hits(up, "/trial")
            group.cancel_scope.cancel()  # say, the caller's deadline
        up.mode = Healthy()

        await anyio.sleep(0.3)  # another whole cooldown
        assert await api.get("/items") == OK


async def test_a_hang_cut_off_by_the_callers_deadline_counts_towards_opening_the_breaker():
    async with serve(Hang()) as up, opened(up.url, attempts=1, breaker_failures=2, breaker_cooldown=60) as api:
        for _ in range(2):
            with pytest.raises((TimeoutError, ConnectorTimeout)), anyio.fail_after(0.3):
                await api.get("/items")

        assert api.breaker_state == "open"


async def test_a_timeout_of_its_own_counts_towards_opening_the_breaker():
    async with serve(Hang()) as up, opened(up.url, attempts=1, read_timeout=0.2, breaker_failures=2) as api:
        for _ in range(2):
            with pytest.raises(ConnectorTimeout):
                await api.get("/items")

        assert api.breaker_state == "open"
    assert up.hits["/items"] == 2


async def test_a_refusal_by_the_vendor_does_not_count_towards_opening_the_breaker():
    async with serve(Fails(404)) as up, opened(up.url, attempts=1, breaker_failures=2) as api:
        for _ in range(3):
            with pytest.raises(NotFoundError):
                await api.get("/items")

        assert api.breaker_state == "closed"
    assert up.hits["/items"] == 3


# -- pacing ------------------------------------------------------------------------------------


async def test_a_burst_over_the_rate_is_spread_out():
    async with serve() as up, opened(up.url, rate=20, burst=1) as api:
        started = anyio.current_time()
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(api.get, "/items")
        elapsed = anyio.current_time() - started

    assert elapsed >= 0.35  # ten calls at 20/s, one at a time: 0.45 s of spacing
    arrivals = up.arrivals["/items"]
    assert len(arrivals) == 10
    assert arrivals[-1] - arrivals[0] >= 0.35


async def test_a_burst_within_the_allowance_goes_out_without_waiting():
    async with serve() as up, opened(up.url, rate=1, burst=10) as api:
        started = anyio.current_time()
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(api.get, "/items")
        elapsed = anyio.current_time() - started

    assert elapsed < 5  # paced at 1/s the last would leave after 9 s
    assert up.hits["/items"] == 10


# -- errors and secrets ------------------------------------------------------------------------


ECHOED = {"error": f"token {SECRET} is not allowed here"}


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        (Fails(500, ECHOED), UpstreamError),
        (Fails(401, ECHOED), AuthError),
        (Fails(403, ECHOED), AuthError),
        (Fails(404, ECHOED), NotFoundError),
        (Fails(422, ECHOED), UpstreamError),
        (RateLimited("600", ECHOED), RateLimitedError),
    ],
)
async def test_errors_never_carry_the_secret_even_when_the_vendor_echoes_it(
    mode: Fails | RateLimited, error: type[ConnectorError], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    async with serve(mode) as up, opened(up.url) as api:
        with pytest.raises(error) as raised:
            await api.get("/items", params={"api_key": SECRET})

    assert up.seen[0].headers["authorization"] == f"Bearer {SECRET}"  # it was really sent
    assert "is not allowed here" in str(raised.value)  # the vendor's message is kept...
    assert SECRET not in str(raised.value)  # ...without the secret
    assert SECRET not in repr(raised.value.args)
    assert not [r for r in caplog.records if r.name.startswith("connectors") and SECRET in r.getMessage()]


async def test_an_error_an_inspect_hook_raises_is_scrubbed_of_the_secret():
    def inspect(response: httpx.Response, body: Json) -> None:
        raise AuthError("acme", f"the vendor said: token {SECRET} revoked")

    async with serve() as up:
        api = Upstream("acme", up.url, policy=FAST, secrets=[SECRET], inspect=inspect)
        try:
            with pytest.raises(AuthError) as raised:
                await api.get("/items")
        finally:
            await api.aclose()

    assert "revoked" in str(raised.value)
    assert SECRET not in str(raised.value)


async def test_an_unreachable_upstream_error_names_the_host_but_not_the_url_with_its_secret():
    async with refused() as url, opened(url) as api:
        with pytest.raises(UpstreamError) as raised:
            await api.get("/items", params={"api_key": SECRET})

    assert SECRET not in str(raised.value)
    assert "api_key" not in str(raised.value)


async def test_rejected_credentials_name_the_variable_to_check():
    async with serve(Fails(401, {"error": "invalid token"})) as up, opened(up.url) as api:
        with pytest.raises(AuthError, match="ESCALATION_ACME_TOKEN"):
            await api.get("/items")


async def test_a_page_of_html_instead_of_json_is_an_upstream_error_saying_not_json():
    async with serve(Garbage()) as up, opened(up.url) as api:
        with pytest.raises(UpstreamError, match=r"not JSON \(text/html, \d+ bytes\)") as raised:
            await api.get("/items")

    assert "<html>" not in str(raised.value)  # never the body itself
    assert up.hits["/items"] == FAST.attempts  # a read retries it: a proxy's error page is often passing


async def test_unreadable_and_unreachable_upstreams_raise_the_public_error_type_with_plain_words():
    async with serve(Garbage()) as up, opened(up.url) as api:
        with pytest.raises(UpstreamError) as garbled:
            await api.get("/items")
    async with refused() as url, opened(url) as api:
        with pytest.raises(UpstreamError) as unreachable:
            await api.get("/items")

    for raised in (garbled, unreachable):
        # The server names an error by its type; only the public tree may show (no `_Garbage`, `ConnectError`).
        assert type(raised.value) is UpstreamError
        assert raised.value.kind == "vendor failed"
        assert "Error" not in str(raised.value)


def test_a_payload_in_an_unexpected_shape_is_described_without_python_exception_names():
    with pytest.raises(UpstreamError) as raised, shape("acme"):
        {"results": []}["paging"]

    assert str(raised.value) == "acme: answered in an unexpected shape (no field 'paging')"


async def test_a_page_of_html_after_a_write_is_not_resent():
    async with serve(Garbage()) as up, opened(up.url) as api:
        with pytest.raises(UpstreamError, match="not JSON"):
            await api.post("/notes", json={"body": "checked"}, idempotent=False)

    assert up.hits["/notes"] == 1


# -- pagination --------------------------------------------------------------------------------


Fetch = Callable[[str | None, int], Awaitable[tuple[list[int], str | None]]]


def catalogue(total: int, asked: list[tuple[str | None, int]]) -> Fetch:
    """A vendor listing 0..total-1 with offset cursors, recording what each page asked for."""

    async def fetch(cursor: str | None, size: int) -> tuple[list[int], str | None]:
        asked.append((cursor, size))
        start = int(cursor or 0)
        end = min(start + size, total)
        return list(range(start, end)), (str(end) if end < total else None)

    return fetch


async def test_paginate_stops_at_the_limit_and_hands_back_the_vendors_cursor():
    asked: list[tuple[str | None, int]] = []

    page = await paginate(catalogue(100, asked), limit=25, cursor=None, page_size=10)

    assert page.items == list(range(25))
    assert page.next_cursor == "25"
    assert asked == [(None, 10), ("10", 10), ("20", 5)]  # exactly what is still wanted


async def test_paginate_resumes_from_the_cursor_it_handed_back_without_losing_an_item():
    asked: list[tuple[str | None, int]] = []
    fetch = catalogue(30, asked)

    first = await paginate(fetch, limit=12, cursor=None, page_size=5)
    second = await paginate(fetch, limit=50, cursor=first.next_cursor, page_size=5)

    assert first.items + second.items == list(range(30))
    assert second.next_cursor is None


async def test_paginate_ends_without_a_cursor_when_the_vendor_runs_out():
    asked: list[tuple[str | None, int]] = []

    page = await paginate(catalogue(7, asked), limit=10, cursor=None, page_size=5)

    assert page.items == list(range(7))
    assert page.next_cursor is None
    assert asked == [(None, 5), ("5", 5)]


async def test_paginate_keeps_no_more_than_the_page_size_it_asked_for():
    async def generous(cursor: str | None, size: int) -> tuple[list[int], str | None]:
        return list(range(size + 3)), "next"

    page = await paginate(generous, limit=4, cursor=None, page_size=10)

    assert page.items == [0, 1, 2, 3]


async def test_an_empty_page_that_still_carries_a_cursor_hands_that_cursor_back():
    async def sparse(cursor: str | None, size: int) -> tuple[list[int], str | None]:
        return ([], "page-2") if cursor is None else ([1, 2], None)

    page = await paginate(sparse, limit=5, cursor=None, page_size=5)

    assert page.next_cursor == "page-2" or page.items == [1, 2]


# -- rate-limit headroom -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "headroom"),
    [
        ({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "42"}, Headroom(42, 100)),
        ({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"}, Headroom(699, 700)),
        ({"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "189"}, Headroom(189, 190)),
        ({"X-RateLimit-Requests-Limit": "1500", "X-RateLimit-Requests-Remaining": "1499"}, Headroom(1499, 1500)),
        ({"Sforce-Limit-Info": "api-usage=18/5000"}, Headroom(4982, 5000)),
        ({"X-RateLimit-Remaining": "3"}, Headroom(3, None)),
        ({"X-RateLimit-Remaining": "lots"}, None),
        (
            {"Sforce-Limit-Info": "api-usage=25/5000; per-app-api-usage=17/250(appName=escalation)"},
            Headroom(4975, 5000),
        ),
        ({}, None),
    ],
)
def test_headroom_is_read_from_the_vendors_rate_limit_headers(headers: dict[str, str], headroom: Headroom | None):
    assert headroom_of(httpx.Response(200, headers=headers)) == headroom


def test_headroom_reads_as_what_is_left_of_the_limit():
    assert str(Headroom(42, 100)) == "42 of 100 left"
    assert str(Headroom(3)) == "3 left"


async def test_the_upstream_keeps_the_headroom_of_the_last_answer():
    limits = {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "12"}
    async with serve(WithHeaders(limits)) as up, opened(up.url) as api:
        assert api.headroom is None
        await api.get("/items")

        assert api.headroom == Headroom(12, 190)
