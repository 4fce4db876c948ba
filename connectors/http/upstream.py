"""The one HTTP layer every vendor adapter talks through.

An `Upstream` is one vendor's base URL with everything a call needs to survive the real
world:

- explicit connect, read, write and pool timeouts, each cut to the time left before the
  caller's deadline (the enclosing anyio cancel scope, which `gather_context` sets per
  source; `Policy.call_timeout` when there is none);
- retries with capped exponential backoff and full jitter (tenacity), for reads and
  idempotent writes, on connection errors, timeouts, 429, 5xx and unparsable bodies.
  A non-idempotent write is retried only when the connection was never made, since then
  nothing reached the vendor. A retry that could not start before the deadline is not
  attempted; the last error is raised instead, so the caller learns what happened;
- Retry-After (seconds or an HTTP date) and vendor signals raised by an adapter's
  `inspect` hook (Linear's RATELIMITED in a 200, Slack's `ok: false`) are honoured, and the
  pause holds for every concurrent call to that upstream, not only the one that was told;
- pacing with a leaky bucket per upstream (aiolimiter) so a burst stays under the
  vendor's documented rate;
- a circuit breaker per upstream (`connectors.http.breaker`);
- errors translated into `connectors.errors`, with the vendor's short message at most,
  scrubbed of every secret, never the whole body, in plain words (no class names); a 404 on a
  base resource (the API root, a search) names the setting that builds the address;
- the HTTP libraries' own log lines guarded (`connectors.http.logs`): no secret at any level, no
  query string anywhere, no request URL at INFO.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote_plus

import anyio
import httpx
from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from connectors.errors import (
    AuthError,
    ConnectorError,
    ConnectorTimeout,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
)
from connectors.http.breaker import CircuitBreaker, CircuitOpen
from connectors.http.logs import forget_secrets, guard_http_logs
from connectors.models import Page

log = logging.getLogger(__name__)

T = TypeVar("T")
Json = Any  # what `json.loads` returns; adapters validate it into their own models
Inspect = Callable[[httpx.Response, Json], None]
Describe = Callable[[Json], str | None]

DETAIL_LIMIT = 200


@dataclass(frozen=True)
class Policy:
    """How one upstream is called. Defaults suit a vendor REST API; adapters tighten `rate` to the vendor's limit."""

    rate: float = 5.0  # sustained requests per second
    burst: int = 5  # requests that may go out at once before pacing starts
    attempts: int = 4  # the first try and up to three retries
    backoff: float = 0.5  # the first retry waits up to this long; it doubles each time
    backoff_cap: float = 8.0
    max_retry_after: float = 60.0  # a longer Retry-After is not waited for
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    write_timeout: float = 10.0
    pool_timeout: float = 3.0
    call_timeout: float = 30.0  # the whole call, retries included, when the caller set no deadline
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0


@dataclass(frozen=True)
class Headroom:
    """What the vendor said of its rate limit on the last answer."""

    remaining: float
    limit: float | None = None

    def __str__(self) -> str:
        return f"{self.remaining:g} of {self.limit:g} left" if self.limit else f"{self.remaining:g} left"


# (limit headers, remaining header), as the vendors document them.
_HEADROOM_HEADERS = (
    (("x-ratelimit-limit", "x-ratelimit-total"), "x-ratelimit-remaining"),  # Intercom, Jira, Guru; Freshdesk
    (("x-rate-limit",), "x-rate-limit-remaining"),  # Zendesk
    (("x-hubspot-ratelimit-max",), "x-hubspot-ratelimit-remaining"),  # HubSpot
    (("x-ratelimit-requests-limit",), "x-ratelimit-requests-remaining"),  # Linear
)


def headroom_of(response: httpx.Response) -> Headroom | None:
    for limit_names, remaining_name in _HEADROOM_HEADERS:
        remaining = _number(response.headers.get(remaining_name))
        if remaining is not None:
            limits = (_number(response.headers.get(name)) for name in limit_names)
            return Headroom(remaining, next((n for n in limits if n is not None), None))
    usage = re.search(r"api-usage=(\d+)/(\d+)", response.headers.get("sforce-limit-info", ""))
    if usage is not None:  # Salesforce: "api-usage=18/5000; api-bursts=1/100"
        used, limit = float(usage.group(1)), float(usage.group(2))
        return Headroom(max(0.0, limit - used), limit)
    return None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def retry_after_of(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds the vendor asked us to wait: Retry-After (seconds or an HTTP date), else the
    `X-RateLimit-Reset` of vendors that send only that (Intercom: a Unix time in seconds)."""
    current = now if now is not None else time.time()
    value = response.headers.get("retry-after")
    if value is None:
        reset = _number(response.headers.get("x-ratelimit-reset"))
        if reset is None:
            return None
        if reset > 1e12:  # a Unix time in milliseconds
            reset /= 1000
        return max(0.0, reset - current) if reset > 1e9 else max(0.0, reset)  # a time, or seconds to wait
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # the asctime form carries no zone; HTTP dates are UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.fromtimestamp(current, UTC)).total_seconds())


@contextmanager
def shape(source: str) -> Generator[None]:
    """Turn a vendor payload that is not shaped as documented into an UpstreamError naming what was off."""
    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise UpstreamError(source, f"answered in an unexpected shape ({where}: {first['msg']})") from None
    except KeyError as exc:
        raise UpstreamError(source, f"answered in an unexpected shape (no field {exc})") from None
    except IndexError:
        raise UpstreamError(source, "answered in an unexpected shape (a list shorter than expected)") from None
    except TypeError:
        raise UpstreamError(source, "answered in an unexpected shape (a value of the wrong type)") from None


M = TypeVar("M", bound=BaseModel)


def parse(source: str, model: type[M], body: Json) -> M:
    """`body` validated into `model`; a mismatch is the vendor's fault, reported as UpstreamError."""
    with shape(source):
        return model.model_validate(body)


@dataclass(frozen=True)
class Reply:
    """A decoded answer with its headers, for vendors that page or report through headers (Guru's Link)."""

    body: Json
    headers: httpx.Headers


class Upstream:
    """One vendor API: its base URL, credentials, policy, pacer and breaker."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        policy: Policy | None = None,
        secrets: Sequence[str] = (),
        credentials_hint: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        inspect: Inspect | None = None,
        inspect_statuses: frozenset[int] = frozenset(),
        describe: Describe | None = None,
        address_hint: str = "",
    ) -> None:
        """`address_hint` names the settings that build the vendor's address (subdomain, site, workspace):
        a 404 on anything but a record lookup (`lookup=True`) means they are wrong, and the error says so."""
        self.source = source
        self.policy = policy or Policy()
        self.headroom: Headroom | None = None
        self._secrets = [s for s in secrets if s]
        self._hint = credentials_hint
        self._address_hint = address_hint
        self._operations = itertools.count(1)
        guard_http_logs(self._secrets)
        self._inspect = inspect
        self._inspect_statuses = inspect_statuses  # non-2xx statuses whose JSON bodies `inspect` reads first
        self._describe = describe
        self._breaker = CircuitBreaker(
            source, failures=self.policy.breaker_failures, cooldown=self.policy.breaker_cooldown
        )
        self._limiter = AsyncLimiter(self.policy.burst, self.policy.burst / self.policy.rate)
        self._hold_until = 0.0  # anyio clock: no request goes out before this (a Retry-After)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"accept": "application/json", "user-agent": "escalation-mcp", **(headers or {})},
            auth=auth,
            transport=transport,
            follow_redirects=False,
        )

    @property
    def breaker_state(self) -> str:
        return self._breaker.state

    async def aclose(self) -> None:
        if not self._client.is_closed:
            forget_secrets(self._secrets)
        await self._client.aclose()

    def operation(self) -> int:
        """A key for one logical operation made of several concurrent requests (a search per word), so
        the breaker counts the operation's failure once, not once per request."""
        return next(self._operations)

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        lookup: bool = False,
        operation: int | None = None,
    ) -> Json:
        """GET; `lookup` says the path names one record, so a 404 means that record does not exist."""
        return await self.request("GET", path, params=params, idempotent=True, lookup=lookup, operation=operation)

    async def post(
        self,
        path: str,
        *,
        json: Json = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        lookup: bool = False,
    ) -> Json:
        """POST; `idempotent` says whether sending it twice is harmless (a search, a keyed write)."""
        return await self.request(
            "POST", path, json=json, params=params, headers=headers, idempotent=idempotent, lookup=lookup
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Json = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        lookup: bool = False,
        operation: int | None = None,
    ) -> Json:
        """Send with pacing, breaker, deadline and retries; the decoded JSON body (None when empty)."""
        reply = await self.exchange(
            method,
            path,
            params=params,
            json=json,
            data=data,
            headers=headers,
            idempotent=idempotent,
            lookup=lookup,
            operation=operation,
        )
        return reply.body

    async def exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Json = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        lookup: bool = False,
        operation: int | None = None,
    ) -> Reply:
        """As `request`, with the answer's headers kept."""
        deadline = self._deadline()
        # Retries of one call, and the concurrent requests of one operation, are one failure to the breaker.
        call = _Call(operation if operation is not None else self.operation(), lookup)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.attempts) | _StopBefore(deadline),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: self._retryable(exc, idempotent=idempotent)),
            sleep=anyio.sleep,
            before_sleep=lambda rs: self._log_retry(rs, method, path),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(
                    method, path, deadline, call, params=params, json=json, data=data, headers=headers
                )
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    # -- one attempt -------------------------------------------------------------------------

    async def _attempt(
        self,
        method: str,
        path: str,
        deadline: float,
        call: _Call,
        *,
        params: Mapping[str, Any] | None,
        json: Json,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> Reply:
        if self._hold_until > deadline:
            raise RateLimitedError(
                self.source,
                "rate limited: the vendor's pause ends after this call's deadline",
                retry_after=self._hold_until - anyio.current_time(),
            )
        if self._hold_until > anyio.current_time():
            await anyio.sleep(self._hold_until - anyio.current_time())
        await self._limiter.acquire()
        left = deadline - anyio.current_time()
        if left <= 0:
            raise ConnectorTimeout(self.source, "no time left before the deadline")
        self._breaker.before_call()
        p = self.policy
        timeout = httpx.Timeout(
            connect=min(p.connect_timeout, left),
            read=min(p.read_timeout, left),
            write=min(p.write_timeout, left),
            pool=min(p.pool_timeout, left),
        )
        try:
            response = await self._client.request(
                method, path, params=params, json=json, data=data, headers=headers, timeout=timeout
            )
        except anyio.get_cancelled_exc_class():
            if anyio.current_time() >= deadline:
                self._breaker.failed("no answer before the deadline", call.key)
            else:
                self._breaker.released()
            raise
        except ConnectorError:  # raised by an auth flow (a refused token refresh): the vendor answered
            self._breaker.released()
            raise
        except httpx.TimeoutException as exc:
            timeout_error = ConnectorTimeout(
                self.source, f"no answer within {min(p.read_timeout, left):.1f} s ({_timeout_stage(exc)})"
            )
            self._breaker.failed(timeout_error.detail, call.key)
            raise timeout_error from None
        except httpx.TransportError as exc:
            unreachable = _unreachable(self.source, exc, host=self._client.base_url.host)
            self._breaker.failed(unreachable.detail, call.key)
            raise unreachable from None
        return Reply(self._read(response, call), response.headers)

    def _read(self, response: httpx.Response, call: _Call) -> Json:
        """The decoded body of a 2xx; otherwise the error it means. Keeps the breaker's books."""
        headroom = headroom_of(response)
        if headroom is not None:
            self.headroom = headroom
        status = response.status_code
        if status >= 500:
            wait = retry_after_of(response) if "retry-after" in response.headers else None  # 503s may say when
            self._hold(wait)
            error = UpstreamError(
                self.source, f"failed (HTTP {status}){self._detail(response)}", status=status, retry_after=wait
            )
            self._breaker.failed(error.detail, call.key)
            raise error
        if not 200 <= status < 300:
            self._breaker.released()  # the vendor is up; it said no
            if status in self._inspect_statuses:  # e.g. GraphQL errors (Linear's rate limit) in a 400
                self._run_inspect(response, json_or_none(response))
            raise self._refusal(response, call)
        try:
            body = self._json(response)
        except UpstreamError as garbage:
            self._breaker.failed(garbage.detail, call.key)
            raise
        try:
            self._run_inspect(response, body)
        except ConnectorError:
            self._breaker.released()
            raise
        self._breaker.succeeded()
        return body

    def _run_inspect(self, response: httpx.Response, body: Json) -> None:
        """The adapter's reading of a body: errors and rate limits some vendors send inside it."""
        if self._inspect is None:
            return
        try:
            self._inspect(response, body)
        except RateLimitedError as exc:
            self._hold(exc.retry_after)
            raise self._scrubbed(exc) from None
        except ConnectorError as exc:
            raise self._scrubbed(exc) from None

    def _refusal(self, response: httpx.Response, call: _Call) -> ConnectorError:
        status, detail = response.status_code, self._detail(response)
        if status == 429:
            wait = retry_after_of(response)
            self._hold(wait)
            return RateLimitedError(self.source, f"rate limited (HTTP 429){detail}", retry_after=wait)
        if status in (401, 403):
            hint = f"; check {self._hint}" if self._hint else ""
            return AuthError(self.source, f"rejected the credentials (HTTP {status}){detail}{hint}")
        if status == 404 and not call.lookup and self._address_hint:
            return NotFoundError(
                self.source,
                f"answered 404 for the API{detail}: check {self._address_hint} (the address built from it is wrong)",
            )
        if status == 404:
            return NotFoundError(self.source, f"not found (HTTP 404){detail}")
        return UpstreamError(self.source, f"refused the request (HTTP {status}){detail}", status=status)

    def _json(self, response: httpx.Response) -> Json:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise UpstreamError(
                self.source,
                f"answered HTTP {response.status_code} with a body that is not JSON "
                f"({kind}, {len(response.content)} bytes)",
                status=response.status_code,
                transient=True,  # a proxy's error page or a cut-off answer: worth another try
            ) from None

    def _detail(self, response: httpx.Response) -> str:
        """The vendor's own short explanation of an error, if it gave one we can read."""
        if self._describe is None or not response.content:
            return ""
        try:
            said = self._describe(response.json())
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return ""
        return f": {self.scrub(said)}" if said else ""

    def scrub(self, text: str) -> str:
        """`text` on one line, at most DETAIL_LIMIT characters, with every secret replaced."""
        return redact(text, self._secrets)

    def _scrubbed(self, exc: ConnectorError) -> ConnectorError:
        clean = self.scrub(exc.detail)
        if clean == exc.detail:
            return exc
        copy = type(exc).__new__(type(exc))
        ConnectorError.__init__(copy, exc.source, clean)
        copy.__dict__.update({k: v for k, v in exc.__dict__.items() if k not in ("source", "detail")})
        return copy

    def _hold(self, seconds: float | None) -> None:
        if seconds:
            self._hold_until = max(self._hold_until, anyio.current_time() + min(seconds, self.policy.max_retry_after))

    # -- retry policy ------------------------------------------------------------------------

    def _deadline(self) -> float:
        own = anyio.current_time() + self.policy.call_timeout
        return min(own, anyio.current_effective_deadline())

    def _retryable(self, exc: BaseException, *, idempotent: bool) -> bool:
        if isinstance(exc, UpstreamError) and exc.never_sent:
            return True  # nothing reached the vendor: safe even for a non-idempotent write
        if not idempotent:
            return False
        if isinstance(exc, CircuitOpen):
            return False
        if isinstance(exc, RateLimitedError):
            return exc.retry_after is None or exc.retry_after <= self.policy.max_retry_after
        if isinstance(exc, UpstreamError):
            return exc.transient or (exc.status or 0) >= 500
        return isinstance(exc, ConnectorTimeout)

    def _wait(self, rs: RetryCallState) -> float:
        """Full jitter on a capped exponential, but never less than what the vendor asked for."""
        p = self.policy
        ceiling = min(p.backoff_cap, p.backoff * 2 ** (rs.attempt_number - 1))
        jittered = random.uniform(0, ceiling)
        exc = rs.outcome.exception() if rs.outcome is not None else None
        if isinstance(exc, RateLimitedError | UpstreamError) and exc.retry_after is not None:
            return max(jittered, min(exc.retry_after, p.max_retry_after))
        return jittered

    def _log_retry(self, rs: RetryCallState, method: str, path: str) -> None:
        exc = rs.outcome.exception() if rs.outcome is not None else None
        log.info(
            "%s %s %s: attempt %d failed (%s); retrying in %.2f s",
            self.source,
            method,
            path.split("?")[0],
            rs.attempt_number,
            exc.detail if isinstance(exc, ConnectorError) else "an unexpected error",
            rs.upcoming_sleep,
        )


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` on one line, at most DETAIL_LIMIT characters, with each secret (or its URL-encoded form)
    replaced in one pass, longest first, so no secret is found inside another or inside "[redacted]"."""
    variants = {v for secret in secrets if secret for v in (secret, quote_plus(secret))}
    if variants:
        pattern = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
        text = re.sub(pattern, "[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def json_or_none(response: httpx.Response) -> Json:
    try:
        return response.json()
    except ValueError:
        return None


class _StopBefore(stop_base):
    """Stop when the next attempt could not start before the deadline: better the last error than a timeout."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return anyio.current_time() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


@dataclass(frozen=True)
class _Call:
    key: int  # the breaker counts one failure per key
    lookup: bool  # the path names one record: a 404 is "no such record", not a wrong address


# What each transport failure means, in words; the exception's own text may quote a URL, and a URL may
# carry a credential, so it is never used.
_TRANSPORT_FAILURES: tuple[tuple[type[httpx.TransportError], str], ...] = (
    (httpx.ConnectError, "the connection was refused or the host is unknown"),
    (httpx.ProxyError, "the proxy refused the connection"),
    (httpx.UnsupportedProtocol, "the address is not an http or https URL"),
    (httpx.RemoteProtocolError, "the server broke off the answer"),
    (httpx.LocalProtocolError, "the request could not be sent as HTTP"),
    (httpx.ReadError, "the connection broke while reading the answer"),
    (httpx.WriteError, "the connection broke while sending the request"),
    (httpx.CloseError, "the connection broke while closing"),
)
_TIMEOUT_STAGES: tuple[tuple[type[httpx.TimeoutException], str], ...] = (
    (httpx.ConnectTimeout, "connecting"),
    (httpx.ReadTimeout, "waiting for the answer"),
    (httpx.WriteTimeout, "sending the request"),
    (httpx.PoolTimeout, "waiting for a free connection"),
)


def _timeout_stage(exc: httpx.TimeoutException) -> str:
    return next((words for kind, words in _TIMEOUT_STAGES if isinstance(exc, kind)), "waiting for the answer")


def _unreachable(source: str, exc: httpx.TransportError, *, host: str) -> UpstreamError:
    why = next((words for kind, words in _TRANSPORT_FAILURES if isinstance(exc, kind)), "a network error")
    return UpstreamError(
        source,
        f"could not reach {host} ({why})",
        transient=True,
        never_sent=isinstance(exc, httpx.ConnectError),  # no connection, so nothing reached the vendor
    )


async def paginate(
    fetch: Callable[[str | None, int], Awaitable[tuple[list[T], str | None]]],
    *,
    limit: int,
    cursor: str | None,
    page_size: int,
) -> Page[T]:
    """Follow the vendor's pages until `limit` items; `next_cursor` is set when more remain.

    `fetch(cursor, size)` returns one page of at most `size` items and the vendor's cursor for
    the next page (None on the last). Asking for exactly what is still wanted means no item is
    ever skipped between the page we stop on and the cursor we hand back.
    """
    items: list[T] = []
    while len(items) < limit:
        want = min(page_size, limit - len(items))
        got, cursor = await fetch(cursor, want)
        items.extend(got[:want])
        if cursor is None or not got:  # an empty page ends this call, but its cursor still says more remain
            break
    return Page[T](items=items, next_cursor=cursor)
