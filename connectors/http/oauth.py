"""OAuth 2.0 access tokens that renew themselves: an `httpx.Auth` to hand to `Upstream(auth=...)`.

Some vendors' access tokens are short-lived (a Salesforce session: 2 hours by default; a Microsoft
Graph delegated token: about an hour) and new ones come from a token endpoint, for the app's own
client credentials (RFC 6749 §4.4) or for a refresh token (§6). `OAuth`:

- fetches a token on first use and keeps it, with its expiry when the endpoint gives `expires_in`
  (a token about to expire is renewed before it is sent), and sends it as `Authorization: Bearer`;
- on a 401 fetches a new token once and resends the request once (a 401 means the request was
  refused unread, so resending even a write is safe);
- runs one token request at a time: concurrent calls wait for it and use the token it got;
- keeps a rotated refresh token, in memory only;
- raises AuthError naming the variables to check when the endpoint refuses (§5.2's
  `{"error", "error_description"}`, scrubbed of every secret and cut short).

Everything else stays `Upstream`'s job: a 429 or 5xx from the token endpoint is handed back as the
answer, so its retries, Retry-After and circuit breaker treat it like any other answer of the vendor.
Token requests go through the same client and transport, with the timeouts of the request that
needed them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import anyio
import httpx
from pydantic import BaseModel, Field, ValidationError

from connectors.errors import AuthError, UpstreamError
from connectors.http.logs import forget_secrets, guard_http_logs
from connectors.http.upstream import json_or_none, redact

LEEWAY = 60.0  # seconds before its stated expiry a token is renewed: requests take time, clocks differ


@dataclass(frozen=True)
class ClientCredentials:
    """RFC 6749 §4.4: the app's own id and secret buy a token (Salesforce's server-to-server flow)."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class RefreshToken:
    """RFC 6749 §6: a refresh token buys a token; the app's secret only when it is a confidential client."""

    client_id: str
    refresh_token: str = field(repr=False)
    client_secret: str | None = field(default=None, repr=False)


Grant = ClientCredentials | RefreshToken


class _TokenAnswer(BaseModel):
    """RFC 6749 §5.1; other fields (Salesforce's instance_url, signature, issued_at; Microsoft's scope) unused."""

    access_token: str = Field(min_length=1)
    expires_in: float | None = None
    refresh_token: str | None = None


class OAuth(httpx.Auth):
    """Bearer tokens from `token_url` for `grant`, renewed when they expire or are refused."""

    def __init__(
        self,
        source: str,
        token_url: str,
        grant: Grant,
        *,
        credentials_hint: str,
        scope: str | None = None,
        access_token: str | None = None,
        leeway: float = LEEWAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`credentials_hint` names the variables to check when the endpoint refuses; `access_token`, if
        given, is used until it expires or is refused."""
        self._source = source
        self._token_url = token_url
        self._grant = grant
        self._hint = credentials_hint
        self._scope = scope
        self._leeway = leeway
        self._clock = clock
        self._refresh_token = grant.refresh_token if isinstance(grant, RefreshToken) else None
        self._given = access_token or None
        self._token = self._given
        self._expires_at: float | None = None  # `clock` time from which the token is renewed before use
        self._lock = anyio.Lock()

    @property
    def token(self) -> str | None:
        """The access token in use; None before the first call. For the doctor's reading of its claims."""
        return self._token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        refused: str | None = None  # the token a 401 answered, which must not be sent again
        for _ in range(2):
            token = self._usable(refused)
            if token is None:
                async with self._lock:
                    token = self._usable(refused)  # another call may have renewed it while this one waited
                    if token is None:
                        answer = yield self._token_request(request)
                        await answer.aread()
                        token = self._accept(answer)
                        if token is None:  # a 429 or 5xx: Upstream's to wait out, retry and count
                            return
            request.headers["authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401 or refused is not None:
                return
            refused = token

    def _usable(self, refused: str | None) -> str | None:
        token = self._token
        if token is None or token == refused:
            return None
        if self._expires_at is not None and self._clock() >= self._expires_at:
            return None
        return token

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        grant = self._grant
        if isinstance(grant, ClientCredentials):
            form = {"grant_type": "client_credentials", "client_id": grant.client_id}
            secret: str | None = grant.client_secret
        else:
            assert self._refresh_token is not None
            form = {"grant_type": "refresh_token", "client_id": grant.client_id, "refresh_token": self._refresh_token}
            secret = grant.client_secret
        if secret:
            form["client_secret"] = secret  # in the body: both Salesforce and Microsoft document it there
        if self._scope:
            form["scope"] = self._scope
        headers = {"accept": "application/json"}
        if "user-agent" in request.headers:
            headers["user-agent"] = request.headers["user-agent"]
        # Without the extension a request built here would wait forever; the caller's deadline bounds them.
        extensions = {"timeout": request.extensions["timeout"]} if "timeout" in request.extensions else None
        return httpx.Request("POST", self._token_url, data=form, headers=headers, extensions=extensions)

    def _accept(self, answer: httpx.Response) -> str | None:
        """The new access token; None to hand a 429 or 5xx back to Upstream; AuthError for a refusal."""
        status = answer.status_code
        if status == 429 or status >= 500:
            return None
        body = json_or_none(answer)
        if not 200 <= status < 300:
            said = self._said(body)
            raise AuthError(
                self._source,
                f"could not get an access token from {self._host} (HTTP {status}{said}); check {self._hint}",
            )
        try:
            got = _TokenAnswer.model_validate(body)
        except ValidationError:
            raise UpstreamError(
                self._source, f"{self._host} answered a token request without an access token (HTTP {status})"
            ) from None
        # The HTTP libraries' log guard learns the new secrets and forgets the ones they replace.
        # Only what this flow itself obtained is forgotten: the configured secrets stay guarded for good.
        configured = {self._given, getattr(self._grant, "refresh_token", None)}
        retired = [self._token, self._refresh_token if got.refresh_token else None]
        guard_http_logs([got.access_token, got.refresh_token or ""])
        forget_secrets([t for t in retired if t and t not in configured])
        if got.refresh_token:
            self._refresh_token = got.refresh_token  # the endpoint rotated it: the old one may stop working
        self._token = got.access_token
        self._expires_at = None
        if got.expires_in is not None:
            self._expires_at = self._clock() + max(0.0, got.expires_in - min(self._leeway, got.expires_in / 2))
        return got.access_token

    @property
    def _host(self) -> str:
        return urlsplit(self._token_url).hostname or "the token endpoint"

    def _said(self, body: Any) -> str:
        """`, error: description` from an RFC 6749 §5.2 error body, scrubbed and cut short; "" without one."""
        if not isinstance(body, dict):
            return ""
        error = cast(dict[str, Any], body)
        said = ": ".join(v for v in (error.get("error"), error.get("error_description")) if isinstance(v, str) and v)
        return f", {self._scrub(said)}" if said else ""

    def _scrub(self, text: str) -> str:
        """`text` on one line, at most DETAIL_LIMIT characters, without any secret this flow knows."""
        grant = self._grant
        known = (grant.client_secret, self._refresh_token, self._token, self._given)
        if isinstance(grant, RefreshToken):
            known = (*known, grant.refresh_token)
        return redact(text, known)
