"""The support-platform contract, whatever the product behind it."""

from __future__ import annotations

import pytest

from connectors import SupportPlatform
from connectors.errors import NotFoundError
from tests.connectors.contract.conftest import Subject
from tests.connectors.scenario import ANCHOR, TICKETS, ago

SUBJECTS = {t.id: t.subject for t in TICKETS}
EXPORT = {t.subject for t in TICKETS if t.id in {"101", "102", "104", "105", "107"}}


async def test_the_adapter_serves_the_support_port(support: Subject):
    assert isinstance(support.adapter, SupportPlatform)


async def test_a_search_finds_every_ticket_sharing_the_query_word(support: Subject):
    page = await support.adapter.search_tickets("export", limit=20)

    assert {t.subject for t in page.items} == EXPORT
    assert page.next_cursor is None


async def test_a_sentence_long_query_finds_tickets_sharing_its_key_words(support: Subject):
    page = await support.adapter.search_tickets("the customers say the nightly export keeps failing", limit=20)

    assert {t.subject for t in page.items} >= EXPORT


async def test_tickets_carry_their_customer_status_and_aware_timestamps(support: Subject):
    page = await support.adapter.search_tickets("reset", limit=5)

    [ticket] = page.items
    assert ticket.subject == SUBJECTS["103"]
    assert ticket.customer == "Initech"
    assert ticket.status == "pending"
    assert ticket.created_at.tzinfo is not None
    assert abs((ticket.created_at - ago(days=2)).total_seconds()) < 1


async def test_a_limited_search_reports_a_cursor_that_resumes_without_gaps_or_repeats(support: Subject):
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        page = await support.adapter.search_tickets("export", limit=2, cursor=cursor)
        assert len(page.items) <= 2
        seen += [t.subject for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert sorted(seen) == sorted(EXPORT)


async def test_a_search_can_be_limited_to_one_customer(support: Subject):
    page = await support.adapter.search_tickets("export", customer="Globex", limit=20)

    assert {t.id for t in page.items}
    assert {t.customer for t in page.items} == {"Globex"}
    assert {t.subject for t in page.items} == {SUBJECTS["101"], SUBJECTS["105"]}


async def test_a_search_can_be_limited_to_recent_tickets(support: Subject):
    page = await support.adapter.search_tickets("export", since=ANCHOR.replace(day=10), limit=20)

    assert {t.subject for t in page.items} == EXPORT - {SUBJECTS["107"]}


async def test_a_ticket_comes_with_its_public_replies_and_internal_notes(support: Subject):
    [found] = (await support.adapter.search_tickets("nightly", limit=1)).items

    ticket = await support.adapter.get_ticket(found.id)

    assert ticket.subject == SUBJECTS["101"]
    bodies = {c.body: c.public for c in ticket.comments}
    assert bodies.get("Still failing this morning.") is True
    assert bodies.get("Reproduced on their largest workspace.") is False


async def test_an_unknown_ticket_is_not_found(support: Subject):
    with pytest.raises(NotFoundError):
        await support.adapter.get_ticket("999999")


async def test_an_internal_note_lands_once_per_idempotency_key(support: Subject):
    [found] = (await support.adapter.search_tickets("nightly", limit=1)).items

    first = await support.adapter.add_internal_note(found.id, "Escalated to engineering.", idempotency_key="k-1")
    again = await support.adapter.add_internal_note(found.id, "Escalated to engineering.", idempotency_key="k-1")

    assert first.id
    assert not first.duplicate
    assert again.duplicate
    assert again.id == first.id
    notes = [c for c in (await support.adapter.get_ticket(found.id)).comments if "Escalated" in c.body]
    assert [n.public for n in notes] == [False]


async def test_a_note_on_an_unknown_ticket_is_not_found(support: Subject):
    with pytest.raises(NotFoundError):
        await support.adapter.add_internal_note("999999", "hello", idempotency_key="k-2")
