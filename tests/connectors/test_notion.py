"""Notion: what the adapter sends, how pages become articles, and how snippets respect the deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest

from connectors import products
from connectors.errors import AuthError, UpstreamError
from connectors.products import ConfigError
from connectors.vendors.notion import NOTION_VERSION, SNIPPET_BLOCKS, SNIPPET_CHARS, Notion, NotionSettings
from tests.connectors.contract.conftest import scenario
from tests.connectors.fakes.base import FAST, json_response
from tests.connectors.fakes.notion import FakeNotion, make
from tests.connectors.scenario import TOKEN

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def searches(fake: FakeNotion) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in fake.requests if r.url.path == "/v1/search"]


def block_reads(fake: FakeNotion) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path.startswith("/v1/blocks/")]


def around(fake: FakeNotion, blocks: Handler) -> Notion:
    """An adapter whose block reads go through `blocks`, everything else straight to the fake."""
    inner = fake.transport()

    async def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/blocks/"):
            return await blocks(request)
        return await inner.handle_async_request(request)

    return Notion(NotionSettings(token=TOKEN), policy=FAST, transport=httpx.MockTransport(route))  # pyright: ignore[reportArgumentType]


@pytest.fixture
async def notion() -> Any:
    adapter, fake = make(scenario())
    yield adapter, fake
    await adapter.aclose()


async def test_requests_carry_the_bearer_token_and_the_newest_notion_version(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion

    await adapter.search_articles("export")

    request = fake.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.notion.com/v1/search"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["notion-version"] == NOTION_VERSION == "2026-03-11"


async def test_a_search_sends_the_keywords_for_pages_only(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion

    await adapter.search_articles("Is there a workaround for the CSV export timing out?", limit=5)

    assert searches(fake)[0] == {
        "query": "there workaround csv export timing out",
        "filter": {"property": "object", "value": "page"},
        "page_size": 5,
    }


async def test_an_empty_query_asks_for_every_shared_page_at_most_a_hundred_at_a_time(
    notion: tuple[Notion, FakeNotion],
):
    adapter, fake = notion

    page = await adapter.search_articles("", limit=500)

    assert "query" not in searches(fake)[0]
    assert searches(fake)[0]["page_size"] == 100
    assert len(page.items) == 3


async def test_the_cursor_handed_back_is_notions_next_cursor(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion

    first = await adapter.search_articles("export", limit=1)
    rest = await adapter.search_articles("export", limit=5, cursor=first.next_cursor)

    assert first.next_cursor == fake.pages[1].id
    assert searches(fake)[1]["start_cursor"] == first.next_cursor
    assert [a.id for a in first.items + rest.items] == [fake.pages[0].id, fake.pages[1].id]


async def test_a_page_becomes_an_article_with_its_title_url_edit_time_and_opening_text(
    notion: tuple[Notion, FakeNotion],
):
    adapter, fake = notion

    page = await adapter.search_articles("workaround")

    article = page.items[0]
    stored = fake.pages[0]
    assert article.id == stored.id
    assert article.title == "Workaround: export in smaller date ranges"
    assert article.snippet == "Split a large CSV export into monthly ranges until the timeout fix ships."
    assert article.kind == "workaround"
    assert article.url == f"https://www.notion.so/Workaround-export-in-smaller-date-ranges-{stored.id.replace('-', '')}"
    assert article.updated_at is not None
    assert article.updated_at.tzinfo is not None
    reads = block_reads(fake)
    assert [r.url.path for r in reads] == [f"/v1/blocks/{stored.id}/children"]
    assert reads[0].url.params["page_size"] == str(SNIPPET_BLOCKS)


async def test_the_snippet_skips_headings_and_is_clipped(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion
    long = " ".join(["Exports over a million rows split into parts."] * 20)
    fake.add_page("Export limits", ["First paragraph.", long], headings=["Overview"])

    page = await adapter.search_articles("limits")

    snippet = page.items[0].snippet
    assert snippet.startswith("First paragraph. Exports over")
    assert "Overview" not in snippet
    assert len(snippet) <= SNIPPET_CHARS
    assert snippet.endswith("…")


async def test_a_summary_property_serves_as_the_snippet_without_reading_the_page(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion
    fake.add_page("Export retries", ["Body text."], summary="Retries run three times.", tags=[])

    page = await adapter.search_articles("retries")

    assert page.items[0].snippet == "Retries run three times."
    assert not block_reads(fake)


async def test_tags_say_what_kind_of_article_a_page_is(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion
    fake.add_page("Excel exports and formulas", ["Formulas are flattened."], tags=["Limitation", "export"])

    page = await adapter.search_articles("excel")

    assert page.items[0].kind == "limitation"


async def test_trashed_pages_are_left_out(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion
    fake.add_page("Old export guide", ["Outdated."], in_trash=True)

    page = await adapter.search_articles("export", limit=10)

    assert "Old export guide" not in {a.title for a in page.items}
    assert len(page.items) == 2


async def test_a_page_whose_text_cannot_be_read_keeps_its_title_as_the_snippet():
    fake = FakeNotion(scenario())

    async def restricted(request: httpx.Request) -> httpx.Response:
        body = {"object": "error", "status": 403, "code": "restricted_resource", "message": "Insufficient permissions"}
        return json_response(403, body)

    adapter = around(fake, restricted)

    page = await adapter.search_articles("export")

    assert {a.snippet for a in page.items} == {a.title for a in page.items}
    await adapter.aclose()


async def test_snippets_give_way_when_the_deadline_nears():
    fake = FakeNotion(scenario())

    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(10)
        raise AssertionError("unreachable")

    adapter = around(fake, slow)

    started = time.monotonic()
    with anyio.fail_after(1.0):
        page = await adapter.search_articles("export")

    assert time.monotonic() - started < 0.9
    assert {a.title for a in page.items} == {
        "Workaround: export in smaller date ranges",
        "Known issue: CSV export timeouts",
    }
    assert all(a.snippet == a.title for a in page.items)
    await adapter.aclose()


async def test_snippets_can_be_turned_off_to_save_requests():
    adapter, fake = make(scenario(), snippets=False)

    page = await adapter.search_articles("export")

    assert len(fake.requests) == 1
    assert all(a.snippet == a.title for a in page.items)
    await adapter.aclose()


async def test_notions_rate_limit_is_waited_out_for_as_long_as_it_asks(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion
    fake.fail_next(fake.rate_limited(0.3))

    started = time.monotonic()
    page = await adapter.search_articles("export")

    assert time.monotonic() - started >= 0.25
    assert len(page.items) == 2


async def test_a_refused_request_quotes_notions_code_and_message_and_is_not_retried(
    notion: tuple[Notion, FakeNotion],
):
    adapter, fake = notion
    body = {"object": "error", "status": 400, "code": "validation_error", "message": "body.query should be a string"}
    fake.fail_next(json_response(400, body))

    with pytest.raises(UpstreamError, match=r"validation_error: body\.query should be a string"):
        await adapter.search_articles("export")

    assert len(fake.requests) == 1


async def test_a_restricted_integration_is_an_auth_error_naming_the_variable(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion
    body = {"object": "error", "status": 403, "code": "restricted_resource", "message": "Insufficient permissions"}
    fake.fail_next(json_response(403, body))

    with pytest.raises(AuthError, match="restricted_resource") as raised:
        await adapter.search_articles("export")

    assert "ESCALATION_NOTION_TOKEN" in str(raised.value)


async def test_the_health_check_names_the_integration_and_its_workspace(notion: tuple[Notion, FakeNotion]):
    adapter, fake = notion

    health = await adapter.check()

    assert health.detail == "authenticated as Escalations (integration in Acme Support)"
    assert fake.requests[0].url.path == "/v1/users/me"


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESCALATION_NOTION_TOKEN", raising=False)

    with pytest.raises(ConfigError, match="ESCALATION_NOTION_TOKEN is not set"):
        products.load_settings(NotionSettings)


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_NOTION_TOKEN", "ntn_x")
    monkeypatch.setenv("ESCALATION_NOTION_VERSION", "2025-09-03")
    monkeypatch.setenv("ESCALATION_NOTION_SNIPPETS", "false")

    settings = products.load_settings(NotionSettings)

    assert isinstance(settings, NotionSettings)
    assert settings.token.get_secret_value() == "ntn_x"
    assert settings.version == "2025-09-03"
    assert not settings.snippets
