"""The five ports the server reads the world through, and the bundle that wires them.

Each port is a small `typing.Protocol`; every category is optional, and a missing
one means "not connected", never an error. Adapters return the normalized models
in `connectors.models` and raise only the tree in `connectors.errors`. Writes take
an idempotency key so a retried write never lands twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from connectors.models import Account, Article, Deal, Message, Page, Ticket, TrackerIssue, WriteReceipt

Category = Literal["support", "crm", "chat", "tracker", "knowledge"]
CATEGORIES: tuple[Category, ...] = ("support", "crm", "chat", "tracker", "knowledge")


@runtime_checkable
class SupportPlatform(Protocol):
    """Tickets and their conversations (Intercom, Zendesk, ...)."""

    name: str

    async def search_tickets(
        self,
        query: str,
        *,
        customer: str | None = None,
        since: datetime | None = None,
        limit: int = 10,
        cursor: str | None = None,
    ) -> Page[Ticket]: ...

    async def get_ticket(self, ticket_id: str) -> Ticket: ...

    async def add_internal_note(self, ticket_id: str, body: str, *, idempotency_key: str) -> WriteReceipt: ...


@runtime_checkable
class CRM(Protocol):
    """Accounts and deals (HubSpot, Salesforce, ...)."""

    name: str

    async def search_accounts(self, query: str, *, limit: int = 10) -> list[Account]:
        """Accounts whose name or domain matches `query` (prefix match is enough)."""
        ...

    async def accounts_on_plan(self, plan: str, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        """Accounts whose plan (tier, segment) is `plan`, compared case-insensitively: a segment of customers."""
        ...

    async def open_deals(self, account_id: str) -> list[Deal]: ...


@runtime_checkable
class BulkCRM(Protocol):
    """A CRM that can also answer many look-ups in one request (optional; the local workspace can).

    Without it a case of 200 affected accounts costs 400 requests, one per name and one per account's
    deals; callers fall back to those when an adapter lacks these methods.
    """

    async def accounts_named(self, names: Sequence[str]) -> list[Account]:
        """The accounts whose name or domain equals one of `names`, ignoring ASCII case."""
        ...

    async def open_deals_of(self, account_ids: Sequence[str]) -> dict[str, list[Deal]]:
        """`open_deals` for each of `account_ids`, keyed as given; an account without open deals maps to []."""
        ...


@runtime_checkable
class Chat(Protocol):
    """Internal conversations (Slack, Teams, ...)."""

    name: str

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]: ...

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        idempotency_key: str,
        blocks: list[dict[str, Any]] | None = None,
        html: str | None = None,
    ) -> WriteReceipt:
        """Post `text`; a vendor that renders richer content posts `blocks` (Slack Block Kit, with `text` as
        the notification fallback) or `html` (a Teams chatMessage body) instead when given."""
        ...


@runtime_checkable
class Tracker(Protocol):
    """Bugs and feature requests (Jira, Linear, ...)."""

    name: str

    async def search_issues(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[TrackerIssue]: ...

    async def create_issue(
        self,
        title: str,
        body: str,
        *,
        labels: list[str],
        idempotency_key: str,
        project: str | None = None,
        description_adf: dict[str, Any] | None = None,
        kind: Literal["bug", "feature"] | None = None,
    ) -> WriteReceipt:
        """File an issue with the Markdown `body`. `project` (a Jira project key, a Linear team key or id)
        overrides the configured one; Jira takes `description_adf` as the description when given; `kind`
        picks the issue type where the tracker has types."""
        ...


@runtime_checkable
class KnowledgeBase(Protocol):
    """Known issues, workarounds and docs (Notion, Confluence, Guru, ...)."""

    name: str

    async def search_articles(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Article]: ...


@dataclass(frozen=True)
class Connectors:
    """Whichever adapters are wired; `None` means that category is not connected."""

    support: SupportPlatform | None = None
    crm: CRM | None = None
    chat: Chat | None = None
    tracker: Tracker | None = None
    knowledge: KnowledgeBase | None = None

    def wired(self) -> dict[Category, str | None]:
        """Each category and the name of the adapter behind it, if any."""
        result: dict[Category, str | None] = {}
        for field, category in zip(fields(self), CATEGORIES, strict=True):
            adapter: SupportPlatform | CRM | Chat | Tracker | KnowledgeBase | None = getattr(self, field.name)
            result[category] = adapter.name if adapter is not None else None
        return result

    async def aclose(self) -> None:
        """Close every adapter that holds connections (each once, though one may serve several ports)."""
        seen: set[int] = set()
        for field in fields(self):
            adapter = getattr(self, field.name)
            close = getattr(adapter, "aclose", None)
            if close is not None and id(adapter) not in seen:
                seen.add(id(adapter))
                await close()
