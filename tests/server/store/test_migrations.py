"""A ledger file made by the schema before migrations existed upgrades itself on open, keeping every row."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from server.models import Escalation, EscalationFilter, Followup, TimelineEvent
from server.store.common import MIGRATIONS, migration_ids, sqlite_is_current
from server.store.sqlite import SqliteLedger

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)

# The DDL SqliteLedger ran on every open before yoyo-migrations, kept verbatim as the "previous" schema.
PREVIOUS_SCHEMA = """
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


def previous_file(path: Path, escalations: list[Escalation], followups: list[Followup]) -> None:
    """Write rows the way the previous SqliteLedger did (isoformat times, the body as JSON)."""
    db = sqlite3.connect(path)
    with db:
        db.executescript(PREVIOUS_SCHEMA)
        for e in escalations:
            db.execute(
                "INSERT INTO escalations VALUES (?, ?, ?, ?)",
                (e.id, e.created_at.isoformat(), e.updated_at.isoformat(), e.model_dump_json()),
            )
            db.execute(
                "INSERT INTO timeline (escalation_id, at, kind, detail) VALUES (?, ?, 'created', 'opened')",
                (e.id, e.created_at.isoformat()),
            )
        for f in followups:
            db.execute(
                "INSERT INTO followups VALUES (?, ?, ?, ?, ?, ?)",
                (f.id, f.escalation_id, f.kind, f.due_at.astimezone(UTC).isoformat(), f.model_dump_json(), f.state),
            )
    db.close()


def old_case(eid: str, **changes: object) -> Escalation:
    base = Escalation(
        id=eid, created_at=NOW, updated_at=NOW, summary=eid, customer="Acme Corp", severity="high", status="ready"
    )
    return base.model_copy(update=changes)


def old_followup(fid: str, eid: str, hours: int, state: str = "pending") -> Followup:
    at = NOW + timedelta(hours=hours)
    return Followup.model_validate(
        {
            "id": fid,
            "escalation_id": eid,
            "kind": "internal",
            "due_at": at,
            "latest_at": at,
            "cadence": "c",
            "state": state,
        }
    )


async def test_a_file_from_the_previous_schema_is_upgraded_with_its_rows_listed_and_claimable(tmp_path: Path):
    path = tmp_path / "ledger.db"
    previous_file(
        path,
        [
            old_case("eng", targets=["engineering"], owner="kim"),
            old_case("sec", targets=["security"], severity="critical"),
            old_case("closed", status="resolved"),
        ],
        [
            old_followup("eng-1", "eng", -2),
            old_followup("eng-0", "eng", -5, state="done"),
            old_followup("sec-1", "sec", 3),
        ],
    )

    ledger = SqliteLedger(path)
    try:
        page = await ledger.list_open(EscalationFilter(), now=NOW)
        by_target = await ledger.list_open(EscalationFilter(target="security"), now=NOW)
        by_owner = await ledger.list_open(EscalationFilter(owner="kim"), now=NOW)
        claims = await ledger.claim_due("w", now=NOW, lease=timedelta(minutes=5), limit=10)
        record = await ledger.get("eng")
        await ledger.append("eng", TimelineEvent(at=NOW, kind="update", detail="after the upgrade"))
        problems = await ledger.check()
    finally:
        await ledger.close()

    assert [(i.id, i.overdue) for i in page.items] == [("eng", True), ("sec", False)]
    assert [i.id for i in by_target.items] == ["sec"]
    assert [i.id for i in by_owner.items] == ["eng"]
    assert [(c.escalation_id, [d.followup.id for d in c.due]) for c in claims] == [("eng", ["eng-1"])]
    assert [(f.id, f.state) for f in record.followups] == [("eng-0", "done"), ("eng-1", "pending")]
    assert problems == []


async def test_opening_an_upgraded_file_again_applies_nothing_and_keeps_its_rows(tmp_path: Path):
    path = tmp_path / "ledger.db"
    previous_file(path, [old_case("a", targets=["product"])], [old_followup("a-1", "a", 1)])
    SqliteLedger(path)._db.close()  # pyright: ignore[reportPrivateUsage]  # first open: migrates

    again = SqliteLedger(path)
    try:
        page = await again.list_open(EscalationFilter(target="product"), now=NOW)
    finally:
        await again.close()

    db = sqlite3.connect(path)
    applied = [row[0] for row in db.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")]
    db.close()
    assert applied == ["0001_initial", "0002_followthrough"]
    assert [i.id for i in page.items] == ["a"]


def test_the_migration_ids_are_the_ones_yoyo_reads() -> None:
    import yoyo  # pyright: ignore[reportMissingTypeStubs]

    for backend in ("sqlite", "postgres"):
        read: Any = yoyo.read_migrations(str(MIGRATIONS / backend))  # pyright: ignore[reportUnknownMemberType]
        assert migration_ids(backend) == {m.id for m in read}


def test_a_current_ledger_opens_without_yoyo_and_one_missing_a_migration_goes_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    new = sqlite3.connect(tmp_path / "new.db")
    assert not sqlite_is_current(new)  # a new file has no yoyo table
    new.close()
    SqliteLedger(path)._db.close()  # pyright: ignore[reportPrivateUsage]  # first open: migrates
    migrated: list[str] = []

    def migrate(uri: str, backend: str) -> None:
        migrated.append(backend)

    monkeypatch.setattr("server.store.sqlite.migrate", migrate)

    SqliteLedger(path)._db.close()  # pyright: ignore[reportPrivateUsage]
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM _yoyo_migration WHERE migration_id = '0002_followthrough'")
    db.close()
    SqliteLedger(path)._db.close()  # pyright: ignore[reportPrivateUsage]

    assert migrated == ["sqlite"]
