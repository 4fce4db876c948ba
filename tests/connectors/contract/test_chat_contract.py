"""The chat contract, whatever the product behind it."""

from __future__ import annotations

from connectors import Chat
from tests.connectors.contract.conftest import Subject
from tests.connectors.scenario import MESSAGES

EXPORT = {m.text for m in MESSAGES if m.id in {"m1", "m2", "m4"}}


async def test_the_adapter_serves_the_chat_port(chat: Subject):
    assert isinstance(chat.adapter, Chat)


async def test_a_search_finds_every_message_sharing_the_query_word(chat: Subject):
    page = await chat.adapter.search_messages("export", limit=20)

    assert {m.text for m in page.items} == EXPORT
    assert all(m.channel and m.author and m.posted_at.tzinfo for m in page.items)


async def test_a_limited_search_reports_a_cursor_that_resumes_without_gaps_or_repeats(chat: Subject):
    first = await chat.adapter.search_messages("export", limit=2)
    rest = await chat.adapter.search_messages("export", limit=20, cursor=first.next_cursor)

    assert len(first.items) == 2
    assert first.next_cursor
    assert sorted(m.text for m in first.items + rest.items) == sorted(EXPORT)
    assert rest.next_cursor is None


async def test_a_post_lands_once_per_idempotency_key(chat: Subject):
    first = await chat.adapter.post_message("support-escalations", "Escalating Globex export", idempotency_key="p-1")
    again = await chat.adapter.post_message("support-escalations", "Escalating Globex export", idempotency_key="p-1")

    assert first.id
    assert not first.duplicate
    assert again.duplicate
    assert again.id == first.id


async def test_a_post_with_rich_renderings_is_accepted_and_found_by_its_words(chat: Subject):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Escalating *Zyzzyva* export"}}]
    html = "<p>Escalating <strong>Zyzzyva</strong> export</p>"

    receipt = await chat.adapter.post_message(
        "support-escalations", "Escalating Zyzzyva export", idempotency_key="p-rich", blocks=blocks, html=html
    )
    found = await chat.adapter.search_messages("zyzzyva", limit=5)

    assert receipt.id
    assert [" ".join(m.text.split()) for m in found.items] == ["Escalating Zyzzyva export"]
