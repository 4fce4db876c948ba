"""Guru specifics, through the adapter and the fake team."""

from __future__ import annotations

import base64
from datetime import timedelta

import anyio
import httpx
import pytest

from connectors.errors import UpstreamError
from connectors.models import Article, Page
from connectors.products import ConfigError, load_settings
from connectors.vendors.guru import GuruSettings, next_page_token, text_of
from connectors.workspace import Workspace
from tests.connectors.fakes.base import json_response
from tests.connectors.fakes.guru import USERNAME, make
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN, ago


def scenario(*extra: Article) -> Workspace:
    workspace = SCENARIO.model_copy(update={"articles": [*SCENARIO.articles, *extra]})
    return workspace.shifted_to(ANCHOR)


def exports(n: int) -> list[Article]:
    """`n` more export cards, each a day older than the last."""
    return [
        Article(id=f"x{i}", title=f"Export note {i}", snippet="About the export.", updated_at=ago(days=20 + i))
        for i in range(n)
    ]


async def test_a_search_sends_basic_auth_of_the_username_and_token():
    adapter, fake = make(scenario())

    await adapter.search_articles("export", limit=5)

    expected = base64.b64encode(f"{USERNAME}:{TOKEN}".encode()).decode()
    assert fake.requests[0].headers["authorization"] == f"Basic {expected}"
    assert str(fake.requests[0].url).startswith("https://api.getguru.com/api/v1/search/query?")


async def test_a_search_sends_the_keywords_as_search_terms_and_the_limit_as_max_results():
    adapter, fake = make(scenario())

    page = await adapter.search_articles("Globex says the CSV export times out", limit=5)

    params = fake.requests[0].url.params
    assert params["searchTerms"] == "globex says csv export times out"
    assert params["maxResults"] == "5"
    assert {a.id for a in page.items} == {"a1", "a2"}


async def test_an_empty_query_lists_cards_without_search_terms():
    adapter, fake = make(scenario())

    page = await adapter.search_articles("the and of", limit=10)

    assert "searchTerms" not in fake.requests[0].url.params
    assert [a.id for a in page.items] == ["a1", "a2", "a3"]  # newest first, Guru's default order


async def test_the_cards_html_becomes_a_plain_text_snippet():
    card = Article(id="h1", title="Export limits", snippet="Rows & columns: <max> 1M", updated_at=ago(days=1))
    adapter, _ = make(scenario(card))

    page = await adapter.search_articles("limits", limit=5)

    [article] = page.items
    assert article.snippet == "Rows & columns: <max> 1M"


def test_html_text_keeps_words_apart_and_drops_scripts():
    content = "<h1>Title</h1><p>First&nbsp;line<br>second</p><script>alert(1)</script><ul><li>a</li><li>b</li></ul>"

    assert text_of(content) == "Title First line second a b"


async def test_a_tag_tells_the_kind_when_the_title_does_not():
    tagged = Article(id="t1", title="Slow exports on Mondays", snippet="Jobs queue up.", kind="known_issue")
    adapter, fake = make(scenario(tagged))
    assert fake.tags["t1"] == ["known issue"]

    page = await adapter.search_articles("mondays", limit=5)

    assert [(a.id, a.kind) for a in page.items] == [("t1", "known_issue")]


async def test_cards_link_to_the_app_and_carry_their_last_change():
    adapter, _ = make(scenario())

    page = await adapter.search_articles("workaround", limit=5)

    [article] = page.items
    assert article.url == "https://app.getguru.com/card/a1/Workaround:-export-in-smaller-date-ranges"
    assert article.updated_at == ANCHOR - timedelta(days=2)


async def test_the_next_page_is_the_link_headers_token_alone():
    adapter, fake = make(scenario())

    first = await adapter.search_articles("export", limit=1)
    rest = await adapter.search_articles("export", limit=5, cursor=first.next_cursor)

    assert first.next_cursor is not None
    assert "http" not in first.next_cursor
    assert TOKEN not in first.next_cursor
    [token] = fake.pages
    assert first.next_cursor.endswith(token)
    assert dict(fake.requests[1].url.params) == {"token": token}
    assert [a.id for a in first.items + rest.items] == ["a1", "a2"]
    assert rest.next_cursor is None


async def test_a_token_page_larger_than_wanted_is_handed_out_without_gaps():
    adapter, fake = make(scenario(*exports(5)))
    every = [a.id for a in (await adapter.search_articles("export", limit=20)).items]

    seen: list[str] = []
    cursors: list[str] = []
    page: Page[Article] = await adapter.search_articles("export", limit=2)  # token pages hold 2 cards from here on
    seen += [a.id for a in page.items]
    while page.next_cursor is not None:
        cursors.append(page.next_cursor)
        page = await adapter.search_articles("export", limit=1, cursor=page.next_cursor)
        seen += [a.id for a in page.items]

    assert len(every) == 7
    assert seen == every
    assert any(c.startswith("1:") for c in cursors)  # half a token page was handed out, then the rest
    assert all(dict(r.url.params).keys() == {"token"} for r in fake.requests[2:])


async def test_concurrent_searches_never_see_each_others_next_page():
    adapter, _ = make(scenario(*exports(3)))
    results: dict[str, Page[Article]] = {}

    async def search(query: str) -> None:
        results[query] = await adapter.search_articles(query, limit=1)

    async with anyio.create_task_group() as tg:
        for query in ("export", "password", "export note", "reset"):
            tg.start_soon(search, query)

    assert results["export"].next_cursor is not None
    assert results["export note"].next_cursor is not None
    assert results["password"].next_cursor is None
    assert results["reset"].next_cursor is None


def test_the_next_page_token_is_read_from_the_documented_link_header():
    header = '< https://api.getguru.com/api/v1/search/query?token=xsfw87et9w8etwt >; rel="next-page"'

    assert next_page_token(header) == "xsfw87et9w8etwt"
    assert next_page_token('<https://api.getguru.com/api/v1/x?token=p>; rel="prev-page"') is None
    assert next_page_token(None) is None


async def test_a_next_page_link_without_a_token_is_an_upstream_error():
    adapter, fake = make(scenario())
    fake.fail_next(
        json_response(200, [], {"link": '<https://api.getguru.com/api/v1/search/query?page=2>; rel="next-page"'})
    )

    with pytest.raises(UpstreamError, match="without a paging token"):
        await adapter.search_articles("export", limit=5)


async def test_an_empty_answer_is_an_empty_page():
    adapter, fake = make(scenario())
    fake.fail_next(httpx.Response(204))

    page = await adapter.search_articles("export", limit=5)

    assert page.items == []
    assert page.next_cursor is None


async def test_the_vendors_error_message_is_reported():
    adapter, fake = make(scenario())
    fake.fail_next(json_response(400, {"message": "maxResults can not exceed 50"}))

    with pytest.raises(UpstreamError, match="maxResults can not exceed 50") as raised:
        await adapter.search_articles("export", limit=5)

    assert raised.value.status == 400


async def test_a_429_retry_after_is_waited_out_before_the_retry():
    adapter, fake = make(scenario())
    fake.fail_next(fake.rate_limited(0.2))

    started = anyio.current_time()
    page = await adapter.search_articles("export", limit=5)

    assert anyio.current_time() - started >= 0.2
    assert len(page.items) == 2


async def test_the_health_check_names_the_user_and_the_team():
    adapter, fake = make(scenario())

    health = await adapter.check()

    assert health.ok
    assert health.detail == f"authenticated as {USERNAME} on team Acme Support"
    assert fake.requests[0].url.path == "/api/v1/teams"


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESCALATION_GURU_TOKEN", raising=False)
    monkeypatch.setenv("ESCALATION_GURU_USERNAME", USERNAME)

    with pytest.raises(ConfigError, match="ESCALATION_GURU_TOKEN is not set"):
        load_settings(GuruSettings)
