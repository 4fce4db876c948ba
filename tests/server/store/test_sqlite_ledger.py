"""The SQLite ledger on a real file: what it reports as saved survives, and follow-ups swap atomically."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.models import Escalation, EscalationRecord, Followup, TimelineEvent
from server.store import NotFound
from server.store.sqlite import SqliteLedger

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
ID = "3f2b8c1e9a7d4e6f8b0c1d2e3f4a5b6c"


def escalation(**changes: object) -> Escalation:
    base = Escalation(
        id=ID,
        created_at=NOW,
        updated_at=NOW,
        summary="Intermittent HTTP 500 on POST /v2/orders",
        customer="Acme Corp",
        severity="high",
        targets=["engineering"],
        status="draft",
        language="en",
        brief_markdown="> **DRAFT** ...",
        missing=["deadline (deadline)"],
    )
    return base.model_copy(update=changes)


def event(kind: str = "created", detail: str = "opened", minutes: int = 0) -> TimelineEvent:
    return TimelineEvent.model_validate({"at": NOW + timedelta(minutes=minutes), "kind": kind, "detail": detail})


def followup(fid: str, kind: str, hours: int) -> Followup:
    due = NOW + timedelta(hours=hours)
    return Followup.model_validate(
        {
            "id": fid,
            "escalation_id": ID,
            "kind": kind,
            "due_at": due,
            "latest_at": due,
            "cadence": "every 4 h",
        }
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "ledger.sqlite3"


@pytest.fixture
async def ledger(path: Path) -> AsyncIterator[SqliteLedger]:
    opened = SqliteLedger(path)
    yield opened
    await opened.close()


async def test_a_created_escalation_comes_back_with_its_first_event(ledger: SqliteLedger):
    await ledger.create(escalation(), event())

    record = await ledger.get(ID)

    assert record == EscalationRecord(**escalation().model_dump(), timeline=[event()], followups=[])


async def test_update_replaces_the_fields_and_appends_to_the_timeline(ledger: SqliteLedger):
    await ledger.create(escalation(), event())
    changed = escalation(severity="critical", status="ready", updated_at=NOW + timedelta(minutes=5))

    await ledger.update(changed, event("severity_changed", "high -> critical: production down", 5))
    await ledger.append(ID, event("update", "customer informed", 10))

    record = await ledger.get(ID)
    assert (record.severity, record.status, record.updated_at) == ("critical", "ready", NOW + timedelta(minutes=5))
    assert [(e.kind, e.detail) for e in record.timeline] == [
        ("created", "opened"),
        ("severity_changed", "high -> critical: production down"),
        ("update", "customer informed"),
    ]


async def test_follow_ups_come_back_in_due_order(ledger: SqliteLedger):
    await ledger.create(escalation(), event())

    await ledger.schedule(
        ID, [followup("c1", "customer", 8), followup("i1", "internal", 4)], event("followups_scheduled", "2", 1)
    )

    record = await ledger.get(ID)
    assert [(f.id, f.state, f.due_at) for f in record.followups] == [
        ("i1", "pending", NOW + timedelta(hours=4)),
        ("c1", "pending", NOW + timedelta(hours=8)),
    ]
    assert record.timeline[-1].kind == "followups_scheduled"


async def test_scheduling_again_cancels_the_pending_follow_ups(ledger: SqliteLedger):
    await ledger.create(escalation(), event())
    await ledger.schedule(ID, [followup("old", "internal", 4)], event("followups_scheduled", "first", 1))

    await ledger.schedule(ID, [followup("new", "internal", 2)], event("followups_scheduled", "second", 2))

    record = await ledger.get(ID)
    assert [(f.id, f.state) for f in record.followups] == [("new", "pending"), ("old", "cancelled")]


async def test_a_failed_schedule_keeps_the_previous_follow_ups_pending(ledger: SqliteLedger):
    await ledger.create(escalation(), event())
    await ledger.schedule(ID, [followup("old", "internal", 4)], event("followups_scheduled", "first", 1))

    with pytest.raises(sqlite3.IntegrityError):  # the id is taken: nothing of this call may stick
        await ledger.schedule(ID, [followup("old", "internal", 2)], event("followups_scheduled", "second", 2))

    record = await ledger.get(ID)
    assert [(f.id, f.state) for f in record.followups] == [("old", "pending")]
    assert [e.detail for e in record.timeline] == ["opened", "first"]


UNKNOWN_ID_CALLS: dict[str, Callable[[SqliteLedger], Awaitable[object]]] = {
    "get": lambda ledger: ledger.get("nope"),
    "append": lambda ledger: ledger.append("nope", event("update")),
    "update": lambda ledger: ledger.update(escalation(id="nope"), event("update")),
    "schedule": lambda ledger: ledger.schedule("nope", [], event("followups_scheduled")),
}


@pytest.mark.parametrize("operation", UNKNOWN_ID_CALLS)
async def test_an_unknown_id_is_not_found(ledger: SqliteLedger, operation: str):
    call = UNKNOWN_ID_CALLS[operation]

    with pytest.raises(NotFound):
        await call(ledger)


async def test_everything_saved_survives_closing_and_reopening_the_file(path: Path):
    first = SqliteLedger(path)
    await first.create(escalation(), event())
    await first.schedule(ID, [followup("i1", "internal", 4)], event("followups_scheduled", "one", 1))
    before = await first.get(ID)
    await first.close()

    reopened = SqliteLedger(path)
    try:
        assert await reopened.get(ID) == before
    finally:
        await reopened.close()


async def test_the_file_is_in_wal_mode_with_full_synchronous_commits(ledger: SqliteLedger, path: Path):
    await ledger.create(escalation(), event())

    fresh = sqlite3.connect(path)
    try:
        assert fresh.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        fresh.close()
    # synchronous is per connection: ask the ledger's own.
    db: sqlite3.Connection = ledger._db  # pyright: ignore[reportPrivateUsage]
    assert db.execute("PRAGMA synchronous").fetchone() == (2,)  # 2 = FULL


async def test_schedule_saves_the_escalation_with_its_followups_or_neither(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    await ledger.create(escalation(), event())
    orphan = followup("f1", "internal", 2).model_copy(update={"escalation_id": "no-such-escalation"})

    with pytest.raises(sqlite3.IntegrityError):  # the follow-up points at no escalation
        await ledger.schedule(ID, [orphan], event("severity_changed"), escalation=escalation(severity="critical"))
    stored = await ledger.get(ID)
    await ledger.close()

    assert (stored.severity, stored.followups, [e.kind for e in stored.timeline]) == ("high", [], ["created"])
