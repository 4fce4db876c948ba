"""A fake Guru team serving the scenario's articles as cards in one collection.

Shapes follow Guru's developer docs (List Cards, Paging, API overview) and the card model of
Guru's own Python SDK: a bare JSON array of cards; `preferredPhrase` is the title, `content` is
HTML, dates look like `2014-01-02T12:00:00.000+0000`; more results are announced in a
`Link: < ...?token=... >; rel="next-page"` header (spaces inside the brackets as in the docs).
Guru documents no error body and no rate limit: the fake answers `{"message": ...}` (what the
SDK reads) and a 429 with Retry-After.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.models import Article
from connectors.vendors.guru import Guru, GuruSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, json_response, matches
from tests.connectors.scenario import TOKEN

PORT = "knowledge"
USERNAME = "agent@acme.example"
API = "https://api.getguru.com/api/v1"
TEAM = {"status": "ACTIVE", "id": "7a1e5c7e-0000-4000-8000-000000000001", "dateCreated": "2025-01-01T00:00:00.000+0000"}
COLLECTION = {"id": "c0ffee00-0000-4000-8000-000000000002", "name": "Support Knowledge", "collectionType": "INTERNAL"}
# What a kind looks like as a Guru tag.
TAGS = {
    "workaround": ["workaround"],
    "known_issue": ["known issue"],
    "how_to": ["how-to"],
    "limitation": ["limitation"],
}


class FakeGuru(FakeVendor):
    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        self.tags: dict[str, list[str]] = {a.id: TAGS.get(a.kind, []) for a in workspace.articles}
        # token -> (the query's hits, offset, page size): a Guru paging token names one page of one query.
        self.pages: dict[str, tuple[list[Article], int, int]] = {}

    def authorized(self, request: httpx.Request) -> bool:
        # https://developer.getguru.com/docs/rest-api (Basic auth, user email or collection ID : token)
        basic = base64.b64encode(f"{USERNAME}:{self.token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {basic}"

    def unauthorized(self) -> httpx.Response:
        return json_response(401, {"message": "Request was unauthorized"})

    def server_error(self) -> httpx.Response:
        return json_response(500, {"message": "Internal server error"})

    def rate_limited(self, retry_after: float) -> httpx.Response:
        return json_response(429, {"message": "Too many requests"}, {"retry-after": f"{retry_after:g}"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1")
        if request.method == "GET" and path == "/search/query":
            return self._search(request)
        if request.method == "GET" and path == "/teams":
            return self._teams()
        return json_response(404, {"message": "Resource could not be found"})

    # https://developer.getguru.com/docs/listing-cards and https://developer.getguru.com/docs/paging
    def _search(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "token" in params:
            if params["token"] not in self.pages:
                return json_response(400, {"message": "Invalid paging token"})
            # The token alone names the page: its size is the first request's maxResults (the docs do
            # not say a later maxResults applies, so the fake takes the stricter reading).
            hits, offset, size = self.pages[params["token"]]
        else:
            terms = params.get("searchTerms", "")
            size = int(params.get("maxResults", "50"))
            if not 0 < size <= 50:
                return json_response(400, {"message": "maxResults can not exceed 50"})
            hits = [a for a in self.workspace.articles if matches(terms, a.title, a.snippet, *self.tags[a.id])]
            # lastModified, descending, is the documented default order.
            hits.sort(key=lambda a: a.updated_at.timestamp() if a.updated_at else 0.0, reverse=True)
            offset = 0
        page = hits[offset : offset + size]
        headers: dict[str, str] = {}
        if offset + size < len(hits):
            token = base64.b32encode(f"{len(self.pages)}:{offset + size}".encode()).decode().rstrip("=").lower()
            self.pages[token] = (hits, offset + size, size)
            headers["link"] = f'< {API}/search/query?token={token} >; rel="next-page"'
        return json_response(200, [self._card(a) for a in page], headers)

    def _card(self, article: Article) -> dict[str, Any]:
        modified = article.updated_at.astimezone(UTC) if article.updated_at else None
        stamp = modified.strftime("%Y-%m-%dT%H:%M:%S.000+0000") if modified else None
        return {
            "id": article.id,
            "preferredPhrase": article.title,
            "content": f'<div class="ghq-card-content__paragraph"><p>{html.escape(article.snippet)}</p></div>',
            "slug": f"{article.id}/{article.title.replace(' ', '-')}",
            "lastModified": stamp,
            "dateCreated": stamp,
            "version": 3,
            "shareStatus": "TEAM",
            "verificationState": "TRUSTED",
            "collection": COLLECTION,
            "owner": {"status": "ACTIVE", "email": USERNAME, "firstName": "Agent", "lastName": "Smith"},
            "lastModifiedBy": {"status": "ACTIVE", "email": USERNAME, "firstName": "Agent", "lastName": "Smith"},
            "tags": [
                {"id": f"tag-{i}", "value": value, "categoryId": "cat-1", "numberOfCards": 1}
                for i, value in enumerate(self.tags[article.id])
            ],
            "boards": [],
        }

    # https://developer.getguru.com/docs/rest-api ("Testing Your Credentials": GET /teams)
    def _teams(self) -> httpx.Response:
        return json_response(200, [{**TEAM, "name": "Acme Support"}])


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[Guru, FakeGuru]:
    fake = FakeGuru(workspace, token=token)
    settings = GuruSettings(username=USERNAME, token=SecretStr(token))
    return Guru(settings, transport=fake.transport(), policy=FAST), fake
