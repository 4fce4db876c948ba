"""The worker: due follow-ups are delivered once, late ones once and marked late, and a dead worker's
claim is finished by another without a second post."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from connectors.errors import UpstreamError
from connectors.models import Message, Page, WriteReceipt
from server.models import Escalation, EscalationFilter, Followup, Target, TimelineEvent
from server.store import Ledger
from server.store.postgres import PostgresLedger
from server.store.sqlite import SqliteLedger
from server.worker import Worker
from tests.server.loopback_chat import LoopbackChat, chat_server
from tests.server.store.conftest import NO_POSTGRES, POSTGRES_URL, postgres_url

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CHANNELS: dict[Target, str] = {"engineering": "#eng-escalations", "security": "#sec-incidents"}


@dataclass
class FakeChat:
    """A chat that records posts and does not dedupe on the key; `lookup` answers find_message."""

    name: str = "fake"
    posts: list[tuple[str, str, str]] = field(default_factory=list[tuple[str, str, str]])
    failing: bool = False

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]:
        return Page[Message](items=[])

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        idempotency_key: str,
        blocks: list[dict[str, Any]] | None = None,
        html: str | None = None,
    ) -> WriteReceipt:
        if self.failing:
            raise UpstreamError("fake", "503 from the chat")
        self.posts.append((channel, idempotency_key, text))
        return WriteReceipt(id=f"m{len(self.posts)}")


@dataclass
class LookupChat(FakeChat):
    async def find_message(self, channel: str, idempotency_key: str) -> WriteReceipt | None:
        found = [i for i, (c, k, _) in enumerate(self.posts, 1) if (c, k) == (channel, idempotency_key)]
        return WriteReceipt(id=f"m{found[0]}") if found else None


def case(eid: str = "e1", **changes: object) -> Escalation:
    base = Escalation(
        id=eid,
        created_at=NOW - timedelta(days=1),
        updated_at=NOW,
        summary="Checkout API 500s",
        customer="Acme Corp",
        severity="critical",
        targets=["engineering", "security"],
        status="ready",
    )
    return base.model_copy(update=changes)


def followup(fid: str, hours: float, kind: str = "internal", eid: str = "e1") -> Followup:
    at = NOW + timedelta(hours=hours)
    return Followup.model_validate(
        {"id": fid, "escalation_id": eid, "kind": kind, "due_at": at, "latest_at": at, "cadence": "every 2 h"}
    )


async def open_case(ledger: Ledger, escalation: Escalation, *followups: Followup) -> None:
    await ledger.create(escalation, TimelineEvent(at=escalation.created_at, kind="created", detail="opened"))
    await ledger.append(escalation.id, TimelineEvent(at=NOW - timedelta(hours=2), kind="update", detail="bad deploy"))
    await ledger.schedule(escalation.id, list(followups))


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SqliteLedger]:
    opened = SqliteLedger(tmp_path / "ledger.db")
    yield opened
    await opened.close()


def worker(ledger: Ledger, chat: FakeChat | None, at: datetime = NOW, **options: object) -> Worker:
    return Worker(ledger, chat, CHANNELS, clock=lambda: at, **options)  # pyright: ignore[reportArgumentType]


async def test_a_due_internal_follow_up_is_posted_to_each_targets_channel(ledger: SqliteLedger):
    await open_case(ledger, case(), followup("f1", -0.05), followup("f2", 2))
    chat = FakeChat()

    tally = await worker(ledger, chat).run_once()

    assert (tally.reminders, [(c, k) for c, k, _ in chat.posts]) == (
        1,
        [("#eng-escalations", "reminder:f1@#eng-escalations"), ("#sec-incidents", "reminder:f1@#sec-incidents")],
    )
    text = chat.posts[0][2]
    for expected in ["Checkout API 500s", "critical", "Open for:* 1 d", "bad deploy", "Fri 20 Nov 17:00 UTC"]:
        assert expected in text
    assert "escalation://escalations/e1" in text
    assert "late" not in text
    record = await ledger.get("e1")
    assert [(f.id, f.state) for f in record.followups] == [("f1", "done"), ("f2", "pending")]
    assert record.timeline[-1].detail == (
        "Reminder for 1 internal follow-up posted to #eng-escalations, #sec-incidents"
    )
    assert await ledger.check() == []


async def test_a_due_customer_follow_up_becomes_a_draft_on_the_timeline_and_is_never_posted(ledger: SqliteLedger):
    await open_case(ledger, case(), followup("c1", -0.05, "customer"), followup("c2", 4, "customer"))
    chat = FakeChat()

    tally = await worker(ledger, chat).run_once()

    record = await ledger.get("e1")
    assert (tally.customer_drafts, chat.posts) == (1, [])
    assert record.timeline[-1].kind == "customer_update_drafted"
    assert "still investigating" in record.timeline[-1].detail
    assert "Friday 20 November 2026, 19:00 (UTC)" in record.timeline[-1].detail


async def test_with_no_chat_the_reminder_is_recorded_on_the_timeline_and_still_shows_as_due(ledger: SqliteLedger):
    await open_case(ledger, case(), followup("f1", -1))

    first = await worker(ledger, None).run_once()
    second = await worker(ledger, None, NOW + timedelta(hours=1)).run_once()

    record = await ledger.get("e1")
    notes = [e.detail for e in record.timeline if e.kind == "followup_delivered"]
    assert (first.noted_without_chat, second.handled) == (1, 0)
    assert len(notes) == 1
    assert notes[0].startswith("Reminder for 1 internal follow-up recorded here (no chat is connected; still due)")
    page = await ledger.list_open(EscalationFilter(), now=NOW)
    assert [(i.id, i.overdue) for i in page.items] == [("e1", True)]


async def test_a_case_whose_targets_have_no_channel_is_recorded_like_no_chat(ledger: SqliteLedger):
    await open_case(ledger, case(targets=["product"]), followup("f1", -1))
    chat = FakeChat()

    tally = await worker(ledger, chat).run_once()

    assert (tally.noted_without_chat, chat.posts) == (1, [])
    assert "no channel is configured for its targets" in (await ledger.get("e1")).timeline[-1].detail


async def test_after_a_three_day_outage_each_case_gets_one_late_reminder_and_one_late_draft(ledger: SqliteLedger):
    for eid in ("e1", "e2"):
        internal = [followup(f"{eid}-i{n}", -72 + 2 * n, eid=eid) for n in range(36)]
        customer = [followup(f"{eid}-c{n}", -72 + 4 * n, "customer", eid) for n in range(18)]
        await open_case(ledger, case(eid), *internal, *customer, followup(f"{eid}-next", 1, eid=eid))
    chat = FakeChat()

    tally = await worker(ledger, chat).run_once()
    again = await worker(ledger, chat, NOW + timedelta(minutes=30)).run_once()

    assert (tally.reminders, tally.customer_drafts, again.handled) == (2, 2, 0)
    assert len(chat.posts) == 4  # two cases, two channels each
    assert all("36 internal updates fell due" in t and "late by 3 d" in t for _, _, t in chat.posts)
    record = await ledger.get("e1")
    delivered = [e.detail for e in record.timeline if e.kind == "followup_delivered"]
    drafted = [e.detail for e in record.timeline if e.kind == "customer_update_drafted"]
    assert delivered == ["Reminder for 36 internal follow-ups posted to #eng-escalations, #sec-incidents, late by 3 d"]
    assert len(drafted) == 1
    assert drafted[0].startswith("(drafted late by 3 d; it was due 2026-11-17T15:00:00+00:00)")
    assert [f.id for f in record.followups if f.state == "pending"] == ["e1-next"]
    assert await ledger.check() == []


async def test_a_failing_chat_keeps_the_follow_up_due_and_the_next_worker_after_the_lease_delivers_it(
    ledger: SqliteLedger,
):
    await open_case(ledger, case(), followup("f1", -1))
    chat = LookupChat(failing=True)

    failed = await worker(ledger, chat).run_once()
    chat.failing = False
    too_soon = await worker(ledger, chat, NOW + timedelta(minutes=1)).run_once()
    later = await worker(ledger, chat, NOW + timedelta(minutes=6)).run_once()

    assert (failed.failed, too_soon.handled, later.recovered) == (1, 0, 1)
    assert [k for _, k, _ in chat.posts] == ["reminder:f1@#eng-escalations", "reminder:f1@#sec-incidents"]
    assert await ledger.check() == []


class Died(Exception):
    """The worker process stops here (what a SIGKILL does, minus the process)."""


def die_at(point: str) -> Callable[[str], object]:
    async def checkpoint(reached: str) -> None:
        if reached == point:
            raise Died(point)

    return checkpoint


async def dies(run: Worker) -> None:
    died = False
    try:
        await run.run_once()
    except* Died:
        died = True
    assert died, "the worker was meant to die at its checkpoint"


@pytest.mark.parametrize("point", ["claimed", "enqueued", "sent"])
async def test_a_worker_that_dies_mid_delivery_is_taken_over_and_each_channel_gets_one_post(
    ledger: SqliteLedger, point: str
):
    await open_case(ledger, case(), followup("f1", -1), followup("f2", -0.5))
    chat = LookupChat()

    await dies(worker(ledger, chat, checkpoint=die_at(point), parallel=1))
    taken_over = await worker(ledger, chat, NOW + timedelta(minutes=6)).run_once()

    assert taken_over.handled == 1
    assert sorted(k for _, k, _ in chat.posts) == ["reminder:f1@#eng-escalations", "reminder:f1@#sec-incidents"]
    record = await ledger.get("e1")
    assert [f.state for f in record.followups] == ["done", "done"]
    assert [e.kind for e in record.timeline].count("followup_delivered") == 1
    assert await ledger.check() == []


async def test_without_a_lookup_a_write_sent_before_a_crash_is_sent_again_with_the_same_key(ledger: SqliteLedger):
    await open_case(ledger, case(targets=["engineering"]), followup("f1", -1))
    chat = FakeChat()  # Slack today: no key dedupe upstream and no lookup

    await dies(worker(ledger, chat, checkpoint=die_at("sent"), parallel=1))
    await worker(ledger, chat, NOW + timedelta(minutes=6)).run_once()

    # At least once, never lost; the repeat carries the same key for a vendor that dedupes on it.
    assert [k for _, k, _ in chat.posts] == ["reminder:f1@#eng-escalations", "reminder:f1@#eng-escalations"]


@pytest.fixture(params=["sqlite", "postgres"])
async def two_ledgers(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Ledger, Ledger]]:
    """Two ledger handles on one database, as two worker processes would hold."""
    if request.param == "sqlite":
        first, second = SqliteLedger(tmp_path / "l.db"), SqliteLedger(tmp_path / "l.db")
        yield first, second
        await first.close()
        await second.close()
        return
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    url = postgres_url(POSTGRES_URL)
    first, second = PostgresLedger(url, max_size=4), PostgresLedger(url, max_size=4)
    try:
        yield first, second
    finally:
        await second.close()
        await first.drop_schema()
        await first.close()


async def test_two_workers_on_one_database_deliver_each_follow_up_exactly_once(two_ledgers: tuple[Ledger, Ledger]):
    # 200 here to keep the suite quick; bench/two_workers.py runs 1,000 on PostgreSQL in CI.
    first, second = two_ledgers
    count = 200

    async def add(n: int) -> None:
        eid = f"e{n:04d}"
        await first.create(case(eid, targets=["engineering"]), TimelineEvent(at=NOW, kind="created", detail="o"))
        await first.schedule(eid, [followup(f"{eid}-f", -1, eid=eid)])

    async with anyio.create_task_group() as group:
        for n in range(count):
            group.start_soon(add, n)

    with chat_server() as (url, posts):
        chats = [LoopbackChat(url), LoopbackChat(url)]
        runs = [
            Worker(ledger, chat, CHANNELS, clock=lambda: NOW, batch_size=10, name=f"w{i}")
            for i, (ledger, chat) in enumerate(zip((first, second), chats, strict=True))
        ]
        tallies = [0, 0]

        async def run(i: int) -> None:
            tallies[i] = (await runs[i].run_once()).reminders

        async with anyio.create_task_group() as group:
            group.start_soon(run, 0)
            group.start_soon(run, 1)
        for chat in chats:
            await chat.aclose()

    by_key = posts.by_key()
    assert (len(by_key), sum(by_key.values()), sum(tallies)) == (count, count, count)
    assert all(tallies), f"both workers should have taken part: {tallies}"
    assert await first.check() == []
    page = await second.list_open(EscalationFilter(), now=NOW, limit=1)
    assert page.items[0].next_followup is None
