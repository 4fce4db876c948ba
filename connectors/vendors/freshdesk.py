"""Freshdesk (the REST API v2 at https://{domain}.freshdesk.com/api/v2) as the support platform.

Freshdesk's ticket search (`GET /api/v2/search/tickets`) filters fields only (status, priority,
tag, dates, custom fields): it has no text match on the subject or description. Text search is
therefore done here, on the listing:

- `GET /api/v2/tickets?include=requester,description&order_by=created_at&order_type=desc&per_page=100`
  with `updated_since` (the listing otherwise returns only tickets created in the last 30 days;
  a ticket created since an instant was also updated since it, so this loses nothing) and
  `company_id` for a customer. Tickets are read newest first and kept when their subject,
  description or tags contain a key word; at most `ESCALATION_FRESHDESK_SCAN_PAGES` pages of 100
  are read per search, then the page stops with a cursor that resumes where the scan stopped. The
  cursor is `page:offset` in that listing (fixed pages of 100), so resuming skips no ticket;
  a `since` ends the scan at the first older ticket, as the listing is ordered by creation;
- `GET /api/v2/companies/autocomplete?name=` turns a customer name into a company id, and
  `GET /api/v2/companies/{id}` names the company of a ticket (remembered for the process);
- `GET /api/v2/tickets/{id}?include=requester,company` and `GET /api/v2/tickets/{id}/conversations`
  (replies and notes; `private` notes are internal), with `GET /api/v2/agents/{id}` for the
  names of the agents who wrote them;
- `POST /api/v2/tickets/{id}/notes` with `{"body": <html>, "private": true}`: an internal note;
- `GET /api/v2/agents/me`: who the API key belongs to.

Auth: HTTP Basic with the agent's API key as the user name and `X` as the password. Rate limit
relied on: the plan's per-minute account limit (Growth 200, Pro 400, Enterprise 700, trials 50),
set by `ESCALATION_FRESHDESK_RATE_LIMIT`; each `include` on a listing costs two more credits. A
429 carries Retry-After, which `Upstream` honours. Freshdesk reports the budget as
`X-Ratelimit-Total`/`X-Ratelimit-Remaining`, the doctor's headroom. Freshdesk has
no idempotency key: notes are deduped in-process and never resent once they may have landed.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import AwareDatetime, BaseModel, Field, RootModel, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import AuthError, InvalidCursorError, NotFoundError
from connectors.health import Health, probe
from connectors.http.idempotency import Receipts
from connectors.http.upstream import Json, Policy, Reply, Upstream, paginate, parse
from connectors.models import Comment, Page, Ticket, WriteReceipt
from connectors.products import VendorSettings, subdomain_of
from connectors.vendors import query as text_query

LIST_PAGE = 100  # the documented maximum per_page; the scan cursor counts in pages of this size
CONVERSATION_PAGE = 100
CONVERSATION_PAGES = 10  # a ticket's first 1,000 replies and notes are plenty for an escalation brief
EVERY_TICKET_SINCE = "1970-01-01T00:00:00Z"  # lifts the listing's default "created in the last 30 days"
STATUS = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}  # Freshdesk's fixed status numbers
PRIORITY = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
REMEMBERED = 5000  # company and agent names kept per process, at most

_LINK = re.compile(r'<\s*([^>]*?)\s*>\s*;\s*rel="?([\w-]+)"?')
_CURSOR = re.compile(r"(\d{1,6}):(\d{1,3})")  # `page:offset`; a page holds at most 100 tickets


class FreshdeskSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_FRESHDESK_", extra="ignore", frozen=True)

    token: SecretStr = Field(description="API key of the agent the server acts as (Profile settings > View API key).")
    domain: str = Field(description="Helpdesk domain: `acme` for acme.freshdesk.com.")
    rate_limit: int = Field(default=200, gt=0, description="API calls per minute the plan allows (Growth 200).")
    scan_pages: int = Field(
        default=5, ge=1, le=300, description="Pages of 100 tickets, newest first, one search reads at most."
    )
    base_url: str | None = Field(default=None, description="Overrides https://{domain}.freshdesk.com.")

    @field_validator("domain")
    @classmethod
    def _bare_domain(cls, value: str) -> str:
        return subdomain_of(value, "freshdesk.com")


# -- vendor payloads (only the fields used) ------------------------------------------------


class _Person(BaseModel):
    id: int | None = None
    name: str | None = None
    email: str | None = None


class _Company(BaseModel):
    id: int | None = None
    name: str | None = None


class _Ticket(BaseModel):
    id: int
    subject: str | None = None
    description_text: str | None = None
    status: int
    priority: int | None = None
    requester_id: int | None = None
    company_id: int | None = None
    tags: list[str] | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    requester: _Person | None = None  # include=requester
    company: _Company | None = None  # include=company (view only)


class _Conversation(BaseModel):
    id: int
    body_text: str | None = None
    private: bool = False
    incoming: bool = False
    user_id: int | None = None
    from_email: str | None = None
    created_at: AwareDatetime


class _Tickets(RootModel[list[_Ticket]]):
    pass


class _Conversations(RootModel[list[_Conversation]]):
    pass


class _Agent(BaseModel):
    id: int
    contact: _Person = _Person()


class _Companies(BaseModel):
    companies: list[_Company]


class _Note(BaseModel):
    id: int
    ticket_id: int | None = None


def _describe(body: Json) -> str | None:
    """Freshdesk errors: `{"code": "invalid_credentials", "message": ...}`, or
    `{"description": "Validation failed", "errors": [{"field", "message", "code"}]}`."""
    if not isinstance(body, dict):
        return None
    fields: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]  # decoded JSON
    said = [str(part) for part in (fields.get("code"), fields.get("message"), fields.get("description")) if part]
    errors = fields.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first: dict[str, Any] = errors[0]  # pyright: ignore[reportUnknownVariableType]
        what = ": ".join(str(first[k]) for k in ("field", "message") if first.get(k))
        said.append(f"{what} ({first['code']})" if first.get("code") else what)
    return ": ".join(s for s in said if s) or None


def next_page(link_header: str | None) -> int | None:
    """The `page` of the `rel="next"` URL in Freshdesk's Link header; None on the last page."""
    for link in _LINK.finditer(link_header or ""):
        if link.group(2) == "next":
            pages = parse_qs(urlsplit(link.group(1)).query).get("page")
            return int(pages[0]) if pages and pages[0].isdigit() else None
    return None


def _instant(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _matcher(words: list[str]) -> re.Pattern[str] | None:
    """Any key word at the start of a word (`export` finds `exports`); None means no text filter."""
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + ")", re.IGNORECASE)


def _comparable(name: str) -> str:
    return re.sub(r"\W+", "", name.casefold())


class Freshdesk:
    """The support port over one Freshdesk helpdesk."""

    name = "freshdesk"

    def __init__(
        self,
        settings: FreshdeskSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._settings = settings
        self._base = (settings.base_url or f"https://{settings.domain}.freshdesk.com").rstrip("/")
        # Links are for people: the helpdesk's own agent view, even when calls go through a proxy.
        self._web = f"https://{settings.domain}.freshdesk.com"
        key = settings.token.get_secret_value()
        encoded = base64.b64encode(f"{key}:X".encode()).decode()
        per_second = settings.rate_limit / 60
        self._api = Upstream(
            source=self.name,
            base_url=self._base,
            headers={"authorization": f"Basic {encoded}"},
            secrets=[key, encoded],
            credentials_hint="ESCALATION_FRESHDESK_TOKEN and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_FRESHDESK_DOMAIN",
            policy=policy or Policy(rate=per_second, burst=max(1, min(10, int(per_second * 3)))),
            transport=transport,
            describe=_describe,
        )
        self._receipts = Receipts()
        self._companies: dict[int, str | None] = {}  # None: gone, or hidden from this agent
        self._agents: dict[int, str] = {}

    async def aclose(self) -> None:
        await self._api.aclose()

    async def check(self) -> Health:
        async def whoami() -> str:
            me = parse(self.name, _Agent, (await self._get("/api/v2/agents/me")).body)
            who = me.contact.name or me.contact.email or f"agent {me.id}"
            email = f" <{me.contact.email}>" if me.contact.name and me.contact.email else ""
            return f"{who}{email} on {self._base.removeprefix('https://')}"

        return await probe(self._api, whoami)

    async def _get(self, path: str, params: Mapping[str, Any] | None = None, *, lookup: bool = False) -> Reply:
        return await self._api.exchange("GET", path, params=params, idempotent=True, lookup=lookup)

    # -- reads --------------------------------------------------------------------------------

    async def search_tickets(
        self,
        query: str,
        *,
        customer: str | None = None,
        since: datetime | None = None,
        limit: int = 10,
        cursor: str | None = None,
    ) -> Page[Ticket]:
        start = _decode_cursor(cursor)
        if start is None:
            raise InvalidCursorError(self.name)
        params: dict[str, str | int] = {
            "include": "requester,description",
            "order_by": "created_at",
            "order_type": "desc",
            "per_page": LIST_PAGE,
            "updated_since": _instant(since) if since is not None else EVERY_TICKET_SINCE,
        }
        if customer:
            company = await self._company_id(customer)
            if company is None:
                return Page[Ticket](items=[])
            params["company_id"] = company
        wanted = _matcher(text_query.keywords(query))
        floor = since if since is None or since.tzinfo is not None else since.replace(tzinfo=UTC)
        budget = self._settings.scan_pages

        async def fetch(at: str | None, size: int) -> tuple[list[Ticket], str | None]:
            nonlocal budget
            page, skip = _decode_cursor(at) or (1, 0)
            found: list[_Ticket] = []
            while budget > 0:
                budget -= 1
                reply = await self._get("/api/v2/tickets", {**params, "page": page})
                raw = parse(self.name, _Tickets, reply.body).root
                more = next_page(reply.headers.get("link")) is not None
                for index in range(skip, len(raw)):
                    ticket = raw[index]
                    if floor is not None and ticket.created_at < floor:
                        return await self._tickets(found), None  # newest first: the rest is older still
                    if wanted is None or wanted.search(_haystack(ticket)):
                        found.append(ticket)
                    if len(found) == size:
                        if index + 1 < len(raw):
                            return await self._tickets(found), f"{page}:{index + 1}"
                        return await self._tickets(found), f"{page + 1}:0" if more else None
                if not more:
                    return await self._tickets(found), None
                page, skip = page + 1, 0
            return await self._tickets(found), f"{page}:{skip}"  # the scan budget is spent; resume here

        return await paginate(fetch, limit=limit, cursor=cursor, page_size=LIST_PAGE)

    async def _company_id(self, customer: str) -> int | None:
        """The id of the company named `customer` (case and punctuation aside), if Freshdesk has one."""
        body = (await self._get("/api/v2/companies/autocomplete", {"name": customer})).body
        companies = parse(self.name, _Companies, body).companies
        self._remember_companies(companies)
        want = _comparable(customer)
        return next((c.id for c in companies if c.id is not None and _comparable(c.name or "") == want), None)

    async def _tickets(self, raw: list[_Ticket]) -> list[Ticket]:
        """Map a page of matches, naming each company once per process."""
        for company in sorted({t.company_id for t in raw if t.company_id} - self._companies.keys()):
            try:
                named = parse(self.name, _Company, (await self._get(f"/api/v2/companies/{company}", lookup=True)).body)
            except (NotFoundError, AuthError):  # gone, or hidden from this agent: the ticket still reads
                named = _Company(id=company)
            self._remember_companies([_Company(id=company, name=named.name)])
        return [self._ticket(t) for t in raw]

    def _remember_companies(self, companies: list[_Company]) -> None:
        if len(self._companies) > REMEMBERED:  # bounded: a long-running server must not grow without end
            self._companies.clear()
        self._companies.update({c.id: c.name for c in companies if c.id is not None})

    def _ticket(self, t: _Ticket) -> Ticket:
        customer = t.company.name if t.company is not None and t.company.name else None
        if customer is None and t.company_id:
            customer = self._companies.get(t.company_id)
        requester = (t.requester.email or t.requester.name) if t.requester is not None else None
        return Ticket(
            id=str(t.id),
            subject=t.subject or "(no subject)",
            body=(t.description_text or "").strip(),
            customer=customer,
            requester=requester,
            status=STATUS.get(t.status, f"custom status {t.status}"),
            priority=PRIORITY.get(t.priority) if t.priority is not None else None,
            created_at=t.created_at,
            updated_at=t.updated_at,
            tags=t.tags or [],
            url=f"{self._web}/a/tickets/{t.id}",
        )

    async def get_ticket(self, ticket_id: str) -> Ticket:
        number = text_query.numeric_id(self.name, ticket_id, vendor="Freshdesk")
        reply = await self._get(f"/api/v2/tickets/{number}", {"include": "requester,company"}, lookup=True)
        ticket = parse(self.name, _Ticket, reply.body)
        if ticket.company is not None and ticket.company.id is not None:
            self._remember_companies([ticket.company])
        comments = await self._comments(ticket)
        return self._ticket(ticket).model_copy(update={"comments": comments})

    async def _comments(self, ticket: _Ticket) -> list[Comment]:
        raw: list[_Conversation] = []
        page: int | None = 1
        for _ in range(CONVERSATION_PAGES):
            if page is None:
                break
            reply = await self._get(
                f"/api/v2/tickets/{ticket.id}/conversations",
                {"page": page, "per_page": CONVERSATION_PAGE},
                lookup=True,
            )
            raw.extend(parse(self.name, _Conversations, reply.body).root)
            page = next_page(reply.headers.get("link"))
        return [
            Comment(
                author=await self._author(c, ticket),
                body=(c.body_text or "").strip(),
                created_at=c.created_at,
                public=not c.private,
            )
            for c in raw
        ]

    async def _author(self, c: _Conversation, ticket: _Ticket) -> str:
        """The requester by email, another customer by the address they wrote from, an agent by name."""
        if c.user_id is not None and c.user_id == ticket.requester_id and ticket.requester is not None:
            return ticket.requester.email or ticket.requester.name or str(c.user_id)
        if c.incoming and c.from_email:
            return c.from_email
        if c.user_id is None:
            return c.from_email or "unknown"
        if c.user_id not in self._agents:
            try:
                agent = parse(self.name, _Agent, (await self._get(f"/api/v2/agents/{c.user_id}", lookup=True)).body)
                name = agent.contact.name or agent.contact.email or str(c.user_id)
            except NotFoundError:  # a contact (a CC'd customer), not an agent
                name = c.from_email or f"contact {c.user_id}"
            except AuthError:  # a role without access to agents: the ticket still reads
                name = c.from_email or f"agent {c.user_id}"
            if len(self._agents) > REMEMBERED:
                self._agents.clear()
            self._agents[c.user_id] = name
        return self._agents[c.user_id]

    # -- writes -------------------------------------------------------------------------------

    async def add_internal_note(self, ticket_id: str, body: str, *, idempotency_key: str) -> WriteReceipt:
        number = text_query.numeric_id(self.name, ticket_id, vendor="Freshdesk")

        async def write() -> WriteReceipt:
            # The note body is HTML: the text is escaped so it reads as written. Freshdesk takes no
            # idempotency key, so a note that may have landed is never sent again.
            reply = await self._api.exchange(
                "POST",
                f"/api/v2/tickets/{number}/notes",
                json={"body": html.escape(body).replace("\n", "<br>"), "private": True},
                idempotent=False,
                lookup=True,
            )
            note = parse(self.name, _Note, reply.body)
            return WriteReceipt(id=str(note.id), url=f"{self._web}/a/tickets/{number}")

        return await self._receipts.once(idempotency_key, write)


def _haystack(t: _Ticket) -> str:
    return " ".join([t.subject or "", t.description_text or "", *(t.tags or [])])


def _decode_cursor(cursor: str | None) -> tuple[int, int] | None:
    """`page:offset` in the listing; (1, 0) to start. None when the text is not such a cursor."""
    if cursor is None:
        return 1, 0
    match = _CURSOR.fullmatch(cursor.strip())
    if match is None or int(match[1]) < 1:
        return None
    return int(match[1]), int(match[2])


SETTINGS = FreshdeskSettings
ADAPTER = Freshdesk
