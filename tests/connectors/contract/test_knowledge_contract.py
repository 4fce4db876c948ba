"""The knowledge-base contract, whatever the product behind it."""

from __future__ import annotations

from connectors import KnowledgeBase
from tests.connectors.contract.conftest import Subject
from tests.connectors.scenario import ARTICLES

EXPORT = {a.title for a in ARTICLES if a.id in {"a1", "a2"}}


async def test_the_adapter_serves_the_knowledge_port(knowledge: Subject):
    assert isinstance(knowledge.adapter, KnowledgeBase)


async def test_a_search_finds_every_article_sharing_the_query_word(knowledge: Subject):
    page = await knowledge.adapter.search_articles("export", limit=20)

    assert {a.title for a in page.items} == EXPORT
    assert all(a.snippet for a in page.items)


async def test_a_limited_search_reports_a_cursor_that_resumes_without_gaps_or_repeats(knowledge: Subject):
    first = await knowledge.adapter.search_articles("export", limit=1)
    rest = await knowledge.adapter.search_articles("export", limit=20, cursor=first.next_cursor)

    assert len(first.items) == 1
    assert first.next_cursor
    assert sorted(a.title for a in first.items + rest.items) == sorted(EXPORT)


async def test_workarounds_and_known_issues_are_told_apart_from_references(knowledge: Subject):
    page = await knowledge.adapter.search_articles("export", limit=20)

    kinds = {a.title: a.kind for a in page.items}
    assert kinds == {
        "Workaround: export in smaller date ranges": "workaround",
        "Known issue: CSV export timeouts": "known_issue",
    }
