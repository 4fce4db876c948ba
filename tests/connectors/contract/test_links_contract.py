"""Every link a vendor adapter hands out opens the record for a person: the product's web app, not its API."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.connectors.contract.conftest import Subject

# Hosts and paths that serve machines, not people.
API_HOST = re.compile(r"^(api|graph)\.|\.api\.|^slack\.com$")
API_PATH = re.compile(r"/(api|rest|v1|v2|v3|services/data)(/|$)")


def for_people(url: str | None) -> bool:
    if url is None:
        return False
    parts = urlsplit(url)
    return parts.scheme == "https" and not API_HOST.search(parts.hostname or "") and not API_PATH.search(parts.path)


async def test_every_ticket_links_to_the_agent_view(support_vendor: Subject):
    page = await support_vendor.adapter.search_tickets("export", limit=20)
    ticket = await support_vendor.adapter.get_ticket(page.items[0].id)

    assert page.items
    assert [t.url for t in page.items if not for_people(t.url)] == []
    assert for_people(ticket.url)


async def test_every_message_links_to_the_conversation(chat_vendor: Subject):
    page = await chat_vendor.adapter.search_messages("export", limit=20)

    assert page.items
    assert [m.url for m in page.items if not for_people(m.url)] == []


async def test_every_issue_links_to_the_issue_page(tracker_vendor: Subject):
    page = await tracker_vendor.adapter.search_issues("export", limit=20)

    assert page.items
    assert [i.url for i in page.items if not for_people(i.url)] == []


async def test_every_article_links_to_the_page_people_read(knowledge_vendor: Subject):
    page = await knowledge_vendor.adapter.search_articles("export", limit=20)

    assert page.items
    assert [a.url for a in page.items if not for_people(a.url)] == []
