"""Zendesk Support (the Ticketing API) as the support platform.

Endpoints (https://developer.zendesk.com/api-reference/ticketing/):
- `GET /api/v2/search/export` (filter[type]=ticket): ticket search with cursor pagination
  (`page[size]`, `page[after]`), so a page never repeats or skips a ticket; results come
  newest first (the endpoint orders by created_at only);
- `GET /api/v2/organizations/show_many`, `GET /api/v2/users/show_many`: the names of the
  organizations (the customer) and requesters of a page of results;
- `GET /api/v2/tickets/{id}?include=users,organizations` and
  `GET /api/v2/tickets/{id}/comments?include=users`: one ticket with its public replies and
  internal notes;
- `PUT /api/v2/tickets/{id}` with `{"ticket": {"comment": {"body": ..., "public": false}}}`:
  an internal note, sent with an `Idempotency-Key` header;
- `GET /api/v2/users/me`: who the token belongs to.

Auth: HTTP Basic with `{email}/token:{api_token}`. Rate limit relied on: the plan's
per-minute account limit (200 on Team up to 2500 with High Volume), set by
`ESCALATION_ZENDESK_RATE_LIMIT`; 429 answers carry Retry-After, which `Upstream` honours.
Export search has its own 100 requests per minute, which a one-page search stays far under.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import AwareDatetime, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import AuthError, ConnectorError, InvalidCursorError
from connectors.health import Health, probe
from connectors.http.idempotency import Receipts
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Comment, Page, Ticket, WriteReceipt
from connectors.products import VendorSettings, subdomain_of
from connectors.vendors import query as text_query

SEARCH_PAGE = 100  # export search allows 1000, but Zendesk recommends 100 when archived tickets are in scope
COMMENT_PAGE = 100  # the comments endpoint's maximum
COMMENT_PAGES = 10  # a ticket's first 1000 comments are plenty for an escalation brief
EVERY_TICKET = "status<=closed"  # export search needs a query; closed is the last status, so this matches all


class ZendeskSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_ZENDESK_", extra="ignore", frozen=True)

    token: SecretStr = Field(description="API token (Admin Center > Apps and integrations > APIs > Zendesk API).")
    email: str = Field(description="Email of the agent the API token acts as.", pattern=r"^[^@\s]+@[^@\s]+$")
    subdomain: str = Field(description="Account subdomain: `acme` for acme.zendesk.com.")
    rate_limit: int = Field(default=200, gt=0, description="Requests per minute the plan allows (Team 200).")
    base_url: str | None = Field(default=None, description="Overrides https://{subdomain}.zendesk.com.")

    @field_validator("subdomain")
    @classmethod
    def _bare_subdomain(cls, value: str) -> str:
        return subdomain_of(value, "zendesk.com")


# -- vendor payloads (only the fields used) ------------------------------------------------


class _User(BaseModel):
    id: int | None = None  # null for the anonymous user Zendesk answers with when auth is missing
    name: str | None = None
    email: str | None = None
    role: str | None = None


class _Organization(BaseModel):
    id: int
    name: str


class _Ticket(BaseModel):
    id: int
    subject: str | None = None
    description: str | None = None
    status: str
    priority: str | None = None
    requester_id: int | None = None
    organization_id: int | None = None
    tags: list[str] = []
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None


class _Cursor(BaseModel):
    has_more: bool = False
    after_cursor: str | None = None


class _ExportPage(BaseModel):
    results: list[_Ticket]
    meta: _Cursor = _Cursor()


class _Comment(BaseModel):
    id: int
    author_id: int | None = None
    body: str | None = None
    plain_body: str | None = None
    public: bool
    created_at: AwareDatetime


class _Comments(BaseModel):
    comments: list[_Comment]
    users: list[_User] = []
    meta: _Cursor = _Cursor()


class _Shown(BaseModel):
    ticket: _Ticket
    users: list[_User] = []
    organizations: list[_Organization] = []


class _AuditEvent(BaseModel):
    id: int | None = None
    type: str | None = None


class _Audit(BaseModel):
    id: int | None = None
    events: list[_AuditEvent] = []


class _Updated(BaseModel):
    ticket: _Ticket
    audit: _Audit | None = None


class _Me(BaseModel):
    user: _User


class _Organizations(BaseModel):
    organizations: list[_Organization]


class _Users(BaseModel):
    users: list[_User]


def _describe(body: Json) -> str | None:
    """Zendesk errors: `{"error": "RecordNotFound", "description": "Not found"}`, or `error` as an object."""
    if not isinstance(body, dict):
        return None
    fields: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]  # decoded JSON
    error, description = fields.get("error"), fields.get("description")
    if isinstance(error, dict):
        inner: dict[str, Any] = error  # pyright: ignore[reportUnknownVariableType]
        error, description = inner.get("title"), description or inner.get("message")
    said = [str(part) for part in (error, description) if part]
    return ": ".join(said) or None


def _search_query(words: list[str], customer: str | None, since: datetime | None) -> str:
    """Repeating a property keyword ORs its values (Zendesk search reference); different keywords AND."""
    terms = [f"description:{word}" for word in words]  # description covers the description and every comment
    if customer:
        terms.append(f'organization:"{customer.replace(chr(34), "")}"')
    if since is not None:
        aware = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        terms.append(f"created>={aware.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    return " ".join(terms) or EVERY_TICKET


class Zendesk:
    """The support port over one Zendesk account."""

    name = "zendesk"

    def __init__(
        self,
        settings: ZendeskSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._settings = settings
        self._base = (settings.base_url or f"https://{settings.subdomain}.zendesk.com").rstrip("/")
        # Links are for people: always the account's own agent view, even when calls go through a proxy.
        self._web = f"https://{settings.subdomain}.zendesk.com"
        credential = f"{settings.email}/token:{settings.token.get_secret_value()}"
        encoded = base64.b64encode(credential.encode()).decode()
        per_second = settings.rate_limit / 60
        self._api = Upstream(
            source=self.name,
            base_url=self._base,
            headers={"authorization": f"Basic {encoded}"},
            secrets=[settings.token.get_secret_value(), encoded],
            credentials_hint="ESCALATION_ZENDESK_TOKEN and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_ZENDESK_SUBDOMAIN",
            policy=policy or Policy(rate=per_second, burst=max(1, min(10, int(per_second * 3)))),
            transport=transport,
            describe=_describe,
        )
        self._receipts = Receipts()
        self._organizations: dict[int, str] = {}  # names rarely change; saves a call per search page

    async def aclose(self) -> None:
        await self._api.aclose()

    async def check(self) -> Health:
        async def whoami() -> str:
            me = parse(self.name, _Me, await self._api.get("/api/v2/users/me")).user
            if me.id is None:  # Zendesk answers an anonymous user rather than 401 when no credentials arrive
                raise AuthError(self.name, "answered as the anonymous user; check ESCALATION_ZENDESK_EMAIL")
            return f"{me.name or me.email} ({me.role or 'user'}) on {self._base.removeprefix('https://')}"

        return await probe(self._api, whoami)

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
        text_query.checked_cursor(self.name, cursor)
        search = _search_query(text_query.keywords(query), customer, since)

        async def fetch(after: str | None, size: int) -> tuple[list[Ticket], str | None]:
            params: dict[str, str | int] = {"query": search, "filter[type]": "ticket", "page[size]": size}
            if after:
                params["page[after]"] = after
            try:
                answer = await self._api.get("/api/v2/search/export", params=params)
            except ConnectorError as exc:
                if after is not None and after == cursor and text_query.refuses_cursor(exc):
                    raise InvalidCursorError(self.name) from None
                raise
            page = parse(self.name, _ExportPage, answer)
            tickets = await self._tickets(page.results)
            return tickets, page.meta.after_cursor if page.meta.has_more else None

        return await paginate(fetch, limit=limit, cursor=cursor, page_size=SEARCH_PAGE)

    async def get_ticket(self, ticket_id: str) -> Ticket:
        number = text_query.numeric_id(self.name, ticket_id, vendor="Zendesk")
        shown = parse(
            self.name,
            _Shown,
            await self._api.get(f"/api/v2/tickets/{number}", params={"include": "users,organizations"}, lookup=True),
        )
        self._remember(shown.organizations)
        users = {u.id: u for u in shown.users if u.id is not None}
        comments = await self._comments(shown.ticket)
        return self._ticket(shown.ticket, users).model_copy(update={"comments": comments})

    async def _comments(self, ticket: _Ticket) -> list[Comment]:
        found: list[Comment] = []
        users: dict[int, _User] = {}
        after: str | None = None
        raw: list[_Comment] = []
        for _ in range(COMMENT_PAGES):
            params: dict[str, str | int] = {"include": "users", "page[size]": COMMENT_PAGE}
            if after:
                params["page[after]"] = after
            page = parse(
                self.name,
                _Comments,
                await self._api.get(f"/api/v2/tickets/{ticket.id}/comments", params=params, lookup=True),
            )
            raw.extend(page.comments)
            users.update({u.id: u for u in page.users if u.id is not None})
            if not page.meta.has_more or not page.meta.after_cursor:
                break
            after = page.meta.after_cursor
        for index, comment in enumerate(raw):
            text = (comment.plain_body or comment.body or "").strip()
            if index == 0 and _same(text, ticket.description):
                continue  # the first comment is the ticket's description, already the body
            author = users.get(comment.author_id) if comment.author_id is not None else None
            who = (author.name or author.email) if author else None
            found.append(
                Comment(
                    author=who or str(comment.author_id or "unknown"),
                    body=text,
                    created_at=comment.created_at,
                    public=comment.public,
                )
            )
        return found

    async def _tickets(self, raw: list[_Ticket]) -> list[Ticket]:
        """Map a page of results, resolving organization and requester names in one call each."""
        missing = sorted({t.organization_id for t in raw if t.organization_id} - self._organizations.keys())
        if missing:
            body = await self._api.get("/api/v2/organizations/show_many", params={"ids": _ids(missing)})
            self._remember(parse(self.name, _Organizations, body).organizations)
        requesters = sorted({t.requester_id for t in raw if t.requester_id is not None})
        users: dict[int, _User] = {}
        if requesters:
            body = await self._api.get("/api/v2/users/show_many", params={"ids": _ids(requesters)})
            users = {u.id: u for u in parse(self.name, _Users, body).users if u.id is not None}
        return [self._ticket(t, users) for t in raw]

    def _remember(self, organizations: list[_Organization]) -> None:
        if len(self._organizations) > 5000:  # bounded: a long-running server must not grow without end
            self._organizations.clear()
        self._organizations.update({o.id: o.name for o in organizations})

    def _ticket(self, t: _Ticket, users: dict[int, _User]) -> Ticket:
        requester = users.get(t.requester_id) if t.requester_id is not None else None
        return Ticket(
            id=str(t.id),
            subject=t.subject or "(no subject)",
            body=(t.description or "").strip(),
            customer=self._organizations.get(t.organization_id) if t.organization_id else None,
            requester=(requester.email or requester.name) if requester else None,
            status=t.status,
            priority=t.priority,
            created_at=t.created_at,
            updated_at=t.updated_at,
            tags=t.tags,
            url=f"{self._web}/agent/tickets/{t.id}",
        )

    # -- writes -------------------------------------------------------------------------------

    async def add_internal_note(self, ticket_id: str, body: str, *, idempotency_key: str) -> WriteReceipt:
        number = text_query.numeric_id(self.name, ticket_id, vendor="Zendesk")

        async def write() -> WriteReceipt:
            # Zendesk documents Idempotency-Key for ticket creation only, so the PUT is not retried
            # after it may have landed; the key is still sent, and Receipts dedupes in-process.
            answer = await self._api.request(
                "PUT",
                f"/api/v2/tickets/{number}",
                json={"ticket": {"comment": {"body": body, "public": False}}},
                headers={"idempotency-key": idempotency_key},
                idempotent=False,
                lookup=True,
            )
            updated = parse(self.name, _Updated, answer)
            audit = updated.audit or _Audit()
            note = next((e.id for e in audit.events if e.type == "Comment" and e.id is not None), None)
            rid = str(note) if note is not None else f"{number}#audit-{audit.id}"
            return WriteReceipt(id=rid, url=f"{self._web}/agent/tickets/{number}")

        return await self._receipts.once(idempotency_key, write)


def _ids(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def _same(text: str, description: str | None) -> bool:
    return " ".join(text.split()) == " ".join((description or "").split())


SETTINGS = ZendeskSettings
ADAPTER = Zendesk
