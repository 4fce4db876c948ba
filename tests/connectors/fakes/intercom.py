"""Intercom as its REST API answers, for the `Intercom-Version` each request names, serving the scenario.

Shapes follow https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/ and
.../2.15/... (conversations, contacts, companies, admins) and the rate-limiting page, as published in
intercom/Intercom-OpenAPI (`descriptions/<version>/api.intercom.io.yaml`): a conversation names its
company only from 2.15 on (`company`, the whole company object, nullable); up to 2.14 it names only its
`contacts` (`{type: contact.list, contacts: [{type, id, external_id}]}`), and a contact lists its
`companies` (`{type: list, data: [{type: company, id, url}], url, total_count, has_more}`). Neither
version sends a `company_id` on a conversation; `legacy_company_id` makes the fake send the field older
answers carried, for the adapter's fallback. Scenario tickets become
conversations started by a contact, accounts become companies, requesters become contacts
of their company; statuses map onto Intercom's states (new/open -> open, pending -> snoozed,
solved/closed -> closed) and priorities onto its flag (high/urgent -> priority).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.vendors.intercom import Intercom, IntercomSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, body_of, json_response
from tests.connectors.scenario import TOKEN

PORT = "support"
ADMIN_ID = "991267459"
APP = {"type": "app", "id_code": "ecahpwf5", "name": "Acme", "region": "US", "timezone": "Europe/London"}
STATE = {"new": "open", "open": "open", "pending": "snoozed", "hold": "snoozed", "solved": "closed", "closed": "closed"}
MAX_PER_PAGE = 150
MAX_FILTERS = 15

Body = dict[str, Any]


def _hex_id(seed: str) -> str:
    """Intercom contact and company ids are 24 hex characters."""
    return seed.encode().hex()[:24].ljust(24, "0")


def _unix(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def _plain(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup)).strip()


@dataclass
class _Part:
    id: str
    part_type: str  # comment, note, ...
    body: str  # HTML, as Intercom stores it
    created_at: int
    author: Body


@dataclass
class _Conversation:
    id: str
    title: str
    body: str  # the source message, HTML
    author: Body
    contact_id: str
    company_id: str | None
    state: str
    priority: str
    created_at: int
    updated_at: int
    tags: list[str]
    parts: list[_Part] = field(default_factory=list[_Part])


class FakeIntercom(FakeVendor):
    """One Intercom workspace, with one admin (the token's) who authors notes."""

    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        self.admin: Body = {
            "type": "admin",
            "id": ADMIN_ID,
            "name": "Escalation Bot",
            "email": "escalations@acme.example",
            "email_verified": True,
            "job_title": "Bot",
            "away_mode_enabled": False,
            "away_mode_reassign": False,
            "has_inbox_seat": True,
            "team_ids": [],
            "app": APP,
        }
        self.companies: dict[str, Body] = {}
        for account in workspace.accounts:
            cid = _hex_id(f"co{account.id}")
            self.companies[cid] = {
                "type": "company",
                "id": cid,
                "company_id": account.id,
                "name": account.name,
                "app_id": APP["id_code"],
                "created_at": 1_600_000_000,
                "updated_at": 1_600_000_000,
                "monthly_spend": 0,
                "session_count": 0,
                "user_count": 0,
            }
        by_name = {c["name"].lower(): cid for cid, c in self.companies.items()}
        self.contacts: dict[str, Body] = {}  # contact id -> contact, with "company_ids"
        self.conversations: dict[str, _Conversation] = {}
        self.replies: list[Body] = []
        self.admin_readable = True  # False: the token may not read its own admin (`/me` answers 403)
        self.legacy_company_id = False  # True: conversations also carry the old top-level `company_id`
        self._ids = iter(range(1000, 10**9))
        for t in workspace.tickets:
            company = by_name.get((t.customer or "").lower())
            contact = self._contact(t.requester or "unknown@example.com", company)
            author = {"type": "user", "id": contact["id"], "name": contact["name"], "email": contact["email"]}
            created = _unix(t.created_at)
            conversation = _Conversation(
                id=t.id,
                title=t.subject,
                body=f"<p>{html.escape(t.body)}</p>",
                author=author,
                contact_id=contact["id"],
                company_id=company,
                state=STATE[t.status],
                priority="priority" if t.priority in ("high", "urgent") else "not_priority",
                created_at=created,
                updated_at=_unix(t.updated_at or t.created_at),
                tags=list(t.tags),
            )
            for c in t.comments:
                who = author if c.author == t.requester else self._teammate(c.author)
                kind = "comment" if c.public else "note"
                body = f"<p>{html.escape(c.body)}</p>"
                conversation.parts.append(_Part(str(next(self._ids)), kind, body, _unix(c.created_at), who))
            self.conversations[conversation.id] = conversation

    def _contact(self, email: str, company: str | None) -> Body:
        cid = _hex_id(f"ct{email}")
        contact = self.contacts.setdefault(
            cid, {"type": "contact", "id": cid, "role": "user", "email": email, "name": None, "company_ids": []}
        )
        if company and company not in contact["company_ids"]:
            contact["company_ids"].append(company)
        return contact

    def _teammate(self, name: str) -> Body:
        return {"type": "admin", "id": str(zlib.crc32(name.encode())), "name": name, "email": None}

    # -- auth and errors ----------------------------------------------------------------------

    # https://developers.intercom.com/docs/build-an-integration/learn-more/authentication (Bearer access token)
    # https://developers.intercom.com/docs/references/rest-api/errors/error-codes (error.list bodies)
    def unauthorized(self) -> httpx.Response:
        return _errors(401, "unauthorized", "Access Token Invalid")

    # https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting
    # 429 with X-RateLimit-* headers; the reset is a Unix time in whole seconds and there is no Retry-After.
    def rate_limited(self, retry_after: float) -> httpx.Response:
        response = _errors(429, "rate_limit_exceeded", "Exceeded rate limit of 1666 in 10_seconds")
        response.headers.update(
            {
                "x-ratelimit-limit": "1666",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(math.ceil(time.time() + retry_after)),
            }
        )
        return response

    def server_error(self) -> httpx.Response:
        return _errors(500, "server_error", "Server Error")

    def not_found(self) -> httpx.Response:
        return _errors(404, "not_found", "Resource Not Found")

    # -- routing ------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if method == "GET" and path == "/me":
            if not self.admin_readable:
                return _errors(403, "token_unauthorized", "Not authorized to access resource")
            return self._ok(self.admin)
        if method == "POST" and path == "/conversations/search":
            return self._search(request)
        if method == "GET" and path == "/companies":
            return self._company_by_name(request)
        if match := re.fullmatch(r"/companies/(\w+)(/contacts)?", path):
            return self._company(request, match[1], contacts=bool(match[2]))
        if method == "GET" and (match := re.fullmatch(r"/contacts/(\w+)", path)):
            return self._contact_json(match[1])
        if match := re.fullmatch(r"/conversations/([^/]+)(/reply)?", path):
            conversation = self.conversations.get(match[1])
            if conversation is None:
                return self.not_found()
            if method == "POST" and match[2]:
                return self._reply(request, conversation)
            if method == "GET" and not match[2]:
                plain = request.url.params.get("display_as") == "plaintext"
                return self._ok(
                    self._conversation_json(conversation, parts=True, plain=plain, version=_version(request))
                )
        return self.not_found()

    def _ok(self, body: Body) -> httpx.Response:
        return json_response(
            200, body, {"x-ratelimit-limit": "1666", "x-ratelimit-remaining": "1665", "x-ratelimit-reset": "0"}
        )

    # https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/conversations/searchconversations
    def _search(self, request: httpx.Request) -> httpx.Response:
        payload: Any = body_of(request)
        try:
            query: Any = payload["query"]
            pagination: dict[str, Any] = payload.get("pagination") or {}
            per_page = int(pagination.get("per_page", 20))
        except (KeyError, TypeError, AttributeError, ValueError):
            return _errors(400, "parameter_invalid", "query is required")
        if not 1 <= per_page <= MAX_PER_PAGE:
            return _errors(400, "parameter_invalid", "per_page must be between 1 and 150")
        problem = _check(query, depth=0)
        if problem:
            return _errors(400, "parameter_invalid", problem)
        matched = sorted(
            (c for c in self.conversations.values() if self._matches(query, c)),
            key=lambda c: (c.created_at, int(c.id)),
            reverse=True,
        )
        try:
            offset = _decode(pagination.get("starting_after"))
        except (ValueError, TypeError, IndexError, KeyError):  # not a cursor Intercom issued
            return _errors(400, "parameter_invalid", "starting_after is invalid")
        page = matched[offset : offset + per_page]
        more = offset + per_page < len(matched)
        pages: Body = {
            "type": "pages",
            "page": offset // per_page + 1,
            "per_page": per_page,
            "total_pages": max(1, math.ceil(len(matched) / per_page)),
        }
        if more:
            pages["next"] = {"per_page": per_page, "starting_after": _encode(offset + per_page)}
        return self._ok(
            {
                "type": "conversation.list",
                "conversations": [self._conversation_json(c, parts=False, version=_version(request)) for c in page],
                "total_count": len(matched),
                "pages": pages,
            }
        )

    def _matches(self, query: Any, c: _Conversation) -> bool:
        if "field" not in query:
            results = [self._matches(q, c) for q in query["value"]]
            return all(results) if query["operator"] == "AND" else any(results)
        name, op, value = query["field"], query["operator"], query["value"]
        actual: Any = {
            "source.subject": c.title,  # the scenario's conversations are emails: their subject is the title
            "source.body": _plain(c.body),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "contact_ids": [c.contact_id],
            "state": c.state,
            "id": c.id,
        }.get(name)
        if actual is None:
            raise AssertionError(f"the fake does not search on {name!r}")
        if op == "~":
            return str(value).lower() in str(actual).lower()
        if op == ">":  # documented as greater or equal
            return actual >= value
        if op == "<":
            return actual <= value
        if op == "=":
            return actual == value or (isinstance(actual, list) and value in actual)
        if op == "IN":
            return any(v in actual for v in value) if isinstance(actual, list) else actual in value
        raise AssertionError(f"the fake does not know the operator {op!r}")

    # https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/companies/retrievecompany
    def _company_by_name(self, request: httpx.Request) -> httpx.Response:
        name = request.url.params.get("name", "")
        for company in self.companies.values():
            if company["name"] == name:
                return self._ok(company)
        return _errors(404, "company_not_found", "Company Not Found")

    # https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/companies/retrieveacompanybyid
    # https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/companies/listattachedcontacts
    def _company(self, request: httpx.Request, company_id: str, *, contacts: bool) -> httpx.Response:
        company = self.companies.get(company_id)
        if company is None or request.method != "GET":
            return _errors(404, "company_not_found", "Company Not Found")
        if not contacts:
            return self._ok(company)
        members = [
            {k: v for k, v in c.items() if k != "company_ids"}
            for c in self.contacts.values()
            if company_id in c["company_ids"]
        ]
        return self._ok(
            {
                "type": "list",
                "data": members,
                "total_count": len(members),
                "pages": {"type": "pages", "page": 1, "per_page": 50, "total_pages": 1},
            }
        )

    # https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/conversations/replyconversation
    def _reply(self, request: httpx.Request, conversation: _Conversation) -> httpx.Response:
        payload: Any = body_of(request)
        self.replies.append(payload)
        if payload.get("type") == "admin" and payload.get("admin_id") != ADMIN_ID:
            return _errors(404, "admin_not_found", "Admin not found")
        if payload.get("message_type") not in ("comment", "note") or not payload.get("body"):
            return _errors(400, "parameter_invalid", "message_type and body are required")
        author = {k: self.admin[k] for k in ("type", "id", "name", "email")}
        part = _Part(str(next(self._ids)), payload["message_type"], str(payload["body"]), int(time.time()), author)
        conversation.parts.append(part)
        conversation.updated_at = part.created_at
        return self._ok(self._conversation_json(conversation, parts=True, version=_version(request)))

    # https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/contacts/showcontact
    def _contact_json(self, contact_id: str) -> httpx.Response:
        contact = self.contacts.get(contact_id)
        if contact is None:
            return _errors(404, "not_found", "User Not Found")
        companies = [{"type": "company", "id": cid, "url": f"/companies/{cid}"} for cid in contact["company_ids"]]
        shown = {k: v for k, v in contact.items() if k != "company_ids"}
        return self._ok(
            {
                **shown,
                "companies": {
                    "type": "list",
                    "data": companies[:10],
                    "url": f"/contacts/{contact_id}/companies",
                    "total_count": len(companies),
                    "has_more": len(companies) > 10,
                },
            }
        )

    def _conversation_json(self, c: _Conversation, *, parts: bool, plain: bool = False, version: float = 2.14) -> Body:
        def text(markup: str) -> str:
            return _plain(markup) if plain else markup

        body: Body = {
            "type": "conversation",
            "id": c.id,
            "title": c.title,
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "waiting_since": None,
            "snoozed_until": None,
            "open": c.state != "closed",
            "state": c.state,
            "read": True,
            "priority": c.priority,
            "admin_assignee_id": None,
            "team_assignee_id": None,
            "tags": {
                "type": "tag.list",
                "tags": [{"type": "tag", "id": str(i), "name": n} for i, n in enumerate(c.tags)],
            },
            "source": {
                "type": "email",
                "id": f"4039{c.id}",
                "delivered_as": "customer_initiated",
                "subject": c.title,
                "body": text(c.body),
                "author": c.author,
                "attachments": [],
                "url": None,
                "redacted": False,
            },
            "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": c.contact_id}]},
            "ai_agent_participated": False,
        }
        if version >= 2.15:
            body["company"] = self.companies[c.company_id] if c.company_id else None
        if self.legacy_company_id:
            body["company_id"] = c.company_id
        listed = c.parts if parts else []
        body["conversation_parts"] = {
            "type": "conversation_part.list",
            "conversation_parts": [
                {
                    "type": "conversation_part",
                    "id": p.id,
                    "part_type": p.part_type,
                    "body": text(p.body),
                    "created_at": p.created_at,
                    "updated_at": p.created_at,
                    "notified_at": p.created_at,
                    "author": p.author,
                    "attachments": [],
                    "redacted": False,
                }
                for p in listed
            ],
            "total_count": len(c.parts),
        }
        return body


def _version(request: httpx.Request) -> float:
    """The `Intercom-Version` a request names (`Unstable` counts as the newest)."""
    named = request.headers.get("intercom-version", "2.14")
    try:
        return float(named)
    except ValueError:
        return 99.0


def _errors(status: int, code: str, message: str) -> httpx.Response:
    return json_response(
        status, {"type": "error.list", "request_id": "000f0a1b2c3d", "errors": [{"code": code, "message": message}]}
    )


def _check(query: Any, *, depth: int) -> str | None:
    """The documented limits: filters nest at most two deep, with at most 15 in a group."""
    if "field" in query:
        return None
    if depth >= 2:
        return "There's a limit of max 2 nested filters"
    if query.get("operator") not in ("AND", "OR") or len(query.get("value", [])) > MAX_FILTERS:
        return "There's a limit of max 15 filters for each AND or OR group"
    for inner in query["value"]:
        problem = _check(inner, depth=depth + 1)
        if problem:
            return problem
    return None


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([offset]).encode()).decode().rstrip("=")


def _decode(cursor: Any) -> int:
    if not cursor:
        return 0
    text = str(cursor)
    return int(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))[0])


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[Intercom, FakeIntercom]:
    fake = FakeIntercom(workspace, token=token)
    settings = IntercomSettings(token=SecretStr(token), admin_id=ADMIN_ID)
    return Intercom(settings, policy=FAST, transport=fake.transport()), fake
