"""Confluence Cloud as the knowledge base: pages found with a CQL full-text search.

Endpoints (REST API v1, under `https://<site>.atlassian.net/wiki`):
- `GET /rest/api/search?cql=...&limit=&cursor=&next=true&expand=content.metadata.labels`:
  results carry `content` (id, title, `_links.webui`, labels), an `excerpt` with
  `@@@hl@@@`/`@@@endhl@@@` highlight markers and `lastModified`; the next page is the
  `cursor` inside `_links.next`.
- `GET /rest/api/user/current`: who the token belongs to, for the doctor.

Auth: HTTP Basic with the account's email and an Atlassian API token. Rate limit: Atlassian
publishes no number for API-token traffic (its limits are cost and burst based); a 429 may
carry Retry-After, which `Upstream` honours, and X-RateLimit-Limit/Remaining, when sent, show
up in the doctor. We pace at a modest 5 requests/s so one escalation never bursts into a limit.
"""

from __future__ import annotations

import base64
import html
import re
from datetime import datetime
from typing import cast
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import AuthError, ConnectorError, InvalidCursorError, UpstreamError
from connectors.health import Health, probe
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Article, Page
from connectors.products import VendorSettings
from connectors.vendors.query import article_kind, checked_cursor, clip, keywords, refuses_cursor

PAGE_SIZE = 50  # v1 search caps a page lower when content is expanded; 50 stays under every cap
SNIPPET_LIMIT = 300
POLICY = Policy(rate=5.0, burst=5)
_HIGHLIGHT = re.compile(r"@@@(?:end)?hl@@@")


class ConfluenceSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_CONFLUENCE_", extra="ignore", frozen=True)

    site: str | None = Field(
        default=None, description="Atlassian site name: `acme` for acme.atlassian.net (a full host name also works)."
    )
    email: str = Field(description="Email address of the Atlassian account that owns the API token.")
    token: SecretStr = Field(description="Atlassian API token of that account (id.atlassian.com, Security).")
    space: str | None = Field(
        default=None, description="Space key(s) to search, comma separated; every space the account can read if unset."
    )
    base_url: str | None = Field(
        default=None,
        description="Overrides https://<site>.atlassian.net/wiki, e.g. "
        "https://api.atlassian.com/ex/confluence/<cloud id>/wiki for a scoped token.",
    )

    @model_validator(mode="after")
    def _site_or_base_url(self) -> ConfluenceSettings:
        if not self.site and not self.base_url:
            raise ValueError(f"{self.variable('site')} is not set (or set {self.variable('base_url')})")
        return self


# -- vendor payloads (only the fields we read) ------------------------------------------------


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Label(_Vendor):
    name: str


class _Labels(_Vendor):
    results: list[_Label] = []


class _Metadata(_Vendor):
    labels: _Labels = _Labels()


class _ContentLinks(_Vendor):
    webui: str | None = None


class _Content(_Vendor):
    id: str
    title: str
    metadata: _Metadata = _Metadata()
    links: _ContentLinks = Field(default_factory=_ContentLinks, alias="_links")


class _Result(_Vendor):
    content: _Content | None = None  # absent for space or user results, which `type = page` excludes
    title: str = ""
    excerpt: str = ""
    last_modified: datetime | None = Field(default=None, alias="lastModified")


class _PageLinks(_Vendor):
    base: str | None = None
    next: str | None = None


class _SearchPage(_Vendor):
    results: list[_Result]
    links: _PageLinks = Field(default_factory=_PageLinks, alias="_links")


class _User(_Vendor):
    type: str = "known"
    display_name: str | None = Field(default=None, alias="displayName")
    email: str | None = None
    account_id: str | None = Field(default=None, alias="accountId")


# -- helpers ------------------------------------------------------------------------------------


def cql_string(value: str) -> str:
    """`value` as a double-quoted CQL string: a quote or backslash in it cannot end the string early."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def search_cql(query: str, spaces: list[str]) -> str:
    """Pages sharing any of the query's key words (OR, so a whole sentence still matches), newest first
    when there is no text to rank by."""
    clauses = ["type = page"]
    if spaces:
        clauses.append(f"space in ({', '.join(cql_string(s) for s in spaces)})")
    words = keywords(query)
    if words:
        clauses.append("(" + " OR ".join(f"text ~ {cql_string(w)}" for w in words) + ")")
    cql = " AND ".join(clauses)
    return cql if words else f"{cql} ORDER BY lastmodified DESC"


def plain(text: str) -> str:
    """Search markup made readable: highlight markers gone, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(_HIGHLIGHT.sub("", text)).split())


def _describe(body: Json) -> str | None:
    """Confluence errors: `{"statusCode": 400, "data": {...}, "message": "..."}`."""
    if isinstance(body, dict):
        message = cast(dict[str, object], body).get("message")
        if isinstance(message, str) and message:
            return message
    return None


def _cursor_of(next_link: str | None) -> str | None:
    """The opaque cursor inside `_links.next` (a context-relative URL); only the cursor is carried."""
    if not next_link:
        return None
    cursor = parse_qs(urlsplit(next_link).query).get("cursor")
    if not cursor or not cursor[0]:
        raise UpstreamError("confluence", "answered a next-page link without a cursor")
    return cursor[0]


class Confluence:
    """The knowledge-base port over Confluence Cloud pages."""

    name = "confluence"

    def __init__(
        self,
        settings: ConfluenceSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        site: str | None = None
        if settings.site:
            host = settings.site.strip().removeprefix("https://").removeprefix("http://").strip("/")
            site = f"https://{host if '.' in host else host + '.atlassian.net'}/wiki"
        if settings.base_url:
            base = settings.base_url.rstrip("/")
        else:
            assert site, "ConfluenceSettings insists on a site or a base URL"
            base = site
        token = settings.token.get_secret_value()
        basic = base64.b64encode(f"{settings.email}:{token}".encode()).decode()
        # Links are for people: the site's own address when the answer does not name it, never a proxy's.
        self._base = site or base
        self._spaces = [s.strip() for s in (settings.space or "").split(",") if s.strip()]
        self._api = Upstream(
            source=self.name,
            base_url=base,
            headers={"authorization": f"Basic {basic}"},
            secrets=[token, basic],
            credentials_hint="ESCALATION_CONFLUENCE_EMAIL, ESCALATION_CONFLUENCE_TOKEN and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_CONFLUENCE_SITE (or ESCALATION_CONFLUENCE_BASE_URL)",
            policy=policy or POLICY,
            transport=transport,
            describe=_describe,
        )

    async def search_articles(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Article]:
        cql = search_cql(query, self._spaces)
        checked_cursor(self.name, cursor)

        async def fetch(after: str | None, size: int) -> tuple[list[Article], str | None]:
            params: dict[str, str | int] = {"cql": cql, "limit": size, "expand": "content.metadata.labels"}
            if after is not None:
                params |= {"cursor": after, "next": "true"}
            try:
                answer = await self._api.get("/rest/api/search", params=params)
            except ConnectorError as exc:
                if after is not None and after == cursor and refuses_cursor(exc):
                    raise InvalidCursorError(self.name) from None
                raise
            page = parse(self.name, _SearchPage, answer)
            base = (page.links.base or self._base).rstrip("/")
            articles = [self._article(r, base) for r in page.results if r.content is not None]
            return articles, _cursor_of(page.links.next)

        return await paginate(fetch, limit=limit, cursor=cursor, page_size=PAGE_SIZE)

    def _article(self, result: _Result, base: str) -> Article:
        content = result.content
        assert content is not None
        title = content.title or plain(result.title)
        labels = [label.name for label in content.metadata.labels.results]
        webui = content.links.webui
        return Article(
            id=content.id,
            title=title,
            snippet=clip(plain(result.excerpt) or title, SNIPPET_LIMIT),
            kind=article_kind(title, labels),
            url=f"{base}{webui}" if webui else None,
            updated_at=result.last_modified,
        )

    async def check(self) -> Health:
        async def whoami() -> str:
            user = parse(self.name, _User, await self._api.get("/rest/api/user/current"))
            if user.type == "anonymous":  # unauthenticated calls are answered as the anonymous user
                raise AuthError(self.name, "answered as an anonymous user; check ESCALATION_CONFLUENCE_EMAIL")
            name = user.display_name or user.account_id or "an unnamed user"
            return f"{name} <{user.email}>" if user.email else name

        return await probe(self._api, whoami)

    async def aclose(self) -> None:
        await self._api.aclose()


SETTINGS = ConfluenceSettings
ADAPTER = Confluence
