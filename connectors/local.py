"""The embedded workspace: every port on one SQLite database with FTS5 search.

It is the default adapter, the demo's data and the test double. It loads a workspace
file (see `connectors.workspace`) once into a private SQLite file in the temp directory
(removed again on `close()`, garbage collection or exit), in one pass that stays linear
in the workspace's size. Queries run in worker threads, each on its own read connection,
so the five sources of a `gather_context` call run side by side; writes go through one
connection, one at a time, and the database's write-ahead log lets reads carry on meanwhile.

Searching: each searchable kind has a contentless FTS5 index keyed by the record's rowid.
Records are stored oldest first, so rowid order is time order: a time window becomes a
rowid range the index skips to, and bm25 ranks only matches that pass the window and
customer filters, a block of the newest 500 at a time (see `LocalWorkspace._ranked`), never
the whole workspace. Cursors carry the offset and a tag of the search that issued them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import queue
import re
import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

import anyio.to_thread

from connectors.errors import InvalidCursorError, NotFoundError
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
from connectors.workspace import Workspace, read_records, shifted

R = TypeVar("R")
M = TypeVar("M", bound=Record)
Identified = Account | Article | Deal | Message | Ticket | TrackerIssue

_TOKENIZER = "porter unicode61 remove_diacritics 2"
# One full-text index per searchable kind, so a chat search never wades through ticket matches.
# Contentless: the text lives once, in `records.body`; replacing a record re-derives its old text.
TEXT_TABLES = {"ticket": "ticket_text", "message": "message_text", "issue": "issue_text", "article": "article_text"}
# Account names and domains, by trigram: a substring search of the accounts reads only the candidates the
# index gives instead of every account. The trigram tokenizer folds case as LIKE does and more, so its
# candidates hold every LIKE match, and the LIKE filter on the row still decides.
NAME_TABLE = "account_names"
_INDEXED = {**TEXT_TABLES, "account": NAME_TABLE}

_SCHEMA = (
    """
CREATE TABLE records (
    n INTEGER PRIMARY KEY,  -- the rowid, shared with the kind's text index
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    customer TEXT,  -- account name (an account's own name; a deal's account id)
    at TEXT,        -- sort time, ISO in UTC
    domain TEXT,    -- accounts only
    plan TEXT,      -- accounts only
    body TEXT NOT NULL  -- last: a row's small columns are read without touching its long body
);
CREATE TABLE idempotency (key TEXT PRIMARY KEY, receipt TEXT NOT NULL);
"""
    + "".join(
        f"CREATE VIRTUAL TABLE {table} USING fts5(text, content='', tokenize='{_TOKENIZER}');\n"
        for table in TEXT_TABLES.values()
    )
    + f"CREATE VIRTUAL TABLE {NAME_TABLE} USING fts5(text, content='', tokenize='trigram');\n"
)
# Built after the bulk load: one sort per index is much cheaper than keeping them up to date row by row.
# ANALYZE gives the planner the indexes' selectivity: without it, an account's deals in id order were
# read by walking every deal in the id index rather than the few of that account.
_INDEXES = """
CREATE UNIQUE INDEX records_key ON records (kind, id);
CREATE INDEX records_time ON records (kind, at);
CREATE INDEX records_customer ON records (kind, customer COLLATE NOCASE, at);
ANALYZE records;
"""
RANK_BLOCK = 500  # matches ranked together; see LocalWorkspace._ranked
_FTS_BUFFER = 16 << 20  # bytes of pending full-text index held in memory while loading (see _load)
_IN_CHUNK = 500  # values per IN (...) list: far below SQLite's limit on bound parameters
_CHUNK = 2000  # records per executemany: large enough to amortise the call, small enough to hold
_FROM_STAGING = (
    """
BEGIN;
CREATE TEMP TABLE ordering (n INTEGER PRIMARY KEY, s INTEGER NOT NULL, kind TEXT NOT NULL);
INSERT INTO ordering (n, s, kind)
    SELECT row_number() OVER (ORDER BY kind, at, rowid), rowid, kind FROM staging
    WHERE rowid IN (SELECT max(rowid) FROM staging GROUP BY kind, id);
INSERT INTO records (n, kind, id, customer, at, domain, plan, body)
    SELECT o.n, s.kind, s.id, s.customer, s.at, s.domain, s.plan, s.body
    FROM ordering o JOIN staging s ON s.rowid = o.s;
"""
    + "".join(
        f"INSERT INTO {table} (rowid, text) SELECT o.n, s.text FROM ordering o JOIN staging s ON s.rowid = o.s "
        f"WHERE o.kind = '{kind}';\n"
        for kind, table in _INDEXED.items()
    )
    + _INDEXES
    + "DROP TABLE ordering; DROP TABLE staging; COMMIT;"
)

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


def _scope(*parts: object) -> str:
    """A short tag naming one search, carried in its cursors so a cursor cannot resume another search."""
    return hashlib.blake2b("\0".join(str(p) for p in parts).encode(), digest_size=4).hexdigest()


def _cursor(offset: int, scope: str) -> str:
    return f"{offset}.{scope}"


def _cursor_offset(source: str, cursor: str | None, scope: str) -> int:
    if cursor is None:
        return 0
    offset, _, tag = cursor.partition(".")
    if not (offset.isdigit() and tag == scope):
        raise InvalidCursorError(
            source, f"cursor {cursor!r} is not one this source issued; start again without a cursor"
        )
    return int(offset)


class _Database:
    """A private SQLite file: one connection that writes, and a pool of connections that only read.

    Holds no reference to the workspace, so that a finalizer can close it once the workspace is gone.
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="escalation-workspace-"))
        self.path = self.directory / "workspace.db"
        self.write_lock = threading.Lock()
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self.closed = False
        self.writer = self._connect()
        # The file is a disposable copy of the workspace, rebuilt at every start: durability buys nothing.
        self.writer.execute("PRAGMA synchronous = OFF")

    def _connect(self) -> sqlite3.Connection:
        with self._opened_lock:
            if self.closed:
                raise RuntimeError("the local workspace is closed")
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._opened.append(connection)
        return connection

    @contextmanager
    def reader(self) -> Generator[sqlite3.Connection]:
        """A read connection for this thread's query, returned to the pool afterwards."""
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._connect()
            connection.execute("PRAGMA query_only = ON")
        try:
            yield connection
        finally:
            self._idle.put(connection)

    def close(self) -> None:
        with self._opened_lock:
            self.closed = True
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class _Row(NamedTuple):
    """What the database stores about a record besides its JSON body."""

    kind: str
    customer: str | None
    at: str | None
    domain: str | None
    plan: str | None
    text: str | None  # what the kind's index holds (see _INDEXED); None for kinds without one


class LocalWorkspace:
    """All five ports over one embedded SQLite workspace."""

    name = "local"

    def __init__(self, workspace: Workspace, *, now: datetime | None = None) -> None:
        """Store `workspace`; with `now`, shift its timestamps so its anchor lands there (see `Workspace.anchor`)."""
        self._start(lambda: _members(workspace), now)

    @classmethod
    def open(cls, path: Path | None = None, *, now: datetime | None = None) -> LocalWorkspace:
        """The workspace in `path`, or the embedded demo, anchored at `now`.

        The file is read one record at a time, never held whole: a large workspace costs
        memory only for the SQLite file's cache. Raises `WorkspaceFileError` for a broken file.
        """
        workspace = cls.__new__(cls)
        workspace._start(lambda: read_records(path), now or datetime.now(UTC))
        return workspace

    def _start(self, records: Callable[[], Iterable[datetime | Identified]], now: datetime | None) -> None:
        self._db = _Database()
        self._closer = weakref.finalize(self, self._db.close)
        self._ids = itertools.count(1)
        try:
            self._load(records, now)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop the database file; the workspace cannot be used afterwards."""
        self._closer()

    async def aclose(self) -> None:
        self.close()

    def _load(
        self, records: Callable[[], Iterable[datetime | Identified]], now: datetime | None, *, fresh: bool = True
    ) -> None:
        """Fill the database from `records` (the anchor, if any, among them) in time linear in their number.

        Records are staged in file order, then copied oldest first per kind, so rowid order is time
        order (see the module docstring) whatever the file's order; the last of several records with
        one id wins, as replacing them one by one would leave.
        """
        db = self._db.writer
        if fresh:
            # Nothing to roll back to while the file is first filled: a failed load discards the whole file.
            db.execute("PRAGMA journal_mode = OFF")
            db.executescript(_SCHEMA)
            for table in TEXT_TABLES.values():
                # FTS5 flushes its in-memory index to a new segment every `hashsize` bytes (1 MiB by default)
                # and merges segments as they pile up: on 100,000 tickets that merging made the build grow
                # faster than the rows. 16 MiB segments halve the ticket index's build; queries are unchanged.
                with contextlib.suppress(sqlite3.OperationalError):  # an SQLite without the option builds as before
                    db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('hashsize', ?)", (_FTS_BUFFER,))
        db.execute("BEGIN")
        db.execute("DROP TABLE IF EXISTS staging")
        # TEMP: SQLite keeps it in a file of its own that is gone once dropped, so the database file
        # does not keep the staged copy's pages as free space.
        db.execute("CREATE TEMP TABLE staging (kind, id, customer, at, domain, plan, body, text)")
        delta: timedelta | None = None
        staged = False
        chunk: list[tuple[str | None, ...]] = []
        for item in records():
            if isinstance(item, datetime):
                if staged:
                    # The anchor came after records already stored unshifted: start again knowing it.
                    db.execute("COMMIT")
                    self._load(functools.partial(_anchored, item, records), now, fresh=False)
                    return
                delta = now - item if now else None
                continue
            stored = shifted(item, delta) if delta else item
            row = _row(stored)
            chunk.append(
                (row.kind, stored.id, row.customer, row.at, row.domain, row.plan, stored.model_dump_json(), row.text)
            )
            staged = True
            if len(chunk) == _CHUNK:
                db.executemany("INSERT INTO staging VALUES (?, ?, ?, ?, ?, ?, ?, ?)", chunk)
                chunk.clear()
        db.executemany("INSERT INTO staging VALUES (?, ?, ?, ?, ?, ?, ?, ?)", chunk)
        db.executescript(_FROM_STAGING)  # commits the staged rows first, then copies them in one transaction
        # Readers run beside the writer from here on; WAL lets them read while a write is under way.
        db.execute("PRAGMA journal_mode = WAL")

    async def _read(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        def run() -> R:
            with self._db.reader() as connection:
                return fn(connection)

        return await anyio.to_thread.run_sync(run)

    async def _write(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        def run() -> R:
            with self._db.write_lock:
                return fn(self._db.writer)

        return await anyio.to_thread.run_sync(run)

    async def _write_once(self, key: str, write: Callable[[sqlite3.Connection], WriteReceipt]) -> WriteReceipt:
        """`write` on the writer unless `key` was used before (see `_once`)."""
        return await self._write(lambda db: self._once(db, key, lambda: write(db)))

    def _search(
        self,
        db: sqlite3.Connection,
        kind: str,
        model: type[M],
        query: str,
        *,
        limit: int,
        cursor: str | None,
        customer: str | None = None,
        since: datetime | None = None,
    ) -> Page[M]:
        expression = match_expression(query)
        scope = _scope(kind, expression, customer and customer.lower())
        offset = _cursor_offset(self.name, cursor, scope)
        start = since and _instant(since)
        where, params = _filters(("r.customer = ? COLLATE NOCASE", customer), ("r.at >= ?", start))
        if expression is None:
            found: list[tuple[int]] = db.execute(
                f"SELECT n FROM records r WHERE kind = ? {where} ORDER BY at DESC, id LIMIT ? OFFSET ?",
                [kind, *params, limit + 1, offset],
            ).fetchall()
        else:
            table = TEXT_TABLES[kind]
            lowest = 0
            if start is not None:
                # Every record in the window has a rowid at least this, and as rowids follow time the
                # index starts its walk there, skipping the older matches instead of filtering them out.
                first: tuple[int | None] = db.execute(
                    "SELECT min(n) FROM records WHERE kind = ? AND at >= ?", (kind, start)
                ).fetchone()
                if first[0] is None:
                    return Page[M](items=[])
                lowest = first[0]
            join = f"JOIN records r ON r.n = s.rowid {where}" if where else ""
            found = self._ranked(db, table, expression, join, [*params, expression, lowest], offset, limit + 1)
        page = [n for (n,) in found[:limit]]
        bodies = dict(
            db.execute(f"SELECT n, body FROM records WHERE n IN ({', '.join('?' * len(page))})", page).fetchall()
        )
        return Page[M](
            items=[model.model_validate_json(bodies[n]) for n in page],
            next_cursor=_cursor(offset + limit, scope) if len(found) > limit else None,
        )

    @staticmethod
    def _ranked(
        db: sqlite3.Connection, table: str, expression: str, join: str, params: list[Any], offset: int, count: int
    ) -> list[tuple[int]]:
        """Rowids of the matches at ranks `offset` to `offset + count`, best first.

        Scoring a row with bm25 walks its position lists, so ranking every match of a common word in a
        large workspace would cost a tenth of a second. Matches are instead ranked in blocks of
        RANK_BLOCK, newest block first: the newest 500 matches that pass the filters, best first, then
        the next 500, and so on, so paging still reaches every match once. A search with fewer matches
        (every search of a small workspace) is ranked as a whole. What still grows with the workspace
        is bm25's document count per query word (its IDF), which FTS5 takes over the whole index.
        """
        found: list[tuple[int]] = []
        block, skip = divmod(offset, RANK_BLOCK)
        while len(found) < count:
            # The inner query walks the index newest first and stops after one block; only the rowids and
            # scores of that block are sorted, and the long bodies are read later for the page alone.
            ranked: list[tuple[int]] = db.execute(
                f"SELECT n FROM (SELECT s.rowid AS n, bm25({table}) AS score FROM {table} s {join} "
                f"WHERE {table} MATCH ? AND s.rowid >= ? ORDER BY s.rowid DESC LIMIT ? OFFSET ?) "
                "ORDER BY score, n DESC",
                [*params, RANK_BLOCK, block * RANK_BLOCK],
            ).fetchall()
            found += ranked[skip : skip + count - len(found)]
            if len(ranked) < RANK_BLOCK:
                break
            block, skip = block + 1, 0
        return found

    def _get(self, db: sqlite3.Connection, kind: str, model: type[M], rid: str) -> M:
        row: tuple[str] | None = db.execute(
            "SELECT body FROM records WHERE kind = ? AND id = ?", (kind, rid)
        ).fetchone()
        if row is None:
            raise NotFoundError(self.name, f"no {kind} with id {rid!r}")
        return model.model_validate_json(row[0])

    def _store(self, db: sqlite3.Connection, record: Identified) -> None:
        """Store `record` in place of any earlier version of it, in the index too (one row, one entry)."""
        row = _row(record)
        old: tuple[int, str] | None = db.execute(
            "SELECT n, body FROM records WHERE kind = ? AND id = ?", (row.kind, record.id)
        ).fetchone()
        table = _INDEXED.get(row.kind)
        if old is None:
            cursor = db.execute(
                "INSERT INTO records (kind, id, customer, at, domain, plan, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.kind, record.id, row.customer, row.at, row.domain, row.plan, record.model_dump_json()),
            )
            n = cursor.lastrowid
        else:
            n, body = old
            db.execute(
                "UPDATE records SET customer = ?, at = ?, domain = ?, plan = ?, body = ? WHERE n = ?",
                (row.customer, row.at, row.domain, row.plan, record.model_dump_json(), n),
            )
            if table is not None:
                # A contentless index forgets an entry only when told the exact text it indexed.
                previous = _row(type(record).model_validate_json(body)).text
                db.execute(f"INSERT INTO {table} ({table}, rowid, text) VALUES ('delete', ?, ?)", (n, previous))
        if table is not None:
            db.execute(f"INSERT INTO {table} (rowid, text) VALUES (?, ?)", (n, row.text))

    def _once(self, db: sqlite3.Connection, key: str, write: Callable[[], WriteReceipt]) -> WriteReceipt:
        """Run `write` unless `key` was used before; then return the first receipt, marked duplicate.

        Called under the write lock, so the look-up and the write cannot interleave with another write.
        """
        row: tuple[str] | None = db.execute("SELECT receipt FROM idempotency WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return WriteReceipt.model_validate_json(row[0]).model_copy(update={"duplicate": True})
        db.execute("BEGIN IMMEDIATE")
        try:
            receipt = write()
            db.execute("INSERT INTO idempotency VALUES (?, ?)", (key, receipt.model_dump_json()))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return receipt

    async def check(self) -> Health:
        """Always reachable; says how much it holds."""

        def count(db: sqlite3.Connection) -> int:
            row: tuple[int] = db.execute("SELECT count(*) FROM records").fetchone()
            return row[0]

        return Health(ok=True, detail=f"embedded workspace with {await self._read(count)} records")

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
        return await self._read(
            lambda db: self._search(
                db, "ticket", Ticket, query, limit=limit, cursor=cursor, customer=customer, since=since
            )
        )

    async def get_ticket(self, ticket_id: str) -> Ticket:
        return await self._read(lambda db: self._get(db, "ticket", Ticket, ticket_id))

    async def add_internal_note(self, ticket_id: str, body: str, *, idempotency_key: str) -> WriteReceipt:
        def note(db: sqlite3.Connection) -> WriteReceipt:
            ticket = self._get(db, "ticket", Ticket, ticket_id)
            added = Comment(author="escalation-mcp", body=body, created_at=datetime.now(UTC), public=False)
            updated = ticket.model_copy(update={"comments": [*ticket.comments, added]})
            self._store(db, updated)
            return WriteReceipt(id=f"{ticket_id}#note-{len(updated.comments)}", url=ticket.url)

        return await self._write_once(f"note:{idempotency_key}", note)

    # CRM

    async def search_accounts(self, query: str, *, limit: int = 10) -> list[Account]:
        def find(db: sqlite3.Connection) -> list[Account]:
            exact = query.strip().lower()
            needle = exact.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")  # LIKE-escaped
            # A trigram needs three characters: a shorter query reads every account.
            indexed = len(exact) >= 3
            source = (
                f"records r JOIN (SELECT rowid FROM {NAME_TABLE} WHERE {NAME_TABLE} MATCH ?) t ON r.n = t.rowid"
                if indexed
                else "records r"
            )
            phrase = '"' + exact.replace('"', '""') + '"'
            rows: list[tuple[str]] = db.execute(
                # LIKE already ignores ASCII case, as SQLite's lower() does (and no more); wrapping the
                # columns in lower() made this scan several times slower.
                f"SELECT body FROM {source} WHERE kind = 'account' "
                "AND (customer LIKE ? ESCAPE '\\' OR domain LIKE ? ESCAPE '\\') "
                "ORDER BY lower(customer) != ?, customer NOT LIKE ? ESCAPE '\\', customer LIMIT ?",
                ([phrase] if indexed else []) + [f"%{needle}%", f"%{needle}%", exact, f"{needle}%", limit],
            ).fetchall()
            return [Account.model_validate_json(r[0]) for r in rows]

        return await self._read(find)

    async def accounts_on_plan(self, plan: str, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        def find(db: sqlite3.Connection) -> Page[Account]:
            wanted = plan.strip().lower()
            scope = _scope("plan", wanted)
            offset = _cursor_offset(self.name, cursor, scope)
            rows: list[tuple[str]] = db.execute(
                "SELECT body FROM records WHERE kind = 'account' AND lower(plan) = ? "
                "ORDER BY customer LIMIT ? OFFSET ?",
                (wanted, limit + 1, offset),
            ).fetchall()
            items = [Account.model_validate_json(r[0]) for r in rows[:limit]]
            more = len(rows) > limit
            return Page[Account](items=items, next_cursor=_cursor(offset + limit, scope) if more else None)

        return await self._read(find)

    async def accounts_named(self, names: Sequence[str]) -> list[Account]:
        wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))

        def find(db: sqlite3.Connection) -> list[Account]:
            found: list[Account] = []
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows: list[tuple[str]] = db.execute(
                    # NOCASE, as LIKE in search_accounts: ASCII case only. One scan for every name at once.
                    "SELECT body FROM records WHERE kind = 'account' "
                    f"AND (customer COLLATE NOCASE IN ({marks}) OR domain COLLATE NOCASE IN ({marks})) "
                    "ORDER BY customer",
                    [*chunk, *chunk],
                ).fetchall()
                found += [Account.model_validate_json(r[0]) for r in rows]
            return list({a.id: a for a in found}.values())

        return await self._read(find) if wanted else []

    async def open_deals_of(self, account_ids: Sequence[str]) -> dict[str, list[Deal]]:
        wanted = list(dict.fromkeys(account_ids))

        def find(db: sqlite3.Connection) -> dict[str, list[Deal]]:
            by_key: dict[str, list[Deal]] = {}
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                rows: list[tuple[str, str]] = db.execute(
                    "SELECT customer, body FROM records WHERE kind = 'deal' "
                    f"AND customer COLLATE NOCASE IN ({', '.join('?' * len(chunk))}) "
                    "AND json_extract(body, '$.stage') NOT IN ('closed_won', 'closed_lost') ORDER BY id",
                    chunk,
                ).fetchall()
                for customer, body in rows:
                    by_key.setdefault(customer.lower(), []).append(Deal.model_validate_json(body))
            return {a: by_key.get(a.lower(), []) for a in wanted}

        return await self._read(find) if wanted else {}

    async def open_deals(self, account_id: str) -> list[Deal]:
        def find(db: sqlite3.Connection) -> list[Deal]:
            rows: list[tuple[str]] = db.execute(
                # NOCASE to match the records_customer index: one lookup, not a scan of every deal.
                "SELECT body FROM records WHERE kind = 'deal' AND customer = ? COLLATE NOCASE "
                "AND json_extract(body, '$.stage') NOT IN ('closed_won', 'closed_lost') ORDER BY id",
                (account_id,),
            ).fetchall()
            return [Deal.model_validate_json(r[0]) for r in rows]

        return await self._read(find)

    # chat

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]:
        return await self._read(lambda db: self._search(db, "message", Message, query, limit=limit, cursor=cursor))

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        idempotency_key: str,
        blocks: list[dict[str, Any]] | None = None,
        html: str | None = None,
    ) -> WriteReceipt:
        # The local store keeps what people read: the text; blocks and html are renderings of it.
        def post(db: sqlite3.Connection) -> WriteReceipt:
            message = Message(
                id=f"local-msg-{next(self._ids)}",
                channel=channel,
                author="escalation-mcp",
                text=text,
                posted_at=datetime.now(UTC),
            )
            self._store(db, message)
            return WriteReceipt(id=message.id)

        return await self._write_once(f"message:{idempotency_key}", post)

    # tracker

    async def search_issues(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[TrackerIssue]:
        return await self._read(lambda db: self._search(db, "issue", TrackerIssue, query, limit=limit, cursor=cursor))

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
        # One local tracker has no projects and no document format: the Markdown body is the issue.
        def create(db: sqlite3.Connection) -> WriteReceipt:
            issue = TrackerIssue(
                id=f"LOCAL-{next(self._ids)}",
                title=title,
                status="Open",
                labels=labels,
                created_at=datetime.now(UTC),
            )
            self._store(db, issue)
            return WriteReceipt(id=issue.id)

        return await self._write_once(f"issue:{idempotency_key}", create)

    # knowledge base

    async def search_articles(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Article]:
        return await self._read(lambda db: self._search(db, "article", Article, query, limit=limit, cursor=cursor))


def _row(record: Identified) -> _Row:
    match record:
        case Account():
            names = f"{record.name}\n{record.domain or ''}"
            return _Row("account", record.name, None, record.domain, record.plan, names)
        case Deal():
            return _Row("deal", record.account_id, None, None, None, None)
        case Ticket():
            text = " ".join([record.subject, record.body, *record.tags, *(c.body for c in record.comments)])
            return _Row("ticket", record.customer, _instant(record.created_at), None, None, text)
        case Message():
            return _Row("message", None, _instant(record.posted_at), None, None, f"{record.channel} {record.text}")
        case TrackerIssue():
            at = record.created_at and _instant(record.created_at)
            return _Row("issue", None, at, None, None, f"{record.id} {record.title} {' '.join(record.labels)}")
        case Article():
            at = record.updated_at and _instant(record.updated_at)
            return _Row("article", None, at, None, None, f"{record.title} {record.snippet}")


def _members(workspace: Workspace) -> Iterator[datetime | Identified]:
    """A workspace's anchor and records in the order a workspace file holds them."""
    if workspace.anchor is not None:
        yield workspace.anchor
    for records in (workspace.accounts, workspace.deals, workspace.tickets):
        yield from records
    for records in (workspace.messages, workspace.issues, workspace.articles):
        yield from records


def _anchored(
    anchor: datetime, records: Callable[[], Iterable[datetime | Identified]]
) -> Iterator[datetime | Identified]:
    """`records` with `anchor` first and no other anchor."""
    yield anchor
    yield from (r for r in records() if not isinstance(r, datetime))


def _filters(*conditions: tuple[str, object]) -> tuple[str, list[object]]:
    """SQL `AND ...` clauses and their parameters for the conditions whose value is set."""
    active: Iterable[tuple[str, object]] = [(sql, value) for sql, value in conditions if value is not None]
    return "".join(f" AND {sql}" for sql, _ in active), [value for _, value in active]
