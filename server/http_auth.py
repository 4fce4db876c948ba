"""Who may call the server over streamable HTTP, with which scopes, and who the caller is.

Two modes, chosen by the settings (README "Deployment"):

- a static bearer token (`ESCALATION_HTTP_TOKEN`), compared in constant time; it grants every scope;
- an OAuth 2.1 resource server (`ESCALATION_AUTH_ISSUER`, `ESCALATION_AUTH_JWKS_URL`,
  `ESCALATION_HTTP_RESOURCE_URL`): JWT access tokens verified against the issuer's JWKS (signature,
  issuer, audience equal to the resource URL, `exp`/`nbf` with a small leeway). Keys are cached and
  fetched again when a token names an unknown `kid`, so a key rotation at the issuer is followed.

Every call needs the read scope; the write tools (`WRITE_TOOLS`) also need the write scope. The
verifiers plug into the SDK's `BearerAuthBackend`; `caller()` reads the SDK's request auth context.
The caller's token never leaves this module's checks: vendors are called with server configuration only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import anyio
import httpx
import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier
from pydantic import SecretStr

from server.caller import CallerToken
from server.settings import Settings

log = logging.getLogger(__name__)

# Tools that change something outside the ledger (chat, ticket, tracker): they need the write scope.
# Ledger writes (update_escalation and the like) count as reads for now.
WRITE_TOOLS = frozenset({"post_brief", "add_internal_note", "file_tracker_issue"})

# Asymmetric algorithms only: a JWKS publishes public keys, and "none" or HS* with a public key is an attack.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
STATIC_SUBJECT = "static-token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class HttpConfigError(Exception):
    """The HTTP access settings cannot be served as they are; the message names the variables to set."""


@dataclass(frozen=True)
class Scopes:
    """The scope every call needs and the one the write tools need besides."""

    read: str = "escalations:read"
    write: str = "escalations:write"

    def for_tool(self, name: str) -> tuple[str, ...]:
        """Every scope a call of tool `name` needs."""
        return (self.read, self.write) if name in WRITE_TOOLS else (self.read,)

    @property
    def all(self) -> tuple[str, str]:
        return (self.read, self.write)


class StaticTokenVerifier(TokenVerifier):
    """Accepts exactly one shared token, which grants every scope; its subject is `STATIC_SUBJECT`."""

    def __init__(self, token: SecretStr, scopes: Scopes) -> None:
        # Digests compare in constant time whatever the presented token's length.
        self._digest = hashlib.sha256(token.get_secret_value().encode()).digest()
        self._scopes = scopes

    async def verify_token(self, token: str) -> AccessToken | None:
        presented = hashlib.sha256(token.encode()).digest()
        if not hmac.compare_digest(presented, self._digest):
            log.info("refused a bearer token that is not the configured one")
            return None
        return CallerToken(token=token, client_id=STATIC_SUBJECT, scopes=list(self._scopes.all), subject=STATIC_SUBJECT)


class JwksKeys:
    """The issuer's signing keys by `kid`, fetched on first use, on an unknown `kid`, and after `max_age`.

    An unknown `kid` fetches again at most once per `min_interval` seconds, so tokens with made-up key
    ids cannot turn the server into a flood of requests to the issuer. Fetches are serialized.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        min_interval: float = 10.0,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._min_interval = min_interval
        self._max_age = max_age
        self._clock = clock
        self._jwks: dict[str | None, dict[str, Any]] = {}
        self._parsed: dict[tuple[str | None, str], jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()

    async def key(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        """The key named `kid` (the only key when the token names none) for `algorithm`, or None.

        None when the issuer publishes no such key, or when the key is of another type than the algorithm.
        """
        if self._due(kid):
            async with self._lock:
                if self._due(kid):  # another request may have fetched while this one waited
                    await self.refresh()
        found = self._find(kid)
        if found is None:
            return None
        found_kid, jwk = found
        cached = self._parsed.get((found_kid, algorithm))
        if cached is None:
            try:
                # The JWK's own "alg", when it has one, wins; PyJWT then refuses a token naming another.
                cached = jwt.PyJWK(jwk, algorithm=algorithm)
            except jwt.PyJWTError:
                return None
            self._parsed[(found_kid, algorithm)] = cached
        return cached

    def _due(self, kid: str | None) -> bool:
        if self._fetched_at is None:
            return True
        age = self._clock() - self._fetched_at
        return age >= self._max_age or (self._find(kid) is None and age >= self._min_interval)

    def _find(self, kid: str | None) -> tuple[str | None, dict[str, Any]] | None:
        if kid is None and len(self._jwks) == 1:
            return next(iter(self._jwks.items()))
        jwk = self._jwks.get(kid)
        return None if jwk is None else (kid, jwk)

    async def refresh(self) -> int:
        """Fetch the keys now; how many signing keys the issuer publishes (0 when the fetch failed)."""
        try:
            async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
                response = await client.get(self.url, headers={"accept": "application/json"})
            response.raise_for_status()
            document: Any = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            # Keep the keys we had: an issuer blip must not lock everyone out.
            log.warning("could not fetch the issuer's signing keys from %s: %s", self.url, type(exc).__name__)
            self._fetched_at = self._clock()
            return 0
        entries = cast(dict[str, Any], document).get("keys") if isinstance(document, dict) else None
        jwks: dict[str | None, dict[str, Any]] = {}
        for entry in cast(list[Any], entries) if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("use", "sig") == "sig":  # pyright: ignore[reportUnknownMemberType]
                jwk = cast(dict[str, Any], entry)
                kid = jwk.get("kid")
                jwks[kid if isinstance(kid, str) else None] = jwk
        self._fetched_at = self._clock()
        if not jwks:
            log.warning("the issuer's key set at %s has no signing keys; keeping the ones fetched before", self.url)
            return 0
        self._jwks, self._parsed = jwks, {}
        log.info("fetched %d signing keys from %s", len(jwks), self.url)
        return len(jwks)


class JwtVerifier(TokenVerifier):
    """Verifies JWT access tokens: signature by the issuer's JWKS, issuer, audience, expiry, not-before."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: JwksKeys,
        leeway: float = 30.0,
        team_claim: str | None = None,
        algorithms: tuple[str, ...] = ALGORITHMS,
        cache_size: int = 4096,
        cache_ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self._leeway = leeway
        self._team_claim = team_claim
        self._algorithms = algorithms
        # A client sends the same token on every request: checking its signature once per `cache_ttl`
        # instead of every time is most of the cost of authentication. Only accepted tokens are kept.
        self._verified: dict[str, tuple[float, CallerToken]] = {}
        self._cache_size = cache_size
        self._cache_ttl = cache_ttl
        self._clock = clock

    async def verify_token(self, token: str) -> AccessToken | None:
        now = self._clock()
        cached = self._verified.get(token)
        if cached is not None:
            if now < cached[0]:
                return cached[1]
            del self._verified[token]
        try:
            claims = await self._claims(token)
        except jwt.PyJWTError as exc:
            # The reason stays in the server's log; the client gets one generic 401.
            log.info("refused a bearer token: %s", exc)
            return None
        accepted = self._access_token(token, claims)
        if len(self._verified) >= self._cache_size:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        self._verified[token] = (min(claims["exp"] + self._leeway, now + self._cache_ttl), accepted)
        return accepted

    def _access_token(self, token: str, claims: dict[str, Any]) -> CallerToken:
        subject = str(claims["sub"])
        client_id = claims.get("client_id") or claims.get("azp") or subject
        return CallerToken(
            token=token,
            client_id=str(client_id),
            scopes=_scopes(claims),
            # The SDK refuses a token at expires_at with no leeway: give it the deadline PyJWT applied.
            expires_at=int(claims["exp"] + self._leeway),
            resource=self.audience,
            subject=subject,
            claims={"iss": claims["iss"]},  # the SDK binds sessions to (client, issuer, subject)
            team=_team(claims, self._team_claim),
        )

    async def _claims(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
        kid = header.get("kid")
        key = await self.keys.key(kid if isinstance(kid, str) else None, algorithm)
        if key is None:
            raise jwt.InvalidKeyError(f"the issuer publishes no {algorithm} signing key {kid!r}")
        # An audience given with or without a trailing slash names the same resource.
        audiences = [self.audience.rstrip("/"), self.audience.rstrip("/") + "/"]
        return jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            audience=audiences,
            issuer=self.issuer,
            leeway=self._leeway,
            options={"require": ["exp", "iss", "aud", "sub"], "enforce_minimum_key_length": True},
        )


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    """RFC 9068 `scope` (space-separated) or the `scp` list some issuers (Okta, Entra ID) use."""
    granted: list[str] = []
    scope = claims.get("scope")
    if isinstance(scope, str):
        granted.extend(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, str):
        granted.extend(scp.split())
    elif isinstance(scp, list):
        granted.extend(str(s) for s in cast(list[Any], scp))
    return list(dict.fromkeys(granted))


def _team(claims: Mapping[str, Any], claim: str | None) -> str | None:
    """The team the claim names: a string, or the first of a list (a groups claim)."""
    if claim is None:
        return None
    value = claims.get(claim)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]  # pyright: ignore[reportUnknownVariableType]
    return None


# -- what the settings ask for ----------------------------------------------------------------------

AuthMode = Literal["none", "static", "oauth"]


@dataclass(frozen=True)
class HttpAccess:
    """How the HTTP endpoint is guarded: auth mode and verifier, scopes, resource URL, hosts and origins."""

    mode: AuthMode
    verifier: TokenVerifier | None
    scopes: Scopes
    resource_url: str | None
    issuer: str | None
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    writes: bool = True  # write tools registered: a call may need the write scope


def is_loopback(host: str) -> bool:
    """Whether `host` (a bind address or a host name, without port) only reaches this machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_of(entry: str) -> str:
    """The host part of a Host-header pattern (`name`, `name:port`, `name:*`, `[v6]:port`)."""
    if entry.startswith("["):
        return entry[: entry.find("]") + 1]
    return entry.rsplit(":", 1)[0] if ":" in entry else entry


def _host_patterns(entry: str) -> list[str]:
    """An allowed host without a port stands for every port of it (a proxy may forward :443 or none)."""
    has_port = ":" in entry.rsplit("]", 1)[-1]  # what follows an IPv6 literal's bracket, or the whole name
    return [entry] if has_port else [entry, f"{entry}:*"]


def _origin_patterns(entry: str) -> list[str]:
    """An allowed origin without a port also stands for every port of its host, as for hosts."""
    scheme, separator, authority = entry.rstrip("/").rpartition("://")
    return [f"{scheme}{separator}{pattern}" for pattern in _host_patterns(authority)]


def _jwt_verifier(settings: Settings) -> JwtVerifier:
    issuer, jwks_url, resource = settings.auth_issuer, settings.auth_jwks_url, settings.http_resource_url
    if not issuer or not jwks_url or not resource:
        named = (
            ("ESCALATION_AUTH_ISSUER", issuer),
            ("ESCALATION_AUTH_JWKS_URL", jwks_url),
            ("ESCALATION_HTTP_RESOURCE_URL", resource),
        )
        raise HttpConfigError(f"OAuth mode needs {', '.join(name for name, value in named if not value)} set as well")
    jwks = urlsplit(jwks_url)
    if jwks.scheme != "https" and not (jwks.scheme == "http" and is_loopback(jwks.hostname or "")):
        raise HttpConfigError("ESCALATION_AUTH_JWKS_URL must be an https URL (plain http only on loopback)")
    return JwtVerifier(
        issuer=issuer,
        audience=resource,
        keys=JwksKeys(jwks_url),
        leeway=settings.auth_leeway,
        team_claim=settings.auth_team_claim,
    )


def http_access(settings: Settings, host: str) -> HttpAccess:
    """What guards an HTTP server bound to `host`; HttpConfigError when the settings cannot be served.

    Authentication is required when the server is reachable beyond this machine: bound to a
    non-loopback address, or named by a non-loopback host or resource URL (a reverse proxy in front).
    """
    scopes = Scopes(read=settings.auth_read_scope, write=settings.auth_write_scope)
    resource = settings.http_resource_url
    resource_host = urlsplit(resource).hostname if resource else None
    if resource is not None and (resource_host is None or urlsplit(resource).scheme not in ("http", "https")):
        raise HttpConfigError(f"ESCALATION_HTTP_RESOURCE_URL must be an http(s) URL, got {resource!r}")

    oauth = settings.auth_issuer is not None or settings.auth_jwks_url is not None
    if oauth and settings.http_token is not None:
        raise HttpConfigError(
            "choose one HTTP auth mode: ESCALATION_HTTP_TOKEN (static token) "
            "or ESCALATION_AUTH_ISSUER (OAuth), not both"
        )

    verifier: TokenVerifier | None = None
    mode: AuthMode = "none"
    if settings.http_token is not None:
        if len(settings.http_token.get_secret_value()) < 32:
            raise HttpConfigError(
                "ESCALATION_HTTP_TOKEN is too short: use at least 32 random characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        verifier, mode = StaticTokenVerifier(settings.http_token, scopes), "static"
    elif oauth:
        verifier, mode = _jwt_verifier(settings), "oauth"

    named = [_host_of(h) for h in settings.http_allowed_hosts] + ([resource_host] if resource_host else [])
    public = not is_loopback(host) or any(not is_loopback(name) for name in named)
    if public and mode == "none":
        raise HttpConfigError(
            f"refusing to serve HTTP beyond loopback ({host}) without authentication: set ESCALATION_HTTP_TOKEN, "
            "or ESCALATION_AUTH_ISSUER, ESCALATION_AUTH_JWKS_URL and ESCALATION_HTTP_RESOURCE_URL"
        )

    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    for entry in settings.http_allowed_hosts:
        hosts.extend(_host_patterns(entry))
    for entry in settings.http_allowed_origins:
        origins.extend(_origin_patterns(entry))
    if resource is not None:
        parts = urlsplit(resource)
        hosts.extend(_host_patterns(parts.netloc))
        origins.extend(_origin_patterns(f"{parts.scheme}://{parts.netloc}"))
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        hosts.extend(_host_patterns(f"[{host}]" if ":" in host else host))
    if public and not settings.http_allowed_hosts and resource is None and host in ("0.0.0.0", "::"):
        raise HttpConfigError(
            f"bound to every interface ({host}): set ESCALATION_HTTP_ALLOWED_HOSTS to the host names clients use "
            "(or ESCALATION_HTTP_RESOURCE_URL), so requests through a rebinding DNS name are refused"
        )
    return HttpAccess(
        mode=mode,
        verifier=verifier,
        scopes=scopes,
        resource_url=resource,
        issuer=settings.auth_issuer,
        allowed_hosts=tuple(dict.fromkeys(hosts)),
        allowed_origins=tuple(dict.fromkeys(origins)),
        writes=settings.writes,
    )
