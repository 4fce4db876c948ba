"""The streamable HTTP app: the DNS-rebinding guard, authentication and scopes in front of the SDK's transport.

Outermost first, every request meets:

1. the Host and Origin check (421 / 403), before anything else answers, for every bind address;
2. the SDK's `BearerAuthBackend` with our verifier, and its `AuthContextMiddleware` (what `caller()` reads);
3. `AccessGate`: 401 without a valid token, 403 `insufficient_scope` without the read scope, or for a
   `tools/call` of a write tool without the write scope (RFC 6750 `WWW-Authenticate` in both);
4. the SDK's streamable HTTP app at `/mcp`, given the same `TransportSecuritySettings`.

The protected-resource metadata (RFC 9728) is served without a token, path-aware
(`/.well-known/oauth-protected-resource/mcp`) and at the root. The SDK's own auth wiring
(`MCPServer(token_verifier=..., auth=...)`) only knows one set of scopes for every call and needs an
issuer even for a static token, so the same SDK parts are assembled here instead.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, cast

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.http_auth import HttpAccess, Scopes

MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"


def transport_security(access: HttpAccess) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding settings for these hosts and origins (always on, whatever the bind address)."""
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(access.allowed_hosts),
        allowed_origins=list(access.allowed_origins),
    )


def build_http_app(server: MCPServer[Any], access: HttpAccess) -> Starlette:
    """The ASGI app serving `server` over streamable HTTP at /mcp, guarded as `access` says."""
    security = transport_security(access)
    mcp_app = server.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security)
    routes: list[BaseRoute] = []
    metadata_url: str | None = None
    if access.mode == "oauth" and access.resource_url is not None and access.issuer is not None:
        resource = AnyHttpUrl(access.resource_url)
        path_aware = create_protected_resource_routes(
            resource_url=resource,
            authorization_servers=[AnyHttpUrl(access.issuer)],
            scopes_supported=list(access.scopes.all),
            resource_name="escalation-mcp",
        )
        routes.extend(path_aware)
        # Clients that only know the root location (RFC 9728 without the path suffix) find it too.
        if all(r.path != METADATA_PATH for r in path_aware):
            routes.append(Route(METADATA_PATH, endpoint=path_aware[0].endpoint, methods=["GET", "OPTIONS"]))
        metadata_url = str(build_resource_metadata_url(resource))
    open_paths = frozenset(r.path for r in routes if isinstance(r, Route))

    inner: ASGIApp = mcp_app
    middleware = [Middleware(RebindingGuard, security=security, open_paths=open_paths)]
    if access.verifier is not None:
        inner = AccessGate(mcp_app, scopes=access.scopes, metadata_url=metadata_url, writes=access.writes)
        middleware += [
            # Audience, issuer and expiry are the verifier's: the backend gets no resource URL to compare.
            Middleware(AuthenticationMiddleware, backend=BearerAuthBackend(access.verifier)),
            Middleware(AuthContextMiddleware),
        ]
    routes.append(Mount("", app=inner))
    return Starlette(routes=routes, middleware=middleware, lifespan=mcp_app.router.lifespan_context)


def _matches(value: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """The SDK's rule: an exact match, or `base:*` for any port of `base`."""
    return any(value == p or (p.endswith(":*") and value.startswith(p[:-1])) for p in patterns)


class RebindingGuard:
    """Refuses a foreign Host (421) or Origin (403) before authentication or the transport see the request.

    The metadata paths accept any Origin: browser-based clients read them cross-origin by design.
    """

    def __init__(self, app: ASGIApp, *, security: TransportSecuritySettings, open_paths: frozenset[str]) -> None:
        self.app = app
        self.hosts = tuple(security.allowed_hosts)
        self.origins = tuple(security.allowed_origins)
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            host = headers.get("host")
            if not host or not _matches(host, self.hosts):
                await _plain(send, 421, "Invalid Host header")
                return
            origin = headers.get("origin")
            if origin and scope["path"] not in self.open_paths and not _matches(origin, self.origins):
                await _plain(send, 403, "Invalid Origin header")
                return
        await self.app(scope, receive, send)


class AccessGate:
    """401 without a valid token; 403 `insufficient_scope` when the call needs a scope the token lacks."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        scopes: Scopes,
        metadata_url: str | None,
        writes: bool = True,
        max_body: int = DEFAULT_MAX_REQUEST_BODY_SIZE,
    ) -> None:
        self.app = app
        self.scopes = scopes
        self.writes = writes
        self.metadata_url = metadata_url
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        if not isinstance(user, AuthenticatedUser):
            presented = "authorization" in Headers(scope=scope)
            await self._refuse(send, 401, "invalid_token" if presented else None, (self.scopes.read,))
            return
        granted = set(user.scopes)
        if self.scopes.read not in granted:
            await self._refuse(send, 403, "insufficient_scope", (self.scopes.read,))
            return
        if scope["method"] != "POST" or not self.writes or self.scopes.write in granted:
            await self.app(scope, receive, send)  # without write tools, nothing needs the write scope
            return
        # Without the write scope, look at what is called: the JSON-RPC body is the authority,
        # parsed in full so no escaping (`tools\/call`) slips a write past the check.
        body, replay = await _buffer(receive, self.max_body)
        if body is None:
            await _plain(send, 413, "Request body too large")
            return
        needed = _scopes_needed(body, self.scopes)
        if any(s not in granted for s in needed):
            await self._refuse(send, 403, "insufficient_scope", needed)
            return
        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, status: int, error: str | None, needed: tuple[str, ...]) -> None:
        descriptions = {
            "invalid_token": "The access token is missing, expired, revoked, or not issued for this server.",
            "insufficient_scope": f"This call needs the scopes: {' '.join(needed)}.",
        }
        parts: list[str] = []
        if error is not None:
            parts += [f'error="{error}"', f'error_description="{descriptions[error]}"']
        if self.metadata_url is not None:
            parts += [f'scope="{" ".join(needed)}"', f'resource_metadata="{self.metadata_url}"']
        else:  # a static token: there is nothing to discover
            parts.insert(0, 'realm="escalation-mcp"')
        body = {"error": error or "invalid_token", "error_description": descriptions[error or "invalid_token"]}
        content = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    (b"www-authenticate", f"Bearer {', '.join(parts)}".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _scopes_needed(body: bytes, scopes: Scopes) -> tuple[str, ...]:
    """Every scope the JSON-RPC message (or batch) in `body` needs; a body that is not JSON needs the read scope."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return (scopes.read,)  # the transport answers it with a parse error
    needed: dict[str, None] = {scopes.read: None}
    messages = cast(list[Any], parsed) if isinstance(parsed, list) else [parsed]
    for message in messages:
        if not isinstance(message, dict):
            continue
        fields = cast(dict[str, Any], message)
        params = fields.get("params")
        if fields.get("method") == "tools/call" and isinstance(params, dict):
            name = cast(dict[str, Any], params).get("name")
            if isinstance(name, str):
                needed.update(dict.fromkeys(scopes.for_tool(name)))
    return tuple(needed)


async def _buffer(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The request body read in full (None past `limit` bytes) and a `receive` that replays it."""
    chunks = bytearray()
    pending: deque[Message] = deque()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            pending.append(message)
            break
        chunks.extend(message.get("body", b""))
        if len(chunks) > limit:
            return None, receive
        if not message.get("more_body", False):
            break
    body = bytes(chunks)
    pending.appendleft({"type": "http.request", "body": body, "more_body": False})

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return body, replay


async def _plain(send: Send, status: int, text: str) -> None:
    content = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
