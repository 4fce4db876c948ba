"""Guru as the knowledge base: cards found with Guru's card search.

Endpoints (REST API v1, under `https://api.getguru.com/api/v1`):
- `GET /search/query?searchTerms=...&maxResults=` ("List Cards"): a JSON array of cards
  (`id`, `preferredPhrase` = title, `content` = HTML, `slug`, `lastModified`, `tags[].value`),
  at most 50 a page. More pages are announced in a `Link: <...?token=...>; rel="next-page"`
  header; the next page is that URL, and we carry only its `token` as the cursor.
- `GET /teams`: the documented credential check; names the team for the doctor.

Auth: HTTP Basic with a user's email and user token (read/write), or a collection ID and
collection token (read-only, one collection). Rate limit: Guru publishes no number; a 429 is
waited out (Retry-After when given, backoff otherwise), and we pace at 2 requests/s.
"""

from __future__ import annotations

import base64
import html
import re
from datetime import datetime
from html.parser import HTMLParser
from typing import cast
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, RootModel, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.errors import ConnectorError, InvalidCursorError, UpstreamError
from connectors.health import Health, probe
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Article, Page
from connectors.products import VendorSettings
from connectors.vendors.query import article_kind, clip, keywords, refuses_cursor

BASE_URL = "https://api.getguru.com/api/v1"
APP_URL = "https://app.getguru.com/card"
PAGE_SIZE = 50  # "maxResults ... Can not exceed 50"
SNIPPET_LIMIT = 300
POLICY = Policy(rate=2.0, burst=4)
_LINK = re.compile(r'<\s*([^>]*?)\s*>\s*;\s*rel="?([\w-]+)"?')


class GuruSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_GURU_", extra="ignore", frozen=True)

    username: str = Field(
        description="Email of the user the token belongs to, or the collection ID for a collection token."
    )
    token: SecretStr = Field(description="Guru user token, or a read-only collection token.")
    base_url: str | None = Field(default=None, description="Overrides https://api.getguru.com/api/v1.")


# -- vendor payloads (only the fields we read) ------------------------------------------------


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Tag(_Vendor):
    value: str | None = None


class _Card(_Vendor):
    id: str
    preferred_phrase: str = Field(alias="preferredPhrase")
    content: str = ""
    slug: str | None = None
    last_modified: datetime | None = Field(default=None, alias="lastModified")
    tags: list[_Tag] | None = None


class _Cards(RootModel[list[_Card]]):
    pass


class _Team(_Vendor):
    id: str
    name: str | None = None


class _Teams(RootModel[list[_Team]]):
    pass


# -- helpers ------------------------------------------------------------------------------------


class _Text(HTMLParser):
    """The readable text of a card's HTML: tags dropped, block boundaries kept as spaces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def text_of(content: str) -> str:
    """A card's HTML (or Markdown) content as one line of plain text."""
    parser = _Text()
    parser.feed(content)
    parser.close()
    return " ".join(html.unescape("".join(parser.parts)).split())


def next_page_token(link_header: str | None) -> str | None:
    """The `token` of the `rel="next-page"` URL in a Link header (Guru's paging), never the URL itself."""
    for link in _LINK.finditer(link_header or ""):
        url, rel = link.group(1), link.group(2)
        if rel in ("next-page", "next"):
            token = parse_qs(urlsplit(url).query).get("token")
            if not token or not token[0]:
                raise UpstreamError("guru", "announced a next page without a paging token")
            return token[0]
    return None


def _describe(body: Json) -> str | None:
    """Guru's error bodies are not documented; the official SDK reads `message`, then `error`, then `detail`."""
    if isinstance(body, dict):
        fields = cast(dict[str, object], body)
        for key in ("message", "error", "detail", "description"):
            said = fields.get(key)
            if isinstance(said, str) and said:
                return said
    return None


def _cursor(token: str | None, skip: int) -> str | None:
    """`skip:token`: Guru's token for a page, and how many cards of that page were already handed out.
    An empty token means the first page of the query."""
    if token is None and skip == 0:
        return None
    return f"{skip}:{token or ''}"


_CURSOR = re.compile(r"(\d{1,3}):([A-Za-z0-9+=_.\-]{0,1024})")  # `skip:token`, skip within one page


def _uncursor(cursor: str | None) -> tuple[str | None, int]:
    if cursor is None:
        return None, 0
    shaped = _CURSOR.fullmatch(cursor)
    if shaped is None:
        raise InvalidCursorError("guru")
    return shaped[2] or None, int(shaped[1])


class Guru:
    """The knowledge-base port over Guru cards."""

    name = "guru"

    def __init__(
        self,
        settings: GuruSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        token = settings.token.get_secret_value()
        basic = base64.b64encode(f"{settings.username}:{token}".encode()).decode()
        self._username = settings.username
        self._api = Upstream(
            source=self.name,
            base_url=(settings.base_url or BASE_URL).rstrip("/"),
            headers={"authorization": f"Basic {basic}"},
            secrets=[token, basic],
            credentials_hint="ESCALATION_GURU_USERNAME and ESCALATION_GURU_TOKEN (CONNECTORS.md)",
            address_hint="ESCALATION_GURU_BASE_URL",
            policy=policy or POLICY,
            transport=transport,
            describe=_describe,
        )

    async def _page(self, terms: str, token: str | None, size: int) -> tuple[list[_Card], str | None]:
        """One page of the search: the first (terms, size) or the one Guru's token names."""
        if token is None:
            params: dict[str, str | int] = {"maxResults": size}
            if terms:
                params["searchTerms"] = terms
        else:
            # The documented next page is the Link URL itself, which carries only the token.
            params = {"token": token}
        # Guru pages through the Link header, so the answer's headers are kept.
        reply = await self._api.exchange("GET", "/search/query", params=params, idempotent=True)
        next_token = next_page_token(reply.headers.get("link"))
        cards = parse(self.name, _Cards, reply.body if reply.body is not None else []).root  # 204: no cards
        return cards, next_token

    async def search_articles(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Article]:
        # Guru ranks cards by its own full-text search; the key words are passed as search terms.
        terms = " ".join(keywords(query))
        _uncursor(cursor)  # a cursor of another shape is refused before any request

        async def fetch(after: str | None, size: int) -> tuple[list[Article], str | None]:
            token, skip = _uncursor(after)
            while True:
                # A token page's size was fixed by the first request, so it may hold more than `size`
                # cards: hand out a window and remember where it ended, so no card is skipped.
                try:
                    cards, next_token = await self._page(terms, token, min(PAGE_SIZE, skip + size))
                except ConnectorError as exc:
                    if after is not None and after == cursor and refuses_cursor(exc):
                        raise InvalidCursorError(self.name) from None
                    raise
                window = cards[skip : skip + size]
                if len(cards) > skip + size:
                    return [self._article(c) for c in window], _cursor(token, skip + size)
                if window or next_token is None:
                    return [self._article(c) for c in window], _cursor(next_token, 0)
                token, skip = next_token, 0

        return await paginate(fetch, limit=limit, cursor=cursor, page_size=PAGE_SIZE)

    def _article(self, card: _Card) -> Article:
        title = card.preferred_phrase
        tags = [t.value for t in card.tags or [] if t.value]
        return Article(
            id=card.id,
            title=title,
            snippet=clip(text_of(card.content) or title, SNIPPET_LIMIT),
            kind=article_kind(title, tags),
            url=f"{APP_URL}/{card.slug}" if card.slug else None,
            updated_at=card.last_modified,
        )

    async def check(self) -> Health:
        async def whoami() -> str:
            teams = parse(self.name, _Teams, await self._api.get("/teams")).root
            team = next((t.name or t.id for t in teams), None)
            return f"{self._username} on team {team}" if team else self._username

        return await probe(self._api, whoami)

    async def aclose(self) -> None:
        await self._api.aclose()


SETTINGS = GuruSettings
ADAPTER = Guru
