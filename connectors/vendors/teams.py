"""Microsoft Teams as the chat, through Microsoft Graph: messages found with Microsoft Search, escalations
posted to a channel.

Endpoints (Graph v1.0, `https://graph.microsoft.com/v1.0`; national clouds through `base_url`):
- `POST /search/query` with one searchRequest (`entityTypes: ["chatMessage"]`, `query.queryString`,
  `from`, `size`): the signed-in user's Teams messages, newest first. Hits sit in
  `value[0].hitsContainers[0].hits[]`: a `summary` (the matched text, with `<c0>` highlights and `<ddd/>`
  elisions) and a `resource` chatMessage (`id`, `createdDateTime`, `from`, `channelIdentity{teamId,
  channelId}` or `chatId`, `webUrl`); the documented hit carries no `body`, so the text is the summary
  unless a body comes along. For Teams messages `total` counts only the page, so paging follows
  `moreResultsAvailable`. The key words are ORed in KQL so a sentence still matches.
- `GET /teams/{team}/channels/{channel}` (and `GET /chats/{chat}` when chats are included): display
  names for the messages found, best effort and remembered; `GET /teams/{team}/channels` resolves a
  channel given by name for a post.
- `POST /teams/{team}/channels/{channel}/messages` with `{"body": {"contentType": "html", ...}}`.
  Graph takes no idempotency key, so a post is never retried once sent; `Receipts` covers retries.
- `GET /me`: who the token belongs to, for the doctor.

Auth: a DELEGATED access token (Bearer) of a service user with ChannelMessage.Read.All (search; Chat.Read
for chats), ChannelMessage.Send (posts), Channel.ReadBasic.All (channel names) and User.Read; Microsoft
Search does not serve chatMessage to app-only tokens. Such a token lives about an hour. Given as is, it is
not renewed and an expired one is reported as such; given a refresh token of the service user (and the
app's client id), `connectors.http.oauth` gets access tokens from the Microsoft identity platform
(`POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`, `grant_type=refresh_token`, scope
`https://graph.microsoft.com/.default offline_access`), renews them before `expires_in` runs out or on a
401, and keeps the rotated refresh token Microsoft hands back (in memory only: a restart starts again
from the configured one).

Rate limit relied on: Graph's Teams limits allow at most 4 requests per second per app on one team or
channel (posts: 50 per second per app per tenant); none is documented for search. We pace at 4 per
second. A 429 (`TooManyRequests`) carries Retry-After, which `Upstream` honours, as it does on a 503/504.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, cast
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_settings import SettingsConfigDict

from connectors.errors import AuthError, ConnectorError, InvalidCursorError, NotFoundError
from connectors.health import Health, probe
from connectors.http.idempotency import Receipts
from connectors.http.oauth import OAuth, RefreshToken
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Message, Page, WriteReceipt
from connectors.products import VendorSettings
from connectors.vendors.query import keywords

BASE_URL = "https://graph.microsoft.com/v1.0"
PAGE_SIZE = 25  # the documented default; Graph caps message search at 25 and is silent on chatMessage
POLICY = Policy(rate=4.0, burst=4)
CHANNEL_ID = re.compile(r"19:[^/\s]+@thread\.[A-Za-z0-9]+")  # 19:4a95f7d8…@thread.tacv2 (or thread.skype)
READ_SCOPES = frozenset({"ChannelMessage.Read.All"})
POST_SCOPES = frozenset({"ChannelMessage.Send", "Group.ReadWrite.All"})
TOKEN_VARIABLE = "ESCALATION_TEAMS_TOKEN"
REFRESH_VARIABLE = "ESCALATION_TEAMS_REFRESH_TOKEN"
TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
# Every delegated Graph permission consented to the app, and a new refresh token with each answer.
GRAPH_SCOPE = "https://graph.microsoft.com/.default offline_access"


class TeamsSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_TEAMS_", extra="ignore", frozen=True)

    token: SecretStr | None = Field(
        default=None,
        description="Delegated Microsoft Graph access token of the service user (lives about an hour).",
    )
    client_id: str | None = Field(
        default=None, description="Application (client) ID of the app the refresh token was issued to."
    )
    client_secret: SecretStr | None = Field(
        default=None, description="The app's client secret; only for a confidential (web) app."
    )
    refresh_token: SecretStr | None = Field(
        default=None, description="Refresh token of the service user; access tokens are then renewed."
    )
    tenant: str = Field(
        default="organizations", description="Directory (tenant) ID or domain of the service user, for sign-in."
    )
    team_id: str | None = Field(
        default=None, description="ID of the team posts go to; channel names are looked up in it."
    )
    channel_id: str | None = Field(
        default=None, description="Channel ID (19:…@thread.tacv2) for posts that name no channel."
    )
    include_chats: bool = Field(
        default=False, description="Also return matches from 1:1 and group chats, not only channel messages."
    )
    base_url: str | None = Field(
        default=None, description="Overrides https://graph.microsoft.com/v1.0 (national clouds, proxies)."
    )

    @field_validator("token", "client_id", "client_secret", "refresh_token", mode="before")
    @classmethod
    def _blank_credential_is_none(cls, value: object) -> object:
        """An empty variable is an unset one, so the rules below name what to set."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("tenant")
    @classmethod
    def _tenant_segment(cls, value: str) -> str:
        # It becomes a path segment of the sign-in URL: a GUID, a domain or organizations/common.
        tenant = value.strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", tenant):
            raise ValueError("expected a tenant ID (a GUID), a domain like acme.onmicrosoft.com, or organizations")
        return tenant

    @model_validator(mode="after")
    def _channel_needs_its_team(self) -> TeamsSettings:
        if self.channel_id and not self.team_id:
            raise ValueError(f"{self.variable('channel_id')} needs {self.variable('team_id')} (the channel's team)")
        return self

    @model_validator(mode="after")
    def _token_or_refresh_token(self) -> TeamsSettings:
        client_id, refresh = self.variable("client_id"), self.variable("refresh_token")
        if (self.client_id is None) != (self.refresh_token is None):
            raise ValueError(f"{client_id} and {refresh} go together (renewed tokens): set both or neither")
        if self.client_secret is not None and self.client_id is None:
            raise ValueError(f"{self.variable('client_secret')} needs {client_id} and {refresh}")
        if self.token is None and self.refresh_token is None:
            raise ValueError(
                f"{self.variable('token')} is not set (or set {client_id} and {refresh} to have tokens renewed)"
            )
        return self


# -- vendor payloads (only the fields we read) ------------------------------------------------


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class _Identity(_Vendor):
    id: str | None = None
    display_name: str | None = None


class _EmailAddress(_Vendor):
    name: str | None = None
    address: str | None = None


class _From(_Vendor):
    user: _Identity | None = None
    application: _Identity | None = None
    email_address: _EmailAddress | None = None  # what search hits carry, as in the docs' examples


class _ChannelIdentity(_Vendor):
    team_id: str | None = None
    channel_id: str | None = None


class _Body(_Vendor):
    content_type: str = "text"
    content: str | None = None


class _ChatMessage(_Vendor):
    id: str
    created_date_time: datetime
    sender: _From | None = Field(default=None, alias="from")
    body: _Body | None = None
    channel_identity: _ChannelIdentity | None = None
    chat_id: str | None = None
    reply_to_id: str | None = None
    web_url: str | None = None
    web_link: str | None = None  # the docs' search examples show this instead of webUrl

    @field_validator("created_date_time")
    @classmethod
    def _in_utc(cls, moment: datetime) -> datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # Graph writes UTC


class _Hit(_Vendor):
    hit_id: str | None = None
    summary: str = ""
    resource: _ChatMessage


class _Container(_Vendor):
    hits: list[_Hit] = []
    more_results_available: bool = False


class _Result(_Vendor):
    hits_containers: list[_Container] = []


class _SearchResponse(_Vendor):
    value: list[_Result]

    @property
    def container(self) -> _Container:
        for result in self.value:
            for container in result.hits_containers:
                return container
        return _Container()


class _Channel(_Vendor):
    id: str
    display_name: str | None = None


class _Channels(_Vendor):
    value: list[_Channel]


class _Chat(_Vendor):
    id: str
    topic: str | None = None


class _Me(_Vendor):
    id: str | None = None
    display_name: str | None = None
    user_principal_name: str | None = None


# -- helpers ------------------------------------------------------------------------------------


def _error_of(body: Json) -> tuple[str, str]:
    """Graph's error body: `{"error": {"code": ..., "message": ..., "innerError": {...}}}`."""
    if isinstance(body, dict):
        error = cast("dict[str, object]", body).get("error")
        if isinstance(error, dict):
            said = cast("dict[str, object]", error)
            return str(said.get("code") or ""), str(said.get("message") or "")
    return "", ""


def _describe(body: Json) -> str | None:
    code, message = _error_of(body)
    return ": ".join(part for part in (code, message) if part) or None


def _offset(cursor: str | None) -> int:
    """The result offset a cursor holds (Microsoft Search pages with `from`, so an offset is all it takes)."""
    if cursor is None:
        return 0
    if not re.fullmatch(r"\d{1,6}", cursor):
        raise InvalidCursorError("teams")
    return int(cursor)


def _segment(value: str) -> str:
    """One URL path segment; channel and chat ids keep their `:` and `@` as in Graph's own examples."""
    return quote(value, safe=":@")


_BLOCKS = frozenset({"p", "div", "li", "tr", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr"})
_HIDDEN = frozenset({"style", "script"})


class _PlainText(HTMLParser):
    """Teams' message HTML and search summaries as people read them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br" or tag in _BLOCKS:
            self.parts.append("\n")
        elif tag == "at":  # <at id="0">Megan Bowen</at>: a mention
            self.parts.append("@")
        elif tag in ("emoji", "img"):  # <emoji alt="🙂" ...>: the emoji itself; an image its alt text, if any
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "ddd":  # search summaries mark elided text with <ddd/>
            self.parts.append(" … ")
        else:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def plain(markup: str) -> str:
    """HTML (a message body, a search summary with <c0> highlights) as plain text: tags gone, entities
    decoded, line breaks kept, runs of spaces collapsed."""
    parser = _PlainText()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def as_html(text: str) -> str:
    """The text to post, shown as written: escaped so nothing in it becomes markup or a mention."""
    return "<br>".join(html.escape(line, quote=False) for line in text.splitlines())


def _text_of(hit: _Hit) -> str:
    body = hit.resource.body
    if body is not None and body.content:
        return plain(body.content) if body.content_type.lower() == "html" else body.content.strip()
    return plain(hit.summary)


def _author_of(message: _ChatMessage) -> str:
    sender = message.sender
    if sender is None:
        return "unknown"
    for who in (sender.user, sender.application):
        if who is not None and who.display_name:
            return who.display_name
    email = sender.email_address
    return (email.name or email.address or "unknown") if email is not None else "unknown"


def _container_of(message: _ChatMessage) -> str | None:
    channel = message.channel_identity
    return (channel.channel_id if channel is not None else None) or message.chat_id


def _parent_of(message: _ChatMessage) -> str | None:
    """A reply's parent message: `replyToId`, else the `parentMessageId` its Teams link carries."""
    if message.reply_to_id:
        return message.reply_to_id
    link = message.web_url or ""
    parent = parse_qs(urlsplit(link).query).get("parentMessageId")
    return parent[0] if parent and parent[0] != message.id else None


def channel_of_link(link: str) -> tuple[str, str] | None:
    """`(team id, channel id)` of a Teams channel link (Get link to channel), e.g.
    https://teams.microsoft.com/l/channel/19%3a…%40thread.tacv2/General?groupId=<team id>&tenantId=…"""
    parts = urlsplit(link)
    segments = parts.path.split("/")
    if "channel" not in segments or segments.index("channel") + 1 >= len(segments):
        return None
    channel = unquote(segments[segments.index("channel") + 1])
    team = parse_qs(parts.query).get("groupId")
    return (team[0], channel) if team and CHANNEL_ID.fullmatch(channel) else None


def token_claims(token: str) -> dict[str, object]:
    """The claims of a JWT access token, unverified, for the doctor only (expiry and scopes); {} when the
    token is not a JWT, which Microsoft does not promise it is."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return cast("dict[str, object]", claims) if isinstance(claims, dict) else {}


class Teams:
    """The chat port over the Teams a delegated Graph token can see."""

    name = "teams"

    def __init__(
        self,
        settings: TeamsSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._token = settings.token.get_secret_value() if settings.token else None
        self._team = settings.team_id
        self._channel = settings.channel_id
        self._include_chats = settings.include_chats
        self._receipts = Receipts()
        self._labels: dict[str, str | None] = {}  # "<team>/<channel>" or chat id -> display name (None: unknown)
        self._channel_ids: dict[str, str] = {}  # casefolded channel name in the configured team -> id
        self._auth: OAuth | None = None
        headers: dict[str, str] = {}
        secrets = [self._token or ""]
        if settings.client_id and settings.refresh_token:
            refresh = settings.refresh_token.get_secret_value()
            secret = settings.client_secret.get_secret_value() if settings.client_secret else None
            client_id, client_secret, _, tenant = (
                TeamsSettings.variable(f) for f in ("client_id", "client_secret", "refresh_token", "tenant")
            )
            variables = f"{client_id}, {client_secret}, {REFRESH_VARIABLE} and {tenant}"
            self._auth = OAuth(
                self.name,
                TOKEN_URL.format(tenant=settings.tenant),
                RefreshToken(settings.client_id, refresh, secret),
                scope=GRAPH_SCOPE,
                credentials_hint=f"{variables} (a refresh token that expired or was revoked needs a new sign-in; "
                "CONNECTORS.md)",
                access_token=self._token,
            )
            self._variable = REFRESH_VARIABLE
            secrets += [refresh, secret or ""]
        else:
            headers["authorization"] = f"Bearer {self._token}"
            self._variable = TOKEN_VARIABLE
        self._api = Upstream(
            source=self.name,
            base_url=(settings.base_url or BASE_URL).rstrip("/"),
            headers=headers,
            auth=self._auth,
            secrets=secrets,
            credentials_hint=f"{self._variable} and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_TEAMS_BASE_URL",
            policy=policy or POLICY,
            transport=transport,
            describe=_describe,
            inspect=self._inspect,
            inspect_statuses=frozenset({401, 403}),
        )

    # -- errors ------------------------------------------------------------------------------------

    def _inspect(self, response: httpx.Response, body: Json) -> None:
        """Say what to do about a refused token: renew an expired one, or add the permission the call needs."""
        status = response.status_code
        if status not in (401, 403):
            return
        code, message = _error_of(body)
        code = code or f"HTTP {status}"
        if status == 401 and self._auth is not None:
            raise AuthError(
                self.name,
                f"rejected the access token ({code}) even after renewing it; check that {REFRESH_VARIABLE} is "
                "the service user's and that it still may use Microsoft Graph (CONNECTORS.md)",
            )
        if status == 401:
            raise AuthError(
                self.name,
                f"rejected the access token ({code}); delegated tokens expire after about an hour: "
                f"put a new one in {TOKEN_VARIABLE}, or set {REFRESH_VARIABLE} to have them renewed (CONNECTORS.md)",
            )
        needed = _permission_for(response.request, chats=self._include_chats)
        said = f"; Graph said: {message}" if message else ""  # often names the permission; cut at the end if long
        raise AuthError(self.name, f"refused ({code}): {self._variable} needs {needed} (CONNECTORS.md){said}")

    # -- chat port ---------------------------------------------------------------------------------

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]:
        words = keywords(query)
        start = _offset(cursor)
        if not words or limit <= 0:  # Microsoft Search cannot search for nothing
            return Page[Message](items=[], next_cursor=None)
        kql = " OR ".join(words)  # KQL ANDs bare words; a sentence must match on any of its key words

        async def fetch(after: str | None, size: int) -> tuple[list[Message], str | None]:
            offset = _offset(after)
            found = await self._search(kql, offset=offset, size=size)
            hits = found.hits[:size]
            wanted = [h for h in hits if self._include_chats or _channel_hit(h)]
            messages = [await self._message(hit) for hit in wanted]
            more = found.more_results_available and bool(hits)
            return messages, str(offset + len(hits)) if more else None

        return await paginate(fetch, limit=limit, cursor=str(start), page_size=PAGE_SIZE)

    async def _search(self, kql: str, *, offset: int, size: int) -> _Container:
        request = {"entityTypes": ["chatMessage"], "query": {"queryString": kql}, "from": offset, "size": size}
        answer = await self._api.post("/search/query", json={"requests": [request]}, idempotent=True)
        return parse(self.name, _SearchResponse, answer).container

    async def _message(self, hit: _Hit) -> Message:
        resource = hit.resource
        container = _container_of(resource)
        parent = _parent_of(resource)
        return Message(
            id=f"{container}/{resource.id}" if container else (hit.hit_id or resource.id),
            channel=await self._label(resource) or container or "Teams",
            author=_author_of(resource),
            text=_text_of(hit),
            posted_at=resource.created_date_time,
            url=resource.web_url or resource.web_link,
            thread_id=f"{container}/{parent}" if container and parent else None,
        )

    async def _label(self, message: _ChatMessage) -> str | None:
        """The channel's (or chat's) display name; looked up once, and an id when we may not read it."""
        channel = message.channel_identity
        if channel is not None and channel.team_id and channel.channel_id:
            key = f"{channel.team_id}/{channel.channel_id}"
            path = f"/teams/{_segment(channel.team_id)}/channels/{_segment(channel.channel_id)}"
        elif message.chat_id:
            key, path = message.chat_id, f"/chats/{_segment(message.chat_id)}"
        else:
            return None
        if key in self._labels:
            return self._labels[key]
        try:
            answer = await self._api.get(path, lookup=True)
            chat = path.startswith("/chats/")
            label = parse(self.name, _Chat, answer).topic if chat else parse(self.name, _Channel, answer).display_name
        except (AuthError, NotFoundError):
            self._labels[key] = None  # no Channel.ReadBasic.All, or out of sight: the id from now on
            return None
        except ConnectorError:
            return None  # transient (or mis-shaped): the id this time, asked again next time
        self._labels[key] = label
        return label

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        idempotency_key: str,
        blocks: list[dict[str, Any]] | None = None,
        html: str | None = None,
    ) -> WriteReceipt:
        async def write() -> WriteReceipt:
            team, channel_id = await self._where(channel)
            # Given HTML is already a rendering (escaped by whoever rendered it); plain text is escaped here.
            content = html if html is not None and html.strip() else as_html(text)
            body = {"body": {"contentType": "html", "content": content}}
            path = f"/teams/{_segment(team)}/channels/{_segment(channel_id)}/messages"
            answer = await self._api.post(path, json=body, idempotent=False, lookup=True)
            posted = parse(self.name, _ChatMessage, answer)
            return WriteReceipt(id=f"{channel_id}/{posted.id}", url=posted.web_url)

        return await self._receipts.once(idempotency_key, write)

    async def _where(self, channel: str) -> tuple[str, str]:
        """`(team id, channel id)` of a channel given as a Teams link, `<team id>/<channel id>`, a channel
        id or a name in the configured team; the configured default when none is given."""
        target = channel.strip().removeprefix("#").strip()
        if not target:
            if self._team and self._channel:
                return self._team, self._channel
            raise NotFoundError(
                self.name,
                "no channel given and no default: set ESCALATION_TEAMS_TEAM_ID and ESCALATION_TEAMS_CHANNEL_ID",
            )
        if target.startswith(("https://", "http://")):
            linked = channel_of_link(target)
            if linked is None:
                raise NotFoundError(self.name, "the link is not a Teams channel link (Get link to channel)")
            return linked
        team, _, channel_id = target.partition("/")
        if team and CHANNEL_ID.fullmatch(channel_id):
            return team, channel_id
        if self._team is None:
            raise NotFoundError(
                self.name,
                f"channel {target!r} needs its team: set ESCALATION_TEAMS_TEAM_ID or give <team id>/<channel id>",
            )
        if CHANNEL_ID.fullmatch(target):
            return self._team, target
        found = self._channel_ids.get(target.casefold())
        if found is None:  # not seen yet, or created since we last listed
            await self._list_channels(self._team)
            found = self._channel_ids.get(target.casefold())
        if found is None:
            raise NotFoundError(self.name, f"no channel named {target!r} in the team ESCALATION_TEAMS_TEAM_ID")
        return self._team, found

    async def _list_channels(self, team: str) -> None:
        answer = await self._api.get(f"/teams/{_segment(team)}/channels", lookup=True)
        for listed in parse(self.name, _Channels, answer).value:
            if listed.display_name:
                self._channel_ids[listed.display_name.casefold()] = listed.id
                self._labels[f"{team}/{listed.id}"] = listed.display_name

    # -- doctor ------------------------------------------------------------------------------------

    async def check(self) -> Health:
        async def whoami() -> str:
            me = parse(
                self.name, _Me, await self._api.get("/me", params={"$select": "id,displayName,userPrincipalName"})
            )
            who = me.display_name or me.user_principal_name or me.id or "an unnamed user"
            if me.display_name and me.user_principal_name:
                who += f" ({me.user_principal_name})"
            return who + self._token_notes()

        return await probe(self._api, whoami)

    def _token_notes(self) -> str:
        """What a JWT token says of itself: app-only or missing read permission (fatal), no post permission,
        and when it expires. Nothing when the token is opaque."""
        renewed = self._auth is not None
        token = self._auth.token if self._auth is not None else self._token
        claims = token_claims(token or "")
        if "scp" not in claims:
            if "roles" in claims:
                raise AuthError(
                    self.name,
                    f"{self._variable} is an app-only token; Microsoft Search serves Teams messages only "
                    "to a delegated (user) token (CONNECTORS.md)",
                )
            return "; tokens are renewed" if renewed else ""
        scopes = set(str(claims["scp"]).split())
        if not scopes & READ_SCOPES:
            raise AuthError(
                self.name, f"{self._variable} lacks ChannelMessage.Read.All, which search needs (CONNECTORS.md)"
            )
        notes = "" if scopes & POST_SCOPES else "; posting needs ChannelMessage.Send"
        expires = claims.get("exp")
        if renewed:
            notes += "; tokens are renewed"
        elif isinstance(expires, int | float):
            notes += f"; the token expires in {max(0, round((expires - time.time()) / 60))} min"
        return notes

    async def aclose(self) -> None:
        await self._api.aclose()


def _channel_hit(hit: _Hit) -> bool:
    channel = hit.resource.channel_identity
    return channel is not None and bool(channel.channel_id)


def _permission_for(request: httpx.Request, *, chats: bool) -> str:
    """The least delegated permission the refused call needs (Graph's permission tables)."""
    path = request.url.path
    if path.endswith("/search/query"):
        return "ChannelMessage.Read.All and Chat.Read" if chats else "ChannelMessage.Read.All"
    if request.method == "POST" and path.endswith("/messages"):
        return "ChannelMessage.Send"
    if "/channels" in path:
        return "Channel.ReadBasic.All"
    if "/chats/" in path:
        return "Chat.ReadBasic"
    return "User.Read"


SETTINGS = TeamsSettings
ADAPTER = Teams
