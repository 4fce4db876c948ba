"""Slack as the chat: messages found with the Web API's search, escalations posted to a channel.

Endpoints (Web API, `https://slack.com/api/<method>`):
- `GET search.messages?query=&count=&page=&sort=score`: a USER token (xoxp-) with `search:read`;
  bot tokens cannot search. Matches carry `channel{id,name}`, `user`/`username`, `text`, `ts` and
  `permalink`; pages are `paging{count,total,page,pages}` and `pagination{per_page,total_count,
  page,page_count}` (`count` at most 100). Slack may apply a smaller page than asked: the page size and
  totals it reports are what the adapter pages by, never the size it asked for.
- `POST chat.postMessage` with a JSON body (`channel` as an ID or a name, `text`): the BOT token
  (xoxb-, `chat:write`) when one is set, else the user token (the message then shows as that user).
  No idempotency key exists, so the write is never retried once sent; `Receipts` covers retries.
- `GET chat.getPermalink`: the posted message's link for the receipt (best effort).
- `POST auth.test`: who each token belongs to, for the doctor.

Slack answers most errors as HTTP 200 with `{"ok": false, "error": "<code>"}`; `_inspect` maps them
(auth codes, `channel_not_found`, `ratelimited`). Rate limits are per method per workspace:
`search.messages` is Tier 2 (20+ per minute, bursts tolerated), `chat.postMessage` about one per
second per channel; a 429 carries Retry-After, which `Upstream` honours. We pace at 20 a minute with
a burst of 10, so one sentence searched word by word never trips the limit.

Slack search ANDs the words of a query and has no OR, so a sentence would find nothing: a
single-word query is paged natively (the cursor is an offset into Slack's order); with several key
words we search each word alone (concurrently) and rank the union by how many of the words found a
message, then by Slack's own order. The union is read in layers: layer 1 is every word's first page,
layer d adds every word's page d and holds only the messages earlier layers did not, ranked; the cursor
(`<layer>.<offset>`) moves to the next layer while any word has pages left, so every match of every
word is reachable, none twice. Past `MAX_LAYERS` pages per word the search stops and says so in the log.

The requests of one search are one operation to the circuit breaker: a search that failed on every
word counts as one failure, so a Slack that recovered is asked again at once.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidCursorError,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
)
from connectors.health import Health, probe
from connectors.http.idempotency import Receipts
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse, retry_after_of
from connectors.models import Message, Page, WriteReceipt
from connectors.products import VendorSettings
from connectors.vendors.query import keywords

log = logging.getLogger(__name__)

BASE_URL = "https://slack.com/api"
MAX_COUNT = 100  # search.messages' largest page
MAX_LAYERS = 20  # pages read per word of a sentence: 2,000 matches a word at Slack's largest page
TERMS = 4  # words searched one by one for a sentence: each costs one Tier 2 call
POLICY = Policy(rate=20 / 60, burst=10)

_AUTH = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "user_is_bot",
        "access_denied",
        "ekm_access_denied",
        "org_login_required",
        "team_access_not_granted",
        "restricted_action",
    }
)
_NOT_FOUND = frozenset({"channel_not_found", "message_not_found"})
_RATE_LIMITED = frozenset({"ratelimited", "rate_limited"})  # the post methods spell it with an underscore
_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class SlackSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_SLACK_", extra="ignore", frozen=True)

    token: SecretStr = Field(description="User token (xoxp-) with search:read; also posts when no bot token is set.")
    bot_token: SecretStr | None = Field(
        default=None, description="Bot token (xoxb-) with chat:write; posts as the app when set."
    )
    team_id: str | None = Field(default=None, description="Workspace ID to search; needed only with an org-wide token.")
    base_url: str | None = Field(default=None, description="Overrides https://slack.com/api.")


# -- vendor payloads (only the fields we read) ------------------------------------------------


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Channel(_Vendor):
    id: str
    name: str | None = None


class _Match(_Vendor):
    channel: _Channel
    ts: str
    text: str = ""
    user: str | None = None
    username: str | None = None
    permalink: str | None = None

    @field_validator("ts")
    @classmethod
    def _a_timestamp(cls, ts: str) -> str:
        float(ts)  # "1508284197.000015": seconds since the epoch, as text (a ValueError is a shape error)
        return ts


class _Paging(_Vendor):
    count: int | None = None
    total: int = 0
    page: int | None = None
    pages: int | None = None


class _Pagination(_Vendor):
    per_page: int | None = None
    total_count: int = 0
    page: int | None = None
    page_count: int | None = None


class _Messages(_Vendor):
    matches: list[_Match] = []
    paging: _Paging = Field(default_factory=_Paging)
    pagination: _Pagination = Field(default_factory=_Pagination)
    total: int = 0

    def per_page(self, asked: int) -> int:
        """The page size Slack applied (it may be smaller than the one asked for)."""
        applied = self.paging.count or self.pagination.per_page or asked
        return max(1, min(applied, asked))

    def matches_total(self) -> int:
        return max(self.paging.total, self.pagination.total_count, self.total, len(self.matches))

    def page_count(self, asked: int) -> int:
        reported = self.paging.pages or self.pagination.page_count
        return reported or max(1, math.ceil(self.matches_total() / self.per_page(asked)))


class _Search(_Vendor):
    messages: _Messages


class _Posted(_Vendor):
    channel: str
    ts: str


class _Permalink(_Vendor):
    permalink: str


class _Who(_Vendor):
    user: str | None = None
    team: str | None = None
    user_id: str | None = None


# -- helpers ------------------------------------------------------------------------------------


def _describe(body: Json) -> str | None:
    """Slack errors: `{"ok": false, "error": "<code>"}` (a 429 carries `ratelimited`)."""
    if isinstance(body, dict):
        error = cast("dict[str, object]", body).get("error")
        if isinstance(error, str) and error:
            return error
    return None


_OFFSET = re.compile(r"\d{1,9}")  # a single word's cursor: an offset into Slack's order
_LAYERED = re.compile(r"([1-9]\d?)\.(\d{1,9})")  # a sentence's cursor: `<layer>.<offset>`


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not _OFFSET.fullmatch(cursor):
        raise InvalidCursorError("slack")
    return int(cursor)


def _layer_offset(cursor: str | None) -> tuple[int, int]:
    if cursor is None:
        return 1, 0
    layered = _LAYERED.fullmatch(cursor)
    if layered is None or int(layered.group(1)) > MAX_LAYERS:
        raise InvalidCursorError("slack")
    return int(layered.group(1)), int(layered.group(2))


def window(offset: int, size: int) -> tuple[int, int, int]:
    """`(count, page, skip)`: the smallest Slack page that holds items `offset .. offset+size-1`
    whole, so a cursor at any offset is served from one request; past 100 the page is partial."""
    for count in range(size, MAX_COUNT + 1):
        page = offset // count
        if offset + size <= (page + 1) * count:
            return count, page + 1, offset - page * count
    return MAX_COUNT, offset // MAX_COUNT + 1, offset % MAX_COUNT


_ENTITY = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def plain(text: str) -> str:
    """Slack's message markup as people read it: `<@U1|ann>` is @ann, `<#C1|ops>` #ops, `<https://x|x>` x,
    and the three characters Slack escapes (&, <, >) are themselves again."""

    def readable(entity: re.Match[str]) -> str:
        target, label = entity.group(1), entity.group(2)
        if target.startswith(("@", "#")):
            return f"{target[0]}{label or target[1:]}"
        if target.startswith("!"):  # <!here>, <!channel>, <!subteam^S1|@team>
            return label or f"@{target[1:]}"
        return label or target

    return _ENTITY.sub(readable, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _posted_at(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def _thread_of(match: _Match) -> str | None:
    """A reply's parent: its permalink carries `thread_ts` (search matches have no field for it)."""
    if not match.permalink:
        return None
    parent = parse_qs(urlsplit(match.permalink).query).get("thread_ts")
    return parent[0] if parent and parent[0] != match.ts else None


def _message(match: _Match) -> Message:
    return Message(
        id=f"{match.channel.id}/{match.ts}",
        channel=match.channel.name or match.channel.id,
        author=match.username or match.user or "unknown",
        text=plain(match.text),
        posted_at=_posted_at(match.ts),
        url=match.permalink,
        thread_id=_thread_of(match),
    )


def rank(results: list[list[_Match]]) -> list[_Match]:
    """One list from one search per word: messages more words found first, then Slack's own order."""
    found: dict[tuple[str, str], tuple[int, int, _Match]] = {}
    for matches in results:
        for position, match in enumerate(matches):
            key = (match.channel.id, match.ts)
            hits, best, _ = found.get(key, (0, position, match))
            found[key] = (hits + 1, min(best, position), match)
    ordered = sorted(found.values(), key=lambda f: (-f[0], f[1], -float(f[2].ts), f[2].channel.id))
    return [match for _, _, match in ordered]


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to raise from a group of concurrent failures: a connector error if there is one."""
    flat: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(cast("BaseExceptionGroup[BaseException]", exc).exceptions)
        else:
            flat.append(exc)
    return next((e for e in flat if isinstance(e, ConnectorError)), flat[0])


_Fetched = tuple[list[Message], str | None]


class Slack:
    """The chat port over one Slack workspace."""

    name = "slack"

    def __init__(
        self,
        settings: SlackSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        token = settings.token.get_secret_value()
        bot = settings.bot_token.get_secret_value() if settings.bot_token else None
        self._bot = bot
        self._team_id = settings.team_id
        self._receipts = Receipts()
        self._api = Upstream(
            source=self.name,
            base_url=(settings.base_url or BASE_URL).rstrip("/"),
            headers={"authorization": f"Bearer {token}"},
            secrets=[token, bot or ""],
            credentials_hint="ESCALATION_SLACK_TOKEN and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_SLACK_BASE_URL",
            policy=policy or POLICY,
            transport=transport,
            describe=_describe,
            inspect=self._inspect,
        )

    # -- errors inside 200s ----------------------------------------------------------------------

    def _variable(self, request: httpx.Request) -> str:
        """The variable holding the token this request carried (posts carry the bot token when one is set)."""
        bot = self._bot is not None and request.headers.get("authorization") == f"Bearer {self._bot}"
        return "ESCALATION_SLACK_BOT_TOKEN" if bot else "ESCALATION_SLACK_TOKEN"

    def _inspect(self, response: httpx.Response, body: Json) -> None:
        if not isinstance(body, dict):
            return
        said = cast("dict[str, object]", body)
        if said.get("ok") is not False:
            return
        error = str(said.get("error") or "unknown_error")
        variable = self._variable(response.request)
        if error in _RATE_LIMITED:
            raise RateLimitedError(self.name, f"rate limited ({error})", retry_after=retry_after_of(response))
        if error in ("not_allowed_token_type", "user_is_bot") and response.request.url.path.endswith(
            "/search.messages"
        ):
            raise AuthError(
                self.name,
                f"search needs a user token (xoxp-) with search:read, not a bot token; "
                f"check {variable} (CONNECTORS.md)",
            )
        if error == "not_in_channel":
            raise AuthError(
                self.name,
                f"refused the post (not_in_channel): invite the app to the channel or grant chat:write.public; "
                f"check {variable} (CONNECTORS.md)",
            )
        if error in _AUTH:
            needed = said.get("needed")
            scope = f", needs {needed}" if isinstance(needed, str) and needed else ""
            raise AuthError(
                self.name, f"rejected the credentials ({error}{scope}); check {variable} and its scopes (CONNECTORS.md)"
            )
        if error in _NOT_FOUND:
            raise NotFoundError(self.name, f"not found ({error})")
        if error in _TRANSIENT:
            raise UpstreamError(self.name, f"failed ({error})", status=500)
        raise UpstreamError(self.name, f"refused the request ({error})")

    # -- chat port ---------------------------------------------------------------------------------

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]:
        words = keywords(query, limit=TERMS)
        single = len(words) <= 1
        start = str(_offset(cursor)) if single else "{}.{}".format(*_layer_offset(cursor))  # refuse a forged one
        if not words or limit <= 0:  # Slack cannot search for nothing; listing every channel is not a search
            return Page[Message](items=[], next_cursor=None)
        operation = self._api.operation()
        fetch = self._one_word(words[0], operation) if single else self._many_words(words, operation)
        return await paginate(fetch, limit=limit, cursor=start, page_size=MAX_COUNT)

    def _one_word(self, word: str, operation: int) -> Callable[[str | None, int], Awaitable[_Fetched]]:
        applied: int | None = None  # the page size Slack turned out to use, once known

        async def fetch(after: str | None, size: int) -> _Fetched:
            nonlocal applied
            offset = _offset(after)
            if applied is None:
                count, page, skip = window(offset, size)
            else:
                count, page, skip = applied, offset // applied + 1, offset % applied
            found = await self._search(word, count=count, page=page, operation=operation)
            if found.per_page(count) < count:  # a smaller page than asked: read the one that holds `offset`
                applied = found.per_page(count)
                wanted, skip = offset // applied + 1, offset % applied
                if wanted != page:
                    page = wanted
                    found = await self._search(word, count=applied, page=page, operation=operation)
            taken = found.matches[skip : skip + size]
            end = offset + len(taken)
            # Slack's own totals decide whether more remain; an empty page short of them still hands back a
            # cursor, so the caller sees `truncated` rather than a silently short answer.
            more = end < found.matches_total() and (bool(taken) or page < found.page_count(count))
            return [_message(m) for m in taken], str(end) if more else None

        return fetch

    def _many_words(self, words: list[str], operation: int) -> Callable[[str | None, int], Awaitable[_Fetched]]:
        pages: dict[tuple[str, int], _Messages] = {}  # this search's pages, so no page is asked for twice

        async def read(wanted: list[tuple[str, int]]) -> None:
            missing = [w for w in wanted if w not in pages]

            async def one(word: str, page: int) -> None:
                pages[word, page] = await self._search(word, count=MAX_COUNT, page=page, operation=operation)

            try:
                async with anyio.create_task_group() as group:
                    for word, page in missing:
                        group.start_soon(one, word, page)
            except BaseExceptionGroup as failed:
                raise _first_error(failed) from None

        async def layer(depth: int) -> tuple[list[_Match], bool]:
            """The messages first found at `depth` pages per word, ranked; and whether any word has more pages."""
            await read([(w, 1) for w in words])
            last = {w: min(depth, pages[w, 1].page_count(MAX_COUNT)) for w in words}
            await read([(w, p) for w in words for p in range(2, last[w] + 1)])

            def upto(d: int) -> list[list[_Match]]:
                return [[m for p in range(1, min(d, last[w]) + 1) for m in pages[w, p].matches] for w in words]

            seen = {(m.channel.id, m.ts) for m in rank(upto(depth - 1))} if depth > 1 else set[tuple[str, str]]()
            fresh = [m for m in rank(upto(depth)) if (m.channel.id, m.ts) not in seen]
            deeper = any(pages[w, 1].page_count(MAX_COUNT) > depth for w in words)
            return fresh, deeper

        async def fetch(after: str | None, size: int) -> _Fetched:
            depth, offset = _layer_offset(after)
            fresh, deeper = await layer(depth)
            while offset >= len(fresh) and deeper and depth < MAX_LAYERS:  # this layer is used up: the next
                depth, offset = depth + 1, 0
                fresh, deeper = await layer(depth)
            taken = fresh[offset : offset + size]
            end = offset + len(taken)
            if end < len(fresh):
                return [_message(m) for m in taken], f"{depth}.{end}"
            if deeper and depth < MAX_LAYERS:
                return [_message(m) for m in taken], f"{depth + 1}.0"
            if deeper:
                log.warning("slack: a sentence search stopped after %d pages of each word; narrow it", MAX_LAYERS)
            return [_message(m) for m in taken], None

        return fetch

    async def _search(self, word: str, *, count: int, page: int, operation: int | None = None) -> _Messages:
        params: dict[str, str | int] = {"query": word, "count": count, "page": page, "sort": "score"}
        if self._team_id:
            params["team_id"] = self._team_id
        answer = await self._api.get("/search.messages", params=params, operation=operation)
        return parse(self.name, _Search, answer).messages

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        idempotency_key: str,
        blocks: list[dict[str, Any]] | None = None,
        html: str | None = None,
    ) -> WriteReceipt:
        as_bot = {"authorization": f"Bearer {self._bot}"} if self._bot else {}
        # Slack reads a JSON body only with this content type (and warns without the charset).
        headers = {"content-type": "application/json; charset=utf-8", **as_bot}

        async def write() -> WriteReceipt:
            # No link previews: a brief's links (tickets, dashboards) must not be fetched and shown to the channel.
            body: dict[str, Any] = {
                "channel": channel.strip().removeprefix("#"),
                "text": text,
                "unfurl_links": False,
                "unfurl_media": False,
            }
            if blocks:
                # Slack shows the blocks; `text` stays as the notification and accessibility fallback.
                body["blocks"] = blocks
            answer = await self._api.post("/chat.postMessage", json=body, headers=headers, idempotent=False)
            posted = parse(self.name, _Posted, answer)
            return WriteReceipt(id=f"{posted.channel}/{posted.ts}", url=await self._permalink(posted, as_bot))

        return await self._receipts.once(idempotency_key, write)

    async def _permalink(self, posted: _Posted, as_bot: Mapping[str, str]) -> str | None:
        """The message's link; the message is already posted, so failing to learn it must not fail the write."""
        try:
            answer = await self._api.request(
                "GET",
                "/chat.getPermalink",
                params={"channel": posted.channel, "message_ts": posted.ts},
                headers=as_bot,
                idempotent=True,
            )
            return parse(self.name, _Permalink, answer).permalink
        except ConnectorError:
            return None

    # -- doctor ------------------------------------------------------------------------------------

    async def check(self) -> Health:
        async def whoami() -> str:
            user = await self._who(None)
            if self._bot is None:
                return f"{user.user or user.user_id} in {user.team}"
            bot = await self._who(self._bot)
            return f"{user.user or user.user_id} (search) and {bot.user or bot.user_id} (posts) in {user.team}"

        return await probe(self._api, whoami)

    async def _who(self, token: str | None) -> _Who:
        headers = {"authorization": f"Bearer {token}"} if token else None
        return parse(self.name, _Who, await self._api.post("/auth.test", headers=headers, idempotent=True))

    async def aclose(self) -> None:
        await self._api.aclose()


SETTINGS = SlackSettings
ADAPTER = Slack
