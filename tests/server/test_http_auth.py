"""Streamable HTTP behind authentication, on a real uvicorn on 127.0.0.1: tokens, scopes, Host and Origin.

Each test starts the server it needs (the port is bound first, so the resource URL the tokens must name
is known before the app is built) and a loopback JWKS server for the OAuth mode, and enters them in the
test body: uvicorn's task group must close in the task that opened it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from pydantic import SecretStr
from starlette.types import ASGIApp
from typer.testing import CliRunner

from connectors import Connectors
from connectors.vendors.jira import Jira, JiraSettings
from connectors.vendors.zendesk import Zendesk, ZendeskSettings
from server.app import build_server
from server.caller import Caller, caller
from server.commands import cli
from server.http_app import build_http_app
from server.http_auth import HttpConfigError, JwksKeys, JwtVerifier, http_access
from server.settings import Settings
from tests.connectors.fakes import jira, zendesk
from tests.connectors.fakes.base import FAST
from tests.connectors.loopback import Healthy, Loopback, refused
from tests.connectors.loopback import serve as serve_loopback
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN

ISSUER = "https://id.example.test/"
READ, WRITE = "escalations:read", "escalations:write"
STATIC = "s" * 40
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:  # pyright: ignore[reportUnusedFunction]
    for name in [n for n in os.environ if n.startswith("ESCALATION_")]:
        monkeypatch.delenv(name)


@dataclass
class Issuer:
    """An identity provider's signing keys (ES256) and the tokens it would mint."""

    keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict[str, ec.EllipticCurvePrivateKey])

    def add_key(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        for kid, key in self.keys.items():
            entry = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
            entries.append({**entry, "kid": kid, "use": "sig", "alg": "ES256"})
        return {"keys": entries}

    def token(
        self,
        audience: str,
        *,
        kid: str = "k1",
        key: ec.EllipticCurvePrivateKey | None = None,
        scope: str = f"{READ} {WRITE}",
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": audience, "sub": "alice", "iat": now, "exp": now + 300, "scope": scope}
        payload.update(claims)
        return jwt.encode(payload, key or self.keys[kid], algorithm="ES256", headers={"kid": kid})


@dataclass
class Served:
    url: str  # the MCP endpoint
    jwks: Loopback | None = None

    @property
    def origin(self) -> str:
        return self.url.removesuffix("/mcp")


def free_socket() -> socket.socket:
    """A socket bound to a free loopback port, for uvicorn to serve on; its port is known before the app is built."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def uvicorn_on(app: ASGIApp, sock: socket.socket) -> AsyncGenerator[None]:
    """`app` served by uvicorn (lifespan on) on `sock` until the block ends."""
    config = uvicorn.Config(
        app, lifespan="on", http="h11", ws="none", log_level="warning", log_config=None, access_log=False
    )
    config.timeout_graceful_shutdown = 2
    server = uvicorn.Server(config)
    done = anyio.Event()

    async def run() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        try:
            with anyio.fail_after(10):
                while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
                    await anyio.sleep(0.005)
            yield
        finally:
            server.should_exit = True
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await done.wait()
    sock.close()


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    return Settings(ledger_path=tmp_path / "ledger.db", **values)


@asynccontextmanager
async def oauth_server(
    tmp_path: Path,
    issuer: Issuer,
    *,
    server: MCPServer[Any] | None = None,
    min_interval: float = 10.0,
    **values: Any,
) -> AsyncGenerator[Served]:
    """The escalation server in OAuth mode, and the issuer's JWKS on its own loopback port."""
    async with serve_loopback(Healthy(body=issuer.jwks())) as jwks:
        sock = free_socket()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        settings = settings_for(
            tmp_path,
            auth_issuer=ISSUER,
            auth_jwks_url=f"{jwks.url}/jwks.json",
            http_resource_url=url,
            **values,
        )
        access = http_access(settings, "127.0.0.1")
        verifier = access.verifier
        assert isinstance(verifier, JwtVerifier)
        # Tests fetch the keys again on an unknown kid at once; the default waits 10 s between such fetches.
        verifier = JwtVerifier(
            issuer=ISSUER,
            audience=url,
            keys=JwksKeys(f"{jwks.url}/jwks.json", min_interval=min_interval),
            team_claim=settings.auth_team_claim,
        )
        app = build_http_app(server or build_server(settings), replace(access, verifier=verifier))
        async with uvicorn_on(app, sock):
            yield Served(url, jwks)


@asynccontextmanager
async def static_server(tmp_path: Path) -> AsyncGenerator[Served]:
    sock = free_socket()
    settings = settings_for(tmp_path, http_token=SecretStr(STATIC))
    app = build_http_app(build_server(settings), http_access(settings, "127.0.0.1"))
    async with uvicorn_on(app, sock):
        yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}/mcp")


async def post(url: str, body: Any, token: str | None = None, **headers: str) -> httpx.Response:
    """One raw JSON-RPC POST, as a client or an attacker would send it."""
    sent = {**MCP_HEADERS, **headers}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, content=content, headers=sent)


def challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer k="v", ...` header."""
    scheme, _, rest = response.headers["www-authenticate"].partition(" ")
    assert scheme == "Bearer"
    params: dict[str, str] = {}
    for part in rest.split('", '):
        key, _, value = part.partition("=")
        params[key.strip()] = value.strip('"')
    return params


def call(name: str, arguments: dict[str, Any] | None = None, *, id: int = 2) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments or {}}}


@asynccontextmanager
async def mcp_client(url: str, token: str, mode: str) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, cache=None) as client,  # pyright: ignore[reportArgumentType]
    ):
        yield client


@pytest.fixture
def issuer() -> Issuer:
    made = Issuer()
    made.add_key("k1")
    return made


# -- OAuth resource server ---------------------------------------------------------------------------


async def test_a_request_without_a_token_gets_401_pointing_at_the_protected_resource_metadata(
    tmp_path: Path, issuer: Issuer
):
    async with oauth_server(tmp_path, issuer) as served:
        response = await post(served.url, INITIALIZE)
        metadata_url = f"{served.origin}/.well-known/oauth-protected-resource/mcp"
        assert response.status_code == 401
        # No error code when no credentials were sent (RFC 6750 3.1).
        assert challenge(response) == {"scope": READ, "resource_metadata": metadata_url}
        async with httpx.AsyncClient(timeout=10) as client:
            path_aware = (await client.get(metadata_url)).json()
            root = (await client.get(f"{served.origin}/.well-known/oauth-protected-resource")).json()
    assert path_aware == {
        "resource": served.url,
        "authorization_servers": [ISSUER],
        "scopes_supported": [READ, WRITE],
        "bearer_methods_supported": ["header"],
        "resource_name": "escalation-mcp",
    }
    assert root == path_aware


async def test_tokens_with_a_wrong_signature_audience_or_issuer_or_expired_get_401_invalid_token(
    tmp_path: Path, issuer: Issuer
):
    intruder = ec.generate_private_key(ec.SECP256R1())
    async with oauth_server(tmp_path, issuer) as served:
        now = int(time.time())
        tokens = {
            "valid": issuer.token(served.url),
            "wrong signature": issuer.token(served.url, key=intruder),
            "wrong audience": issuer.token("https://other.example.test/mcp"),
            "wrong issuer": issuer.token(served.url, iss="https://evil.example.test/"),
            "expired beyond the leeway": issuer.token(served.url, exp=now - 120),
            "not yet valid": issuer.token(served.url, nbf=now + 600),
            "unknown key": issuer.token(served.url, kid="k9", key=intruder),
            "no subject": jwt.encode(
                {"iss": ISSUER, "aud": served.url, "exp": now + 300, "scope": READ},
                issuer.keys["k1"],
                algorithm="ES256",
                headers={"kid": "k1"},
            ),
            "unsigned": jwt.encode({"iss": ISSUER, "aud": served.url, "sub": "a", "exp": now + 300}, "", "none"),
            "not a JWT": "opaque-token",
        }
        answers: dict[str, tuple[int, str | None]] = {}
        for name, token in tokens.items():
            response = await post(served.url, INITIALIZE, token)
            error = challenge(response).get("error") if response.status_code == 401 else None
            answers[name] = (response.status_code, error)
    refused = (401, "invalid_token")
    assert answers == {name: (200, None) if name == "valid" else refused for name in tokens}


async def test_a_token_within_the_leeway_after_expiry_is_still_accepted(tmp_path: Path, issuer: Issuer):
    async with oauth_server(tmp_path, issuer) as served:
        response = await post(served.url, INITIALIZE, issuer.token(served.url, exp=int(time.time()) - 10))
    assert response.status_code == 200


async def test_a_token_without_the_read_scope_gets_403_insufficient_scope(tmp_path: Path, issuer: Issuer):
    async with oauth_server(tmp_path, issuer) as served:
        response = await post(served.url, INITIALIZE, issuer.token(served.url, scope="profile"))
    assert response.status_code == 403
    assert challenge(response) == {
        "error": "insufficient_scope",
        "error_description": f"This call needs the scopes: {READ}.",
        "scope": READ,
        "resource_metadata": f"{served.origin}/.well-known/oauth-protected-resource/mcp",
    }


async def test_a_write_tool_needs_the_write_scope_however_the_call_is_spelled(tmp_path: Path, issuer: Issuer):
    async with oauth_server(tmp_path, issuer, writes=True) as served:
        reader, writer = issuer.token(served.url, scope=READ), issuer.token(served.url)
        spellings = {
            "plain": json.dumps(call("post_brief")).encode(),
            "escaped method": json.dumps(call("post_brief")).replace("tools/call", "tools\\/call").encode(),
            "escaped name": json.dumps(call("post_brief")).replace("post_brief", "post\\u005fbrief").encode(),
            "in a batch": json.dumps([call("pick_tier", id=3), call("file_tracker_issue")]).encode(),
        }
        refused = {name: (await post(served.url, body, reader)).status_code for name, body in spellings.items()}
        read_call = await post(served.url, call("pick_tier", {"signals": ["bug_confirmed"]}), reader)
        with_write_scope = await post(served.url, call("post_brief"), writer)
        one = await post(served.url, call("add_internal_note"), reader)
    assert refused == dict.fromkeys(spellings, 403)
    assert challenge(one)["error"] == "insufficient_scope"
    assert challenge(one)["scope"] == f"{READ} {WRITE}"
    # Past the gate, the transport answers (it wants a session first): anything but a scope refusal.
    assert read_call.status_code != 403
    assert with_write_scope.status_code != 403


async def test_a_session_over_authenticated_http_knows_its_caller_on_both_protocol_versions(
    tmp_path: Path, issuer: Issuer
):
    server = build_server(settings_for(tmp_path))

    @server.tool()
    async def whoami() -> dict[str, str | None]:  # pyright: ignore[reportUnusedFunction]
        """Who is calling."""
        me = caller()
        return {"subject": me.subject, "team": me.team} if me else {"subject": None, "team": None}

    async with oauth_server(tmp_path, issuer, server=server, auth_team_claim="team") as served:
        token = issuer.token(served.url, team="payments")
        seen: dict[str, Any] = {}
        for mode in ("auto", "legacy"):
            async with mcp_client(served.url, token, mode) as client:
                me = await client.call_tool("whoami", {})
                tier = await client.call_tool("pick_tier", {"signals": ["bug_confirmed"]})
                assert tier.structured_content is not None
                seen[mode] = (me.structured_content, tier.structured_content["escalate"])
    assert seen == dict.fromkeys(("auto", "legacy"), ({"subject": "alice", "team": "payments"}, True))


async def test_caller_is_none_without_http_authentication(tmp_path: Path):
    server = build_server(settings_for(tmp_path))
    seen: list[Caller | None] = []

    @server.tool()
    async def whoami() -> str:  # pyright: ignore[reportUnusedFunction]
        """Who is calling."""
        seen.append(caller())
        return "ok"

    async with Client(server) as client:
        await client.call_tool("whoami", {})
    assert seen == [None]


async def test_the_server_follows_a_key_rotation_at_the_issuer(tmp_path: Path, issuer: Issuer):
    async with oauth_server(tmp_path, issuer, min_interval=0) as served:
        assert served.jwks is not None
        before = await post(served.url, INITIALIZE, issuer.token(served.url))
        issuer.add_key("k2")
        del issuer.keys["k1"]
        served.jwks.mode = Healthy(body=issuer.jwks())
        after = await post(served.url, INITIALIZE, issuer.token(served.url, kid="k2"))
        again = await post(served.url, INITIALIZE, issuer.token(served.url, kid="k2"))
        fetches = served.jwks.hits["/jwks.json"]
    assert (before.status_code, after.status_code, again.status_code) == (200, 200, 200)
    assert fetches == 2  # once at the first token, once for the unknown k2; then from the cache


async def test_unknown_key_ids_fetch_the_keys_again_at_most_once_per_interval(issuer: Issuer):
    clock = [1000.0]
    async with serve_loopback(Healthy(body=issuer.jwks())) as jwks:
        keys = JwksKeys(f"{jwks.url}/jwks.json", min_interval=10, clock=lambda: clock[0])
        found = [await keys.key("k1", "ES256"), await keys.key("nope", "ES256"), await keys.key("nope2", "ES256")]
        clock[0] += 11
        late = await keys.key("nope3", "ES256")
        fetches = jwks.hits["/jwks.json"]
    assert [k is not None for k in found] == [True, False, False]
    assert late is None
    assert fetches == 2


async def test_refreshing_the_keys_counts_them_and_a_broken_key_set_keeps_the_old_ones(issuer: Issuer):
    issuer.add_key("k2")
    async with serve_loopback(Healthy(body=issuer.jwks())) as jwks:
        keys = JwksKeys(f"{jwks.url}/jwks.json", min_interval=3600)
        published = await keys.refresh()
        jwks.mode = Healthy(body={"error": "not a key set"})
        garbage = await keys.refresh()
        still_known = await keys.key("k2", "ES256")
    async with refused() as nowhere:
        unreachable = await JwksKeys(f"{nowhere}/jwks.json").refresh()
    assert (published, garbage, unreachable) == (2, 0, 0)
    assert still_known is not None


async def test_an_accepted_token_is_remembered_until_it_expires_and_no_longer(issuer: Issuer):
    audience = "https://escalations.example.test/mcp"
    clock = [time.time()]
    async with serve_loopback(Healthy(body=issuer.jwks())) as jwks:
        keys = JwksKeys(f"{jwks.url}/jwks.json", min_interval=0, max_age=0)  # every lookup fetches
        verifier = JwtVerifier(issuer=ISSUER, audience=audience, keys=keys, leeway=0, clock=lambda: clock[0])
        token = issuer.token(audience, exp=int(clock[0]) + 60)
        first = await verifier.verify_token(token)
        issuer.add_key("k2")
        del issuer.keys["k1"]
        jwks.mode = Healthy(body=issuer.jwks())  # the issuer withdraws k1: only the cache can vouch for it now
        clock[0] += 30
        remembered = await verifier.verify_token(token)
        clock[0] += 31
        expired = await verifier.verify_token(token)
        fetches = jwks.hits["/jwks.json"]
    assert first is not None
    assert remembered is first
    assert expired is None
    assert fetches == 2  # the first check, and the one after expiry; none for the remembered token


async def test_the_callers_token_never_reaches_a_vendor(tmp_path: Path, issuer: Issuer):
    workspace = SCENARIO.shifted_to(ANCHOR)
    support, tracker = zendesk.FakeZendesk(workspace), jira.FakeJira(workspace)
    connectors = Connectors(
        support=Zendesk(
            ZendeskSettings(token=SecretStr(TOKEN), email=zendesk.EMAIL, subdomain=zendesk.SUBDOMAIN),
            policy=FAST,
            transport=support.transport(),
        ),
        tracker=Jira(
            JiraSettings(site="acme", email=jira.EMAIL, token=SecretStr(TOKEN), project=jira.PROJECT),
            policy=FAST,
            transport=tracker.transport(),
        ),
    )
    server = build_server(settings_for(tmp_path), connectors=connectors)
    async with oauth_server(tmp_path, issuer, server=server) as served:
        token = issuer.token(served.url)
        async with mcp_client(served.url, token, "legacy") as client:
            result = await client.call_tool("gather_context", {"issue": "CSV export timeout", "customer": "Globex"})
    assert not result.is_error, result.content
    assert support.requests, "the support platform was never asked"
    assert tracker.requests, "the tracker was never asked"
    sent = [*support.requests, *tracker.requests]
    leaked = [(r.url.path, k) for r in sent for k, v in r.headers.items() if token in v]
    assert leaked == []
    # Each vendor got the server's own credential (Basic email/token for both), nothing else.
    assert {r.headers["authorization"].split()[0] for r in sent} == {"Basic"}


# -- Host and Origin, and the static token ---------------------------------------------------------


async def test_a_foreign_origin_gets_403_and_a_foreign_host_421_before_authentication(tmp_path: Path, issuer: Issuer):
    async with oauth_server(tmp_path, issuer) as served:
        token = issuer.token(served.url)
        answers = {
            "foreign origin": await post(served.url, INITIALIZE, token, origin="https://evil.example"),
            "foreign origin, no token": await post(served.url, INITIALIZE, origin="https://evil.example"),
            "foreign host": await post(served.url, INITIALIZE, token, host="evil.example"),
            "foreign host, no token": await post(served.url, INITIALIZE, host="evil.example:80"),
            "loopback origin": await post(served.url, INITIALIZE, token, origin="http://localhost:6274"),
        }
    assert {name: r.status_code for name, r in answers.items()} == {
        "foreign origin": 403,
        "foreign origin, no token": 403,
        "foreign host": 421,
        "foreign host, no token": 421,
        "loopback origin": 200,
    }


async def test_configured_hosts_and_origins_are_accepted(tmp_path: Path, issuer: Issuer):
    async with oauth_server(
        tmp_path,
        issuer,
        http_allowed_hosts=["mcp.example.com"],
        http_allowed_origins=["https://app.example.com"],
    ) as served:
        token = issuer.token(served.url)
        proxied = await post(served.url, INITIALIZE, token, host="mcp.example.com", origin="https://app.example.com")
        other_origin = await post(served.url, INITIALIZE, token, host="mcp.example.com", origin="https://x.example.com")
    assert (proxied.status_code, other_origin.status_code) == (200, 403)


async def test_the_static_token_is_the_only_one_accepted(tmp_path: Path):
    async with static_server(tmp_path) as served:
        right = await post(served.url, INITIALIZE, STATIC)
        wrong = await post(served.url, INITIALIZE, STATIC[:-1] + "t")
        missing = await post(served.url, INITIALIZE)
    assert right.status_code == 200
    assert (wrong.status_code, challenge(wrong)) == (
        401,
        {
            "realm": "escalation-mcp",
            "error": "invalid_token",
            "error_description": "The access token is missing, expired, revoked, or not issued for this server.",
        },
    )
    assert (missing.status_code, challenge(missing)) == (401, {"realm": "escalation-mcp"})


# -- start-up refusals -------------------------------------------------------------------------------


def refusal(**values: Any) -> str:
    host = values.pop("host", "127.0.0.1")
    with pytest.raises(HttpConfigError) as caught:
        http_access(Settings(**values), host)
    return str(caught.value)


def test_binding_beyond_loopback_without_authentication_is_refused_naming_the_variables():
    expected = (
        "refusing to serve HTTP beyond loopback ({}) without authentication: set ESCALATION_HTTP_TOKEN, "
        "or ESCALATION_AUTH_ISSUER, ESCALATION_AUTH_JWKS_URL and ESCALATION_HTTP_RESOURCE_URL"
    )
    assert refusal(host="0.0.0.0") == expected.format("0.0.0.0")
    assert refusal(host="192.0.2.7") == expected.format("192.0.2.7")
    # Loopback behind a proxy that serves a public name is just as exposed.
    assert refusal(http_resource_url="https://mcp.example.com/mcp") == expected.format("127.0.0.1")
    assert refusal(http_allowed_hosts=["mcp.example.com"]) == expected.format("127.0.0.1")


def test_misconfigured_authentication_is_refused_with_what_to_fix():
    assert refusal(http_token=SecretStr("short")).startswith("ESCALATION_HTTP_TOKEN is too short")
    assert refusal(http_token=SecretStr(STATIC), auth_issuer=ISSUER).startswith("choose one HTTP auth mode")
    assert refusal(auth_issuer=ISSUER) == (
        "OAuth mode needs ESCALATION_AUTH_JWKS_URL, ESCALATION_HTTP_RESOURCE_URL set as well"
    )
    assert refusal(
        auth_issuer=ISSUER, auth_jwks_url="http://id.example.test/jwks", http_resource_url="https://m.example/mcp"
    ) == ("ESCALATION_AUTH_JWKS_URL must be an https URL (plain http only on loopback)")
    assert refusal(host="0.0.0.0", http_token=SecretStr(STATIC)).startswith("bound to every interface (0.0.0.0)")


def test_loopback_without_authentication_and_a_public_bind_with_it_are_served():
    local = http_access(Settings(), "127.0.0.1")
    public = http_access(Settings(http_token=SecretStr(STATIC), http_allowed_hosts=["mcp.example.com"]), "0.0.0.0")
    assert (local.mode, local.verifier) == ("none", None)
    assert public.mode == "static"
    assert {"mcp.example.com", "mcp.example.com:*"} <= set(public.allowed_hosts)
    spelled = http_access(
        Settings(
            http_token=SecretStr(STATIC),
            http_allowed_hosts=["[2001:db8::7]", "mcp.example.com:8443", "alt.example.com:*"],
            http_allowed_origins=["https://app.example.com/", "https://app.example.com:8443"],
        ),
        "2001:db8::7",
    )
    assert set(spelled.allowed_hosts) - set(local.allowed_hosts) == {
        "[2001:db8::7]",
        "[2001:db8::7]:*",
        "mcp.example.com:8443",
        "alt.example.com:*",
    }
    assert set(spelled.allowed_origins) - set(local.allowed_origins) == {
        "https://app.example.com",
        "https://app.example.com:*",
        "https://app.example.com:8443",
    }


def test_allowed_hosts_and_origins_read_as_comma_separated_lists(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_HTTP_ALLOWED_HOSTS", "mcp.example.com, mcp.example.com:8443")
    monkeypatch.setenv("ESCALATION_HTTP_ALLOWED_ORIGINS", "https://app.example.com")
    settings = Settings()
    assert (settings.http_allowed_hosts, settings.http_allowed_origins) == (
        ["mcp.example.com", "mcp.example.com:8443"],
        ["https://app.example.com"],
    )


def test_serve_http_beyond_loopback_without_authentication_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ESCALATION_LEDGER_PATH", str(tmp_path / "ledger.db"))
    result = CliRunner().invoke(cli, ["serve", "--http", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith("error: refusing to serve HTTP beyond loopback (0.0.0.0) without authentication")


# -- ownership -------------------------------------------------------------------------------------


async def test_two_callers_see_only_their_own_and_their_teams_escalations(tmp_path: Path, issuer: Issuer):
    async with oauth_server(tmp_path, issuer, auth_team_claim="team") as served:
        alice = issuer.token(served.url, sub="alice", team="payments")
        bob = issuer.token(served.url, sub="bob", team="platform")
        carol = issuer.token(served.url, sub="carol", team="payments")
        async with mcp_client(served.url, alice, "auto") as client:
            opened = await client.call_tool("gather_context", {"issue": "API returning 500 errors intermittently"})
            assert opened.structured_content is not None
            case_id = opened.structured_content["escalation_id"]
            await client.call_tool("assess_impact", {"escalation_id": case_id, "depth": "blocked"})
            mine = await client.call_tool("list_escalations", {})
        async with mcp_client(served.url, bob, "auto") as client:
            listed = await client.call_tool("list_escalations", {})
            read = await client.call_tool("draft_customer_update", {"escalation_id": case_id})
            changed = await client.call_tool(
                "update_escalation", {"escalation_id": case_id, "action": "update", "note": "not mine"}
            )
            missing = await client.call_tool("draft_customer_update", {"escalation_id": "0" * 32})
            with pytest.raises(MCPError, match="no escalation with id"):
                await client.read_resource(f"escalation://escalations/{case_id}")
        async with mcp_client(served.url, carol, "auto") as client:
            team = await client.call_tool("list_escalations", {})

    assert mine.structured_content is not None
    assert [e["id"] for e in mine.structured_content["escalations"]] == [case_id]
    assert mine.structured_content["escalations"][0]["owner"] == "alice"
    assert listed.structured_content == {"escalations": [], "next_cursor": None}
    assert read.is_error
    assert changed.is_error
    # Someone else's escalation answers exactly as a missing one.
    said = [text_of(r) for r in (read, changed, missing)]
    assert said[0].replace(case_id, "<id>") == said[2].replace("0" * 32, "<id>")
    assert "not mine" not in said[1]
    assert team.structured_content is not None
    assert [e["id"] for e in team.structured_content["escalations"]] == [case_id]  # same team as alice


def text_of(result: CallToolResult) -> str:
    (content,) = result.content
    assert isinstance(content, TextContent)
    return content.text
