"""The ledger on one SQLite file: WAL for concurrent readers, synchronous=FULL so a commit survives power loss.

Several processes (the server and a worker) may share the file: every write is one `BEGIN IMMEDIATE`
transaction, which SQLite serializes across processes, so a worker's claim (lease columns on the
escalation row) is as exclusive here as `FOR UPDATE SKIP LOCKED` is on PostgreSQL.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from connectors.models import WriteReceipt
from server.models import (
    Claim,
    DueFollowup,
    Escalation,
    EscalationFilter,
    EscalationPage,
    EscalationRecord,
    Followup,
    OutboxEntry,
    TimelineEvent,
)
from server.store import NotFound
from server.store.common import (
    NEVER,
    clamp,
    customer_key,
    decode_cursor,
    encode_cursor,
    followup_of,
    is_open,
    migrate,
    sqlite_is_current,
    summary_of,
    ts,
)

R = TypeVar("R")

_NEVER = ts(NEVER)
_OUTBOX_COLUMNS = "key, batch, escalation_id, kind, destination, payload, created_at, attempts, receipt, sent_at"
_Row = tuple[str, str | None, str | None, str, str, str, str, int, str | None, str | None]


class SqliteLedger:
    """The default ledger; one connection, serialized, used from a worker thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if not sqlite_is_current(self._db):
            migrate(f"sqlite:///{path.resolve()}", "sqlite")
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=30000")
        # Reads through a memory map and a 16 MB page cache: a list page touches a few dozen scattered pages,
        # which otherwise cost a system call each once the file outgrows SQLite's 2 MB default cache.
        self._db.execute("PRAGMA mmap_size=268435456")
        self._db.execute("PRAGMA cache_size=-16000")

    async def _run(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        def in_transaction() -> R:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                return result

        return await anyio.to_thread.run_sync(in_transaction)

    @staticmethod
    def _event(db: sqlite3.Connection, escalation_id: str, event: TimelineEvent) -> None:
        db.execute(
            "INSERT INTO timeline (escalation_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (escalation_id, event.at.isoformat(), event.kind, event.detail),
        )

    @staticmethod
    def _exists(db: sqlite3.Connection, escalation_id: str) -> None:
        if db.execute("SELECT 1 FROM escalations WHERE id = ?", (escalation_id,)).fetchone() is None:
            raise NotFound(escalation_id)

    @staticmethod
    def _index(db: sqlite3.Connection, escalation: Escalation) -> None:
        """Copy the fields the list filters on out of the body, and the targets into their own table."""
        db.execute(
            "UPDATE escalations SET status = ?, is_open = ?, customer_key = ?, severity = ?, owner = ?, team = ? "
            "WHERE id = ?",
            (
                escalation.status,
                is_open(escalation),
                customer_key(escalation),
                escalation.severity,
                escalation.owner,
                escalation.team,
                escalation.id,
            ),
        )
        db.execute("DELETE FROM escalation_targets WHERE escalation_id = ?", (escalation.id,))
        db.executemany(
            "INSERT OR IGNORE INTO escalation_targets (escalation_id, target) VALUES (?, ?)",
            [(escalation.id, target) for target in escalation.targets],
        )

    @staticmethod
    def _refresh_due(db: sqlite3.Connection, escalation_id: str) -> None:
        db.execute(
            "UPDATE escalations SET "
            "next_due_at = coalesce((SELECT min(due_at) FROM followups WHERE escalation_id = ?1 "
            "AND state = 'pending'), ?2), "
            "next_work_at = coalesce((SELECT min(due_at) FROM followups WHERE escalation_id = ?1 "
            "AND state = 'pending' AND reminded_at IS NULL), ?2) WHERE id = ?1",
            (escalation_id, _NEVER),
        )

    async def create(self, escalation: Escalation, event: TimelineEvent) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO escalations (id, created_at, updated_at, body) VALUES (?, ?, ?, ?)",
                (
                    escalation.id,
                    escalation.created_at.isoformat(),
                    escalation.updated_at.isoformat(),
                    escalation.model_dump_json(),
                ),
            )
            self._index(db, escalation)
            self._event(db, escalation.id, event)

        await self._run(write)

    @classmethod
    def _save(cls, db: sqlite3.Connection, escalation: Escalation) -> None:
        cls._exists(db, escalation.id)
        db.execute(
            "UPDATE escalations SET updated_at = ?, body = ? WHERE id = ?",
            (escalation.updated_at.isoformat(), escalation.model_dump_json(), escalation.id),
        )
        cls._index(db, escalation)

    async def update(self, escalation: Escalation, *events: TimelineEvent) -> None:
        def write(db: sqlite3.Connection) -> None:
            self._save(db, escalation)
            for event in events:
                self._event(db, escalation.id, event)

        await self._run(write)

    async def append(self, escalation_id: str, event: TimelineEvent) -> None:
        def write(db: sqlite3.Connection) -> None:
            self._exists(db, escalation_id)
            self._event(db, escalation_id, event)

        await self._run(write)

    async def schedule(
        self,
        escalation_id: str,
        followups: list[Followup],
        *events: TimelineEvent,
        escalation: Escalation | None = None,
    ) -> None:
        def write(db: sqlite3.Connection) -> None:
            self._exists(db, escalation_id)
            if escalation is not None:
                self._save(db, escalation)
            db.execute(
                "UPDATE followups SET state = 'cancelled', body = json_set(body, '$.state', 'cancelled') "
                "WHERE escalation_id = ? AND state = 'pending'",
                (escalation_id,),
            )
            db.executemany(
                "INSERT INTO followups (id, escalation_id, kind, due_at, body, state) VALUES (?, ?, ?, ?, ?, ?)",
                [(f.id, f.escalation_id, f.kind, ts(f.due_at), f.model_dump_json(), f.state) for f in followups],
            )
            for event in events:
                self._event(db, escalation_id, event)
            for touched in {escalation_id, *(f.escalation_id for f in followups)}:
                self._refresh_due(db, touched)

        await self._run(write)

    async def get(self, escalation_id: str) -> EscalationRecord:
        def read(db: sqlite3.Connection) -> EscalationRecord:
            row: tuple[str] | None = db.execute(
                "SELECT body FROM escalations WHERE id = ?", (escalation_id,)
            ).fetchone()
            if row is None:
                raise NotFound(escalation_id)
            events = [
                TimelineEvent.model_validate({"at": at, "kind": kind, "detail": detail})
                for at, kind, detail in db.execute(
                    "SELECT at, kind, detail FROM timeline WHERE escalation_id = ? ORDER BY seq",
                    (escalation_id,),
                )
            ]
            followups = [
                followup_of(body, state)
                for body, state in db.execute(
                    "SELECT body, state FROM followups WHERE escalation_id = ? ORDER BY due_at, kind",
                    (escalation_id,),
                )
            ]
            return EscalationRecord.model_validate({**json.loads(row[0]), "timeline": events, "followups": followups})

        return await self._run(read)

    async def list_open(
        self, where: EscalationFilter, *, now: datetime, limit: int = 20, cursor: str | None = None
    ) -> EscalationPage:
        size = clamp(limit)
        clauses: list[str] = []
        args: list[object] = []
        if where.status is None:
            clauses.append("e.is_open = 1")
        else:
            clauses.append("e.status = ?")
            args.append(where.status)
        for column, value in (
            ("customer_key", where.customer.casefold() if where.customer else None),
            ("severity", where.severity),
        ):
            if value is not None:
                clauses.append(f"e.{column} = ?")
                args.append(value)
        if where.owner is not None and where.team is not None:  # a caller sees its own and its team's
            clauses.append("(e.owner = ? OR e.team = ?)")
            args += [where.owner, where.team]
        elif where.owner is not None or where.team is not None:
            clauses.append("e.owner = ?" if where.owner is not None else "e.team = ?")
            args.append(where.owner if where.owner is not None else where.team)
        if where.target is not None:
            clauses.append("EXISTS (SELECT 1 FROM escalation_targets t WHERE t.escalation_id = e.id AND t.target = ?)")
            args.append(where.target)
        if cursor is not None:
            due, after = decode_cursor(cursor)
            clauses.append("(e.next_due_at, e.id) > (?, ?)")
            args += [ts(due), after]

        def read(db: sqlite3.Connection) -> EscalationPage:
            rows: list[tuple[str, str, str]] = db.execute(
                f"SELECT e.id, e.body, e.next_due_at FROM escalations e WHERE {' AND '.join(clauses)} "
                "ORDER BY e.next_due_at, e.id LIMIT ?",
                [*args, size + 1],
            ).fetchall()
            page = rows[:size]
            nexts = _next_followups(db, [r[0] for r in page])
            items = [summary_of(Escalation.model_validate_json(body), nexts.get(eid), now) for eid, body, _ in page]
            more = len(rows) > size
            last = page[-1] if page else None
            next_cursor = encode_cursor(datetime.fromisoformat(last[2]), last[0]) if more and last else None
            return EscalationPage(items=items, next_cursor=next_cursor)

        return await self._run(read)

    # the worker

    async def claim_due(self, worker: str, *, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        def claim(db: sqlite3.Connection) -> list[Claim]:
            held: list[tuple[str]] = db.execute(
                "UPDATE escalations SET claimed_by = ?, claim_until = ? WHERE id IN ("
                "SELECT id FROM escalations WHERE is_open = 1 AND next_work_at <= ? "
                "AND (claim_until IS NULL OR claim_until < ?) ORDER BY next_work_at LIMIT ?) RETURNING id",
                (worker, ts(now + lease), ts(now), ts(now), limit),
            ).fetchall()
            claims: list[Claim] = []
            for (escalation_id,) in sorted(held):
                due = [
                    DueFollowup(followup=followup_of(body, state), batch=batch)
                    for body, state, batch in db.execute(
                        "SELECT body, state, batch FROM followups WHERE escalation_id = ? AND state = 'pending' "
                        "AND reminded_at IS NULL AND due_at <= ? ORDER BY due_at, id",
                        (escalation_id, ts(now)),
                    )
                ]
                claims.append(Claim(escalation_id=escalation_id, due=due))
            return claims

        return await self._run(claim)

    async def complete(
        self,
        escalation_id: str,
        followup_ids: list[str],
        *events: TimelineEvent,
        at: datetime,
        reminded_only: bool,
        receipts: Mapping[str, WriteReceipt] | None = None,
        release: str | None = None,
    ) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            for key, receipt in (receipts or {}).items():
                _confirm(db, key, receipt, at)
            if release is not None:
                _release(db, escalation_id, release)
            marks = ", ".join("?" for _ in followup_ids)
            (still,) = db.execute(
                f"SELECT count(*) FROM followups WHERE id IN ({marks}) AND state = 'pending' "
                "AND reminded_at IS NULL AND escalation_id = ?",
                [*followup_ids, escalation_id],
            ).fetchone()
            if still != len(followup_ids):
                return False  # another worker delivered them first
            if reminded_only:
                db.execute(f"UPDATE followups SET reminded_at = ? WHERE id IN ({marks})", [ts(at), *followup_ids])
            else:
                db.execute(
                    "UPDATE followups SET state = 'done', body = json_set(body, '$.state', 'done') "
                    f"WHERE id IN ({marks})",
                    followup_ids,
                )
            for event in events:
                self._event(db, escalation_id, event)
            self._refresh_due(db, escalation_id)
            return True

        return await self._run(write)

    async def release(self, escalation_id: str, worker: str) -> None:
        await self._run(lambda db: _release(db, escalation_id, worker))

    # the outbox

    async def enqueue(self, entries: list[OutboxEntry], followup_ids: list[str] | None = None) -> list[OutboxEntry]:
        def write(db: sqlite3.Connection) -> list[OutboxEntry]:
            db.executemany(
                f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_row(e) for e in entries],
            )
            batches = {e.batch for e in entries}
            if followup_ids:
                if len(batches) != 1 or None in batches:
                    raise ValueError("follow-ups are tied to exactly one batch: give every entry the same batch")
                db.executemany(
                    "UPDATE followups SET batch = ? WHERE id = ? AND batch IS NULL",
                    [(next(iter(batches)), fid) for fid in followup_ids],
                )
            return _select(db, "key IN (" + ", ".join("?" for _ in entries) + ")", [e.key for e in entries])

        return await self._run(write)

    async def batch(self, batch: str) -> list[OutboxEntry]:
        return await self._run(lambda db: _select(db, "batch = ?", [batch]))

    async def unconfirmed(self, *, limit: int = 100) -> list[OutboxEntry]:
        return await self._run(
            lambda db: _select(db, "receipt IS NULL ORDER BY created_at, key LIMIT ?", [limit], order=False)
        )

    async def attempt(self, key: str) -> None:
        await self._run(lambda db: db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE key = ?", (key,)))

    async def confirm(self, key: str, receipt: WriteReceipt, *, at: datetime) -> None:
        await self._run(lambda db: _confirm(db, key, receipt, at))

    async def check(self) -> list[str]:
        def read(db: sqlite3.Connection) -> list[str]:
            problems = [row[0] for row in db.execute("PRAGMA integrity_check") if row[0] != "ok"]
            problems += [f"dangling reference in {row[0]}" for row in db.execute("PRAGMA foreign_key_check")]
            problems += _invariants(db)
            return problems

        return await self._run(read)

    async def close(self) -> None:
        with self._lock:
            self._db.close()


def _confirm(db: sqlite3.Connection, key: str, receipt: WriteReceipt, at: datetime) -> None:
    db.execute(
        "UPDATE outbox SET receipt = ?, sent_at = ? WHERE key = ? AND receipt IS NULL",
        (receipt.model_dump_json(), ts(at), key),
    )


def _release(db: sqlite3.Connection, escalation_id: str, worker: str) -> None:
    db.execute(
        "UPDATE escalations SET claimed_by = NULL, claim_until = NULL WHERE id = ? AND claimed_by = ?",
        (escalation_id, worker),
    )


def _next_followups(db: sqlite3.Connection, ids: list[str]) -> dict[str, Followup]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    found: dict[str, Followup] = {}
    for escalation_id, body, state in db.execute(
        f"SELECT escalation_id, body, state FROM followups WHERE escalation_id IN ({marks}) AND state = 'pending' "
        "ORDER BY escalation_id, due_at DESC, id DESC",
        ids,
    ):
        found[escalation_id] = followup_of(body, state)  # the last one written per escalation is its earliest
    return found


def _row(entry: OutboxEntry) -> tuple[object, ...]:
    return (
        entry.key,
        entry.batch,
        entry.escalation_id,
        entry.kind,
        entry.destination,
        json.dumps(entry.payload),
        ts(entry.created_at),
        entry.attempts,
        entry.receipt.model_dump_json() if entry.receipt else None,
        ts(entry.sent_at) if entry.sent_at else None,
    )


def _entry(row: _Row) -> OutboxEntry:
    key, batch, escalation_id, kind, destination, payload, created_at, attempts, receipt, sent_at = row
    return OutboxEntry.model_validate(
        {
            "key": key,
            "batch": batch,
            "escalation_id": escalation_id,
            "kind": kind,
            "destination": destination,
            "payload": json.loads(payload),
            "created_at": created_at,
            "attempts": attempts,
            "receipt": json.loads(receipt) if receipt else None,
            "sent_at": sent_at,
        }
    )


def _select(db: sqlite3.Connection, where: str, args: Iterable[object], *, order: bool = True) -> list[OutboxEntry]:
    sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {where}" + (" ORDER BY key" if order else "")
    rows: list[_Row] = db.execute(sql, list(args)).fetchall()
    return [_entry(r) for r in rows]


def _invariants(db: sqlite3.Connection) -> list[str]:
    """The ledger's own rules, each query naming the rows that break it."""
    checks = {
        "a delivered follow-up whose batch has an unconfirmed write": (
            "SELECT f.id FROM followups f JOIN outbox o ON o.batch = f.batch "
            "WHERE f.state = 'done' AND o.receipt IS NULL"
        ),
        "a follow-up tied to a batch with no writes": (
            "SELECT f.id FROM followups f WHERE f.batch IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.batch = f.batch)"
        ),
        "a write with a receipt but no send time, or the reverse": (
            "SELECT key FROM outbox WHERE (receipt IS NULL) <> (sent_at IS NULL)"
        ),
        "an escalation whose next due time disagrees with its follow-ups": (
            "SELECT e.id FROM escalations e WHERE e.next_due_at <> coalesce((SELECT min(f.due_at) FROM followups f "
            f"WHERE f.escalation_id = e.id AND f.state = 'pending'), '{_NEVER}')"
        ),
    }
    problems: list[str] = []
    for rule, sql in checks.items():
        problems += [f"{rule}: {row[0]}" for row in db.execute(sql)]
    return problems
