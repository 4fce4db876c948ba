"""Intercom specifics the contract does not pin down: auth and version, regions, the search
query, customers through companies, states, notes and the rate-limit reset."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.errors import NotFoundError, RateLimitedError, UpstreamError
from connectors.products import ConfigError, load_settings
from connectors.vendors.intercom import Intercom, IntercomSettings, Region
from tests.connectors.fakes.base import FAST
from tests.connectors.fakes.intercom import ADMIN_ID, FakeIntercom, make
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN


@pytest.fixture
async def intercom() -> AsyncIterator[tuple[Intercom, FakeIntercom]]:
    adapter, fake = make(SCENARIO.shifted_to(ANCHOR))
    yield adapter, fake
    await adapter.aclose()


def searches(fake: FakeIntercom) -> list[Any]:
    return [json.loads(r.content) for r in fake.requests if r.url.path == "/conversations/search"]


async def test_requests_carry_the_bearer_token_and_the_pinned_api_version(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom

    await adapter.search_tickets("export", limit=1)

    request = fake.requests[0]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["intercom-version"] == "2.14"
    assert request.url.host == "api.intercom.io"


@pytest.mark.parametrize(("region", "host"), [("eu", "api.eu.intercom.io"), ("au", "api.au.intercom.io")])
async def test_the_region_picks_the_regional_api_host(region: Region, host: str):
    fake = FakeIntercom(SCENARIO.shifted_to(ANCHOR))
    settings = IntercomSettings(token=SecretStr(TOKEN), region=region)
    adapter = Intercom(settings, policy=FAST, transport=fake.transport())

    await adapter.check()
    await adapter.aclose()

    assert fake.requests[0].url.host == host


async def test_a_search_ors_each_key_word_over_subject_and_body_and_ands_the_date(
    intercom: tuple[Intercom, FakeIntercom],
):
    adapter, fake = intercom
    since = datetime(2026, 11, 10, 15, tzinfo=UTC)

    await adapter.search_tickets("the nightly export", since=since, limit=5)

    [body] = searches(fake)
    assert body == {
        "query": {
            "operator": "AND",
            "value": [
                {
                    "operator": "OR",
                    "value": [
                        {"field": "source.subject", "operator": "~", "value": "nightly"},
                        {"field": "source.body", "operator": "~", "value": "nightly"},
                        {"field": "source.subject", "operator": "~", "value": "export"},
                        {"field": "source.body", "operator": "~", "value": "export"},
                    ],
                },
                {"field": "created_at", "operator": ">", "value": int(since.timestamp())},
            ],
        },
        "pagination": {"per_page": 5},
    }


async def test_the_longest_sentence_stays_within_intercoms_fifteen_filters_a_group(
    intercom: tuple[Intercom, FakeIntercom],
):
    adapter, fake = intercom

    page = await adapter.search_tickets("nightly csv export timeout spinner finance team rows reset", limit=20)

    [body] = searches(fake)
    assert len(body["query"]["value"]) <= 15
    assert page.items


async def test_a_customer_search_filters_on_the_contacts_of_the_named_company(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom

    page = await adapter.search_tickets("export", customer="Globex", limit=20)

    lookup = next(r for r in fake.requests if r.url.path == "/companies")
    assert lookup.url.params["name"] == "Globex"
    [body] = searches(fake)
    [contacts] = [f for f in body["query"]["value"] if f.get("field") == "contact_ids"]
    assert contacts["operator"] == "IN"
    assert {t.id for t in page.items} == {"101", "105"}


async def test_an_unknown_customer_finds_nothing_without_searching(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom

    page = await adapter.search_tickets("export", customer="Nobody Inc", limit=20)

    assert page.items == []
    assert searches(fake) == []


async def test_intercom_states_and_priority_map_to_the_normalized_vocabulary(intercom: tuple[Intercom, FakeIntercom]):
    adapter, _ = intercom

    page = await adapter.search_tickets("", limit=20)

    assert {t.id: (t.status, t.priority) for t in page.items} == {
        "101": ("open", "high"),
        "102": ("open", "normal"),
        "103": ("pending", "normal"),
        "104": ("open", "high"),
        "105": ("open", "high"),
        "106": ("solved", "normal"),
        "107": ("open", "normal"),
    }


async def test_a_conversation_reads_as_plain_text_with_its_customer_and_requester(
    intercom: tuple[Intercom, FakeIntercom],
):
    adapter, fake = intercom

    ticket = await adapter.get_ticket("101")

    assert ticket.subject == "CSV export fails with a timeout"
    assert ticket.body == "Our nightly CSV export stops with a timeout since Monday."
    assert ticket.customer == "Globex"
    assert ticket.requester == "ops@globex.com"
    assert [(c.body, c.public) for c in ticket.comments] == [
        ("Still failing this morning.", True),
        ("Reproduced on their largest workspace.", False),
    ]
    assert next(r for r in fake.requests if r.url.path == "/conversations/101").url.params["display_as"] == "plaintext"


async def test_company_names_are_looked_up_once(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom

    await adapter.search_tickets("export", limit=20)
    await adapter.search_tickets("export", limit=20)

    lookups = [r.url.path for r in fake.requests if r.url.path.startswith("/companies/")]
    assert len(lookups) == len(set(lookups)) == 3


async def test_a_note_is_an_admin_note_reply_with_the_text_escaped(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom

    receipt = await adapter.add_internal_note("101", "Escalated <ENG-1>.\nWatching it.", idempotency_key="k")

    assert fake.replies == [
        {
            "message_type": "note",
            "type": "admin",
            "admin_id": ADMIN_ID,
            "body": "<p>Escalated &lt;ENG-1&gt;.</p><p>Watching it.</p>",
        }
    ]
    assert receipt.id == fake.conversations["101"].parts[-1].id


async def test_without_an_admin_id_notes_are_written_as_the_tokens_admin():
    fake = FakeIntercom(SCENARIO.shifted_to(ANCHOR))
    adapter = Intercom(IntercomSettings(token=SecretStr(TOKEN)), policy=FAST, transport=fake.transport())

    await adapter.add_internal_note("102", "Escalated.", idempotency_key="k")
    await adapter.add_internal_note("103", "Escalated.", idempotency_key="k2")
    await adapter.aclose()

    assert [r["admin_id"] for r in fake.replies] == [ADMIN_ID, ADMIN_ID]
    assert [r.url.path for r in fake.requests].count("/me") == 1


async def test_a_note_is_not_sent_again_after_a_server_error(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom
    fake.fail_next(fake.server_error())

    with pytest.raises(UpstreamError) as raised:
        await adapter.add_internal_note("101", "Escalated.", idempotency_key="k-500")

    assert raised.value.status == 500
    assert [r.url.path for r in fake.requests] == ["/conversations/101/reply"]


async def test_the_rate_limit_reset_time_is_waited_out(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom
    limited = fake.rate_limited(0.2)
    reset = float(limited.headers["x-ratelimit-reset"])  # a whole Unix second, as Intercom sends it
    fake.fail_next(limited)

    page = await adapter.search_tickets("export", limit=2)

    assert time.time() >= reset - 0.01  # the retry waited for the window to reset
    assert len(page.items) == 2
    assert len(searches(fake)) == 2


async def test_a_rate_limit_outlasting_the_retries_reports_when_the_window_resets():
    fake = FakeIntercom(SCENARIO.shifted_to(ANCHOR))
    settings = IntercomSettings(token=SecretStr(TOKEN), admin_id=ADMIN_ID)
    adapter = Intercom(settings, policy=replace(FAST, attempts=1), transport=fake.transport())
    fake.fail_next(fake.rate_limited(5))

    with pytest.raises(RateLimitedError) as raised:
        await adapter.search_tickets("export")
    await adapter.aclose()

    assert raised.value.retry_after is not None
    assert 4 <= raised.value.retry_after <= 6


async def test_intercoms_error_code_and_message_are_reported(intercom: tuple[Intercom, FakeIntercom]):
    adapter, _ = intercom

    with pytest.raises(NotFoundError, match="not_found: Resource Not Found"):
        await adapter.get_ticket("424242")


async def test_a_conversation_id_that_is_not_a_number_is_not_found_without_asking(
    intercom: tuple[Intercom, FakeIntercom],
):
    adapter, fake = intercom

    with pytest.raises(NotFoundError):
        await adapter.add_internal_note("abc", "x", idempotency_key="k")

    assert fake.requests == []


async def test_the_health_check_names_the_admin_and_the_workspace(intercom: tuple[Intercom, FakeIntercom]):
    adapter, _ = intercom

    health = await adapter.check()

    assert health.detail == "authenticated as Escalation Bot in Acme (US)"
    assert health.headroom == "1665 of 1666 left"


async def test_a_bad_token_is_an_auth_error_from_intercoms_error_list(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom
    fake.token = "another"

    health = await adapter.check()

    assert "unauthorized: Access Token Invalid" in health.detail
    assert TOKEN not in health.detail


def test_a_missing_token_names_its_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESCALATION_INTERCOM_TOKEN", raising=False)

    with pytest.raises(ConfigError, match="ESCALATION_INTERCOM_TOKEN is not set"):
        load_settings(IntercomSettings)


def test_an_unknown_region_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_INTERCOM_TOKEN", TOKEN)
    monkeypatch.setenv("ESCALATION_INTERCOM_REGION", "mars")

    with pytest.raises(ConfigError, match="ESCALATION_INTERCOM_REGION is invalid"):
        load_settings(IntercomSettings)


def adapter_on(fake: FakeIntercom, *, version: str = "2.14", region: Region = "us") -> Intercom:
    settings = IntercomSettings(token=SecretStr(TOKEN), admin_id=ADMIN_ID, api_version=version, region=region)
    return Intercom(settings, policy=FAST, transport=fake.transport())


async def test_on_2_14_the_customer_comes_from_the_conversations_contact_and_its_companies():
    fake = FakeIntercom(SCENARIO.shifted_to(ANCHOR))
    adapter = adapter_on(fake, version="2.14")

    page = await adapter.search_tickets("export", limit=20)
    await adapter.aclose()

    assert {t.id: t.customer for t in page.items} == {
        "101": "Globex",
        "102": "Initech",
        "104": "Acme Corp",
        "105": "Globex",
        "107": "Initech",
    }
    assert any(r.url.path.startswith("/contacts/") for r in fake.requests)


async def test_on_2_15_the_customer_is_the_company_object_the_conversation_carries():
    fake = FakeIntercom(SCENARIO.shifted_to(ANCHOR))
    adapter = adapter_on(fake, version="2.15")

    ticket = await adapter.get_ticket("104")
    await adapter.aclose()

    assert ticket.customer == "Acme Corp"
    assert not [r for r in fake.requests if r.url.path.startswith(("/contacts/", "/companies/"))]


async def test_an_older_answer_with_a_company_id_still_names_the_customer():
    fake = FakeIntercom(SCENARIO.shifted_to(ANCHOR))
    fake.legacy_company_id = True
    adapter = adapter_on(fake, version="2.14")

    ticket = await adapter.get_ticket("102")
    await adapter.aclose()

    assert ticket.customer == "Initech"
    assert not [r for r in fake.requests if r.url.path.startswith("/contacts/")]


@pytest.mark.parametrize(
    ("region", "app_host"),
    [("us", "https://app.intercom.com"), ("eu", "https://app.eu.intercom.com"), ("au", "https://app.au.intercom.com")],
)
async def test_a_ticket_links_to_the_conversation_in_the_inbox_not_the_api(region: Region, app_host: str):
    fake = FakeIntercom(SCENARIO.shifted_to(ANCHOR))
    adapter = adapter_on(fake, region=region)

    ticket = await adapter.get_ticket("101")
    await adapter.aclose()

    assert ticket.url == f"{app_host}/a/inbox/ecahpwf5/inbox/conversation/101"


async def test_a_ticket_has_no_link_when_the_token_may_not_read_its_admin(intercom: tuple[Intercom, FakeIntercom]):
    adapter, fake = intercom
    fake.admin_readable = False

    ticket = await adapter.get_ticket("101")

    assert ticket.url is None
    assert ticket.customer == "Globex"
