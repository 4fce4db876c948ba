"""A fake Notion API serving the scenario's articles as pages shared with the integration.

Shapes follow developers.notion.com: the page object (/reference/page), rich text
(/reference/rich-text), block objects (/reference/block), paginated lists
(/reference/intro#pagination: `object: "list"`, `next_cursor`, `has_more`, cursors being the id
of the next item) and the error object (/reference/status-codes). Each article is a page whose
first block is a paragraph holding the article's snippet.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.vendors.notion import Notion, NotionSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, body_of, json_response, matches
from tests.connectors.scenario import TOKEN

PORT = "knowledge"
WORKSPACE_NAME = "Acme Support"
ROOT_PAGE_ID = "5c3d2e1f-0a9b-4c8d-8e7f-6a5b4c3d2e1f"  # the page the articles live under
BOT_ID = "16d84278-ab0e-484c-9bdd-b35da3bd8905"


@dataclass
class StoredPage:
    id: str
    title: str
    paragraphs: list[str]
    last_edited: datetime
    tags: list[str] | None = None  # set: a database page with a "Tags" multi-select
    summary: str | None = None  # set: a database page with a "Summary" rich-text property
    in_trash: bool = False
    headings: list[str] = field(default_factory=list[str])  # blocks before the paragraphs

    @property
    def in_database(self) -> bool:
        return self.tags is not None or self.summary is not None


class FakeNotion(FakeVendor):
    """Notion as an internal integration's secret sees it, at one Notion-Version."""

    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        self.pages = [
            StoredPage(_uuid(a.id), a.title, [a.snippet], a.updated_at or datetime.now(UTC)) for a in workspace.articles
        ]

    def add_page(self, title: str, paragraphs: list[str], **kwargs: Any) -> StoredPage:
        page = StoredPage(_uuid(title), title, paragraphs, datetime.now(UTC), **kwargs)
        self.pages.append(page)
        return page

    # Errors: https://developers.notion.com/reference/status-codes
    def unauthorized(self) -> httpx.Response:
        return _error(401, "unauthorized", "API token is invalid.")

    # Request limits: https://developers.notion.com/reference/request-limits -- 429 "rate_limited"
    # with Retry-After in seconds (documented as an integer; the tests pass fractions to stay fast).
    def rate_limited(self, retry_after: float) -> httpx.Response:
        return _error(
            429,
            "rate_limited",
            "You have been rate limited. Please try again in a few minutes.",
            {"retry-after": f"{retry_after:g}"},
        )

    def server_error(self) -> httpx.Response:
        return _error(500, "internal_server_error", "Unexpected error occurred.")

    def handle(self, request: httpx.Request) -> httpx.Response:
        # Versioning: https://developers.notion.com/reference/versioning -- the header is required.
        if not request.headers.get("notion-version"):
            return _error(400, "missing_version", "Notion-Version header failed validation: should be defined.")
        path = request.url.path
        if request.method == "POST" and path == "/v1/search":
            return self._search(body_of(request) or {})
        children = re.fullmatch(r"/v1/blocks/([0-9a-f-]+)/children", path)
        if request.method == "GET" and children:
            return self._children(children.group(1), request.url.params)
        if request.method == "GET" and path == "/v1/users/me":
            return self._me()
        return _error(400, "invalid_request_url", "Invalid request URL.")

    # Search by title: https://developers.notion.com/reference/post-search -- `query` is compared
    # with page titles only; `filter` limits to pages; `page_size` at most 100; `start_cursor`.
    def _search(self, body: dict[str, Any]) -> httpx.Response:
        page_size = int(body.get("page_size", 100))
        if not 1 <= page_size <= 100:
            return _error(400, "validation_error", "body failed validation: body.page_size should be ≤ 100.")
        wanted = body.get("filter")
        if wanted is not None and wanted != {"property": "object", "value": "page"}:
            return _error(400, "validation_error", "body failed validation: body.filter is not supported here.")
        query = str(body.get("query") or "")
        found = [p for p in self.pages if matches(query, p.title)]
        start = 0
        if body.get("start_cursor"):
            ids = [p.id for p in found]
            if body["start_cursor"] not in ids:
                return _error(400, "validation_error", "body failed validation: start_cursor is invalid.")
            start = ids.index(body["start_cursor"])
        chunk = found[start : start + page_size]
        more = start + page_size < len(found)
        return _list([_page(p) for p in chunk], found[start + page_size].id if more else None, "page_or_data_source")

    # Retrieve block children: https://developers.notion.com/reference/get-block-children
    def _children(self, block_id: str, params: httpx.QueryParams) -> httpx.Response:
        page = next((p for p in self.pages if p.id == block_id), None)
        if page is None:
            return _error(
                404,
                "object_not_found",
                f"Could not find block with ID: {block_id}. Make sure the relevant pages and databases "
                "are shared with your integration.",
            )
        size = int(params.get("page_size", 100))
        blocks = [_block(page, "heading_2", h, n) for n, h in enumerate(page.headings)]
        blocks += [_block(page, "paragraph", t, len(blocks) + n) for n, t in enumerate(page.paragraphs)]
        return _list(blocks[:size], blocks[size]["id"] if len(blocks) > size else None, "block")

    # Retrieve your token's bot user: https://developers.notion.com/reference/get-self
    def _me(self) -> httpx.Response:
        return json_response(
            200,
            {
                "object": "user",
                "id": BOT_ID,
                "name": "Escalations",
                "avatar_url": None,
                "type": "bot",
                "bot": {"owner": {"type": "workspace", "workspace": True}, "workspace_name": WORKSPACE_NAME},
            },
        )


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://www.notion.so/acme/{name}"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "text",
            "text": {"content": text, "link": None},
            "annotations": {
                "bold": False,
                "italic": False,
                "strikethrough": False,
                "underline": False,
                "code": False,
                "color": "default",
            },
            "plain_text": text,
            "href": None,
        }
    ]


def _page(page: StoredPage) -> dict[str, Any]:
    stamp = _iso(page.last_edited)
    if page.in_database:
        parent = {"type": "data_source_id", "data_source_id": _uuid("kb-source"), "database_id": _uuid("kb")}
        properties: dict[str, Any] = {"Name": {"id": "title", "type": "title", "title": _rich_text(page.title)}}
        properties["Tags"] = {
            "id": "tags",
            "type": "multi_select",
            "multi_select": [{"id": _uuid(f"tag:{t}"), "name": t, "color": "default"} for t in page.tags or []],
        }
        properties["Summary"] = {"id": "summ", "type": "rich_text", "rich_text": _rich_text(page.summary or "")}
    else:
        parent = {"type": "page_id", "page_id": ROOT_PAGE_ID}
        properties = {"title": {"id": "title", "type": "title", "title": _rich_text(page.title)}}
    slug = re.sub(r"[^A-Za-z0-9]+", "-", page.title).strip("-")
    return {
        "object": "page",
        "id": page.id,
        "created_time": stamp,
        "last_edited_time": stamp,
        "created_by": {"object": "user", "id": BOT_ID},
        "last_edited_by": {"object": "user", "id": BOT_ID},
        "cover": None,
        "icon": None,
        "parent": parent,
        "in_trash": page.in_trash,
        "is_locked": False,
        "properties": properties,
        "url": f"https://www.notion.so/{slug}-{page.id.replace('-', '')}",
        "public_url": None,
    }


def _block(page: StoredPage, kind: str, text: str, n: int) -> dict[str, Any]:
    stamp = _iso(page.last_edited)
    return {
        "object": "block",
        "id": _uuid(f"{page.id}/block/{n}"),
        "parent": {"type": "page_id", "page_id": page.id},
        "created_time": stamp,
        "last_edited_time": stamp,
        "created_by": {"object": "user", "id": BOT_ID},
        "last_edited_by": {"object": "user", "id": BOT_ID},
        "has_children": False,
        "in_trash": False,
        "type": kind,
        kind: {"rich_text": _rich_text(text), "color": "default"},
    }


def _list(results: list[dict[str, Any]], next_cursor: str | None, kind: str) -> httpx.Response:
    return json_response(
        200,
        {
            "object": "list",
            "results": results,
            "next_cursor": next_cursor,
            "has_more": next_cursor is not None,
            "type": kind,
            kind: {},
            "request_id": str(uuid.uuid4()),
        },
    )


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"object": "error", "status": status, "code": code, "message": message, "request_id": str(uuid.uuid4())}
    return json_response(status, body, headers)


def make(workspace: Workspace, *, token: str = TOKEN, snippets: bool = True) -> tuple[Notion, FakeNotion]:
    fake = FakeNotion(workspace, token=token)
    settings = NotionSettings(token=token, snippets=snippets)  # pyright: ignore[reportArgumentType]
    return Notion(settings, policy=FAST, transport=fake.transport()), fake
