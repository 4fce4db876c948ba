"""A fake Confluence Cloud site serving the scenario's articles as pages in the KB space.

Shapes follow the v1 REST reference and real answers quoted in public client code: search
results with `content` (labels under `metadata.labels.results`), highlighted `title` and
`excerpt`, `lastModified` and a context-relative `_links.next` carrying the cursor; errors as
`{"statusCode", "data", "message"}`; 429 with Retry-After and X-RateLimit-* headers.
"""

from __future__ import annotations

import base64
import html
import re
from datetime import UTC
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx
from pydantic import SecretStr

from connectors.models import Article
from connectors.vendors.confluence import Confluence, ConfluenceSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, json_response
from tests.connectors.scenario import TOKEN

PORT = "knowledge"
EMAIL = "agent@acme.example"
SPACE = "KB"
BASE = "https://acme.atlassian.net/wiki"
# What a kind looks like as a Confluence label (labels are lower case, no spaces).
LABELS = {
    "workaround": ["workaround"],
    "known_issue": ["known-issue"],
    "how_to": ["how-to"],
    "limitation": ["limitation"],
}

_TEXT = re.compile(r'text ~ "((?:[^"\\]|\\.)*)"')
_SPACE_IN = re.compile(r"space in \(([^)]*)\)")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
# The grammar the adapter may send; anything else is a CQL the fake (and this test) did not expect.
_GRAMMAR = re.compile(
    r'type = page( AND space in \((?:"(?:[^"\\]|\\.)*"(?:, )?)+\))?'
    r'( AND \(text ~ "(?:[^"\\]|\\.)*"(?: OR text ~ "(?:[^"\\]|\\.)*")*\)| ORDER BY lastmodified DESC)'
)


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _highlight(text: str, words: list[str]) -> str:
    """Confluence's excerpt markup: matched words wrapped in @@@hl@@@ markers, HTML escaped."""
    escaped = html.escape(text)
    for word in words:
        escaped = re.sub(f"(?i)({re.escape(word)})", r"@@@hl@@@\1@@@endhl@@@", escaped)
    return escaped


class FakeConfluence(FakeVendor):
    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        self.labels: dict[str, list[str]] = {a.id: LABELS.get(a.kind, []) for a in workspace.articles}
        self.cursors: dict[str, int] = {}  # opaque cursor -> offset, as the real cursor is opaque too

    def authorized(self, request: httpx.Request) -> bool:
        # https://developer.atlassian.com/cloud/confluence/basic-auth-for-rest-apis/
        basic = base64.b64encode(f"{EMAIL}:{self.token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {basic}"

    def unauthorized(self) -> httpx.Response:
        return json_response(
            401,
            {
                "statusCode": 401,
                "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                "message": "Current user not permitted to use Confluence",
            },
        )

    def rate_limited(self, retry_after: float) -> httpx.Response:
        # https://developer.atlassian.com/cloud/confluence/rate-limiting/ (429 with Retry-After; body undocumented)
        return json_response(
            429,
            {"statusCode": 429, "message": "Rate limit exceeded"},
            {"retry-after": f"{retry_after:g}", "x-ratelimit-limit": "100", "x-ratelimit-remaining": "0"},
        )

    def server_error(self) -> httpx.Response:
        return json_response(500, {"statusCode": 500, "message": "Internal server error"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/rest/api/search"):
            return self._search(request)
        if request.method == "GET" and path.endswith("/rest/api/user/current"):
            return self._current_user()
        return json_response(404, {"statusCode": 404, "message": f"No resource at {path}"})

    # https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-get
    def _search(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        cql = params.get("cql", "")
        if not _GRAMMAR.fullmatch(cql):
            return json_response(
                400,
                {
                    "statusCode": 400,
                    "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                    "message": f"com.atlassian.confluence.api.service.exceptions.BadRequestException: "
                    f"Could not parse cql : {cql}",
                },
            )
        words = [_unquote(w).lower() for w in _TEXT.findall(cql)]
        spaces = {_unquote(s) for m in _SPACE_IN.findall(cql) for s in _STRING.findall(m)}
        limit = min(int(params.get("limit", "25")), 250)
        offset = 0
        if "cursor" in params:
            if params.get("next") != "true" or params["cursor"] not in self.cursors:
                return json_response(400, {"statusCode": 400, "message": "Invalid cursor"})
            offset = self.cursors[params["cursor"]]
        hits = [
            a
            for a in self.workspace.articles
            if (not spaces or SPACE in spaces)
            and (not words or any(w in f"{a.title} {a.snippet} {' '.join(self.labels[a.id])}".lower() for w in words))
        ]
        if not words:
            hits.sort(key=lambda a: a.updated_at.timestamp() if a.updated_at else 0.0, reverse=True)
        page = hits[offset : offset + limit]
        expand_labels = "content.metadata.labels" in params.get("expand", "").split(",")
        links: dict[str, str] = {
            "base": BASE,
            "context": "/wiki",
            "self": f"{BASE}/rest/api/search?cql={quote_plus(cql)}",
        }
        if offset + limit < len(hits):
            cursor = base64.b64encode(f"_f_{offset + limit}_sa_{len(self.cursors)}".encode()).decode()
            self.cursors[cursor] = offset + limit
            query = {"next": "true", "cursor": cursor, "limit": limit, "start": offset + limit, "cql": cql}
            links["next"] = f"/rest/api/search?{urlencode(query)}"
        body = {
            "results": [self._result(a, words, expand_labels) for a in page],
            "start": offset,
            "limit": limit,
            "size": len(page),
            "totalSize": len(hits),
            "cqlQuery": cql,
            "searchDuration": 12,
            "_links": links,
        }
        return json_response(200, body, {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "99"})

    def _result(self, article: Article, words: list[str], expand_labels: bool) -> dict[str, Any]:
        webui = f"/spaces/{SPACE}/pages/{article.id}/{quote_plus(article.title)}"
        content: dict[str, Any] = {
            "id": article.id,
            "type": "page",
            "status": "current",
            "title": article.title,
            "_expandable": {"container": "", "version": "", "space": f"/rest/api/space/{SPACE}"},
            "_links": {"webui": webui, "self": f"{BASE}/rest/api/content/{article.id}", "tinyui": "/x/AQBUO"},
        }
        if expand_labels:
            content["metadata"] = {
                "labels": {
                    "results": [
                        {"prefix": "global", "name": name, "id": str(1000 + i), "label": name}
                        for i, name in enumerate(self.labels[article.id])
                    ],
                    "start": 0,
                    "limit": 200,
                    "size": len(self.labels[article.id]),
                }
            }
        modified = article.updated_at.astimezone(UTC) if article.updated_at else None
        return {
            "content": content,
            "title": _highlight(article.title, words),
            "excerpt": _highlight(article.snippet, words),
            "url": webui,
            "resultGlobalContainer": {"title": "Knowledge Base", "displayUrl": f"/spaces/{SPACE}"},
            "breadcrumbs": [],
            "entityType": "content",
            "iconCssClass": "aui-icon content-type-page",
            "lastModified": modified.strftime("%Y-%m-%dT%H:%M:%S.000Z") if modified else None,
            "friendlyLastModified": "yesterday",
            "score": 0.0,
        }

    # https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-users/#api-wiki-rest-api-user-current-get
    def _current_user(self) -> httpx.Response:
        return json_response(
            200,
            {
                "type": "known",
                "accountId": "5b10a2844c20165700ede21g",
                "accountType": "atlassian",
                "email": EMAIL,
                "publicName": "Agent Smith",
                "displayName": "Agent Smith",
                "isExternalCollaborator": False,
                "_links": {"base": BASE, "context": "/wiki"},
            },
            {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "98"},
        )


def make(workspace: Workspace, *, token: str = TOKEN, space: str | None = None) -> tuple[Confluence, FakeConfluence]:
    fake = FakeConfluence(workspace, token=token)
    settings = ConfluenceSettings(site="acme", email=EMAIL, token=SecretStr(token), space=space)
    return Confluence(settings, transport=fake.transport(), policy=FAST), fake
