"""The ledger's behaviour on both backends: the list, the worker's claims and the outbox.

Every test here runs twice, on a SQLite file and on the real PostgreSQL (a schema of its own).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.models import WriteReceipt
from server.models import Escalation, EscalationFilter, Followup, OutboxEntry, TimelineEvent
from server.store import InvalidCursor, Ledger, open_ledger
from server.store.outbox import deliver, write
from server.store.sqlite import SqliteLedger

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def case(eid: str, **changes: object) -> Escalation:
    base = Escalation(
        id=eid,
        created_at=NOW,
        updated_at=NOW,
        summary=f"case {eid}",
        customer="Acme Corp",
        severity="high",
        targets=["engineering"],
        status="ready",
    )
    return base.model_copy(update=changes)


def opened(eid: str) -> TimelineEvent:
    return TimelineEvent(at=NOW, kind="created", detail=f"opened {eid}")


def due(fid: str, eid: str, hours: float, kind: str = "internal") -> Followup:
    at = NOW + timedelta(hours=hours)
    return Followup.model_validate(
        {"id": fid, "escalation_id": eid, "kind": kind, "due_at": at, "latest_at": at, "cadence": "every 4 h"}
    )


async def add(ledger: Ledger, eid: str, *hours: float, **changes: object) -> None:
    await ledger.create(case(eid, **changes), opened(eid))
    if hours:
        await ledger.schedule(eid, [due(f"{eid}-f{i}", eid, h) for i, h in enumerate(hours)])


async def test_the_list_puts_overdue_first_and_cases_with_nothing_pending_last(any_ledger: Ledger):
    await add(any_ledger, "later", 5)
    await add(any_ledger, "nothing")
    await add(any_ledger, "overdue", -3, 8)
    await add(any_ledger, "soon", 1)

    page = await any_ledger.list_open(EscalationFilter(), now=NOW)

    assert [(i.id, i.overdue) for i in page.items] == [
        ("overdue", True),
        ("soon", False),
        ("later", False),
        ("nothing", False),
    ]
    assert page.items[0].next_followup == due("overdue-f0", "overdue", -3)
    assert page.items[-1].next_followup is None
    assert page.next_cursor is None


async def test_the_list_leaves_out_closed_cases_unless_their_status_is_asked_for(any_ledger: Ledger):
    await add(any_ledger, "open", 1)
    await add(any_ledger, "done", 1, status="resolved")

    assert [i.id for i in (await any_ledger.list_open(EscalationFilter(), now=NOW)).items] == ["open"]
    resolved = await any_ledger.list_open(EscalationFilter(status="resolved"), now=NOW)
    assert [i.id for i in resolved.items] == ["done"]


async def test_the_list_filters_by_customer_severity_target_owner_and_team(any_ledger: Ledger):
    await add(any_ledger, "a", 1, customer="Acme Corp", severity="critical", targets=["security"], owner="kim")
    await add(any_ledger, "b", 2, customer="Globex", severity="high", targets=["engineering", "product"], team="core")
    await add(any_ledger, "c", 3, customer="acme corp", severity="medium", targets=["product"], owner="lee")

    async def ids(**where: str) -> list[str]:
        page = await any_ledger.list_open(EscalationFilter.model_validate(where), now=NOW)
        return [i.id for i in page.items]

    assert await ids(customer="ACME CORP") == ["a", "c"]
    assert await ids(severity="high") == ["b"]
    assert await ids(target="product") == ["b", "c"]
    assert await ids(owner="lee") == ["c"]
    assert await ids(team="core") == ["b"]
    assert await ids(customer="acme corp", target="security") == ["a"]


async def test_an_update_moves_the_case_between_filters(any_ledger: Ledger):
    await add(any_ledger, "a", 1, targets=["engineering"])

    await any_ledger.update(case("a", targets=["product"], severity="critical", status="resolved"))

    assert (await any_ledger.list_open(EscalationFilter(target="product"), now=NOW)).items == []
    page = await any_ledger.list_open(EscalationFilter(status="resolved", target="product"), now=NOW)
    assert [(i.id, i.severity) for i in page.items] == [("a", "critical")]


async def test_paging_returns_every_case_once_in_due_order(any_ledger: Ledger):
    for n in range(7):
        await add(any_ledger, f"e{n}", 7 - n)
    await add(any_ledger, "idle")

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = await any_ledger.list_open(EscalationFilter(), now=NOW, limit=3, cursor=cursor)
        seen += [i.id for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == ["e6", "e5", "e4", "e3", "e2", "e1", "e0", "idle"]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "WyJ4Il0", "bnVsbA", ""])
async def test_a_forged_cursor_is_refused_with_a_clear_message(any_ledger: Ledger, cursor: str):
    with pytest.raises(InvalidCursor, match="pass the next_cursor of the previous page"):
        await any_ledger.list_open(EscalationFilter(), now=NOW, cursor=cursor)


async def test_a_claimed_case_is_not_claimed_again_until_its_lease_runs_out(any_ledger: Ledger):
    await add(any_ledger, "a", -2, -1, 3)

    first = await any_ledger.claim_due("w1", now=NOW, lease=LEASE, limit=10)
    second = await any_ledger.claim_due("w2", now=NOW + timedelta(minutes=1), lease=LEASE, limit=10)
    taken_over = await any_ledger.claim_due("w2", now=NOW + LEASE + timedelta(seconds=1), lease=LEASE, limit=10)

    assert [(c.escalation_id, [d.followup.id for d in c.due]) for c in first] == [("a", ["a-f0", "a-f1"])]
    assert second == []
    assert [c.escalation_id for c in taken_over] == ["a"]


async def test_a_released_case_is_claimable_at_once_and_a_finished_one_is_not(any_ledger: Ledger):
    await add(any_ledger, "a", -1)
    await add(any_ledger, "b", -1)
    await any_ledger.claim_due("w1", now=NOW, lease=LEASE, limit=10)
    done = await any_ledger.complete(
        "b", ["b-f0"], TimelineEvent(at=NOW, kind="followup_delivered", detail="x"), at=NOW, reminded_only=False
    )

    await any_ledger.release("a", "w1")
    await any_ledger.release("b", "w1")

    assert done
    assert [c.escalation_id for c in await any_ledger.claim_due("w2", now=NOW, lease=LEASE, limit=10)] == ["a"]


async def test_completing_twice_changes_nothing_the_second_time(any_ledger: Ledger):
    await add(any_ledger, "a", -1, 4)
    delivered = TimelineEvent(at=NOW, kind="followup_delivered", detail="posted")

    first = await any_ledger.complete("a", ["a-f0"], delivered, at=NOW, reminded_only=False)
    again = await any_ledger.complete("a", ["a-f0"], delivered, at=NOW, reminded_only=False)

    record = await any_ledger.get("a")
    assert (first, again) == (True, False)
    assert [e.kind for e in record.timeline].count("followup_delivered") == 1
    assert [(f.id, f.state) for f in record.followups] == [("a-f0", "done"), ("a-f1", "pending")]
    page = await any_ledger.list_open(EscalationFilter(), now=NOW)
    assert page.items[0].next_followup is not None
    assert page.items[0].next_followup.id == "a-f1"


async def test_a_reminder_noted_without_chat_stays_due_but_is_not_claimed_again(any_ledger: Ledger):
    await add(any_ledger, "a", -1)
    noted = TimelineEvent(at=NOW, kind="followup_delivered", detail="recorded here")

    assert await any_ledger.complete("a", ["a-f0"], noted, at=NOW, reminded_only=True)

    page = await any_ledger.list_open(EscalationFilter(), now=NOW)
    assert [(i.id, i.overdue) for i in page.items] == [("a", True)]
    assert await any_ledger.claim_due("w1", now=NOW + timedelta(hours=1), lease=LEASE, limit=10) == []


async def test_rescheduling_cancels_what_was_pending_and_moves_the_next_due_time(any_ledger: Ledger):
    await add(any_ledger, "a", -1)

    await any_ledger.schedule("a", [due("a-new", "a", 6)])

    page = await any_ledger.list_open(EscalationFilter(), now=NOW)
    assert (page.items[0].overdue, page.items[0].next_followup) == (False, due("a-new", "a", 6))
    assert await any_ledger.claim_due("w1", now=NOW, lease=LEASE, limit=10) == []


def entry(key: str, batch: str | None = None) -> OutboxEntry:
    return write(key, "chat_message", "#eng", {"text": "hello"}, at=NOW, escalation_id="a", batch=batch)


async def test_the_same_write_enqueued_twice_is_stored_once(any_ledger: Ledger):
    await add(any_ledger, "a", -1)

    first = await any_ledger.enqueue([entry("k1", "b1")], ["a-f0"])
    again = await any_ledger.enqueue([entry("k1", "b1").model_copy(update={"destination": "#other"})])

    assert first == again == [entry("k1", "b1")]
    assert await any_ledger.batch("b1") == first
    claims = await any_ledger.claim_due("w1", now=NOW, lease=LEASE, limit=10)
    assert [d.batch for d in claims[0].due] == ["b1"]


async def test_a_write_is_sent_once_and_its_receipt_kept(any_ledger: Ledger):
    await add(any_ledger, "a")
    (stored,) = await any_ledger.enqueue([entry("k1")])
    sent: list[str] = []

    async def send(e: OutboxEntry) -> WriteReceipt:
        sent.append(e.key)
        return WriteReceipt(id=f"msg-{len(sent)}")

    receipt = await deliver(any_ledger, stored, send, clock=lambda: NOW)
    (after,) = await any_ledger.enqueue([entry("k1")])
    again = await deliver(any_ledger, after, send, clock=lambda: NOW)

    assert (receipt, again, sent) == (WriteReceipt(id="msg-1"), WriteReceipt(id="msg-1"), ["k1"])
    assert (after.attempts, after.sent_at) == (1, NOW)
    assert await any_ledger.unconfirmed() == []


async def test_an_unconfirmed_write_is_looked_up_before_it_is_sent_again(any_ledger: Ledger):
    await add(any_ledger, "a")
    await any_ledger.enqueue([entry("k1")])
    await any_ledger.attempt("k1")  # a worker started the call and died before the receipt
    sent: list[str] = []

    async def send(e: OutboxEntry) -> WriteReceipt:
        sent.append(e.key)
        return WriteReceipt(id="second")

    async def lookup(e: OutboxEntry) -> WriteReceipt | None:
        return WriteReceipt(id="landed-first")

    (pending,) = await any_ledger.unconfirmed()
    receipt = await deliver(any_ledger, pending, send, clock=lambda: NOW, lookup=lookup)

    assert (receipt, sent) == (WriteReceipt(id="landed-first"), [])
    assert await any_ledger.unconfirmed() == []


async def test_the_integrity_check_passes_on_a_ledger_in_use(any_ledger: Ledger):
    await add(any_ledger, "a", -1, 2)
    await any_ledger.enqueue([entry("k1", "b1")], ["a-f0"])
    await any_ledger.confirm("k1", WriteReceipt(id="m1"), at=NOW)
    await any_ledger.complete(
        "a", ["a-f0"], TimelineEvent(at=NOW, kind="followup_delivered", detail="x"), at=NOW, reminded_only=False
    )

    assert await any_ledger.check() == []


async def test_the_integrity_check_names_a_follow_up_marked_delivered_before_its_write_was_confirmed(
    any_ledger: Ledger,
):
    await add(any_ledger, "a", -1)
    await any_ledger.enqueue([entry("k1", "b1")], ["a-f0"])
    await any_ledger.complete(
        "a", ["a-f0"], TimelineEvent(at=NOW, kind="followup_delivered", detail="x"), at=NOW, reminded_only=False
    )

    assert await any_ledger.check() == ["a delivered follow-up whose batch has an unconfirmed write: a-f0"]


def test_an_unknown_database_url_scheme_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="use postgresql://"):
        open_ledger("mysql://db/ledger", tmp_path / "ledger.db")


async def test_no_database_url_means_the_sqlite_file(tmp_path: Path):
    ledger = open_ledger(None, tmp_path / "ledger.db")
    try:
        assert isinstance(ledger, SqliteLedger)
        assert (tmp_path / "ledger.db").exists()
    finally:
        await ledger.close()
