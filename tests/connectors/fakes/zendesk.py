"""Zendesk Support as its Ticketing API answers, serving the scenario workspace.

Shapes follow https://developer.zendesk.com/api-reference/ticketing/ (search, tickets, ticket
comments, organizations, users) and the rate-limit page. Scenario accounts become
organizations (their ids are the account ids), every requester and comment author becomes a
user, and each ticket's description is also its first comment, as in Zendesk.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.vendors.zendesk import Zendesk, ZendeskSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, body_of, json_response
from tests.connectors.scenario import TOKEN

PORT = "support"
SUBDOMAIN = "acme"
EMAIL = "escalations@acme.example"
AGENT_ID = 7001

Body = dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Comment:
    id: int
    author_id: int
    body: str
    public: bool
    created_at: datetime


@dataclass
class _Ticket:
    id: int
    subject: str
    description: str
    status: str
    priority: str | None
    requester_id: int
    organization_id: int | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    comments: list[_Comment] = field(default_factory=list[_Comment])


class FakeZendesk(FakeVendor):
    """One Zendesk account at acme.zendesk.com."""

    def __init__(self, workspace: Workspace, *, token: str = TOKEN, email: str = EMAIL) -> None:
        super().__init__(workspace, token=token)
        self.email = email
        self.organizations = {int(a.id): a.name for a in workspace.accounts}
        self.users: dict[int, Body] = {
            AGENT_ID: {"id": AGENT_ID, "name": "Escalation Bot", "email": email, "role": "agent"}
        }
        self.tickets: dict[int, _Ticket] = {}
        self.idempotency_keys: list[str] = []
        self._ids = iter(range(900_000, 10**9))
        by_name = {name.lower(): oid for oid, name in self.organizations.items()}
        for t in workspace.tickets:
            requester = self._user(t.requester or "unknown@example.com")
            ticket = _Ticket(
                id=int(t.id),
                subject=t.subject,
                description=t.body,
                status=t.status,
                priority=t.priority,
                requester_id=requester,
                organization_id=by_name.get((t.customer or "").lower()),
                tags=list(t.tags),
                created_at=t.created_at,
                updated_at=t.updated_at or t.created_at,
            )
            ticket.comments.append(_Comment(next(self._ids), requester, t.body, True, t.created_at))
            for c in t.comments:
                ticket.comments.append(_Comment(next(self._ids), self._user(c.author), c.body, c.public, c.created_at))
            self.tickets[ticket.id] = ticket

    def _user(self, who: str) -> int:
        for uid, user in self.users.items():
            if who in (user["email"], user["name"]):
                return uid
        uid = 8000 + len(self.users)
        slug = re.sub(r"\W+", ".", who.lower())
        email = who if "@" in who else f"{slug}@{SUBDOMAIN}.example"
        self.users[uid] = {"id": uid, "name": who, "email": email, "role": "end-user" if "@" in who else "agent"}
        return uid

    # -- auth and errors ----------------------------------------------------------------------

    # https://developer.zendesk.com/api-reference/introduction/security-and-auth/
    # (API token: Basic base64 of {email}/token:{api_token})
    def authorized(self, request: httpx.Request) -> bool:
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def unauthorized(self) -> httpx.Response:
        return json_response(401, {"error": "Couldn't authenticate you"})

    # https://developer.zendesk.com/api-reference/introduction/rate-limits/ (429, Retry-After in seconds;
    # the body is plain text, as Zendesk sends it)
    def rate_limited(self, retry_after: float) -> httpx.Response:
        return httpx.Response(
            429,
            text="Number of allowed API requests per minute exceeded",
            headers={
                "content-type": "text/plain",
                "retry-after": f"{retry_after:g}",
                "x-rate-limit": "700",
                "x-rate-limit-remaining": "0",
            },
        )

    # The docs do not show a 5xx body; the documented error shape is used.
    def server_error(self) -> httpx.Response:
        return json_response(500, {"error": "InternalError", "description": "Something went wrong"})

    def not_found(self) -> httpx.Response:
        return json_response(404, {"error": "RecordNotFound", "description": "Not found"})

    # -- routing ------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removesuffix(".json")
        headers = {"x-rate-limit": "700", "x-rate-limit-remaining": "699"}
        if request.method == "GET" and path == "/api/v2/users/me":
            return json_response(200, {"user": self.users[AGENT_ID]}, headers)
        if request.method == "GET" and path == "/api/v2/search/export":
            return self._export(request, headers)
        if request.method == "GET" and path == "/api/v2/organizations/show_many":
            ids = _id_list(request)
            orgs = [{"id": i, "name": self.organizations[i]} for i in ids if i in self.organizations]
            return json_response(200, {"organizations": orgs}, headers)
        if request.method == "GET" and path == "/api/v2/users/show_many":
            return json_response(200, {"users": [self.users[i] for i in _id_list(request) if i in self.users]}, headers)
        match = re.fullmatch(r"/api/v2/tickets/(\d+)(/comments)?", path)
        if match is None:
            return self.not_found()
        ticket = self.tickets.get(int(match[1]))
        if ticket is None:
            return self.not_found()
        if request.method == "GET" and match[2]:
            return self._comments(request, ticket, headers)
        if request.method == "GET":
            return self._show(request, ticket, headers)
        if request.method == "PUT":
            return self._update(request, ticket, headers)
        return json_response(405, {"error": "MethodNotAllowed", "description": request.method})

    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
    def _export(self, request: httpx.Request, headers: dict[str, str]) -> httpx.Response:
        params = request.url.params
        query = params.get("query", "")
        if params.get("filter[type]") != "ticket" or "type:" in query:
            return json_response(400, {"error": "InvalidSearch", "description": "filter[type] must be set, not type:"})
        size = int(params.get("page[size]", "100"))
        if not 1 <= size <= 1000:
            return json_response(400, {"error": "InvalidPageSize", "description": "page[size] must be 1..1000"})
        matched = sorted(
            (t for t in self.tickets.values() if _matches(query, t, self.organizations)),
            key=lambda t: (t.created_at, t.id),
            reverse=True,  # the export orders by created_at, newest first
        )
        offset = _decode_cursor(params.get("page[after]"))
        if offset is None:
            return _bad_cursor()
        page = matched[offset : offset + size]
        more = offset + size < len(matched)
        cursor = _encode_cursor(offset + size) if more else None
        next_url = str(request.url.copy_merge_params({"page[after]": cursor})) if cursor else None
        return json_response(
            200,
            {
                "results": [{**self._ticket_json(t), "result_type": "ticket"} for t in page],
                "facets": None,
                "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": None},
                "links": {"prev": None, "next": next_url},
            },
            headers,
        )

    # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket (with sideloads)
    def _show(self, request: httpx.Request, ticket: _Ticket, headers: dict[str, str]) -> httpx.Response:
        body: Body = {"ticket": self._ticket_json(ticket)}
        include = request.url.params.get("include", "").split(",")
        if "users" in include:
            body["users"] = [self.users[ticket.requester_id]]
        if "organizations" in include and ticket.organization_id in self.organizations:
            body["organizations"] = [{"id": ticket.organization_id, "name": self.organizations[ticket.organization_id]}]
        return json_response(200, body, headers)

    # https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/#list-comments (cursor pagination)
    def _comments(self, request: httpx.Request, ticket: _Ticket, headers: dict[str, str]) -> httpx.Response:
        params = request.url.params
        size = min(int(params.get("page[size]", "100")), 100)
        offset = _decode_cursor(params.get("page[after]"))
        if offset is None:
            return _bad_cursor()
        page = ticket.comments[offset : offset + size]
        more = offset + size < len(ticket.comments)
        body: Body = {
            "comments": [
                {
                    "id": c.id,
                    "type": "Comment",
                    "author_id": c.author_id,
                    "body": c.body,
                    "html_body": f"<div class='zd-comment'><p>{c.body}</p></div>",
                    "plain_body": c.body,
                    "public": c.public,
                    "audit_id": c.id + 1,
                    "attachments": [],
                    "created_at": _iso(c.created_at),
                }
                for c in page
            ],
            "meta": {"has_more": more, "after_cursor": _encode_cursor(offset + size) if more else None},
            "links": {"prev": None, "next": None},
        }
        if params.get("include") == "users":
            body["users"] = [self.users[uid] for uid in dict.fromkeys(c.author_id for c in page)]
        return json_response(200, body, headers)

    # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
    # The Idempotency-Key header is recorded; Zendesk documents it for ticket creation only.
    def _update(self, request: httpx.Request, ticket: _Ticket, headers: dict[str, str]) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key:
            self.idempotency_keys.append(key)
        payload: Any = body_of(request)
        try:
            comment: dict[str, Any] = payload["ticket"]["comment"]
            text, public = str(comment["body"]), bool(comment.get("public", True))
        except (KeyError, TypeError):
            return json_response(422, {"error": "RecordInvalid", "description": "Record validation errors"})
        note = _Comment(next(self._ids), AGENT_ID, text, public, _now())
        ticket.comments.append(note)
        ticket.updated_at = note.created_at
        audit = {
            "id": next(self._ids),
            "ticket_id": ticket.id,
            "author_id": AGENT_ID,
            "created_at": _iso(note.created_at),
            "events": [
                {"id": note.id, "type": "Comment", "body": note.body, "public": note.public, "author_id": AGENT_ID}
            ],
        }
        return json_response(200, {"ticket": self._ticket_json(ticket), "audit": audit}, headers)

    def _ticket_json(self, t: _Ticket) -> Body:
        return {
            "id": t.id,
            "url": f"https://{SUBDOMAIN}.zendesk.com/api/v2/tickets/{t.id}.json",
            "subject": t.subject,
            "raw_subject": t.subject,
            "description": t.description,
            "status": t.status,
            "priority": t.priority,
            "type": "incident",
            "requester_id": t.requester_id,
            "submitter_id": t.requester_id,
            "assignee_id": None,
            "organization_id": t.organization_id,
            "tags": t.tags,
            "created_at": _iso(t.created_at),
            "updated_at": _iso(t.updated_at),
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _id_list(request: httpx.Request) -> list[int]:
    return [int(i) for i in request.url.params.get("ids", "").split(",") if i.strip().isdigit()]


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int | None:
    """The offset inside a cursor this fake issued; None for any other text."""
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["o"])
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def _bad_cursor() -> httpx.Response:
    # Cursor pagination (developer.zendesk.com/api-reference/introduction/pagination/): a cursor the API did
    # not issue is refused as a bad request; the reference shows the error envelope, not this exact text.
    return json_response(400, {"error": "InvalidPaginationParameter", "description": "page[after] is invalid"})


_TERM = re.compile(r'(-?)(\w+)(:|>=|<=|>|<)("[^"]*"|\S+)|(\S+)')
_STATUSES = ["new", "open", "pending", "hold", "solved", "closed"]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _matches(query: str, t: _Ticket, organizations: dict[int, str]) -> bool:
    """The documented search rules this fake needs: repeated keywords OR, different ones AND;
    a property term matches whole words (no prefix matching), plain terms must all be present."""
    groups: dict[str, list[bool]] = {}
    for sign, key, op, raw, plain in _TERM.findall(query):
        value = raw.strip('"')
        if plain:
            hit = plain.lower() in _words(" ".join([t.subject, t.description, *(c.body for c in t.comments)]))
            key = f"plain:{plain}"
        elif key == "description":
            hit = value.lower() in _words(" ".join([t.description, *(c.body for c in t.comments)]))
        elif key == "subject":
            hit = value.lower() in _words(t.subject)
        elif key == "organization":
            name = organizations.get(t.organization_id or -1, "")
            hit = value.lower() in (name.lower(), str(t.organization_id))
        elif key == "created":
            hit = _compare(t.created_at, op, _parse_date(value))
        elif key == "status":
            hit = _compare(_STATUSES.index(t.status), op, _STATUSES.index(value))
        elif key == "tags":
            hit = value in t.tags
        else:
            raise AssertionError(f"the fake does not know the search keyword {key!r}")
        groups.setdefault(f"{sign}{key}", []).append(not hit if sign else hit)
    return all(any(hits) for hits in groups.values())


def _compare(left: Any, op: str, right: Any) -> bool:
    return {":": left == right, ">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


def _parse_date(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[Zendesk, FakeZendesk]:
    fake = FakeZendesk(workspace, token=token)
    settings = ZendeskSettings(token=SecretStr(token), email=EMAIL, subdomain=SUBDOMAIN)
    return Zendesk(settings, policy=FAST, transport=fake.transport()), fake
