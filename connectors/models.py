"""Normalized records every adapter returns, whatever the vendor.

Adapters map vendor JSON into these models at the boundary; nothing above the
adapters ever sees a vendor payload. Text written by outsiders (ticket bodies,
comments, chat messages) arrives here as written: `server.context` cleans it of
hidden characters and marks it untrusted before anything reaches the assistant.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Comment(Record):
    author: str
    body: str
    created_at: datetime
    public: bool  # visible to the customer; false for internal notes


class Ticket(Record):
    id: str
    subject: str
    body: str
    customer: str | None = None  # the account (company) name
    requester: str | None = None
    status: str
    priority: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    tags: list[str] = []
    url: str | None = None
    comments: list[Comment] = []


class Account(Record):
    id: str
    name: str
    domain: str | None = None
    arr: float | None = Field(default=None, ge=0)  # annual recurring revenue, USD
    plan: str | None = None
    renewal_date: date | None = None
    owner: str | None = None
    reference_customer: bool = False
    health: str | None = None
    timezone: str | None = None  # IANA name, for business hours
    country: str | None = None  # ISO 3166 alpha-2, for public holidays


class Deal(Record):
    id: str
    account_id: str
    name: str
    amount: float | None = None
    stage: str
    close_date: date | None = None
    renewal: bool = False  # renews revenue already counted in the account's ARR


class Message(Record):
    id: str
    channel: str
    author: str
    text: str
    posted_at: datetime
    url: str | None = None
    thread_id: str | None = None


class TrackerIssue(Record):
    id: str
    title: str
    status: str
    kind: Literal["bug", "feature", "task"] = "bug"
    resolution: str | None = None
    closed_as_fixed: bool = False
    resolved_at: datetime | None = None
    created_at: datetime | None = None
    url: str | None = None
    labels: list[str] = []


class Article(Record):
    id: str
    title: str
    snippet: str
    kind: Literal["known_issue", "workaround", "how_to", "limitation", "reference"] = "reference"
    url: str | None = None
    updated_at: datetime | None = None


class Page(BaseModel, Generic[T]):
    """One page of results; `next_cursor` is set when more exist beyond `limit`."""

    items: list[T]
    next_cursor: str | None = None

    @property
    def truncated(self) -> bool:
        return self.next_cursor is not None


class WriteReceipt(Record):
    """What a write left behind upstream: its id and where to see it."""

    id: str
    url: str | None = None
    duplicate: bool = False  # the idempotency key had been used already; nothing new was written
