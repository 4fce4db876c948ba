"""The ledger on one SQLite file: WAL for concurrent readers, synchronous=FULL so a commit survives power loss."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from server.models import Escalation, EscalationRecord, Followup, TimelineEvent
from server.store import NotFound

R = TypeVar("R")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS escalations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timeline (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    escalation_id TEXT NOT NULL REFERENCES escalations(id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_by_escalation ON timeline(escalation_id, seq);
CREATE TABLE IF NOT EXISTS followups (
    id TEXT PRIMARY KEY,
    escalation_id TEXT NOT NULL REFERENCES escalations(id),
    kind TEXT NOT NULL,
    due_at TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS followups_due ON followups(state, due_at);
"""


class SqliteLedger:
    """The default ledger; one connection, serialized, used from a worker thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

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

    async def create(self, escalation: Escalation, event: TimelineEvent) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO escalations VALUES (?, ?, ?, ?)",
                (
                    escalation.id,
                    escalation.created_at.isoformat(),
                    escalation.updated_at.isoformat(),
                    escalation.model_dump_json(),
                ),
            )
            self._event(db, escalation.id, event)

        await self._run(write)

    @classmethod
    def _save(cls, db: sqlite3.Connection, escalation: Escalation) -> None:
        cls._exists(db, escalation.id)
        db.execute(
            "UPDATE escalations SET updated_at = ?, body = ? WHERE id = ?",
            (escalation.updated_at.isoformat(), escalation.model_dump_json(), escalation.id),
        )

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
                "INSERT INTO followups VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        f.id,
                        f.escalation_id,
                        f.kind,
                        f.due_at.astimezone(UTC).isoformat(),
                        f.model_dump_json(),
                        f.state,
                    )
                    for f in followups
                ],
            )
            for event in events:
                self._event(db, escalation_id, event)

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
                Followup.model_validate_json(body)
                for (body,) in db.execute(
                    "SELECT body FROM followups WHERE escalation_id = ? ORDER BY due_at, kind",
                    (escalation_id,),
                )
            ]
            return EscalationRecord.model_validate({**json.loads(row[0]), "timeline": events, "followups": followups})

        return await self._run(read)

    async def close(self) -> None:
        with self._lock:
            self._db.close()
