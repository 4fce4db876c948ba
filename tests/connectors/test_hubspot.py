"""HubSpot specifics, through the adapter and the fake portal."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from pydantic import SecretStr

from connectors import BulkCRM
from connectors.errors import AuthError, ConnectorError, NotFoundError, RateLimitedError, UpstreamError
from connectors.products import ConfigError, load_settings
from connectors.vendors.crm_values import Places, date_of
from connectors.vendors.hubspot import HubSpot, HubSpotSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, body_of, json_response
from tests.connectors.fakes.hubspot import FakeHubSpot, make
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN


def scenario() -> Workspace:
    return SCENARIO.shifted_to(ANCHOR)


def searches(fake: FakeHubSpot) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/crm/v3/objects/companies/search"]


async def test_a_search_sends_the_bearer_token_and_the_name_words_as_one_filter_group():
    adapter, fake = make(scenario())

    await adapter.search_accounts("Acme Co", limit=5)

    [request] = searches(fake)
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body = body_of(request)
    assert body["filterGroups"] == [
        {
            "filters": [
                {"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "acme"},
                {"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "co*"},
            ]
        }
    ]
    assert body["limit"] == 5
    assert "after" not in body
    assert {"name", "domain", "arr", "plan", "renewal_date", "country", "timezone"} <= set(body["properties"])


async def test_a_partly_typed_name_finds_the_account():
    adapter, _ = make(scenario())

    accounts = await adapter.search_accounts("glob", limit=5)

    assert [a.name for a in accounts] == ["Globex"]


async def test_a_domain_is_also_matched_exactly_on_the_domain_property():
    adapter, fake = make(scenario())

    await adapter.search_accounts("https://www.Initech.io/", limit=5)

    groups = body_of(searches(fake)[0])["filterGroups"]
    assert groups[-1] == {"filters": [{"propertyName": "domain", "operator": "EQ", "value": "initech.io"}]}


async def test_an_empty_query_lists_companies_without_filters():
    adapter, fake = make(scenario())

    accounts = await adapter.search_accounts("", limit=10)

    assert body_of(searches(fake)[0])["filterGroups"] == []
    assert [a.name for a in accounts] == ["Acme Corp", "Globex", "Initech"]


async def test_search_pages_follow_the_after_cursor_asking_only_for_what_is_still_wanted():
    adapter, fake = make(scenario())
    for i in range(205):
        fake.add_company(str(9000 + i), name=f"Export Co {i:03}")

    accounts = await adapter.search_accounts("export", limit=203)

    assert len(accounts) == 203
    assert [(body_of(r)["limit"], body_of(r).get("after")) for r in searches(fake)] == [(200, None), (3, "200")]


async def test_country_names_and_time_zone_slugs_become_iso_codes_and_iana_zones():
    adapter, _ = make(scenario())

    [globex] = await adapter.search_accounts("Globex", limit=5)

    assert (globex.country, globex.timezone) == ("US", "America/New_York")
    assert globex.renewal_date == date(2027, 1, 15)


async def test_arr_comes_from_the_configured_property_and_never_from_annualrevenue():
    fake = FakeHubSpot(scenario())
    fake.add_company("9001", name="Umbrella", arr_usd="75000.50", annualrevenue="5000000")
    settings = HubSpotSettings(token=SecretStr(TOKEN), arr_property="arr_usd")
    adapter = HubSpot(settings, policy=FAST, transport=fake.transport())

    [umbrella] = await adapter.search_accounts("Umbrella", limit=5)
    [globex] = await adapter.search_accounts("Globex", limit=5)

    assert umbrella.arr == 75000.50
    assert globex.arr is None  # it has `arr` and `annualrevenue`, but neither is the configured property
    assert "arr_usd" in body_of(searches(fake)[0])["properties"]


async def test_an_empty_property_variable_means_the_property_is_not_read(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setenv("ESCALATION_HUBSPOT_PLAN_PROPERTY", "")

    settings = load_settings(HubSpotSettings)

    assert isinstance(settings, HubSpotSettings)
    assert settings.plan_property is None


async def test_the_owner_is_named_from_the_owners_api_once_per_owner():
    adapter, fake = make(scenario())

    [globex] = await adapter.search_accounts("Globex", limit=5)
    await adapter.search_accounts("Globex", limit=5)

    assert globex.owner == "Dana Scully"
    assert len([r for r in fake.requests if r.url.path.startswith("/crm/v3/owners/")]) == 1


async def test_without_the_owners_scope_accounts_come_back_without_their_owner():
    adapter, fake = make(scenario())
    fake.owners_scope = False

    [globex] = await adapter.search_accounts("Globex", limit=5)
    await adapter.search_accounts("Globex", limit=5)

    assert globex.owner is None
    assert globex.arr == 250_000
    assert len([r for r in fake.requests if r.url.path.startswith("/crm/v3/owners/")]) == 1


async def test_open_deals_leave_out_every_closed_stage_whatever_the_pipeline():
    adapter, fake = make(scenario())
    fake.stages.append(
        {"id": "1234567", "label": "Churned", "displayOrder": 9, "metadata": {"isClosed": "true"}, "archived": False}
    )
    fake.stages.append(
        {"id": "7654321", "label": "Security review", "displayOrder": 8, "metadata": {"isClosed": "false"}}
    )
    fake.add_deal("6001", "1001", dealname="Churned add-on", dealstage="1234567", amount="5000")
    fake.add_deal("6002", "1001", dealname="Old loss", dealstage="closedlost")  # no hs_is_closed given
    fake.add_deal("6003", "1001", dealname="SSO add-on", dealstage="7654321", closedate="2026-12-01T00:00:00Z")

    deals = await adapter.open_deals("1001")

    assert [(d.name, d.stage, d.close_date) for d in deals] == [
        ("SSO add-on", "Security review", date(2026, 12, 1)),
        ("Globex expansion", "Contract Sent", None),
    ]


async def test_deal_associations_are_followed_across_pages():
    adapter, fake = make(scenario())
    fake.association_page = 1
    fake.add_deal("6004", "1001", dealname="Globex training", dealstage="qualifiedtobuy")

    deals = await adapter.open_deals("1001")

    assert {d.name for d in deals} == {"Globex expansion", "Globex training"}
    pages = [r for r in fake.requests if r.url.path.endswith("/associations/deals")]
    assert [r.url.params.get("after") for r in pages] == [None, "1", "2"]


async def test_deals_are_read_in_batches_of_one_hundred():
    adapter, fake = make(scenario())
    for i in range(150):
        fake.add_deal(str(7000 + i), "1002", dealname=f"Initech seat pack {i:03}", dealstage="qualifiedtobuy")

    deals = await adapter.open_deals("1002")

    reads = [body_of(r) for r in fake.requests if r.url.path == "/crm/v3/objects/deals/batch/read"]
    assert [len(b["inputs"]) for b in reads] == [100, 50]
    assert len(deals) == 150


async def test_an_account_id_that_is_not_a_hubspot_id_is_not_found_without_a_request():
    adapter, fake = make(scenario())

    with pytest.raises(NotFoundError):
        await adapter.open_deals("../owners/1")

    assert fake.requests == []


def missing_scope(scope: str) -> httpx.Response:
    """HubSpot's 403 for a private app without `scope`."""
    return httpx.Response(
        403,
        json={
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call.",
            "correlationId": "x",
            "category": "MISSING_SCOPES",
            "errors": [
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [scope]},
                }
            ],
        },
    )


async def test_a_missing_scope_is_named_in_the_auth_error():
    adapter, fake = make(scenario())
    fake.fail_next(missing_scope("crm.objects.companies.read"))

    with pytest.raises(AuthError, match=r"needs scope crm\.objects\.companies\.read") as raised:
        await adapter.search_accounts("Globex", limit=5)

    assert "ESCALATION_HUBSPOT_TOKEN" in str(raised.value)


async def test_a_lasting_rate_limit_is_retried_then_reported_with_hubspots_message():
    adapter, fake = make(scenario())
    fake.fail_next(*[fake.rate_limited(0) for _ in range(10)])

    with pytest.raises(RateLimitedError, match="ten_secondly_rolling"):
        await adapter.search_accounts("Globex", limit=5)

    assert len(fake.requests) == FAST.attempts


async def test_the_health_check_names_the_portal_and_the_rate_limit_headroom():
    adapter, _ = make(scenario())

    health = await adapter.check()

    assert health.ok
    assert health.detail == "authenticated as HubSpot portal 62515 (app.hubspot.com)"
    assert health.headroom is not None
    assert health.headroom.endswith("of 190 left")


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESCALATION_HUBSPOT_TOKEN", raising=False)

    with pytest.raises(ConfigError, match="ESCALATION_HUBSPOT_TOKEN is not set"):
        load_settings(HubSpotSettings)


@pytest.mark.parametrize(
    ("value", "code"),
    [("US", "US"), ("usa", "US"), ("United States", "US"), ("United Kingdom", "GB"), ("UK", "GB"),
     ("Deutschland", None), ("Germany", "DE"), ("Côte d'Ivoire", "CI"), ("", None), (None, None)],
)  # fmt: skip
def test_country_values_become_iso_alpha2_codes_or_nothing(value: str | None, code: str | None):
    assert Places().country_code(value) == code


@pytest.mark.parametrize(
    ("value", "zone"),
    [("America/New_York", "America/New_York"), ("europe_slash_london", "Europe/London"),
     ("america_slash_port_hyphen_au_hyphen_prince", "America/Port-au-Prince"), ("Eastern Time", None)],
)  # fmt: skip
def test_time_zone_values_become_iana_names_or_nothing(value: str, zone: str | None):
    assert Places().iana_timezone(value) == zone


@pytest.mark.parametrize(
    ("value", "day"),
    [("2027-01-15", date(2027, 1, 15)), ("2027-01-15T00:00:00Z", date(2027, 1, 15)),
     ("1799971200000", date(2027, 1, 15)), ("next spring", None)],
)  # fmt: skip
def test_date_values_are_read_in_each_form_hubspot_uses(value: str, day: date | None):
    assert date_of(value) == day


async def test_a_segment_filters_the_configured_plan_property_with_eq_and_pages_by_record_id():
    fake = FakeHubSpot(scenario())
    for i in range(3):
        fake.add_company(str(9100 + i), name=f"Tiered {i}", tier="Scale", hs_object_id=str(9100 + i))
    settings = HubSpotSettings(token=SecretStr(TOKEN), plan_property="tier")
    adapter = HubSpot(settings, policy=FAST, transport=fake.transport())

    first = await adapter.accounts_on_plan("scale", limit=2)
    rest = await adapter.accounts_on_plan("scale", limit=2, cursor=first.next_cursor)

    assert [a.name for a in first.items + rest.items] == ["Tiered 0", "Tiered 1", "Tiered 2"]
    assert rest.next_cursor is None
    body = body_of(searches(fake)[0])
    assert body["filterGroups"] == [
        {"filters": [{"propertyName": "tier", "operator": "EQ", "value": spelling}]}
        for spelling in ("scale", "SCALE", "Scale")
    ]
    assert body["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    assert body_of(searches(fake)[1])["after"] == first.next_cursor


async def test_a_segment_without_a_plan_property_names_the_variable_to_set():
    settings = HubSpotSettings(token=SecretStr(TOKEN), plan_property="")
    fake = FakeHubSpot(scenario())
    adapter = HubSpot(settings, policy=FAST, transport=fake.transport())

    with pytest.raises(ConnectorError, match="ESCALATION_HUBSPOT_PLAN_PROPERTY"):
        await adapter.accounts_on_plan("Enterprise")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("deal_type", "renewal"),
    [("existingbusiness", True), ("newbusiness", False), ("renewal", True), ("Contract_Renewal", True), (None, False)],
)
async def test_a_deal_is_a_renewal_by_its_deal_type(deal_type: str | None, renewal: bool):
    adapter, fake = make(scenario())
    fake.add_deal("8001", "1002", dealname="Initech deal", dealstage="qualifiedtobuy", dealtype=deal_type)

    [deal] = await adapter.open_deals("1002")

    assert deal.renewal is renewal


# -- look-ups in bulk ------------------------------------------------------------------------


def association_reads(fake: FakeHubSpot) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/crm/v4/associations/companies/deals/batch/read"]


def deal_reads(fake: FakeHubSpot) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/crm/v3/objects/deals/batch/read"]


def test_the_adapter_answers_look_ups_in_bulk():
    adapter, _ = make(scenario())

    assert isinstance(adapter, BulkCRM)


async def test_many_names_are_one_search_of_lower_case_in_filters_on_name_and_on_domain_shaped_names():
    adapter, fake = make(scenario())

    found = await adapter.accounts_named(["GLOBEX", "Initech.IO", "Acme", " globex "])

    assert sorted(a.name for a in found) == ["Globex", "Initech"]  # "Acme" is only a part of "Acme Corp"
    [request] = searches(fake)
    assert body_of(request)["filterGroups"] == [
        {"filters": [{"propertyName": "name", "operator": "IN", "values": ["globex", "initech.io", "acme"]}]},
        {"filters": [{"propertyName": "domain", "operator": "IN", "values": ["initech.io"]}]},
    ]
    assert body_of(request)["limit"] == 200
    assert {"name", "domain", "arr", "plan"} <= set(body_of(request)["properties"])


async def test_a_name_found_in_bulk_carries_the_same_facts_as_one_searched_alone():
    adapter, _ = make(scenario())

    [globex] = await adapter.accounts_named(["globex"])

    assert [globex] == await adapter.search_accounts("Globex", limit=1)
    assert globex.owner == "Dana Scully"


async def test_a_company_the_search_lets_through_without_an_exact_name_or_domain_is_not_returned():
    adapter, fake = make(scenario())
    acme_corp = {"id": "1003", "properties": {"name": "Acme Corp", "domain": "acme.example"}}
    holdings = {"id": "9001", "properties": {"name": "Globex Holdings", "domain": "globex-holdings.example"}}
    globex = {"id": "1001", "properties": {"name": "GLOBEX", "domain": "globex.com"}}
    fake.fail_next(json_response(200, {"total": 3, "results": [acme_corp, holdings, globex]}))

    found = await adapter.accounts_named(["Acme", "globex"])

    assert [(a.id, a.name) for a in found] == [("1001", "GLOBEX")]


async def test_names_past_one_search_body_are_split_into_as_few_searches_as_fit():
    adapter, fake = make(scenario())
    names = [f"Northwind Regional Logistics Subsidiary {i:03}" for i in range(120)]
    for i, name in enumerate(names):
        fake.add_company(str(9000 + i), name=name)

    found = await adapter.accounts_named([*names, "Globex"])

    assert len(found) == 121
    bodies = [r.content for r in searches(fake)]
    assert all(len(body) <= 3000 for body in bodies)  # HubSpot refuses a longer body with a 400
    assert len(bodies) == 3
    asked = [v for r in searches(fake) for v in body_of(r)["filterGroups"][0]["filters"][0]["values"]]
    assert asked == [*(n.lower() for n in names), "globex"]  # each name once, in order


async def test_more_matches_than_one_page_are_followed_with_after():
    adapter, fake = make(scenario())
    for i in range(205):
        fake.add_company(str(9000 + i), name="Twin Peaks Ltd")

    found = await adapter.accounts_named(["twin peaks ltd"])

    assert len(found) == 205
    assert [(body_of(r)["limit"], body_of(r).get("after")) for r in searches(fake)] == [(200, None), (200, "200")]


async def test_no_names_are_looked_up_without_a_request():
    adapter, fake = make(scenario())

    assert await adapter.accounts_named([]) == []
    assert await adapter.accounts_named(["", "   "]) == []
    assert fake.requests == []


async def test_a_failed_bulk_search_raises_the_adapters_connector_error():
    adapter, fake = make(scenario())
    fake.fail_next(*[fake.server_error() for _ in range(FAST.attempts)])

    with pytest.raises(UpstreamError, match="HTTP 500"):
        await adapter.accounts_named(["Globex"])


async def test_open_deals_in_bulk_are_grouped_by_company_without_closed_ones_and_empty_for_none():
    adapter, fake = make(scenario())

    deals = await adapter.open_deals_of(["1001", "1002", "1003"])

    assert {k: [(d.name, d.account_id, d.renewal) for d in v] for k, v in deals.items()} == {
        "1001": [("Globex expansion", "1001", False)],  # its closed-won renewal is left out
        "1002": [],
        "1003": [("Acme Corp 2027 renewal", "1003", True)],
    }
    [links] = association_reads(fake)
    assert body_of(links) == {"inputs": [{"id": "1001"}, {"id": "1002"}, {"id": "1003"}]}
    [read] = deal_reads(fake)
    assert sorted(i["id"] for i in body_of(read)["inputs"]) == ["5001", "5002", "5003"]
    assert len(fake.requests) == 3  # associations, stages, deals


async def test_open_deals_in_bulk_are_keyed_exactly_as_asked_and_each_company_asked_once():
    adapter, fake = make(scenario())

    deals = await adapter.open_deals_of(["01001", "1001", "../owners/1", "1001"])

    assert list(deals) == ["01001", "1001", "../owners/1"]
    assert [(d.name, d.account_id) for d in deals["01001"]] == [("Globex expansion", "01001")]
    assert [(d.name, d.account_id) for d in deals["1001"]] == [("Globex expansion", "1001")]
    assert deals["../owners/1"] == []
    assert [body_of(r) for r in association_reads(fake)] == [{"inputs": [{"id": "1001"}]}]


async def test_open_deals_in_bulk_follow_each_companys_association_pages():
    adapter, fake = make(scenario())
    fake.association_page = 1
    fake.add_deal("6004", "1001", dealname="Globex training", dealstage="qualifiedtobuy")

    deals = await adapter.open_deals_of(["1001", "1003"])

    assert {d.name for d in deals["1001"]} == {"Globex expansion", "Globex training"}
    assert [body_of(r)["inputs"] for r in association_reads(fake)] == [
        [{"id": "1001"}, {"id": "1003"}],
        [{"id": "1001", "after": "1"}],
        [{"id": "1001", "after": "2"}],
    ]


async def test_open_deals_of_more_than_a_thousand_companies_take_one_association_read_per_thousand():
    adapter, fake = make(scenario())
    ids = [str(20000 + i) for i in range(1001)]
    for company in ids:
        fake.add_company(company, name=f"Company {company}")

    deals = await adapter.open_deals_of(ids)

    assert len(deals) == 1001
    assert all(v == [] for v in deals.values())
    assert [len(body_of(r)["inputs"]) for r in association_reads(fake)] == [1000, 1]
    assert len(fake.requests) == 2  # no deal to read, so no stages either


async def test_no_companies_have_no_deals_without_a_request():
    adapter, fake = make(scenario())

    assert await adapter.open_deals_of([]) == {}
    assert await adapter.open_deals_of(["not-a-number"]) == {"not-a-number": []}
    assert fake.requests == []


async def test_a_missing_deals_scope_in_bulk_is_the_same_auth_error_naming_it():
    adapter, fake = make(scenario())
    fake.fail_next(missing_scope("crm.objects.deals.read"))

    with pytest.raises(AuthError, match=r"needs scope crm\.objects\.deals\.read"):
        await adapter.open_deals_of(["1001"])


async def test_two_hundred_accounts_and_their_deals_cost_a_handful_of_requests_not_four_hundred():
    adapter, fake = make(scenario())
    names = [f"Customer {i:03}" for i in range(200)]  # 12 characters: 151 fit in one search
    for i, name in enumerate(names):
        fake.add_company(str(30000 + i), name=name, hubspot_owner_id=None)
        fake.add_deal(str(40000 + i), str(30000 + i), dealname=f"{name} expansion", dealstage="qualifiedtobuy")

    accounts = await adapter.accounts_named(names)
    deals = await adapter.open_deals_of([a.id for a in accounts])

    assert len(accounts) == 200
    assert sum(len(d) for d in deals.values()) == 200
    assert len(searches(fake)) == 2
    assert len(association_reads(fake)) == 1
    assert len(deal_reads(fake)) == 2
    assert len(fake.requests) == 6  # two searches, associations, stages, two deal reads
