"""Intercom (the REST API, pinned with the `Intercom-Version` header) as the support platform.

Tickets here are Intercom *conversations*: every customer thread in the Inbox is one, the
conversation search filters the text of the first message (`source.subject`, `source.body`),
and internal notes are conversation replies with `message_type: note`. Intercom's separate
Tickets object (ticket types and states) is an optional workflow and is not read.

Endpoints (https://developers.intercom.com/docs/references/2.14/rest-api/api.intercom.io/):
- `POST /conversations/search`: `query` filters nested at most two deep, up to 15 per group,
  `pagination: {per_page <= 150, starting_after}`;
- `GET /conversations/{id}?display_as=plaintext`: one conversation with its parts
  (`comment` parts are public replies, `note` parts internal notes);
- the customer (the company's name) from what the version in use sends: a `company` object on the
  conversation (2.15 and later); else the `company_id` older answers carried (`GET /companies/{id}` for
  its name); else the conversation's first contact (`contacts.contacts[0].id`), whose contact record
  (`GET /contacts/{id}`) lists its `companies` (`{data: [{type, id, url}]}`, 2.14 and earlier), the first
  named by `GET /companies/{id}`; names are cached per id;
- `GET /companies?name=` and `GET /companies/{id}/contacts` to limit a search to a customer;
- `POST /conversations/{id}/reply` with `message_type: note`, `type: admin`, `admin_id`;
- `GET /me`: the admin the token belongs to, and the workspace's `app.id_code`, which the Inbox link of
  a conversation carries (`https://app.intercom.com/a/inbox/<id_code>/inbox/conversation/<id>`, on the
  region's app host).

Cursors are Intercom's own `starting_after` (opaque base64); one of another shape is refused before
any request, and one Intercom refuses (400, 404) is reported as such.

Auth: `Authorization: Bearer <access token>`. Rate limit relied on: 10,000 calls per minute
per app (25,000 per workspace), enforced in 10-second windows; the adapter paces itself to
1,200 a minute. A 429 carries `X-RateLimit-Reset` (a Unix time) and no Retry-After; `Upstream` waits
until that time. Intercom has no idempotency key: notes are deduped
in-process and never resent once they may have landed.
"""

from __future__ import annotations

import html
import math
import re
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from connectors.errors import AuthError, ConnectorError, InvalidCursorError, NotFoundError
from connectors.health import Health, probe
from connectors.http.idempotency import Receipts
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Comment, Page, Ticket, WriteReceipt
from connectors.products import VendorSettings
from connectors.vendors import query as text_query

Region = Literal["us", "eu", "au"]
HOSTS: dict[Region, str] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
APP_HOSTS: dict[Region, str] = {  # where people open the Inbox
    "us": "https://app.intercom.com",
    "eu": "https://app.eu.intercom.com",
    "au": "https://app.au.intercom.com",
}
CACHE_LIMIT = 5000  # ids remembered per kind; a long-running server must not grow without end
SEARCH_PAGE = 150  # the documented maximum per_page of conversation search
CUSTOMER_CONTACTS = 150  # contacts of one company a customer-limited search filters on
CONTACT_PAGES = 3
# Our share of the 10,000 calls per minute an app may make: 1,200, so other apps of the workspace keep theirs.
DEFAULT_POLICY = Policy(rate=20.0, burst=20)
STATUS = {"open": "open", "snoozed": "pending", "closed": "solved"}  # Intercom state -> normalized status
PRIORITY = {"priority": "high", "not_priority": "normal"}
CONTACT_AUTHORS = frozenset({"user", "lead", "contact"})


class IntercomSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_INTERCOM_", extra="ignore", frozen=True)

    token: SecretStr = Field(description="Access token of an Intercom app (Developer Hub > Authentication).")
    region: Region = Field(default="us", description="Where the workspace is hosted: us, eu or au.")
    api_version: str = Field(default="2.14", description="Intercom-Version header; 2.14 or later.")
    admin_id: str | None = Field(default=None, description="Admin who authors notes; the token's admin if unset.")
    base_url: str | None = Field(default=None, description="Overrides the regional API host.")


# -- vendor payloads (only the fields used) ------------------------------------------------


class _Author(BaseModel):
    type: str | None = None
    id: str | None = None
    name: str | None = None
    email: str | None = None


class _Source(BaseModel):
    subject: str | None = None
    body: str | None = None
    author: _Author | None = None


class _Part(BaseModel):
    id: str
    part_type: str | None = None
    body: str | None = None
    created_at: int
    author: _Author | None = None


class _Parts(BaseModel):
    conversation_parts: list[_Part] = []


class _Tag(BaseModel):
    name: str


class _Tags(BaseModel):
    tags: list[_Tag] = []


class _CompanyRef(BaseModel):
    id: str
    name: str | None = None  # the whole company on a conversation (2.15+); a reference on a contact


class _ContactRef(BaseModel):
    id: str


class _ContactList(BaseModel):
    contacts: list[_ContactRef] = []


class _ContactCompanies(BaseModel):
    data: list[_CompanyRef] = []


class _ContactRecord(BaseModel):
    id: str
    companies: _ContactCompanies | None = None


class _Conversation(BaseModel):
    id: str
    title: str | None = None
    state: str | None = None
    open: bool | None = None
    priority: str | None = None
    created_at: int
    updated_at: int | None = None
    company: _CompanyRef | None = None  # 2.15 and later
    company_id: str | None = None  # older answers
    contacts: _ContactList | None = None
    source: _Source | None = None
    tags: _Tags | None = None
    conversation_parts: _Parts | None = None


class _Next(BaseModel):
    starting_after: str | None = None


class _Pages(BaseModel):
    next: _Next | None = None


class _Conversations(BaseModel):
    conversations: list[_Conversation]
    pages: _Pages | None = None


class _Company(BaseModel):
    type: str | None = None
    id: str
    name: str | None = None


class _Companies(BaseModel):
    """`GET /companies?name=` answers the company itself (`type: company`) or a `list` of them."""

    id: str | None = None
    data: list[_Company] = []


class _Contact(BaseModel):
    id: str


class _Contacts(BaseModel):
    data: list[_Contact] = []
    pages: _Pages | None = None


class _App(BaseModel):
    id_code: str | None = None
    name: str | None = None
    region: str | None = None


class _Me(BaseModel):
    id: str
    name: str | None = None
    email: str | None = None
    app: _App | None = None


class _Error(BaseModel):
    code: str | None = None
    message: str | None = None


class _ErrorList(BaseModel):
    errors: list[_Error] = []


def _describe(body: Json) -> str | None:
    """Intercom errors: `{"type": "error.list", "errors": [{"code": ..., "message": ...}]}`."""
    try:
        errors = _ErrorList.model_validate(body).errors
    except ValidationError:
        return None
    said = [": ".join(p for p in (e.code, e.message) if p) for e in errors]
    return "; ".join(s for s in said if s) or None


def _text(markup: str | None) -> str:
    """Plain text from Intercom's HTML bodies (paragraphs and breaks become new lines)."""
    if not markup:
        return ""
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</h\d>", "\n", markup)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _when(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _unix(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return math.floor(aware.timestamp())


def _filters(words: list[str], contact_ids: list[str] | None, since: datetime | None) -> dict[str, Any]:
    """The search query: any keyword in the subject or body, AND the customer's contacts, AND the date."""
    parts: list[dict[str, Any]] = []
    if words:
        parts.append(
            {
                "operator": "OR",
                "value": [
                    {"field": field, "operator": "~", "value": word}
                    for word in words
                    for field in ("source.subject", "source.body")
                ],
            }
        )
    if contact_ids is not None:
        parts.append({"field": "contact_ids", "operator": "IN", "value": contact_ids})
    if since is not None:
        parts.append({"field": "created_at", "operator": ">", "value": _unix(since)})  # ">" is >= for dates
    if not parts:
        parts.append({"field": "created_at", "operator": ">", "value": 0})  # a query is required
    return parts[0] if len(parts) == 1 else {"operator": "AND", "value": parts}


class Intercom:
    """The support port over one Intercom workspace."""

    name = "intercom"

    def __init__(
        self,
        settings: IntercomSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._settings = settings
        token = settings.token.get_secret_value()
        self._api = Upstream(
            source=self.name,
            base_url=(settings.base_url or HOSTS[settings.region]).rstrip("/"),
            headers={
                "authorization": f"Bearer {token}",
                "intercom-version": settings.api_version,
            },
            secrets=[token],
            credentials_hint="ESCALATION_INTERCOM_TOKEN and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_INTERCOM_REGION (or ESCALATION_INTERCOM_BASE_URL)",
            policy=policy or DEFAULT_POLICY,
            transport=transport,
            describe=_describe,
        )
        self._receipts = Receipts()
        self._companies: dict[str, str | None] = {}  # company id -> name; names rarely change
        self._contact_companies: dict[str, str | None] = {}  # contact id -> its first company's id
        self._app_host = APP_HOSTS[settings.region]
        self._me: _Me | None = None
        self._me_refused = False  # /me failed once: conversations go without a link rather than fail

    async def aclose(self) -> None:
        await self._api.aclose()

    async def _whoami(self) -> _Me:
        if self._me is None:
            self._me = parse(self.name, _Me, await self._api.get("/me"))
        return self._me

    async def check(self) -> Health:
        async def whoami() -> str:
            me = await self._whoami()
            app = me.app or _App()
            where = f" in {app.name}" if app.name else ""
            region = f" ({app.region})" if app.region else ""
            return f"{me.name or me.email or me.id}{where}{region}"

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
        contact_ids: list[str] | None = None
        if customer:
            contact_ids = await self._customer_contacts(customer)
            if not contact_ids:
                return Page[Ticket](items=[])  # no such company, or nobody in it: nothing can match
        filters = _filters(text_query.keywords(query), contact_ids, since)

        async def fetch(after: str | None, size: int) -> tuple[list[Ticket], str | None]:
            pagination: dict[str, Any] = {"per_page": size}
            if after:
                pagination["starting_after"] = after
            try:
                body = await self._api.post(
                    "/conversations/search", json={"query": filters, "pagination": pagination}, idempotent=True
                )
            except ConnectorError as exc:
                if after is not None and after == cursor and text_query.refuses_cursor(exc):
                    raise InvalidCursorError(self.name) from None
                raise
            found = parse(self.name, _Conversations, body)
            tickets = [await self._ticket(c) for c in found.conversations]
            following = found.pages.next if found.pages else None
            return tickets, following.starting_after if following else None

        return await paginate(fetch, limit=limit, cursor=cursor, page_size=SEARCH_PAGE)

    async def _customer_contacts(self, customer: str) -> list[str]:
        """The ids of the contacts of the company named `customer` (conversation search cannot filter on
        a company, but it can on `contact_ids`)."""
        try:
            body = await self._api.get("/companies", params={"name": customer}, lookup=True)
        except NotFoundError:
            return []
        found = parse(self.name, _Companies, body)
        company = found.id or (found.data[0].id if found.data else None)  # one company object, or a list
        if company is None:
            return []
        contacts: list[str] = []
        after: str | None = None
        for _ in range(CONTACT_PAGES):
            # The docs show `pages.next.starting_after` on this list but no request parameters; it is
            # passed back as in the other list endpoints, and the page count is capped either way.
            params = {"starting_after": after} if after else None
            page = parse(self.name, _Contacts, await self._api.get(f"/companies/{company}/contacts", params=params))
            contacts.extend(c.id for c in page.data)
            after = page.pages.next.starting_after if page.pages and page.pages.next else None
            if not after or len(contacts) >= CUSTOMER_CONTACTS:
                break
        return contacts[:CUSTOMER_CONTACTS]

    async def _customer(self, c: _Conversation) -> str | None:
        """The conversation's company name, from whichever shape this API version sends."""
        if c.company is not None and c.company.name:
            return c.company.name
        if c.company is not None or c.company_id:
            return await self._company(c.company.id if c.company is not None else c.company_id)
        contacts = c.contacts.contacts if c.contacts else []
        if not contacts:
            return None
        return await self._company(await self._company_of_contact(contacts[0].id))

    async def _company_of_contact(self, contact_id: str) -> str | None:
        if contact_id not in self._contact_companies:
            if len(self._contact_companies) > CACHE_LIMIT:
                self._contact_companies.clear()
            try:
                contact = parse(self.name, _ContactRecord, await self._api.get(f"/contacts/{contact_id}", lookup=True))
            except NotFoundError:
                contact = _ContactRecord(id=contact_id)
            companies = contact.companies.data if contact.companies else []
            self._contact_companies[contact_id] = companies[0].id if companies else None
        return self._contact_companies[contact_id]

    async def _company(self, company_id: str | None) -> str | None:
        if not company_id:
            return None
        if company_id not in self._companies:
            if len(self._companies) > CACHE_LIMIT:
                self._companies.clear()
            try:
                company = parse(self.name, _Company, await self._api.get(f"/companies/{company_id}", lookup=True))
                self._companies[company_id] = company.name
            except NotFoundError:
                self._companies[company_id] = None
        return self._companies[company_id]

    async def get_ticket(self, ticket_id: str) -> Ticket:
        number = text_query.numeric_id(self.name, ticket_id, vendor="Intercom", noun="conversation")
        body = await self._api.get(f"/conversations/{number}", params={"display_as": "plaintext"}, lookup=True)
        conversation = parse(self.name, _Conversation, body)
        ticket = await self._ticket(conversation)
        parts = conversation.conversation_parts.conversation_parts if conversation.conversation_parts else []
        comments = [
            Comment(
                author=_who(part.author) or "unknown",
                body=_text(part.body),
                created_at=_when(part.created_at),
                public=part.part_type == "comment",
            )
            for part in parts
            if part.part_type in ("comment", "note") and _text(part.body)
        ]
        return ticket.model_copy(update={"comments": comments})

    async def _ticket(self, c: _Conversation) -> Ticket:
        source = c.source or _Source()
        body = _text(source.body)
        subject = _text(c.title) or _text(source.subject) or (body.splitlines()[0][:120] if body else "")
        author = source.author
        state = c.state or ("open" if c.open else "closed")
        return Ticket(
            id=c.id,
            subject=subject or "(no subject)",
            body=body,
            customer=await self._customer(c),
            requester=(author.email or author.name) if author and author.type in CONTACT_AUTHORS else None,
            status=STATUS.get(state, state),
            priority=PRIORITY.get(c.priority or "", c.priority),
            created_at=_when(c.created_at),
            updated_at=_when(c.updated_at) if c.updated_at else None,
            tags=[t.name for t in c.tags.tags] if c.tags else [],
            url=await self._inbox_link(c.id),
        )

    async def _inbox_link(self, conversation_id: str) -> str | None:
        """Where a teammate opens the conversation; None when the workspace id cannot be learned."""
        if self._me_refused:
            return None
        try:
            me = await self._whoami()
        except (AuthError, NotFoundError):  # a token without the admin scope still searches
            self._me_refused = True
            return None
        code = me.app.id_code if me.app else None
        return f"{self._app_host}/a/inbox/{code}/inbox/conversation/{conversation_id}" if code else None

    # -- writes -------------------------------------------------------------------------------

    async def add_internal_note(self, ticket_id: str, body: str, *, idempotency_key: str) -> WriteReceipt:
        number = text_query.numeric_id(self.name, ticket_id, vendor="Intercom", noun="conversation")

        async def write() -> WriteReceipt:
            admin = self._settings.admin_id or (await self._whoami()).id
            markup = "".join(f"<p>{html.escape(line)}</p>" for line in body.splitlines() if line.strip())
            answer = await self._api.post(
                f"/conversations/{number}/reply",
                lookup=True,
                json={"message_type": "note", "type": "admin", "admin_id": admin, "body": markup or html.escape(body)},
                idempotent=False,  # Intercom takes no idempotency key: a resend would add a second note
            )
            conversation = parse(self.name, _Conversation, answer)
            parts = conversation.conversation_parts.conversation_parts if conversation.conversation_parts else []
            notes = [p for p in parts if p.part_type == "note"]
            return WriteReceipt(id=notes[-1].id if notes else f"{number}#note", url=await self._inbox_link(number))

        return await self._receipts.once(idempotency_key, write)


def _who(author: _Author | None) -> str | None:
    if author is None:
        return None
    return author.name or author.email or (f"{author.type} {author.id}" if author.id else None)


SETTINGS = IntercomSettings
ADAPTER = Intercom
