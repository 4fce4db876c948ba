"""Freshdesk specifics the contract does not pin down: auth, the scanned listing, names, notes, limits."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest
from pydantic import SecretStr

from connectors.errors import InvalidCursorError, NotFoundError, UpstreamError
from connectors.products import ConfigError, load_settings
from connectors.vendors.freshdesk import Freshdesk, FreshdeskSettings, next_page
from tests.connectors.fakes.base import FAST, json_response
from tests.connectors.fakes.freshdesk import DOMAIN, FakeFreshdesk, make
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN, ago


@pytest.fixture
async def freshdesk() -> AsyncIterator[tuple[Freshdesk, FakeFreshdesk]]:
    adapter, fake = make(SCENARIO.shifted_to(ANCHOR))
    yield adapter, fake
    await adapter.aclose()


def sent(fake: FakeFreshdesk, path: str) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == path]


def bury(fake: FakeFreshdesk, count: int) -> None:
    """`count` tickets about something else, newer than every scenario ticket."""
    for n in range(count):
        fake.add_ticket(
            id=2000 + n,
            subject=f"Invoice question {n}",
            description="Where is my invoice?",
            status=2,
            priority=1,
            requester_id=next(iter(fake.contacts)),
            company_id=None,
            tags=[],
            created_at=ANCHOR + timedelta(minutes=n + 1),
            updated_at=ANCHOR + timedelta(minutes=n + 1),
        )


async def adapter_with(fake: FakeFreshdesk, **settings: object) -> Freshdesk:
    config = FreshdeskSettings(token=SecretStr(TOKEN), domain=DOMAIN, **settings)  # pyright: ignore[reportArgumentType]
    return Freshdesk(config, policy=FAST, transport=fake.transport())


async def test_requests_authenticate_with_the_api_key_and_x_as_the_password(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, fake = freshdesk

    await adapter.search_tickets("export", limit=1)

    scheme, _, encoded = fake.requests[0].headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{TOKEN}:X"
    assert fake.requests[0].url.host == f"{DOMAIN}.freshdesk.com"


async def test_a_search_reads_the_listing_newest_first_with_descriptions_and_matches_the_key_words_itself(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, fake = freshdesk

    page = await adapter.search_tickets("the nightly export keeps failing", limit=20)

    [listing] = sent(fake, "/api/v2/tickets")
    assert dict(listing.url.params) == {
        "include": "requester,description",
        "order_by": "created_at",
        "order_type": "desc",
        "per_page": "100",
        "updated_since": "1970-01-01T00:00:00Z",
        "page": "1",
    }
    assert [t.id for t in page.items] == ["101", "102", "104", "105", "107"]
    assert sent(fake, "/api/v2/search/tickets") == []  # Freshdesk's search matches fields, never text


async def test_tickets_older_than_the_listings_thirty_day_default_are_still_found(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, _ = freshdesk

    page = await adapter.search_tickets("weekly export email", limit=20)

    assert "107" in {t.id for t in page.items}  # created 40 days ago: found only thanks to updated_since


async def test_a_date_is_sent_as_updated_since_and_ends_the_scan_at_the_first_older_ticket(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, fake = freshdesk

    page = await adapter.search_tickets("export", since=ago(days=3, hours=1), limit=20)

    [listing] = sent(fake, "/api/v2/tickets")
    assert listing.url.params["updated_since"] == "2026-11-17T14:00:00Z"
    assert [t.id for t in page.items] == ["101", "102", "104"]
    assert page.next_cursor is None


async def test_a_customer_is_found_by_name_and_the_listing_limited_to_its_company(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, fake = freshdesk

    page = await adapter.search_tickets("export", customer="acme corp", limit=20)

    [lookup] = sent(fake, "/api/v2/companies/autocomplete")
    assert lookup.url.params["name"] == "acme corp"
    assert sent(fake, "/api/v2/tickets")[0].url.params["company_id"] == "1003"
    assert [(t.id, t.customer) for t in page.items] == [("104", "Acme Corp")]
    assert sent(fake, "/api/v2/companies/1003") == []  # the autocomplete answer already named it


async def test_an_unknown_customer_finds_nothing_without_listing(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk

    page = await adapter.search_tickets("export", customer="Acme")  # a prefix of Acme Corp, not its name

    assert page.items == []
    assert page.next_cursor is None
    assert sent(fake, "/api/v2/tickets") == []


async def test_a_limited_search_resumes_inside_the_page_it_stopped_on(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk

    first = await adapter.search_tickets("export", limit=3)
    second = await adapter.search_tickets("export", limit=3, cursor=first.next_cursor)

    assert first.next_cursor == "1:4"  # page 1, after the fourth ticket listed (104)
    assert [r.url.params["page"] for r in sent(fake, "/api/v2/tickets")] == ["1", "1"]
    assert [t.id for t in first.items + second.items] == ["101", "102", "104", "105", "107"]
    assert second.next_cursor is None


async def test_the_scan_stops_at_its_page_budget_and_the_cursor_carries_on_from_there():
    fake = FakeFreshdesk(SCENARIO.shifted_to(ANCHOR))
    bury(fake, 250)
    adapter = await adapter_with(fake, scan_pages=2)

    first = await adapter.search_tickets("export", limit=5)
    second = await adapter.search_tickets("export", limit=5, cursor=first.next_cursor)
    await adapter.aclose()

    assert first.items == []
    assert first.next_cursor == "3:0"
    assert [r.url.params["page"] for r in sent(fake, "/api/v2/tickets")] == ["1", "2", "3"]
    assert [t.id for t in second.items] == ["101", "102", "104", "105", "107"]


async def test_a_cursor_this_adapter_did_not_make_is_refused_without_asking(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, fake = freshdesk

    with pytest.raises(InvalidCursorError, match="start again without a cursor"):
        await adapter.search_tickets("export", cursor="eyJvIjogMn0=")

    assert fake.requests == []


async def test_statuses_and_priorities_read_as_freshdesks_words(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk
    fake.tickets[104].status = 5
    fake.tickets[102].status = 7  # a custom status

    page = await adapter.search_tickets("", limit=20)

    assert {t.id: (t.status, t.priority) for t in page.items} == {
        "101": ("open", "high"),
        "102": ("custom status 7", "medium"),
        "103": ("pending", "low"),
        "104": ("closed", "high"),
        "105": ("open", "urgent"),
        "106": ("resolved", "low"),
        "107": ("open", "low"),
    }


async def test_companies_are_named_once_and_requesters_by_email(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk

    page = await adapter.search_tickets("export", limit=20)
    await adapter.search_tickets("reset", limit=20)

    assert {t.id: t.customer for t in page.items} == {
        "101": "Globex",
        "102": "Initech",
        "104": "Acme Corp",
        "105": "Globex",
        "107": "Initech",
    }
    assert {t.id: t.requester for t in page.items}["101"] == "ops@globex.com"
    assert sorted(r.url.path for r in fake.requests if r.url.path.startswith("/api/v2/companies/")) == [
        "/api/v2/companies/1001",
        "/api/v2/companies/1002",
        "/api/v2/companies/1003",
    ]
    assert page.items[0].url == f"https://{DOMAIN}.freshdesk.com/a/tickets/101"


async def test_a_ticket_comes_with_its_conversations_and_who_wrote_them(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk

    ticket = await adapter.get_ticket("101")

    assert sent(fake, "/api/v2/tickets/101")[0].url.params["include"] == "requester,company"
    assert ticket.body.startswith("Our nightly CSV export")
    assert ticket.customer == "Globex"
    assert [(c.author, c.body, c.public) for c in ticket.comments] == [
        ("ops@globex.com", "Still failing this morning.", True),
        ("Agent Smith", "Reproduced on their largest workspace.", False),
    ]


async def test_conversations_are_followed_through_the_link_header(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk
    for n in range(150):
        await adapter.add_internal_note("103", f"Note {n}", idempotency_key=f"note-{n}")

    ticket = await adapter.get_ticket("103")

    assert [r.url.params["page"] for r in sent(fake, "/api/v2/tickets/103/conversations")] == ["1", "2"]
    assert len(ticket.comments) == 150
    assert {c.author for c in ticket.comments} == {"Escalation Bot"}
    assert len(sent(fake, "/api/v2/agents/7001")) == 1  # the agent's name is remembered


async def test_an_internal_note_is_a_private_note_with_its_text_escaped_as_html(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, fake = freshdesk

    receipt = await adapter.add_internal_note("101", "Escalated <ENG-1>\nsee the brief.", idempotency_key="esc-101")

    [post] = [r for r in fake.requests if r.method == "POST"]
    assert post.url.path == "/api/v2/tickets/101/notes"
    assert json.loads(post.content) == {"body": "Escalated &lt;ENG-1&gt;<br>see the brief.", "private": True}
    assert receipt.id == str(fake.tickets[101].conversations[-1].id)
    assert receipt.url == f"https://{DOMAIN}.freshdesk.com/a/tickets/101"
    assert fake.tickets[101].conversations[-1].body == "Escalated <ENG-1>\nsee the brief."


async def test_a_note_is_not_sent_again_after_a_server_error(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk
    fake.fail_next(fake.server_error())

    with pytest.raises(UpstreamError) as raised:
        await adapter.add_internal_note("101", "Escalated.", idempotency_key="esc-500")

    assert raised.value.status == 500
    assert len([r for r in fake.requests if r.method == "POST"]) == 1


async def test_freshdesks_retry_after_is_waited_out(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk
    fake.fail_next(fake.rate_limited(0.3))

    started = anyio.current_time()
    page = await adapter.search_tickets("export", limit=2)

    assert anyio.current_time() - started >= 0.3
    assert len(page.items) == 2


async def test_the_health_check_names_the_agent_and_reads_the_x_ratelimit_total(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, _ = freshdesk

    health = await adapter.check()

    assert health.ok
    assert health.detail == f"authenticated as Escalation Bot <escalations@acme.example> on {DOMAIN}.freshdesk.com"
    assert health.headroom == "699 of 700 left"


async def test_freshdesks_validation_errors_are_reported_by_field(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk
    fake.fail_next(fake.invalid("company_id", "There is no company matching the given company_id"))

    with pytest.raises(UpstreamError) as raised:
        await adapter.search_tickets("export")

    assert raised.value.status == 400
    assert "Validation failed: company_id: There is no company matching the given company_id (invalid_value)" in str(
        raised.value
    )


async def test_rejected_credentials_carry_freshdesks_code(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, fake = freshdesk
    fake.token = "another-key"

    health = await adapter.check()

    assert not health.ok
    assert "invalid_credentials: You have to be logged in" in health.detail


async def test_an_unknown_ticket_is_not_found_even_without_a_body(freshdesk: tuple[Freshdesk, FakeFreshdesk]):
    adapter, _ = freshdesk

    with pytest.raises(NotFoundError, match="HTTP 404"):
        await adapter.get_ticket("424242")


async def test_a_ticket_id_that_is_not_a_number_is_not_found_without_asking(
    freshdesk: tuple[Freshdesk, FakeFreshdesk],
):
    adapter, fake = freshdesk

    with pytest.raises(NotFoundError):
        await adapter.add_internal_note("INC-1", "hello", idempotency_key="k")

    assert fake.requests == []


async def test_base_url_sends_requests_elsewhere():
    fake = FakeFreshdesk(SCENARIO.shifted_to(ANCHOR))
    adapter = await adapter_with(fake, base_url="http://127.0.0.1:9/")

    page = await adapter.search_tickets("reset", since=datetime(2026, 11, 1, tzinfo=UTC))
    await adapter.aclose()

    assert str(fake.requests[0].url).startswith("http://127.0.0.1:9/api/v2/tickets?")
    # A link is for a person: the helpdesk's agent view, never the proxy the API calls go through.
    assert page.items[0].url == f"https://{DOMAIN}.freshdesk.com/a/tickets/103"


async def test_a_ticket_links_to_the_agent_view_and_a_404_on_the_listing_names_the_domain_setting():
    adapter, fake = make(SCENARIO.shifted_to(ANCHOR))

    ticket = await adapter.get_ticket("101")
    fake.fail_next(json_response(404, {"code": "invalid_domain", "message": "Invalid domain"}))
    with pytest.raises(NotFoundError, match="check ESCALATION_FRESHDESK_DOMAIN"):
        await adapter.search_tickets("export")
    await adapter.aclose()

    assert ticket.url == f"https://{DOMAIN}.freshdesk.com/a/tickets/101"


def test_the_next_page_is_read_from_the_link_header_as_freshdesk_spaces_it():
    link = '< https://acme.freshdesk.com/api/v2/tickets?filter=all_tickets&page=2>;rel="next"'

    assert next_page(link) == 2
    assert next_page(None) is None
    assert next_page('<https://acme.freshdesk.com/api/v2/tickets?page=1>; rel="prev"') is None


def test_the_domain_may_be_given_as_the_whole_host():
    settings = FreshdeskSettings(token=SecretStr(TOKEN), domain="https://acme.freshdesk.com/")

    assert settings.domain == "acme"


def test_a_missing_token_names_its_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESCALATION_FRESHDESK_TOKEN", raising=False)
    monkeypatch.setenv("ESCALATION_FRESHDESK_DOMAIN", DOMAIN)

    with pytest.raises(ConfigError, match="ESCALATION_FRESHDESK_TOKEN is not set"):
        load_settings(FreshdeskSettings)


async def test_a_role_that_may_not_view_agents_still_reads_the_ticket(
    freshdesk: tuple[Freshdesk, FakeFreshdesk], monkeypatch: pytest.MonkeyPatch
):
    adapter, fake = freshdesk
    serve = fake.handle

    def refuse_agents(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v2/agents/"):
            return json_response(403, {"code": "access_denied", "message": "You are not authorized."})
        return serve(request)

    monkeypatch.setattr(fake, "handle", refuse_agents)

    ticket = await adapter.get_ticket("101")

    assert [c.author for c in ticket.comments] == [
        "ops@globex.com",
        f"agent {fake.tickets[101].conversations[1].user_id}",
    ]
