"""Freshdesk as its REST API v2 answers, serving the scenario workspace.

Shapes follow https://developers.freshdesk.com/api/ (Authentication, Pagination, Rate limit,
Error handling, Tickets, Conversations, Companies, Agents). Scenario accounts become companies
(their ids are the account ids), requesters and customer comment authors become contacts, other
comment authors become agents. Unlike Zendesk, a Freshdesk ticket's description is not one of its
conversations. Statuses and priorities are Freshdesk's numbers. The listing keeps its documented
quirks: only tickets created in the last 30 days (before `now`) unless `updated_since` is given,
at most 100 a page, the next page announced in a `link` header, two credits per `include`.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.vendors.freshdesk import Freshdesk, FreshdeskSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, body_of, json_response
from tests.connectors.scenario import ANCHOR, TOKEN

PORT = "support"
DOMAIN = "acme"
AGENT_ID = 7001
AGENT_EMAIL = "escalations@acme.example"
RATE_LIMIT = 700  # Enterprise

# Scenario words -> Freshdesk's numbers. Freshdesk has no "new" or "on hold": they become open and pending.
STATUS = {"new": 2, "open": 2, "pending": 3, "hold": 3, "solved": 4, "resolved": 4, "closed": 5}
PRIORITY = {"low": 1, "normal": 2, "medium": 2, "high": 3, "urgent": 4}
LIST_INCLUDES = {"stats", "requester", "description"}
VIEW_INCLUDES = {"stats", "requester", "company", "conversations"}

Body = dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Conversation:
    id: int
    user_id: int
    body: str  # plain text; the HTML body is derived from it, as Freshdesk keeps both
    private: bool
    incoming: bool
    created_at: datetime
    from_email: str | None = None


@dataclass
class _Ticket:
    id: int
    subject: str
    description: str
    status: int
    priority: int
    requester_id: int
    company_id: int | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    conversations: list[_Conversation] = field(default_factory=list[_Conversation])


class FakeFreshdesk(FakeVendor):
    """One Freshdesk helpdesk at acme.freshdesk.com."""

    def __init__(self, workspace: Workspace, *, token: str = TOKEN, now: datetime = ANCHOR) -> None:
        super().__init__(workspace, token=token)
        self.now = now  # the listing's "last 30 days" counts back from here
        self.companies = {int(a.id): a.name for a in workspace.accounts}
        self.contacts: dict[int, Body] = {}
        self.agents: dict[int, Body] = {AGENT_ID: {"id": AGENT_ID, "name": "Escalation Bot", "email": AGENT_EMAIL}}
        self.tickets: dict[int, _Ticket] = {}
        self._ids = iter(range(900_000, 10**9))
        by_name = {name.lower(): cid for cid, name in self.companies.items()}
        for t in workspace.tickets:
            company = by_name.get((t.customer or "").lower())
            requester = self._contact(t.requester or "unknown@example.com", company)
            ticket = self.add_ticket(
                id=int(t.id),
                subject=t.subject,
                description=t.body,
                status=STATUS[t.status],
                priority=PRIORITY.get(t.priority or "low", 1),
                requester_id=requester,
                company_id=company,
                tags=list(t.tags),
                created_at=t.created_at,
                updated_at=t.updated_at or t.created_at,
            )
            for c in t.comments:
                customer = "@" in c.author
                author = self._contact(c.author, company) if customer else self._agent(c.author)
                ticket.conversations.append(
                    _Conversation(
                        id=next(self._ids),
                        user_id=author,
                        body=c.body,
                        private=not c.public,
                        incoming=customer,
                        created_at=c.created_at,
                        from_email=c.author if customer else None,
                    )
                )

    def add_ticket(self, **fields: Any) -> _Ticket:
        ticket = _Ticket(**fields)
        self.tickets[ticket.id] = ticket
        return ticket

    def _contact(self, email: str, company: int | None) -> int:
        for cid, contact in self.contacts.items():
            if contact["email"] == email:
                return cid
        cid = 5000 + len(self.contacts)
        self.contacts[cid] = {"id": cid, "name": email.split("@")[0].title(), "email": email, "company_id": company}
        return cid

    def _agent(self, name: str) -> int:
        for aid, agent in self.agents.items():
            if agent["name"] == name:
                return aid
        aid = 7000 + 10 * len(self.agents)
        slug = re.sub(r"\W+", ".", name.lower())
        self.agents[aid] = {"id": aid, "name": name, "email": f"{slug}@{DOMAIN}.example"}
        return aid

    # -- auth and errors ----------------------------------------------------------------------

    # https://developers.freshdesk.com/api/#authentication (Basic auth, the API key as the user name,
    # any password; the docs use X)
    def authorized(self, request: httpx.Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme != "Basic":
            return False
        user, _, _ = base64.b64decode(encoded).decode().partition(":")
        return user == self.token

    # https://developers.freshdesk.com/api/#error (401 with a code and a message)
    def unauthorized(self) -> httpx.Response:
        return json_response(
            401, {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
        )

    # https://developers.freshdesk.com/api/#ratelimit: a 429 with Retry-After (seconds) and the
    # X-Ratelimit-* headers; the docs show no body for it, so none is sent.
    def rate_limited(self, retry_after: float) -> httpx.Response:
        return httpx.Response(
            429,
            headers={
                "retry-after": f"{retry_after:g}",
                "x-ratelimit-total": str(RATE_LIMIT),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used-currentrequest": "1",
            },
        )

    # The docs show no 5xx body; the documented error shape is used.
    def server_error(self) -> httpx.Response:
        return json_response(500, {"code": "internal_error", "message": "Something went wrong"})

    # https://developers.freshdesk.com/api/#error: 404 "Requested Resource not Found"; the docs show no body.
    def not_found(self) -> httpx.Response:
        return httpx.Response(404)

    def invalid(self, field_name: str, message: str, code: str = "invalid_value") -> httpx.Response:
        return json_response(
            400,
            {"description": "Validation failed", "errors": [{"field": field_name, "message": message, "code": code}]},
        )

    # -- routing ------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        # https://developers.freshdesk.com/api/ (Agents > Currently Authenticated Agent, View an Agent)
        if method == "GET" and path == "/api/v2/agents/me":
            return self._ok(self._agent_json(AGENT_ID), credits=1)
        if method == "GET" and path == "/api/v2/tickets":
            return self._list(request)
        if method == "GET" and path == "/api/v2/companies/autocomplete":
            return self._autocomplete(request)
        if method == "GET" and (match := re.fullmatch(r"/api/v2/agents/(\d+)", path)):
            agent = int(match[1])
            return self._ok(self._agent_json(agent)) if agent in self.agents else self.not_found()
        # https://developers.freshdesk.com/api/ (Companies > View a Company)
        if method == "GET" and (match := re.fullmatch(r"/api/v2/companies/(\d+)", path)):
            company = int(match[1])
            if company not in self.companies:
                return self.not_found()
            return self._ok({"id": company, "name": self.companies[company], "domains": [], "custom_fields": {}})
        match = re.fullmatch(r"/api/v2/tickets/(\d+)(/conversations|/notes)?", path)
        if match is None:
            return self.not_found()
        ticket = self.tickets.get(int(match[1]))
        if ticket is None:
            return self.not_found()
        if method == "GET" and match[2] is None:
            return self._view(request, ticket)
        if method == "GET" and match[2] == "/conversations":
            return self._conversations(request, ticket)
        if method == "POST" and match[2] == "/notes":
            return self._note(request, ticket)
        return json_response(405, {"code": "method_not_allowed", "message": f"{method} is not allowed"})

    def _ok(self, body: Any, *, credits: int = 1, link: str | None = None, status: int = 200) -> httpx.Response:
        headers = {
            "x-ratelimit-total": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(RATE_LIMIT - 1),
            "x-ratelimit-used-currentrequest": str(credits),
            "x-freshdesk-api-version": "latest=api/v2; requested=api/v2",
        }
        if link:
            headers["link"] = f'<{link}>; rel="next"'
        return json_response(status, body, headers)

    def _paging(self, request: httpx.Request) -> tuple[int, int] | httpx.Response:
        params = request.url.params
        try:
            page, per_page = int(params.get("page", "1")), int(params.get("per_page", "30"))
        except ValueError:
            return self.invalid("page", "It should be a/an Positive Integer", "datatype_mismatch")
        if not 1 <= per_page <= 100:
            return self.invalid("per_page", "It should be a Positive Integer less than or equal to 100")
        if page < 1:
            return self.invalid("page", "It should be a Positive Integer")
        return page, per_page

    # https://developers.freshdesk.com/api/ (Tickets > List All Tickets: filters company_id and updated_since,
    # order_by/order_type, include=requester,description; "By default, only tickets that have been
    # created within the past 30 days will be returned")
    def _list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        paging = self._paging(request)
        if isinstance(paging, httpx.Response):
            return paging
        page, per_page = paging
        includes = {i for i in params.get("include", "").split(",") if i}
        if includes - LIST_INCLUDES:
            return self.invalid("include", f"It should be one of these values: '{','.join(sorted(LIST_INCLUDES))}'")
        tickets = list(self.tickets.values())
        if "updated_since" in params:
            since = datetime.fromisoformat(params["updated_since"].replace("Z", "+00:00"))
            tickets = [t for t in tickets if t.updated_at >= since]
        else:
            tickets = [t for t in tickets if t.created_at >= self.now - timedelta(days=30)]
        if "company_id" in params:
            tickets = [t for t in tickets if str(t.company_id) == params["company_id"]]
        order_by = params.get("order_by", "created_at")
        if order_by not in ("created_at", "updated_at"):
            return self.invalid("order_by", "It should be one of these values: 'created_at,due_by,updated_at,status'")
        tickets.sort(key=lambda t: (getattr(t, order_by), t.id), reverse=params.get("order_type", "desc") == "desc")
        shown = tickets[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(tickets)
        link = str(request.url.copy_merge_params({"page": str(page + 1)})) if more else None
        body = [self._ticket_json(t, includes) for t in shown]
        return self._ok(body, credits=1 + 2 * len(includes), link=link)

    # https://developers.freshdesk.com/api/ (Tickets > View a Ticket; include=requester,company: the requester's
    # id, name, email, mobile and phone; the company's id and name)
    def _view(self, request: httpx.Request, ticket: _Ticket) -> httpx.Response:
        includes = {i for i in request.url.params.get("include", "").split(",") if i}
        if includes - VIEW_INCLUDES:
            return self.invalid("include", f"It should be one of these values: '{','.join(sorted(VIEW_INCLUDES))}'")
        body = self._ticket_json(ticket, includes | {"description"})
        if "company" in includes and ticket.company_id in self.companies:
            body["company"] = {"id": ticket.company_id, "name": self.companies[ticket.company_id]}
        return self._ok(body, credits=1 + len(includes))

    # https://developers.freshdesk.com/api/ (Tickets > List All Conversations of a Ticket: replies and notes,
    # oldest first, paged like every list)
    def _conversations(self, request: httpx.Request, ticket: _Ticket) -> httpx.Response:
        paging = self._paging(request)
        if isinstance(paging, httpx.Response):
            return paging
        page, per_page = paging
        shown = ticket.conversations[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(ticket.conversations)
        link = str(request.url.copy_merge_params({"page": str(page + 1)})) if more else None
        return self._ok([self._conversation_json(ticket, c) for c in shown], link=link)

    # https://developers.freshdesk.com/api/ (Conversations > Create a Note: 201 with the note; `body` is HTML,
    # `private` defaults to true)
    def _note(self, request: httpx.Request, ticket: _Ticket) -> httpx.Response:
        payload: Any = body_of(request)
        fields: dict[str, Any] = payload if isinstance(payload, dict) else {}  # pyright: ignore[reportUnknownVariableType]
        if not str(fields.get("body") or "").strip():
            return self.invalid("body", "It should not be blank as this is a mandatory field", "missing_field")
        text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", "\n", str(fields["body"]))))
        note = _Conversation(
            id=next(self._ids),
            user_id=AGENT_ID,
            body=text,
            private=bool(fields.get("private", True)),
            incoming=bool(fields.get("incoming", False)),
            created_at=datetime.now(UTC).replace(microsecond=0),
        )
        ticket.conversations.append(note)
        ticket.updated_at = note.created_at
        return self._ok(self._conversation_json(ticket, note), status=201)

    # https://developers.freshdesk.com/api/ (Companies > Search Companies (autocomplete): case-insensitive,
    # on the start of the name's words, `{"companies": [{"id", "name"}]}`; no substring match)
    def _autocomplete(self, request: httpx.Request) -> httpx.Response:
        name = request.url.params.get("name", "").lower()
        if not name:
            return self.invalid("name", "It should not be blank as this is a mandatory field", "missing_field")
        found = [
            {"id": cid, "name": company}
            for cid, company in self.companies.items()
            if company.lower().startswith(name) or any(w.startswith(name) for w in company.lower().split())
        ]
        return self._ok({"companies": found})

    # -- payloads -----------------------------------------------------------------------------

    def _agent_json(self, agent: int) -> Body:
        who = self.agents[agent]
        return {
            "available": True,
            "occasional": False,
            "id": agent,
            "ticket_scope": 1,
            "type": "support_agent",
            "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-01-01T00:00:00Z",
            "contact": {
                "active": True,
                "email": who["email"],
                "name": who["name"],
                "language": "en",
                "time_zone": "London",
                "mobile": None,
                "phone": None,
            },
        }

    def _ticket_json(self, t: _Ticket, includes: set[str]) -> Body:
        body: Body = {
            "id": t.id,
            "subject": t.subject,
            "status": t.status,
            "priority": t.priority,
            "source": 1,
            "type": "Problem",
            "requester_id": t.requester_id,
            "responder_id": None,
            "group_id": None,
            "company_id": t.company_id,
            "product_id": None,
            "email_config_id": None,
            "cc_emails": [],
            "fwd_emails": [],
            "reply_cc_emails": [],
            "to_emails": None,
            "fr_escalated": False,
            "is_escalated": False,
            "spam": False,
            "custom_fields": {},
            "tags": t.tags,
            "due_by": _iso(t.created_at + timedelta(days=3)),
            "fr_due_by": _iso(t.created_at + timedelta(days=1)),
            "created_at": _iso(t.created_at),
            "updated_at": _iso(t.updated_at),
        }
        if "description" in includes:
            body["description"] = f"<div>{html.escape(t.description)}</div>"
            body["description_text"] = t.description
        if "requester" in includes:
            who = self.contacts[t.requester_id]
            body["requester"] = {
                "id": who["id"],
                "name": who["name"],
                "email": who["email"],
                "mobile": None,
                "phone": None,
            }
        return body

    def _conversation_json(self, t: _Ticket, c: _Conversation) -> Body:
        return {
            "id": c.id,
            "body": f"<div>{html.escape(c.body)}</div>",
            "body_text": c.body,
            "incoming": c.incoming,
            "private": c.private,
            "user_id": c.user_id,
            "support_email": None,
            "source": 2 if c.private else 0,
            "category": 2,
            "ticket_id": t.id,
            "to_emails": [],
            "from_email": c.from_email,
            "cc_emails": [],
            "bcc_emails": [],
            "attachments": [],
            "created_at": _iso(c.created_at),
            "updated_at": _iso(c.created_at),
        }


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[Freshdesk, FakeFreshdesk]:
    fake = FakeFreshdesk(workspace, token=token)
    settings = FreshdeskSettings(token=SecretStr(token), domain=DOMAIN)
    return Freshdesk(settings, policy=FAST, transport=fake.transport()), fake
