"""The embedded workspace: every port on one SQLite database with FTS5 search.

It is the default adapter, the demo's data and the test double. It loads a
workspace file (see `connectors.workspace`) into SQLite once; queries run in a
worker thread so a large workspace never stalls the event loop.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from connectors.errors import NotFoundError
from connectors.health import Health
from connectors.models import (
    Account,
    Article,
    Comment,
    Deal,
    Message,
    Page,
    Record,
    Ticket,
    TrackerIssue,
    WriteReceipt,
)
from connectors.workspace import Workspace, load_workspace

R = TypeVar("R")
M = TypeVar("M", bound=Record)
Identified = Account | Article | Deal | Message | Ticket | TrackerIssue

_SCHEMA = """
CREATE TABLE records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    customer TEXT,
    at TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE VIRTUAL TABLE search USING fts5(
    kind UNINDEXED, id UNINDEXED, text, tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TABLE idempotency (key TEXT PRIMARY KEY, receipt TEXT NOT NULL);
"""

# Words that carry no meaning for matching an issue description against records.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "over",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "with",
        "not",
        "no",
        "all",
        "any",
        "after",
        "since",
    ]
)


def match_expression(query: str) -> str | None:
    """An FTS5 expression ranking records by how many of the query's words they share."""
    words = [w for w in re.findall(r"\w+", query.lower()) if w not in STOPWORDS and len(w) > 1]
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


def _instant(moment: datetime) -> str:
    """ISO text in UTC, so that comparing the strings compares the instants (naive means UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def _cursor_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise ValueError(f"cursor {cursor!r} was not issued by this workspace")
    return int(cursor)


class LocalWorkspace:
    """All five ports over one embedded SQLite workspace."""

    name = "local"

    def __init__(self, workspace: Workspace) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._db.executescript(_SCHEMA)
        self._load(workspace)

    @classmethod
    def open(cls, path: Path | None = None, *, now: datetime | None = None) -> LocalWorkspace:
        """The workspace in `path`, or the embedded demo, anchored at `now`."""
        workspace = load_workspace(path)
        return cls(workspace.shifted_to(now or datetime.now(UTC)))

    def _load(self, ws: Workspace) -> None:
        with self._db:
            for record in itertools.chain(ws.accounts, ws.deals, ws.tickets, ws.messages, ws.issues, ws.articles):
                self._index(record)

    async def _run(self, fn: Callable[[], R]) -> R:
        def locked() -> R:
            with self._lock:
                return fn()

        return await anyio.to_thread.run_sync(locked)

    def _search(
        self,
        kind: str,
        model: type[M],
        query: str,
        *,
        limit: int,
        cursor: str | None,
        where: str = "",
        params: Sequence[Any] = (),
    ) -> Page[M]:
        offset = _cursor_offset(cursor)
        expression = match_expression(query)
        if expression is None:
            sql = f"SELECT r.body FROM records r WHERE r.kind = ? {where} ORDER BY r.at DESC, r.id LIMIT ? OFFSET ?"
            args: list[Any] = [kind, *params, limit + 1, offset]
        else:
            sql = (
                "SELECT r.body FROM search s JOIN records r ON r.kind = s.kind AND r.id = s.id "
                f"WHERE search MATCH ? AND s.kind = ? {where} ORDER BY bm25(search), r.at DESC LIMIT ? OFFSET ?"
            )
            args = [expression, kind, *params, limit + 1, offset]
        rows: list[tuple[str]] = self._db.execute(sql, args).fetchall()
        items = [model.model_validate_json(row[0]) for row in rows[:limit]]
        return Page[M](items=items, next_cursor=str(offset + limit) if len(rows) > limit else None)

    def _get(self, kind: str, model: type[M], rid: str) -> M:
        row: tuple[str] | None = self._db.execute(
            "SELECT body FROM records WHERE kind = ? AND id = ?", (kind, rid)
        ).fetchone()
        if row is None:
            raise NotFoundError(self.name, f"no {kind} with id {rid!r}")
        return model.model_validate_json(row[0])

    def _index(self, record: Identified) -> None:
        """Store `record` with its search text, in place of any earlier version of it."""
        kind, text, customer, at = _indexed(record)
        rid: str = record.id
        self._db.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)",
            (kind, rid, customer, at, record.model_dump_json()),
        )
        self._db.execute("DELETE FROM search WHERE kind = ? AND id = ?", (kind, rid))
        self._db.execute("INSERT INTO search VALUES (?, ?, ?)", (kind, rid, text))

    def _once(self, key: str, write: Callable[[], WriteReceipt]) -> WriteReceipt:
        """Run `write` unless `key` was used before; then return the first receipt, marked duplicate."""
        row: tuple[str] | None = self._db.execute("SELECT receipt FROM idempotency WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return WriteReceipt.model_validate_json(row[0]).model_copy(update={"duplicate": True})
        with self._db:
            receipt = write()
            self._db.execute("INSERT INTO idempotency VALUES (?, ?)", (key, receipt.model_dump_json()))
        return receipt

    async def check(self) -> Health:
        """Always reachable; says how much it holds."""

        def count() -> int:
            row: tuple[int] = self._db.execute("SELECT count(*) FROM records").fetchone()
            return row[0]

        return Health(ok=True, detail=f"embedded workspace with {await self._run(count)} records")

    # support platform

    async def search_tickets(
        self,
        query: str,
        *,
        customer: str | None = None,
        since: datetime | None = None,
        limit: int = 10,
        cursor: str | None = None,
    ) -> Page[Ticket]:
        where, params = _filters(("r.customer = ? COLLATE NOCASE", customer), ("r.at >= ?", since and _instant(since)))
        return await self._run(
            lambda: self._search("ticket", Ticket, query, limit=limit, cursor=cursor, where=where, params=params)
        )

    async def get_ticket(self, ticket_id: str) -> Ticket:
        return await self._run(lambda: self._get("ticket", Ticket, ticket_id))

    async def add_internal_note(self, ticket_id: str, body: str, *, idempotency_key: str) -> WriteReceipt:
        def write() -> WriteReceipt:
            ticket = self._get("ticket", Ticket, ticket_id)
            note = Comment(author="escalation-mcp", body=body, created_at=datetime.now(UTC), public=False)
            updated = ticket.model_copy(update={"comments": [*ticket.comments, note]})
            self._index(updated)
            return WriteReceipt(id=f"{ticket_id}#note-{len(updated.comments)}", url=ticket.url)

        return await self._run(lambda: self._once(f"note:{idempotency_key}", write))

    # CRM

    async def search_accounts(self, query: str, *, limit: int = 10) -> list[Account]:
        def find() -> list[Account]:
            exact = query.strip().lower()
            needle = exact.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")  # LIKE-escaped
            rows: list[tuple[str]] = self._db.execute(
                "SELECT body FROM records WHERE kind = 'account' "
                "AND (lower(customer) LIKE ? ESCAPE '\\' OR lower(json_extract(body, '$.domain')) LIKE ? ESCAPE '\\') "
                "ORDER BY lower(customer) != ?, lower(customer) NOT LIKE ? ESCAPE '\\', customer LIMIT ?",
                (f"%{needle}%", f"%{needle}%", exact, f"{needle}%", limit),
            ).fetchall()
            return [Account.model_validate_json(r[0]) for r in rows]

        return await self._run(find)

    async def accounts_on_plan(self, plan: str, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        def find() -> Page[Account]:
            offset = _cursor_offset(cursor)
            rows: list[tuple[str]] = self._db.execute(
                "SELECT body FROM records WHERE kind = 'account' "
                "AND lower(json_extract(body, '$.plan')) = lower(?) ORDER BY customer LIMIT ? OFFSET ?",
                (plan.strip(), limit + 1, offset),
            ).fetchall()
            items = [Account.model_validate_json(r[0]) for r in rows[:limit]]
            return Page[Account](items=items, next_cursor=str(offset + limit) if len(rows) > limit else None)

        return await self._run(find)

    async def open_deals(self, account_id: str) -> list[Deal]:
        def find() -> list[Deal]:
            rows: list[tuple[str]] = self._db.execute(
                "SELECT body FROM records WHERE kind = 'deal' AND customer = ? "
                "AND json_extract(body, '$.stage') NOT IN ('closed_won', 'closed_lost') ORDER BY id",
                (account_id,),
            ).fetchall()
            return [Deal.model_validate_json(r[0]) for r in rows]

        return await self._run(find)

    # chat

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]:
        return await self._run(lambda: self._search("message", Message, query, limit=limit, cursor=cursor))

    async def post_message(self, channel: str, text: str, *, idempotency_key: str) -> WriteReceipt:
        def write() -> WriteReceipt:
            message = Message(
                id=f"local-msg-{next(self._ids)}",
                channel=channel,
                author="escalation-mcp",
                text=text,
                posted_at=datetime.now(UTC),
            )
            self._index(message)
            return WriteReceipt(id=message.id)

        return await self._run(lambda: self._once(f"message:{idempotency_key}", write))

    # tracker

    async def search_issues(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[TrackerIssue]:
        return await self._run(lambda: self._search("issue", TrackerIssue, query, limit=limit, cursor=cursor))

    async def create_issue(self, title: str, body: str, *, labels: list[str], idempotency_key: str) -> WriteReceipt:
        def write() -> WriteReceipt:
            issue = TrackerIssue(
                id=f"LOCAL-{next(self._ids)}",
                title=title,
                status="Open",
                labels=labels,
                created_at=datetime.now(UTC),
            )
            self._index(issue)
            return WriteReceipt(id=issue.id)

        return await self._run(lambda: self._once(f"issue:{idempotency_key}", write))

    # knowledge base

    async def search_articles(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Article]:
        return await self._run(lambda: self._search("article", Article, query, limit=limit, cursor=cursor))


def _indexed(record: Identified) -> tuple[str, str, str | None, str | None]:
    """A record's kind, search text, owning customer (account name, or account id for a deal) and sort time."""
    match record:
        case Account():
            return "account", f"{record.name} {record.domain or ''}", record.name, None
        case Deal():
            return "deal", record.name, record.account_id, None
        case Ticket():
            text = " ".join([record.subject, record.body, *record.tags, *(c.body for c in record.comments)])
            return "ticket", text, record.customer, _instant(record.created_at)
        case Message():
            return "message", f"{record.channel} {record.text}", None, _instant(record.posted_at)
        case TrackerIssue():
            return "issue", f"{record.id} {record.title} {' '.join(record.labels)}", None, None
        case Article():
            return "article", f"{record.title} {record.snippet}", None, None


def _filters(*conditions: tuple[str, object]) -> tuple[str, list[object]]:
    """SQL `AND ...` clauses and their parameters for the conditions whose value is set."""
    active: Iterable[tuple[str, object]] = [(sql, value) for sql, value in conditions if value is not None]
    return "".join(f" AND {sql}" for sql, _ in active), [value for _, value in active]
