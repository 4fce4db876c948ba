"""Zendesk specifics the contract does not pin down: auth, the search query, names, notes, limits."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import httpx
import pytest
from pydantic import SecretStr

from connectors.errors import NotFoundError, UpstreamError
from connectors.products import ConfigError, load_settings
from connectors.vendors.zendesk import Zendesk, ZendeskSettings
from tests.connectors.fakes.base import FAST, json_response
from tests.connectors.fakes.zendesk import EMAIL, SUBDOMAIN, FakeZendesk, make
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN, ago


@pytest.fixture
async def zendesk() -> AsyncIterator[tuple[Zendesk, FakeZendesk]]:
    adapter, fake = make(SCENARIO.shifted_to(ANCHOR))
    yield adapter, fake
    await adapter.aclose()


def sent(fake: FakeZendesk, path: str) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path.removesuffix(".json") == path]


async def test_requests_authenticate_as_the_agent_email_with_the_api_token(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, fake = zendesk

    await adapter.search_tickets("export", limit=1)

    scheme, _, encoded = fake.requests[0].headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{EMAIL}/token:{TOKEN}"
    assert fake.requests[0].url.host == f"{SUBDOMAIN}.zendesk.com"


async def test_a_search_ors_the_keywords_and_ands_the_customer_and_the_date(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, fake = zendesk

    page = await adapter.search_tickets(
        "the nightly export keeps failing", customer="Acme Corp", since=datetime(2026, 11, 10, 15, tzinfo=UTC)
    )

    [search] = sent(fake, "/api/v2/search/export")
    assert search.url.params["query"] == (
        'description:nightly description:export description:keeps description:failing organization:"Acme Corp" '
        "created>=2026-11-10T15:00:00Z"
    )
    assert search.url.params["filter[type]"] == "ticket"
    assert [t.id for t in page.items] == ["104"]


async def test_a_query_without_key_words_lists_every_ticket_newest_first(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, fake = zendesk

    page = await adapter.search_tickets("the and of", limit=20)

    assert sent(fake, "/api/v2/search/export")[0].url.params["query"] == "status<=closed"
    assert [t.id for t in page.items] == ["101", "102", "103", "104", "105", "106", "107"]


async def test_each_page_asks_for_exactly_what_is_still_wanted_and_resumes_with_zendesks_cursor(
    zendesk: tuple[Zendesk, FakeZendesk],
):
    adapter, fake = zendesk

    first = await adapter.search_tickets("export", limit=3)
    second = await adapter.search_tickets("export", limit=3, cursor=first.next_cursor)

    searches = sent(fake, "/api/v2/search/export")
    assert [r.url.params["page[size]"] for r in searches] == ["3", "3"]
    assert searches[1].url.params["page[after]"] == first.next_cursor
    assert [t.id for t in first.items + second.items] == ["101", "102", "104", "105", "107"]
    assert second.next_cursor is None


async def test_customers_and_requesters_are_resolved_by_name_and_organizations_are_remembered(
    zendesk: tuple[Zendesk, FakeZendesk],
):
    adapter, fake = zendesk

    page = await adapter.search_tickets("export", limit=20)
    await adapter.search_tickets("reset", limit=20)

    assert {t.id: t.customer for t in page.items}["104"] == "Acme Corp"
    assert {t.id: t.requester for t in page.items}["101"] == "ops@globex.com"
    assert len(sent(fake, "/api/v2/organizations/show_many")) == 1
    assert page.items[0].url == f"https://{SUBDOMAIN}.zendesk.com/agent/tickets/101"


async def test_a_ticket_leaves_out_its_description_from_the_replies(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, fake = zendesk

    ticket = await adapter.get_ticket("101")

    assert ticket.body.startswith("Our nightly CSV export")
    assert [(c.author, c.public) for c in ticket.comments] == [("ops@globex.com", True), ("Agent Smith", False)]
    assert ticket.customer == "Globex"
    assert sent(fake, "/api/v2/tickets/101")[0].url.params["include"] == "users,organizations"


async def test_an_internal_note_is_a_private_comment_sent_with_the_idempotency_key(
    zendesk: tuple[Zendesk, FakeZendesk],
):
    adapter, fake = zendesk

    receipt = await adapter.add_internal_note("101", "Escalated to engineering.", idempotency_key="esc-101")

    [put] = [r for r in fake.requests if r.method == "PUT"]
    assert put.url.path == "/api/v2/tickets/101"
    assert json.loads(put.content) == {"ticket": {"comment": {"body": "Escalated to engineering.", "public": False}}}
    assert put.headers["idempotency-key"] == "esc-101"
    assert receipt.url == f"https://{SUBDOMAIN}.zendesk.com/agent/tickets/101"
    assert receipt.id == str(fake.tickets[101].comments[-1].id)


async def test_a_note_is_not_sent_again_after_a_server_error(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, fake = zendesk
    fake.fail_next(fake.server_error())

    with pytest.raises(UpstreamError) as raised:
        await adapter.add_internal_note("101", "Escalated.", idempotency_key="esc-500")

    assert raised.value.status == 500
    assert len([r for r in fake.requests if r.method == "PUT"]) == 1


async def test_zendesks_retry_after_is_waited_out(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, fake = zendesk
    fake.fail_next(fake.rate_limited(0.3))

    started = anyio.current_time()
    page = await adapter.search_tickets("export", limit=2)

    assert anyio.current_time() - started >= 0.3
    assert len(page.items) == 2


async def test_the_health_check_reports_the_agent_and_the_rate_limit_headroom(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, _ = zendesk

    health = await adapter.check()

    assert health.ok
    assert health.detail == f"authenticated as Escalation Bot (agent) on {SUBDOMAIN}.zendesk.com"
    assert health.headroom == "699 of 700 left"


async def test_an_anonymous_answer_to_who_am_i_is_an_auth_failure(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, fake = zendesk
    fake.fail_next(json_response(200, {"user": {"id": None, "name": "Anonymous user", "role": "end-user"}}))

    health = await adapter.check()

    assert not health.ok
    assert health.detail.startswith("credentials refused")


async def test_zendesks_error_description_is_reported(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, _ = zendesk

    with pytest.raises(NotFoundError, match="RecordNotFound: Not found"):
        await adapter.get_ticket("424242")


async def test_a_ticket_id_that_is_not_a_number_is_not_found_without_asking(zendesk: tuple[Zendesk, FakeZendesk]):
    adapter, fake = zendesk

    with pytest.raises(NotFoundError):
        await adapter.get_ticket("INC-1")

    assert fake.requests == []


async def test_base_url_sends_requests_elsewhere():
    fake = FakeZendesk(SCENARIO.shifted_to(ANCHOR))
    settings = ZendeskSettings(token=SecretStr(TOKEN), email=EMAIL, subdomain=SUBDOMAIN, base_url="http://127.0.0.1:9/")
    adapter = Zendesk(settings, policy=FAST, transport=fake.transport())

    page = await adapter.search_tickets("reset", since=ago(days=3))
    await adapter.aclose()

    assert str(fake.requests[0].url).startswith("http://127.0.0.1:9/api/v2/search/export")
    # A link is for a person: the account's agent view, never the proxy the API calls go through.
    assert page.items[0].url == f"https://{SUBDOMAIN}.zendesk.com/agent/tickets/103"


async def test_a_ticket_links_to_the_agent_view_not_the_api_url():
    adapter, fake = make(SCENARIO.shifted_to(ANCHOR))

    ticket = await adapter.get_ticket("101")
    await adapter.aclose()

    assert ticket.url == f"https://{SUBDOMAIN}.zendesk.com/agent/tickets/101"
    assert "/api/v2/" in fake.requests[0].url.path  # the API answered; the link is not its URL


async def test_a_404_on_the_search_itself_names_the_subdomain_setting():
    adapter, fake = make(SCENARIO.shifted_to(ANCHOR))
    # What a wrong subdomain gets: Zendesk's "no such account" answer on every path.
    fake.fail_next(json_response(404, {"error": "InvalidEndpoint", "description": "Not found"}))

    with pytest.raises(NotFoundError, match="check ESCALATION_ZENDESK_SUBDOMAIN"):
        await adapter.search_tickets("export")
    await adapter.aclose()


async def test_a_404_on_one_ticket_is_that_ticket_not_found():
    adapter, _ = make(SCENARIO.shifted_to(ANCHOR))

    with pytest.raises(NotFoundError) as raised:
        await adapter.get_ticket("999999")
    await adapter.aclose()

    assert "SUBDOMAIN" not in str(raised.value)


def test_the_subdomain_may_be_given_as_the_whole_host():
    settings = ZendeskSettings(token=SecretStr(TOKEN), email=EMAIL, subdomain="https://acme.zendesk.com/")

    assert settings.subdomain == "acme"


def test_a_missing_token_names_its_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESCALATION_ZENDESK_TOKEN", raising=False)
    monkeypatch.setenv("ESCALATION_ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ESCALATION_ZENDESK_SUBDOMAIN", SUBDOMAIN)

    with pytest.raises(ConfigError, match="ESCALATION_ZENDESK_TOKEN is not set"):
        load_settings(ZendeskSettings)
