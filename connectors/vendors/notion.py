"""Notion as the knowledge base, over its REST API (https://api.notion.com/v1).

Endpoints:
- `POST /v1/search` with `query` and `filter: {property: "object", value: "page"}`, paged by
  `start_cursor`/`page_size` (at most 100) and answered `{results, next_cursor, has_more}`;
- `GET /v1/blocks/{page_id}/children?page_size=…` for the opening text of each page found (the
  snippet), fetched concurrently and only while the caller's deadline leaves room;
- `GET /v1/users/me` (the integration's bot user) for the health check.

Auth: the integration's secret as `Authorization: Bearer <token>`, with the `Notion-Version`
header (2026-03-11 unless ESCALATION_NOTION_VERSION says otherwise). Notion returns only the
pages shared with the integration, and its search compares the query with page titles only.

Rate limit (developers.notion.com/reference/request-limits): an average of three requests a
second per integration, some bursts allowed; over it, HTTP 429 `rate_limited` with Retry-After
in seconds. The pacer keeps to three a second.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from connectors.errors import ConnectorError, InvalidCursorError
from connectors.health import Health, probe
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Article, Page
from connectors.products import VendorSettings
from connectors.vendors.query import article_kind, checked_cursor, keywords, refuses_cursor

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.notion.com"
NOTION_VERSION = "2026-03-11"  # the newest documented; search, block children and users/me read alike since 2022-06-28
PAGE_SIZE = 100  # Notion's maximum page_size
SNIPPET_BLOCKS = 10  # the first blocks of a page hold its opening paragraph(s)
SNIPPET_CHARS = 300
SNIPPET_CONCURRENCY = 3  # as many in flight as Notion allows a second
SNIPPET_SHARE = 0.5  # the part of the time left that snippets may use; the titles are the answer
NOTION_POLICY = Policy(rate=3.0, burst=3)
_TEXT_BLOCKS = (
    "paragraph",
    "callout",
    "quote",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
)  # headings are left out: they name a section, they do not say anything


class NotionSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_NOTION_", extra="ignore", frozen=True)

    token: SecretStr = Field(description="Internal integration secret (ntn_… or secret_…), or an OAuth access token.")
    version: str = Field(default=NOTION_VERSION, description="Notion-Version header sent with every request.")
    snippets: bool = Field(
        default=True, description="Read each found page's opening text for its snippet (one extra request a page)."
    )
    base_url: str | None = Field(
        default=None, description="Replaces https://api.notion.com (a proxy or a test server)."
    )


# -- vendor payloads ------------------------------------------------------------------------


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _RichText(_Vendor):
    plain_text: str = ""


class _Option(_Vendor):
    name: str


class _Property(_Vendor):
    type: str
    title: list[_RichText] = []
    rich_text: list[_RichText] = []
    multi_select: list[_Option] = []
    select: _Option | None = None


class _Page(_Vendor):
    object: Literal["page"]
    id: str
    url: str | None = None
    last_edited_time: datetime | None = None
    archived: bool = False  # before 2026-03-11
    in_trash: bool = False
    properties: dict[str, _Property] = {}

    @property
    def title(self) -> str:
        for prop in self.properties.values():
            if prop.type == "title":
                return "".join(t.plain_text for t in prop.title).strip()
        return ""

    @property
    def tags(self) -> list[str]:
        """Multi-select and select values: how a team marks a page a workaround or a known issue."""
        tags: list[str] = []
        for prop in self.properties.values():
            tags.extend(o.name for o in prop.multi_select)
            if prop.select is not None:
                tags.append(prop.select.name)
        return tags

    @property
    def summary(self) -> str:
        """The first rich-text property's text (a Summary or Description column), if any."""
        for prop in self.properties.values():
            if prop.type == "rich_text":
                text = "".join(t.plain_text for t in prop.rich_text).strip()
                if text:
                    return text
        return ""


class _Result(_Vendor):
    object: str  # "page" or "data_source" ("database" before 2025-09-03)


class _SearchList(_Vendor):
    results: list[dict[str, Any]]
    next_cursor: str | None = None
    has_more: bool = False


class _TextContent(_Vendor):
    rich_text: list[_RichText] = []


class _Block(_Vendor):
    """A block keeps its text under its own type's key: {"type": "paragraph", "paragraph": {"rich_text": [...]}}."""

    type: str
    paragraph: _TextContent | None = None
    callout: _TextContent | None = None
    quote: _TextContent | None = None
    bulleted_list_item: _TextContent | None = None
    numbered_list_item: _TextContent | None = None
    to_do: _TextContent | None = None
    toggle: _TextContent | None = None

    @property
    def text(self) -> str:
        content = getattr(self, self.type, None) if self.type in _TEXT_BLOCKS else None
        if not isinstance(content, _TextContent):
            return ""
        return "".join(r.plain_text for r in content.rich_text).strip()


class _BlockList(_Vendor):
    results: list[_Block]


class _Bot(_Vendor):
    workspace_name: str | None = None


class _Error(_Vendor):
    object: Literal["error"]
    code: str | None = None
    message: str | None = None


class _User(_Vendor):
    id: str
    name: str | None = None
    type: str | None = None
    bot: _Bot | None = None


class Notion:
    """The KnowledgeBase port over Notion's search."""

    name = "notion"

    def __init__(
        self,
        settings: NotionSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        token = settings.token.get_secret_value()
        self._snippets = settings.snippets
        self._api = Upstream(
            source=self.name,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            headers={"authorization": f"Bearer {token}", "notion-version": settings.version},
            secrets=[token],
            credentials_hint="ESCALATION_NOTION_TOKEN and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_NOTION_BASE_URL",
            policy=policy or NOTION_POLICY,
            transport=transport,
            describe=_describe,
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    async def search_articles(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Article]:
        # Notion matches page titles against the words given; the sentence's keywords, not its filler.
        text = " ".join(keywords(query))
        checked_cursor(self.name, cursor)

        async def fetch(start: str | None, size: int) -> tuple[list[_Page], str | None]:
            body: dict[str, Any] = {"filter": {"property": "object", "value": "page"}, "page_size": size}
            if text:
                body["query"] = text
            if start is not None:
                body["start_cursor"] = start
            try:
                answer = await self._api.post("/v1/search", json=body, idempotent=True)
            except ConnectorError as exc:
                if start is not None and start == cursor and refuses_cursor(exc):  # 400 validation_error
                    raise InvalidCursorError(self.name) from None
                raise
            found = parse(self.name, _SearchList, answer)
            pages = [parse(self.name, _Page, r) for r in found.results if parse(self.name, _Result, r).object == "page"]
            return pages, found.next_cursor if found.has_more else None

        found = await paginate(fetch, limit=limit, cursor=cursor, page_size=PAGE_SIZE)
        # Trashed pages are dropped after paging, so the cursor still resumes right after the last one seen.
        live = [p for p in found.items if not (p.in_trash or p.archived)]
        openings = await self._openings(live) if self._snippets else {}
        return Page[Article](items=[_article(p, openings.get(p.id, "")) for p in live], next_cursor=found.next_cursor)

    async def check(self) -> Health:
        async def whoami() -> str:
            user = parse(self.name, _User, await self._api.get("/v1/users/me"))
            who = user.name or user.id
            if user.bot is not None and user.bot.workspace_name:
                return f"{who} (integration in {user.bot.workspace_name})"
            return who

        return await probe(self._api, whoami)

    async def _openings(self, pages: list[_Page]) -> dict[str, str]:
        """Each page's opening text, read concurrently while the deadline leaves room.

        Notion's search returns no page content, so a snippet costs one request a page. They run
        within a share of the time left; a page whose text does not arrive in time (or fails to)
        keeps a snippet made of what search returned, so the titles are never lost to the wait.
        """
        wanted = [p for p in pages if not p.summary]
        if not wanted:
            return {}
        left = anyio.current_effective_deadline() - anyio.current_time()
        budget = left * SNIPPET_SHARE if left != float("inf") else self._api.policy.call_timeout * SNIPPET_SHARE
        openings: dict[str, str] = {}
        gate = anyio.CapacityLimiter(SNIPPET_CONCURRENCY)

        async def read(page: _Page) -> None:
            async with gate:
                try:
                    opening = await self._opening(page.id)
                except ConnectorError as exc:
                    log.info("notion: no snippet for page %s (%s)", page.id, exc.detail)
                    return
            if opening:
                openings[page.id] = opening

        with anyio.move_on_after(budget):
            async with anyio.create_task_group() as group:
                for page in wanted:
                    group.start_soon(read, page)
        return openings

    async def _opening(self, page_id: str) -> str:
        body = await self._api.get(f"/v1/blocks/{page_id}/children", params={"page_size": SNIPPET_BLOCKS})
        texts = [b.text for b in parse(self.name, _BlockList, body).results]
        return _clip(" ".join(t for t in texts if t))


def _article(page: _Page, opening: str) -> Article:
    title = page.title or "Untitled"
    return Article(
        id=page.id,
        title=title,
        snippet=page.summary or opening or title,
        kind=article_kind(title, page.tags),
        url=page.url,
        updated_at=page.last_edited_time,
    )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    return text[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _describe(body: Json) -> str | None:
    """Notion's error body: {"object": "error", "status": 401, "code": "unauthorized", "message": "..."}."""
    try:
        error = _Error.model_validate(body)
    except ValidationError:
        return None
    return ": ".join(part for part in (error.code, error.message) if part) or None


SETTINGS = NotionSettings
ADAPTER = Notion
