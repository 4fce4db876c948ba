"""Confluence Cloud specifics, through the adapter and the fake site."""

from __future__ import annotations

import base64
from datetime import timedelta

import anyio
import pytest
from pydantic import SecretStr

from connectors.errors import UpstreamError
from connectors.models import Article
from connectors.products import ConfigError, find_product, load_settings, open_product
from connectors.vendors.confluence import Confluence, ConfluenceSettings, cql_string, search_cql
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, json_response
from tests.connectors.fakes.confluence import EMAIL, FakeConfluence, make
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN, ago

ENV = ("SITE", "EMAIL", "TOKEN", "SPACE", "BASE_URL")


def scenario(*extra: Article) -> Workspace:
    workspace = SCENARIO.model_copy(update={"articles": [*SCENARIO.articles, *extra]})
    return workspace.shifted_to(ANCHOR)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(f"ESCALATION_CONFLUENCE_{name}", raising=False)


async def test_a_search_sends_basic_auth_of_the_email_and_the_api_token():
    adapter, fake = make(scenario())

    await adapter.search_articles("export", limit=5)

    expected = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert fake.requests[0].headers["authorization"] == f"Basic {expected}"
    assert fake.requests[0].url.host == "acme.atlassian.net"
    assert fake.requests[0].url.path == "/wiki/rest/api/search"


async def test_a_search_sends_the_keywords_as_an_or_text_query_over_pages():
    adapter, fake = make(scenario())

    page = await adapter.search_articles("Globex says the CSV export times out", limit=5)

    params = fake.requests[0].url.params
    assert params["cql"] == (
        'type = page AND (text ~ "globex" OR text ~ "says" OR text ~ "csv" OR text ~ "export" '
        'OR text ~ "times" OR text ~ "out")'
    )
    assert params["limit"] == "5"
    assert params["expand"] == "content.metadata.labels"
    assert {a.id for a in page.items} == {"a1", "a2"}


def test_a_quote_or_backslash_cannot_end_a_cql_string_early():
    assert cql_string('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'


async def test_quotes_in_the_query_cannot_inject_cql():
    adapter, fake = make(scenario())

    await adapter.search_articles('export" OR space = "SECRET', limit=5)

    cql = fake.requests[0].url.params["cql"]
    assert cql == 'type = page AND (text ~ "export" OR text ~ "space" OR text ~ "secret")'


async def test_the_space_setting_restricts_the_search_with_quoted_keys():
    adapter, fake = make(scenario(), space='KB, O"PS')

    page = await adapter.search_articles("export", limit=5)

    assert fake.requests[0].url.params["cql"] == ('type = page AND space in ("KB", "O\\"PS") AND (text ~ "export")')
    assert len(page.items) == 2


async def test_a_space_the_pages_are_not_in_finds_nothing():
    adapter, _ = make(scenario(), space="OPS")

    page = await adapter.search_articles("export", limit=5)

    assert page.items == []


def test_an_empty_query_lists_the_newest_pages_without_a_text_filter():
    assert search_cql("the and of", []) == "type = page ORDER BY lastmodified DESC"


async def test_highlight_markers_and_html_entities_are_cleaned_from_snippets():
    odd = Article(
        id="a9",
        title='Export "big" files',
        snippet="Exports & imports   over\n1M rows <b>stall</b>.",
        updated_at=ago(days=1),
    )
    adapter, _ = make(scenario(odd))

    page = await adapter.search_articles("stall", limit=5)

    [article] = page.items
    assert article.title == 'Export "big" files'
    assert article.snippet == "Exports & imports over 1M rows <b>stall</b>."


async def test_a_label_tells_the_kind_when_the_title_does_not():
    labelled = Article(id="a8", title="Slow exports on Mondays", snippet="Export jobs queue up.", kind="known_issue")
    adapter, fake = make(scenario(labelled))
    assert fake.labels["a8"] == ["known-issue"]

    page = await adapter.search_articles("mondays", limit=5)

    assert [(a.id, a.kind) for a in page.items] == [("a8", "known_issue")]


async def test_articles_link_to_the_page_and_carry_its_last_change():
    adapter, _ = make(scenario())

    page = await adapter.search_articles("workaround", limit=5)

    [article] = page.items
    assert article.url is not None
    assert article.url.startswith("https://acme.atlassian.net/wiki/spaces/KB/pages/a1/")
    assert article.updated_at == ANCHOR - timedelta(days=2)


async def test_the_next_page_is_asked_for_with_the_vendors_own_cursor():
    adapter, fake = make(scenario())

    first = await adapter.search_articles("export", limit=1)
    await adapter.search_articles("export", limit=1, cursor=first.next_cursor)

    assert first.next_cursor in fake.cursors  # the opaque cursor, not the next URL
    params = fake.requests[1].url.params
    assert params["cursor"] == first.next_cursor
    assert params["next"] == "true"
    assert params["cql"] == fake.requests[0].url.params["cql"]


async def test_the_vendors_error_message_is_reported_without_the_body():
    adapter, fake = make(scenario())
    fake.fail_next(
        json_response(
            400,
            {
                "statusCode": 400,
                "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                "message": "Could not parse cql : type = page AND",
            },
        )
    )

    with pytest.raises(UpstreamError) as raised:
        await adapter.search_articles("export", limit=5)

    assert raised.value.status == 400
    assert "Could not parse cql" in str(raised.value)
    assert "successful" not in str(raised.value)


async def test_a_429_retry_after_is_waited_out_before_the_retry():
    adapter, fake = make(scenario())
    fake.fail_next(fake.rate_limited(0.2))

    started = anyio.current_time()
    page = await adapter.search_articles("export", limit=5)

    assert anyio.current_time() - started >= 0.2
    assert len(page.items) == 2
    assert len(fake.requests) == 2


async def test_the_health_check_names_the_user_and_the_rate_limit_headroom():
    adapter, fake = make(scenario())

    health = await adapter.check()

    assert health.ok
    assert health.detail == f"authenticated as Agent Smith <{EMAIL}>"
    assert health.headroom == "98 of 100 left"
    assert fake.requests[0].url.path == "/wiki/rest/api/user/current"
    assert TOKEN not in health.model_dump_json()


async def test_an_anonymous_answer_fails_the_health_check():
    adapter, fake = make(scenario())
    fake.fail_next(json_response(200, {"type": "anonymous", "displayName": "Anonymous"}))

    health = await adapter.check()

    assert not health.ok
    assert "credentials refused" in health.detail


async def test_a_base_url_replaces_the_site_host():
    fake = FakeConfluence(scenario())
    settings = ConfluenceSettings(
        email=EMAIL,
        token=SecretStr(TOKEN),
        base_url="https://api.atlassian.com/ex/confluence/1234-cloud/wiki/",
    )
    adapter = Confluence(settings, transport=fake.transport(), policy=FAST)

    await adapter.search_articles("export", limit=5)

    assert str(fake.requests[0].url).startswith(
        "https://api.atlassian.com/ex/confluence/1234-cloud/wiki/rest/api/search?"
    )


async def test_a_site_given_as_a_host_name_is_used_as_is():
    fake = FakeConfluence(scenario())
    settings = ConfluenceSettings(site="https://acme.atlassian.net/", email=EMAIL, token=SecretStr(TOKEN))
    adapter = Confluence(settings, transport=fake.transport(), policy=FAST)

    await adapter.search_articles("export", limit=5)

    assert str(fake.requests[0].url).startswith("https://acme.atlassian.net/wiki/rest/api/search?")


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_CONFLUENCE_SITE", "acme")
    monkeypatch.setenv("ESCALATION_CONFLUENCE_EMAIL", EMAIL)

    with pytest.raises(ConfigError, match="ESCALATION_CONFLUENCE_TOKEN is not set"):
        load_settings(ConfluenceSettings)


def test_neither_a_site_nor_a_base_url_is_a_config_error_naming_the_site(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_CONFLUENCE_EMAIL", EMAIL)
    monkeypatch.setenv("ESCALATION_CONFLUENCE_TOKEN", TOKEN)

    with pytest.raises(ConfigError, match="ESCALATION_CONFLUENCE_SITE is not set"):
        open_product(find_product("confluence"))
