"""A fake Microsoft Graph serving the scenario's messages as Teams channel messages of one team.

Shapes follow learn.microsoft.com/graph: Microsoft Search answers `value[0].hitsContainers[0]` with
`hits[{hitId, rank, summary, resource}]`, `total` (for Teams, the hits on the page) and
`moreResultsAvailable`; the hit's chatMessage carries `from.emailAddress`, `channelIdentity` or `chatId`
and no body, as in the docs' examples; KQL ANDs bare words and ORs `a OR b`, newest message first.
Errors are `{"error": {"code", "message", "innerError"}}`; throttling is HTTP 429 `TooManyRequests` with
Retry-After. The Microsoft identity platform's token endpoint (login.microsoftonline.com) redeems the
service user's refresh token for a JWT access token and a new refresh token; `expire_token` ends the current
access token, so the next Graph call gets the documented 401 `InvalidAuthenticationToken`.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import anyio
import httpx
from pydantic import SecretStr

from connectors.vendors.teams import Teams, TeamsSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, json_response
from tests.connectors.scenario import TOKEN

PORT = "chat"
TEAM_ID = "fbe2bf47-16c8-47cf-b4a5-4b9b187c508b"  # the sample ids of the Graph docs
TENANT_ID = "2432b57b-0abd-43db-aa7b-16eadd115d34"
ME = {
    "id": "8ea0e38b-efb3-4757-924a-5f94061cf8c2",
    "displayName": "Escalation Desk",
    "userPrincipalName": "escalations@acme.example",
    "mail": "escalations@acme.example",
}
SUMMARY_CHARS = 200  # a long message's summary is cut and marked with <ddd/>; Graph documents no length
LOGIN_HOST = "login.microsoftonline.com"
CLIENT_ID = "00001111-aaaa-2222-bbbb-3333cccc4444"  # the sample ids of the identity platform docs
REFRESH_TOKEN = "0.AXkAfake-refresh-token-of-the-service-user"
GRANTED = "ChannelMessage.Read.All ChannelMessage.Send Channel.ReadBasic.All User.Read"


def channel_id_of(index: int) -> str:
    return f"19:{index:032x}@thread.tacv2"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """Graph's error body (learn.microsoft.com/graph/errors)."""
    inner = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}
    return json_response(status, {"error": {"code": code, "message": message, "innerError": inner}}, headers)


def identity_error(status: int, error: str, code: int, description: str) -> httpx.Response:
    """The identity platform's token error (learn.microsoft.com/entra/identity-platform/reference-error-codes)."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return json_response(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: "
            f"{correlation}\r\nTimestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://{LOGIN_HOST}/error?code={code}",
        },
    )


def jwt(**claims: object) -> str:
    """An unsigned JWT: what Graph access tokens look like; the adapter reads claims only for the doctor."""

    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def _text(content: str, content_type: str) -> str:
    """What the search index sees of a body: the words, without markup."""
    if content_type != "html":
        return content
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<br\s*/?>", " ", content)))


class FakeTeams(FakeVendor):
    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        names = sorted({m.channel for m in workspace.messages} | {"General"})
        self.channels: dict[str, str] = {name: channel_id_of(i) for i, name in enumerate(names, 1)}
        self.chats: dict[str, str | None] = {}  # chat id -> topic
        self.channel_reads_refused = False  # as for a token without Channel.ReadBasic.All
        self.bodies_in_hits = False  # hits carry no body in the docs; some clients expect one
        self.client_id = CLIENT_ID
        self.client_secret: str | None = None  # set: a confidential (web) app, which must send it
        self.refresh_tokens = {REFRESH_TOKEN}  # redeemable; Microsoft does not revoke one when it is used
        self.scopes = GRANTED  # what the service user consented to
        self.lifetime = 3599  # expires_in of the access tokens issued
        self.token_delay = 0.0  # seconds the token endpoint takes, so concurrent callers overlap
        self.tokens_refused = False  # Graph refuses every access token, however new (a blocked user)
        self.issued = 0
        self.messages: list[dict[str, Any]] = []
        for m in workspace.messages:
            self.add(m.text, author=m.author, created=m.posted_at, channel=m.channel)

    def add(
        self,
        content: str,
        *,
        author: str,
        created: datetime,
        channel: str | None = None,
        chat: str | None = None,
        content_type: str = "text",
        reply_to: str | None = None,
    ) -> dict[str, Any]:
        """Store a message as Graph keeps it: ids are the creation time in milliseconds."""
        stamp = int(created.timestamp() * 1000)
        while any(m["id"] == str(stamp) for m in self.messages):
            stamp += 1
        message: dict[str, Any] = {
            "id": str(stamp),
            "channelId": self.channels[channel] if channel else None,
            "chatId": chat,
            "author": author,
            "address": f"{author.lower().replace(' ', '.')}@acme.example",
            "contentType": content_type,
            "content": content,
            "created": created,
            "replyToId": reply_to,
        }
        self.messages.append(message)
        return message

    def transport(self) -> httpx.MockTransport:
        async def serve(request: httpx.Request) -> httpx.Response:
            if request.url.host == LOGIN_HOST:
                await anyio.sleep(self.token_delay)
            return self._serve(request)

        return httpx.MockTransport(serve)

    def expire_token(self) -> None:
        """The current access token runs out: Graph refuses it from now on."""
        self.token = f"expired:{self.token}"

    def token_requests(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(r.content.decode())) for r in self.requests if r.url.host == LOGIN_HOST]

    def authorized(self, request: httpx.Request) -> bool:
        # https://learn.microsoft.com/graph/auth/auth-concepts (Authorization: Bearer <access token>)
        if request.url.host == LOGIN_HOST:
            return True
        return not self.tokens_refused and request.headers.get("authorization") == f"Bearer {self.token}"

    def unauthorized(self) -> httpx.Response:
        # https://learn.microsoft.com/graph/errors (401; the code Graph gives an expired or foreign token)
        return graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")

    def forbidden(self, message: str = "Missing scope permissions on the request.") -> httpx.Response:
        return graph_error(403, "Forbidden", message)

    def rate_limited(self, retry_after: float) -> httpx.Response:
        # https://learn.microsoft.com/graph/throttling (429 with Retry-After in seconds)
        return graph_error(429, "TooManyRequests", "Too many requests.", {"retry-after": f"{retry_after:g}"})

    def server_error(self) -> httpx.Response:
        # https://learn.microsoft.com/graph/errors (generalException: an unspecified error has occurred)
        return graph_error(500, "generalException", "An unspecified error has occurred.")

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == LOGIN_HOST:
            return self._token(request)
        path = request.url.path.removeprefix("/v1.0")
        segments = [unquote(s) for s in path.strip("/").split("/")]
        if request.method == "POST" and segments == ["search", "query"]:
            return self._search(request)
        if request.method == "GET" and segments == ["me"]:
            return self._me()
        if len(segments) >= 3 and segments[0] == "teams" and segments[2] == "channels":
            if segments[1] != TEAM_ID:
                return graph_error(404, "NotFound", "No team found with Group Id")
            if request.method == "GET" and len(segments) == 3:
                return self._list_channels()
            if request.method == "GET" and len(segments) == 4:
                return self._channel(segments[3])
            if request.method == "POST" and len(segments) == 5 and segments[4] == "messages":
                return self._post(request, segments[3])
        if request.method == "GET" and len(segments) == 2 and segments[0] == "chats":
            return self._chat(segments[1])
        return graph_error(400, "BadRequest", f"Resource not found for the segment '{segments[0]}'.")

    # https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token: a form
    # POST of client_id, grant_type=refresh_token, refresh_token, scope (and client_secret for web apps); the answer
    # has token_type, expires_in, scope, access_token and, for offline_access, a new refresh_token; errors are
    # {"error", "error_description": "AADSTS…", "error_codes", ...}. The docs give no status per error: 400 as
    # RFC 6749 §5.2 says, 401 for a client that failed to authenticate. The AADSTS texts are as public clients
    # quote them (the reference-error-codes table has their names).
    def _token(self, request: httpx.Request) -> httpx.Response:
        match = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", request.url.path)
        if request.method != "POST" or match is None:
            return identity_error(400, "invalid_request", 900561, "The endpoint only accepts POST requests.")
        form = dict(parse_qsl(request.content.decode()))
        if form.get("grant_type") != "refresh_token":
            return identity_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if form.get("client_id") != self.client_id:
            return identity_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not "
                f"found in the directory '{match.group(1)}'.",
            )
        secret = form.get("client_secret")
        if self.client_secret is None and secret is not None:
            return identity_error(
                401,
                "invalid_client",
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            )
        if self.client_secret is not None and secret != self.client_secret:
            return identity_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret "
                "being sent in the request is the client secret value, not the client secret ID.",
            )
        if form.get("refresh_token") not in self.refresh_tokens:
            return identity_error(
                400,
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. "
                "The token was issued on 2025-01-02T08:00:26Z and was inactive for 90.00:00:00.",
            )
        self.issued += 1
        scope = form.get("scope", "")
        self.token = jwt(
            aud="https://graph.microsoft.com",
            scp=self.scopes,
            upn=ME["userPrincipalName"],
            exp=int(time.time()) + self.lifetime,
            uti=f"fake{self.issued}",
        )
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(f"https://graph.microsoft.com/{s}" for s in self.scopes.split()),
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": self.token,
        }
        if "offline_access" in scope.split():
            rotated = f"0.AXkArotated-{self.issued}-{uuid.uuid4().hex}"
            self.refresh_tokens.add(rotated)
            body["refresh_token"] = rotated
        return json_response(200, body)

    def _name_of(self, channel_id: str) -> str | None:
        return next((name for name, cid in self.channels.items() if cid == channel_id), None)

    def _web_url(self, message: dict[str, Any]) -> str:
        # The link shape of the chatMessage `webUrl` in the "Send chatMessage in a channel" example.
        container = message["channelId"] or message["chatId"]
        parent = message["replyToId"] or message["id"]
        query = f"groupId={TEAM_ID}&tenantId={TENANT_ID}&createdTime={message['id']}&parentMessageId={parent}"
        return f"https://teams.microsoft.com/l/message/{quote(container, safe='')}/{message['id']}?{query}"

    # https://learn.microsoft.com/graph/search-concept-chat-messages and .../api/search-query
    def _search(self, request: httpx.Request) -> httpx.Response:
        requests: list[dict[str, Any]] | None = json.loads(request.content).get("requests")
        if not isinstance(requests, list) or len(requests) != 1:  # "only a single searchRequest at a time"
            return graph_error(400, "BadRequest", "Only one search request is supported.")
        search = requests[0]
        if search.get("entityTypes") != ["chatMessage"]:
            return graph_error(400, "BadRequest", "chatMessage cannot be combined with other entity types.")
        query = str(search.get("query", {}).get("queryString", ""))
        start, size = int(search.get("from", 0)), int(search.get("size", 25))
        clauses = [re.findall(r"\w+", c.lower()) for c in re.split(r"\s+OR\s+", query)]
        clauses = [c for c in clauses if c]
        if not clauses:
            return graph_error(400, "BadRequest", "The query string is empty.")

        def found(m: dict[str, Any]) -> bool:
            words = f"{_text(m['content'], m['contentType'])} {m['author']}".lower()
            return any(all(w in words for w in clause) for clause in clauses)

        matched = sorted((m for m in self.messages if found(m)), key=lambda m: m["created"], reverse=True)
        page = matched[start : start + size]
        terms = {w for clause in clauses for w in clause}
        hits = [self._hit(m, start + i + 1, terms) for i, m in enumerate(page)]
        container = {"hits": hits, "total": len(hits), "moreResultsAvailable": start + size < len(matched)}
        return json_response(200, {"value": [{"searchTerms": sorted(terms), "hitsContainers": [container]}]})

    def _hit(self, m: dict[str, Any], rank: int, terms: set[str]) -> dict[str, Any]:
        text = " ".join(_text(m["content"], m["contentType"]).split())
        cut = len(text) > SUMMARY_CHARS
        summary = html.escape(text[:SUMMARY_CHARS], quote=False)
        for term in terms:
            summary = re.sub(rf"(?i)\b({re.escape(term)}\w*)", r"<c0>\1</c0>", summary)
        resource: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.chatMessage",
            "id": m["id"],
            "createdDateTime": iso(m["created"]),
            "lastModifiedDateTime": iso(m["created"]),
            "subject": "",
            "importance": "normal",
            "webUrl": self._web_url(m),
            "from": {"emailAddress": {"name": m["author"], "address": m["address"]}},
            "channelIdentity": {"teamId": TEAM_ID, "channelId": m["channelId"]} if m["channelId"] else {},
            "etag": m["id"],
        }
        if m["chatId"]:
            resource["chatId"] = m["chatId"]
        if self.bodies_in_hits:
            resource["body"] = {"contentType": m["contentType"], "content": m["content"]}
        return {
            "hitId": f"AAMkAG{uuid.uuid5(uuid.NAMESPACE_URL, m['id']).hex}",
            "rank": rank,
            "summary": summary + (" <ddd/>" if cut else ""),
            "resource": resource,
        }

    # https://learn.microsoft.com/graph/api/channel-list
    def _list_channels(self) -> httpx.Response:
        if self.channel_reads_refused:
            return self.forbidden()
        value = [self._channel_json(name, cid) for name, cid in self.channels.items()]
        context = f"https://graph.microsoft.com/v1.0/$metadata#teams('{TEAM_ID}')/channels"
        return json_response(200, {"@odata.context": context, "@odata.count": len(value), "value": value})

    # https://learn.microsoft.com/graph/api/channel-get
    def _channel(self, channel_id: str) -> httpx.Response:
        if self.channel_reads_refused:
            return self.forbidden()
        name = self._name_of(channel_id)
        if name is None:  # the docs give no 404 body for a channel; Graph's NotFound code
            return graph_error(404, "NotFound", "Channel not found")
        return json_response(200, self._channel_json(name, channel_id))

    def _channel_json(self, name: str, channel_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "createdDateTime": "2020-05-27T19:22:25.692Z",
            "displayName": name,
            "description": None,
            "isFavoriteByDefault": None,
            "email": "",
            "webUrl": f"https://teams.microsoft.com/l/channel/{quote(channel_id, safe='')}/{quote(name)}"
            f"?groupId={TEAM_ID}&tenantId={TENANT_ID}",
            "membershipType": "standard",
        }

    # https://learn.microsoft.com/graph/api/chat-get
    def _chat(self, chat_id: str) -> httpx.Response:
        if chat_id not in self.chats:
            return graph_error(404, "NotFound", "Chat not found")
        topic = self.chats[chat_id]
        return json_response(
            200,
            {
                "id": chat_id,
                "topic": topic,
                "createdDateTime": "2021-04-06T19:49:52.431Z",
                "chatType": "group" if topic else "oneOnOne",
                "webUrl": f"https://teams.microsoft.com/l/chat/{quote(chat_id, safe='')}/0?tenantId={TENANT_ID}",
                "tenantId": TENANT_ID,
            },
        )

    # https://learn.microsoft.com/graph/api/channel-post-messages
    def _post(self, request: httpx.Request, channel_id: str) -> httpx.Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return graph_error(415, "UnsupportedMediaType", "Content-type must be application/json.")
        name = self._name_of(channel_id)
        if name is None:
            return graph_error(404, "NotFound", "Channel not found")
        body: dict[str, Any] = json.loads(request.content).get("body") or {}
        content, content_type = str(body.get("content") or ""), str(body.get("contentType") or "text")
        if not content.strip():
            return graph_error(400, "BadRequest", "Message body cannot be empty.")
        latest = max((m["created"] for m in self.messages), default=datetime.now(UTC))
        created = max(datetime.now(UTC), latest)
        stored = self.add(content, author=ME["displayName"], created=created, channel=name, content_type=content_type)
        return json_response(
            201,
            {
                "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#teams('{TEAM_ID}')"
                f"/channels('{quote(channel_id, safe='')}')/messages/$entity",
                "id": stored["id"],
                "replyToId": None,
                "etag": stored["id"],
                "messageType": "message",
                "createdDateTime": iso(stored["created"]),
                "lastModifiedDateTime": iso(stored["created"]),
                "subject": None,
                "summary": None,
                "chatId": None,
                "importance": "normal",
                "locale": "en-us",
                "webUrl": self._web_url(stored),
                "from": {
                    "application": None,
                    "device": None,
                    "user": {"id": ME["id"], "displayName": ME["displayName"], "userIdentityType": "aadUser"},
                },
                "body": {"contentType": content_type, "content": content},
                "channelIdentity": {"teamId": TEAM_ID, "channelId": channel_id},
                "attachments": [],
                "mentions": [],
                "reactions": [],
            },
        )

    # https://learn.microsoft.com/graph/api/user-get (GET /me)
    def _me(self) -> httpx.Response:
        return json_response(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", **ME})


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[Teams, FakeTeams]:
    fake = FakeTeams(workspace, token=token)
    settings = TeamsSettings(token=SecretStr(token), team_id=TEAM_ID)
    adapter = Teams(settings, policy=FAST, transport=fake.transport())
    return adapter, fake


def make_with_refresh_token(
    workspace: Workspace, *, refresh_token: str = REFRESH_TOKEN, client_secret: str | None = None
) -> tuple[Teams, FakeTeams]:
    """The adapter renewing the service user's access tokens with its refresh token."""
    fake = FakeTeams(workspace, token="no-token-issued-yet")
    settings = TeamsSettings(
        client_id=CLIENT_ID,
        client_secret=SecretStr(client_secret) if client_secret else None,
        refresh_token=SecretStr(refresh_token),
        tenant="acme.onmicrosoft.com",
        team_id=TEAM_ID,
    )
    adapter = Teams(settings, policy=FAST, transport=fake.transport())
    return adapter, fake
