"""Salesforce specifics, through the adapter and the fake org."""

from __future__ import annotations

from datetime import date

import anyio
import pytest
from pydantic import SecretStr

from connectors import BulkCRM
from connectors.errors import AuthError, ConnectorError, NotFoundError, RateLimitedError, UpstreamError
from connectors.products import ConfigError, load_settings
from connectors.vendors.salesforce import Salesforce, SalesforceSettings, soql_contains, soql_string
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, json_response
from tests.connectors.fakes.salesforce import (
    CLIENT_ID,
    CLIENT_SECRET,
    INSTANCE,
    TOKEN_PATH,
    USERNAME,
    FakeSalesforce,
    make,
    make_with_client_credentials,
    record_id,
)
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN

GLOBEX = record_id("001", "1001")


def scenario() -> Workspace:
    return SCENARIO.shifted_to(ANCHOR)


def queries(fake: FakeSalesforce) -> list[str]:
    return [r.url.params["q"] for r in fake.requests if "q" in r.url.params]


def adapter_for(
    fake: FakeSalesforce, *, arr_field: str | None = "ARR__c", plan_field: str | None = "Plan__c"
) -> Salesforce:
    config = SalesforceSettings(
        token=SecretStr(TOKEN), instance_url=INSTANCE, arr_field=arr_field, plan_field=plan_field
    )
    return Salesforce(config, policy=FAST, transport=fake.transport())


async def test_a_search_sends_the_bearer_token_and_one_soql_query_on_the_configured_version():
    adapter, fake = make(scenario())

    await adapter.search_accounts("Acme", limit=5)

    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.url.path == "/services/data/v62.0/query"
    assert request.url.params["q"] == (
        "SELECT Id, Name, Website, Owner.Name, ARR__c, Plan__c, Renewal_Date__c, BillingCountry FROM Account "
        "WHERE Name LIKE '%Acme%' OR Website LIKE '%Acme%' ORDER BY Name LIMIT 5"
    )


async def test_an_account_carries_arr_plan_renewal_owner_and_country_from_their_fields():
    adapter, _ = make(scenario())

    [globex] = await adapter.search_accounts("Globex", limit=5)

    assert globex.id == GLOBEX
    assert (globex.arr, globex.plan, globex.renewal_date) == (250_000, "Enterprise", date(2027, 1, 15))
    assert (globex.owner, globex.country, globex.domain) == ("Dana Scully", "US", "globex.com")


async def test_a_website_url_finds_the_account_by_its_host():
    adapter, fake = make(scenario())

    accounts = await adapter.search_accounts("https://www.globex.com/pricing", limit=5)

    assert [a.name for a in accounts] == ["Globex"]
    assert "Website LIKE '%globex.com%'" in queries(fake)[0]


async def test_an_apostrophe_in_a_name_is_escaped_and_still_finds_the_account():
    adapter, fake = make(scenario())
    fake.add("Account", Id=record_id("001", "2001"), Name="O'Brien & Sons", Website="obrien.example")

    accounts = await adapter.search_accounts("O'Brien", limit=5)

    assert [a.name for a in accounts] == ["O'Brien & Sons"]
    assert "Name LIKE '%O\\'Brien%'" in queries(fake)[0]


@pytest.mark.parametrize("attack", ["x' OR Name LIKE '%", "x\\' OR Name != '", "Globex' LIMIT 1 --", "\\"])
async def test_quotes_and_backslashes_in_a_query_cannot_change_the_soql(attack: str):
    adapter, fake = make(scenario())

    accounts = await adapter.search_accounts(attack, limit=5)

    assert accounts == []  # the whole text stayed one literal, so it matched no name
    assert len(fake.requests) == 1  # and it parsed: a MALFORMED_QUERY would have failed the search


async def test_percent_and_underscore_in_a_query_match_only_themselves():
    adapter, fake = make(scenario())
    fake.add("Account", Id=record_id("001", "2002"), Name="100% Juice", Website=None)
    fake.add("Account", Id=record_id("001", "2003"), Name="1000 Juices", Website=None)
    fake.add("Account", Id=record_id("001", "2004"), Name="Snake_Case Ltd", Website=None)
    fake.add("Account", Id=record_id("001", "2005"), Name="SnakeXCase Ltd", Website=None)

    assert [a.name for a in await adapter.search_accounts("100%", limit=5)] == ["100% Juice"]
    assert [a.name for a in await adapter.search_accounts("Snake_Case", limit=5)] == ["Snake_Case Ltd"]


def test_soql_literals_escape_every_reserved_character():
    assert soql_string('O\'Brien \\ "quoted"\n\x00') == "'O\\'Brien \\\\ \\\"quoted\\\"\\n'"
    assert soql_contains("50%_off") == "'%50\\%\\_off%'"


async def test_arr_is_never_read_from_annual_revenue():
    fake = FakeSalesforce(scenario())
    adapter = adapter_for(fake, arr_field=None)

    [globex] = await adapter.search_accounts("Globex", limit=5)

    assert globex.arr is None
    assert "AnnualRevenue" not in queries(fake)[0]


async def test_a_configured_field_the_org_lacks_names_the_setting_to_change():
    fake = FakeSalesforce(scenario())
    adapter = adapter_for(fake, arr_field="Annual_Recurring_Revenue__c")

    with pytest.raises(UpstreamError, match="set ESCALATION_SALESFORCE_ARR_FIELD") as raised:
        await adapter.search_accounts("Globex", limit=5)

    assert "Annual_Recurring_Revenue__c" in str(raised.value)


async def test_the_health_check_reports_a_missing_field_before_any_search():
    fake = FakeSalesforce(scenario())
    adapter = adapter_for(fake, plan_field="Tier__c")

    health = await adapter.check()

    assert not health.ok
    assert "ESCALATION_SALESFORCE_PLAN_FIELD" in health.detail


async def test_open_deals_ask_for_the_open_opportunities_of_that_account_only():
    adapter, fake = make(scenario())

    deals = await adapter.open_deals(GLOBEX)

    assert [(d.name, d.stage, d.account_id) for d in deals] == [("Globex expansion", "Negotiation/Review", GLOBEX)]
    assert f"WHERE AccountId = '{GLOBEX}' AND IsClosed = false ORDER BY CloseDate, Name" in queries(fake)[0]


async def test_open_deals_follow_next_records_url_until_done():
    adapter, fake = make(scenario())
    fake.batch_size = 1
    for i, day in enumerate([date(2026, 12, 1), date(2027, 2, 1)], 1):
        opportunity = {"Name": f"Globex add-on {i}", "Amount": 1000.0 * i, "StageName": "Prospecting"}
        fake.add("Opportunity", Id=record_id("006", f"600{i}"), CloseDate=day.isoformat(), AccountId=GLOBEX,
                 IsClosed=False, IsWon=False, **opportunity)  # fmt: skip

    deals = await adapter.open_deals(GLOBEX)

    assert [d.name for d in deals] == ["Globex add-on 1", "Globex expansion", "Globex add-on 2"]
    assert [r.url.path.startswith("/services/data/v62.0/query/01g") for r in fake.requests] == [False, True, True]


async def test_a_next_records_url_off_the_data_api_is_refused_and_never_followed():
    adapter, fake = make(scenario())
    fake.fail_next(
        json_response(
            200, {"totalSize": 2, "done": False, "nextRecordsUrl": "https://elsewhere.example/steal", "records": []}
        )
    )

    with pytest.raises(UpstreamError, match="nextRecordsUrl"):
        await adapter.open_deals(GLOBEX)

    assert [r.url.host for r in fake.requests] == ["acme.my.salesforce.com"]


async def test_an_account_id_that_is_not_a_record_id_is_not_found_without_a_request():
    adapter, fake = make(scenario())

    with pytest.raises(NotFoundError):
        await adapter.open_deals("1001' OR IsClosed = true")

    assert fake.requests == []


async def test_a_used_up_api_allocation_is_retried_then_raised_as_rate_limited_not_as_bad_credentials():
    adapter, fake = make(scenario())
    fake.fail_next(*[fake.rate_limited(0) for _ in range(10)])

    with pytest.raises(RateLimitedError, match="REQUEST_LIMIT_EXCEEDED"):
        await adapter.search_accounts("Globex", limit=5)

    assert len(fake.requests) == FAST.attempts


async def test_a_concurrent_request_limit_that_clears_is_waited_out():
    adapter, fake = make(scenario())
    fake.fail_next(
        json_response(
            403, [{"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        )
    )

    assert [a.name for a in await adapter.search_accounts("Globex", limit=5)] == ["Globex"]


async def test_a_permission_refusal_stays_an_auth_error():
    adapter, fake = make(scenario())
    fake.fail_next(json_response(403, [{"message": "API is not enabled for this Organization or Partner",
                                        "errorCode": "API_DISABLED_FOR_ORG"}]))  # fmt: skip

    with pytest.raises(AuthError, match="API_DISABLED_FOR_ORG"):
        await adapter.search_accounts("Globex", limit=5)

    assert len(fake.requests) == 1


async def test_an_expired_session_is_an_auth_error_naming_the_token_variable():
    adapter, fake = make(scenario())
    fake.token = "expired"

    with pytest.raises(AuthError, match="INVALID_SESSION_ID") as raised:
        await adapter.search_accounts("Globex", limit=5)

    assert "ESCALATION_SALESFORCE_TOKEN" in str(raised.value)


async def test_the_health_check_names_the_user_and_reads_either_form_of_the_limit_header():
    adapter, fake = make(scenario())
    fake.bursts = True

    health = await adapter.check()

    assert health.ok
    assert health.detail == f"authenticated as {USERNAME} on acme.my.salesforce.com"
    assert health.headroom == f"{15000 - 1:g} of 15000 left"


async def test_without_the_openid_scope_the_health_check_passes_without_a_name():
    adapter, fake = make(scenario())
    fake.openid = False

    health = await adapter.check()

    assert health.ok
    assert "openid" in health.detail


def test_a_missing_instance_url_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_SALESFORCE_TOKEN", TOKEN)

    with pytest.raises(ConfigError, match="ESCALATION_SALESFORCE_INSTANCE_URL is not set"):
        load_settings(SalesforceSettings)


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKEN", "CLIENT_ID", "CLIENT_SECRET", "INSTANCE_URL"):
        monkeypatch.delenv(f"ESCALATION_SALESFORCE_{name}", raising=False)


@pytest.mark.parametrize(("given", "kept"), [("62", "v62.0"), ("62.0", "v62.0"), ("v64.0", "v64.0")])
def test_the_api_version_is_kept_in_its_url_form(given: str, kept: str):
    settings = SalesforceSettings(token=SecretStr(TOKEN), instance_url=INSTANCE, api_version=given)

    assert settings.api_version == kept


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ESCALATION_SALESFORCE_ARR_FIELD", "ARR__c FROM User WHERE Name != null"),
     ("ESCALATION_SALESFORCE_INSTANCE_URL", "http://acme.my.salesforce.com"),
     ("ESCALATION_SALESFORCE_API_VERSION", "latest")],
)  # fmt: skip
def test_a_setting_that_could_not_be_right_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_SALESFORCE_TOKEN", TOKEN)
    monkeypatch.setenv("ESCALATION_SALESFORCE_INSTANCE_URL", INSTANCE)
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable):
        load_settings(SalesforceSettings)


def test_an_empty_field_variable_means_the_field_is_not_read(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_SALESFORCE_TOKEN", TOKEN)
    monkeypatch.setenv("ESCALATION_SALESFORCE_INSTANCE_URL", INSTANCE + "/")
    monkeypatch.setenv("ESCALATION_SALESFORCE_PLAN_FIELD", "")

    settings = load_settings(SalesforceSettings)

    assert isinstance(settings, SalesforceSettings)
    assert (settings.plan_field, settings.instance_url) == (None, INSTANCE)


# -- the client credentials flow -----------------------------------------------------------------


async def test_with_client_credentials_the_first_call_gets_a_token_from_the_org_and_sends_it():
    adapter, fake = make_with_client_credentials(scenario())

    accounts = await adapter.search_accounts("Globex", limit=5)

    token_request, query = fake.requests
    assert (token_request.method, str(token_request.url)) == ("POST", f"{INSTANCE}{TOKEN_PATH}")
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert fake.token_requests() == [
        {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    ]
    assert query.headers["authorization"] == f"Bearer {fake.token}"
    assert [a.name for a in accounts] == ["Globex"]


async def test_with_client_credentials_the_token_is_reused_while_the_session_lasts():
    adapter, fake = make_with_client_credentials(scenario())

    await adapter.search_accounts("Globex", limit=5)
    await adapter.open_deals(GLOBEX)

    assert fake.sessions == 1


async def test_an_ended_session_is_renewed_with_the_client_credentials_and_the_query_resent():
    adapter, fake = make_with_client_credentials(scenario())
    await adapter.search_accounts("Globex", limit=5)
    fake.expire_session()

    deals = await adapter.open_deals(GLOBEX)

    assert [d.name for d in deals] == ["Globex expansion"]
    assert fake.sessions == 2
    assert [r.url.path for r in fake.requests[2:]] == [
        "/services/data/v62.0/query",  # refused: INVALID_SESSION_ID
        TOKEN_PATH,
        "/services/data/v62.0/query",
    ]


async def test_concurrent_searches_on_an_ended_session_renew_it_once():
    adapter, fake = make_with_client_credentials(scenario())
    await adapter.search_accounts("Globex", limit=5)
    fake.expire_session()
    fake.token_delay = 0.02
    found: list[int] = []

    async def search() -> None:
        found.append(len(await adapter.search_accounts("Globex", limit=5)))

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(search)

    assert found == [1] * 6
    assert fake.sessions == 2


async def test_a_given_token_is_used_first_and_the_client_credentials_renew_it():
    fake = FakeSalesforce(scenario())
    settings = SalesforceSettings(
        token=SecretStr(TOKEN), client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET), instance_url=INSTANCE
    )
    adapter = Salesforce(settings, policy=FAST, transport=fake.transport())

    await adapter.search_accounts("Globex", limit=5)
    fake.expire_session()
    await adapter.search_accounts("Globex", limit=5)

    assert fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert fake.sessions == 1


async def test_a_refused_client_secret_is_an_auth_error_naming_both_variables_but_not_the_secret():
    adapter, fake = make_with_client_credentials(scenario(), client_secret="not-the-secret")

    with pytest.raises(AuthError) as raised:
        await adapter.search_accounts("Globex", limit=5)

    message = str(raised.value)
    assert "invalid_client: invalid client credentials" in message
    assert "ESCALATION_SALESFORCE_CLIENT_ID and ESCALATION_SALESFORCE_CLIENT_SECRET" in message
    assert "not-the-secret" not in message
    assert len(fake.requests) == 1  # a refusal is not retried


async def test_an_app_without_a_run_as_user_is_an_auth_error_saying_what_salesforce_said():
    adapter, fake = make_with_client_credentials(scenario())
    fake.client_credentials_user = False

    with pytest.raises(AuthError, match="invalid_grant: no client credentials user enabled"):
        await adapter.search_accounts("Globex", limit=5)


async def test_the_health_check_with_client_credentials_names_the_run_as_user():
    adapter, fake = make_with_client_credentials(scenario())

    health = await adapter.check()

    assert health.ok, health.detail
    assert health.detail == f"authenticated as {USERNAME} on acme.my.salesforce.com"
    assert fake.sessions == 1


async def test_the_health_check_reports_a_refused_client_secret_without_it():
    adapter, _ = make_with_client_credentials(scenario(), client_secret="not-the-secret")

    health = await adapter.check()

    assert not health.ok
    assert health.detail.startswith("credentials refused: could not get an access token from acme.my.salesforce.com")
    assert "ESCALATION_SALESFORCE_CLIENT_SECRET" in health.detail
    assert "not-the-secret" not in health.detail


def test_neither_a_token_nor_client_credentials_is_a_config_error_naming_all_three(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_SALESFORCE_INSTANCE_URL", INSTANCE)
    monkeypatch.setenv("ESCALATION_SALESFORCE_TOKEN", "")  # an empty variable is an unset one

    with pytest.raises(ConfigError) as raised:
        load_settings(SalesforceSettings)

    assert str(raised.value) == (
        "ESCALATION_SALESFORCE_TOKEN is not set (or set ESCALATION_SALESFORCE_CLIENT_ID and "
        "ESCALATION_SALESFORCE_CLIENT_SECRET for the client credentials flow)"
    )


@pytest.mark.parametrize("alone", ["CLIENT_ID", "CLIENT_SECRET"])
def test_a_client_id_or_secret_alone_is_a_config_error_naming_both(monkeypatch: pytest.MonkeyPatch, alone: str):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_SALESFORCE_INSTANCE_URL", INSTANCE)
    monkeypatch.setenv("ESCALATION_SALESFORCE_TOKEN", TOKEN)
    monkeypatch.setenv(f"ESCALATION_SALESFORCE_{alone}", "x")

    with pytest.raises(
        ConfigError, match="ESCALATION_SALESFORCE_CLIENT_ID and ESCALATION_SALESFORCE_CLIENT_SECRET go together"
    ):
        load_settings(SalesforceSettings)


def test_client_credentials_alone_are_enough_and_stay_secret(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_SALESFORCE_INSTANCE_URL", INSTANCE)
    monkeypatch.setenv("ESCALATION_SALESFORCE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ESCALATION_SALESFORCE_CLIENT_SECRET", CLIENT_SECRET)

    settings = load_settings(SalesforceSettings)

    assert isinstance(settings, SalesforceSettings)
    assert settings.token is None
    assert settings.client_id == CLIENT_ID
    assert CLIENT_SECRET not in repr(settings)


async def test_a_segment_is_one_soql_query_on_the_plan_field_with_the_plan_escaped():
    adapter, fake = make(scenario())

    await adapter.accounts_on_plan("O'Brien \\ Enterprise", limit=10)

    assert queries(fake) == [
        "SELECT Id, Name, Website, Owner.Name, ARR__c, Plan__c, Renewal_Date__c, BillingCountry FROM Account "
        "WHERE Plan__c = 'O\\'Brien \\\\ Enterprise' ORDER BY Id LIMIT 11"
    ]


async def test_a_segment_continues_after_the_last_id_it_handed_out():
    fake = FakeSalesforce(scenario())
    for i in range(3):
        fake.add("Account", Id=record_id("001", str(2000 + i)), Name=f"Scale {i}", Plan__c="Scale")
    adapter = adapter_for(fake)

    first = await adapter.accounts_on_plan("SCALE", limit=2)
    rest = await adapter.accounts_on_plan("SCALE", limit=2, cursor=first.next_cursor)

    assert [a.name for a in first.items + rest.items] == ["Scale 0", "Scale 1", "Scale 2"]
    assert first.next_cursor == record_id("001", "2001")
    assert rest.next_cursor is None
    assert queries(fake)[1].endswith(f"WHERE Plan__c = 'SCALE' AND Id > '{first.next_cursor}' ORDER BY Id LIMIT 3")


async def test_a_segment_without_a_plan_field_names_the_variable_to_set():
    fake = FakeSalesforce(scenario())
    adapter = adapter_for(fake, plan_field=None)

    with pytest.raises(ConnectorError, match="ESCALATION_SALESFORCE_PLAN_FIELD"):
        await adapter.accounts_on_plan("Enterprise")


@pytest.mark.parametrize(
    ("opportunity_type", "renewal"),
    [("Renewal", True), ("Existing Customer - Renewal", True), ("Existing Customer - Upgrade", False), (None, False)],
)
async def test_an_opportunity_is_a_renewal_when_its_type_says_so(opportunity_type: str | None, renewal: bool):
    fake = FakeSalesforce(scenario())
    fake.add(
        "Opportunity",
        Id=record_id("006", "8001"),
        Name="Initech deal",
        StageName="Prospecting",
        CloseDate="2027-01-01",
        AccountId=record_id("001", "1002"),
        IsClosed=False,
        IsWon=False,
        Type=opportunity_type,
    )
    adapter = adapter_for(fake)

    [deal] = await adapter.open_deals(record_id("001", "1002"))

    assert deal.renewal is renewal


# -- look-ups in bulk ----------------------------------------------------------------------------


ACCOUNT_FIELDS = "Id, Name, Website, Owner.Name, ARR__c, Plan__c, Renewal_Date__c, BillingCountry"
INITECH = record_id("001", "1002")
ACME = record_id("001", "1003")


def test_the_adapter_answers_look_ups_in_bulk():
    adapter, _ = make(scenario())

    assert isinstance(adapter, BulkCRM)


async def test_many_names_are_one_query_of_name_in_and_website_like_for_domain_shaped_names():
    adapter, fake = make(scenario())

    found = await adapter.accounts_named(["GLOBEX", "Initech.IO", "Acme", " globex "])

    assert [a.name for a in found] == ["Globex", "Initech"]  # "Acme" is only a part of "Acme Corp"
    assert queries(fake) == [
        f"SELECT {ACCOUNT_FIELDS} FROM Account WHERE Name IN ('GLOBEX', 'Initech.IO', 'Acme') "
        "OR Website LIKE '%initech.io%' ORDER BY Name"
    ]


async def test_a_domain_is_found_inside_the_website_url_but_only_an_exact_host_counts():
    adapter, fake = make(scenario())
    fake.add("Account", Id=record_id("001", "2001"), Name="Not Globex", Website="https://shop.notglobex.com")

    found = await adapter.accounts_named(["globex.com"])

    assert [(a.name, a.domain) for a in found] == [("Globex", "globex.com")]  # its Website is https://www.globex.com
    assert "Website LIKE '%globex.com%'" in queries(fake)[0]


async def test_a_name_found_in_bulk_carries_the_same_facts_as_one_searched_alone():
    adapter, _ = make(scenario())

    [globex] = await adapter.accounts_named(["globex"])

    assert [globex] == await adapter.search_accounts("Globex", limit=1)


async def test_a_quote_in_a_bulk_name_is_escaped_and_the_name_still_found():
    adapter, fake = make(scenario())
    fake.add("Account", Id=record_id("001", "2001"), Name="O'Brien & Sons", Website="obrien.example")

    found = await adapter.accounts_named(["o'brien & sons", "x') OR Name != ('"])

    assert [a.name for a in found] == ["O'Brien & Sons"]
    assert "Name IN ('o\\'brien & sons', 'x\\') OR Name != (\\'')" in queries(fake)[0]


async def test_names_past_one_query_uri_are_split_into_as_few_queries_as_fit():
    adapter, fake = make(scenario())
    names = [f"Northwind Regional Logistics Subsidiary {i:03}" for i in range(300)]
    for i, name in enumerate(names):
        fake.add("Account", Id=record_id("001", str(3000 + i)), Name=name, Website=None)

    found = await adapter.accounts_named(names)

    assert len(found) == 300
    lengths = [len(r.url.raw_path) for r in fake.requests]
    assert all(n <= 8000 for n in lengths)  # half the 16,384 bytes the REST API takes with the headers
    assert len(lengths) == 3
    assert sum(q.count("Northwind") for q in queries(fake)) == 300  # each name asked once


async def test_a_bulk_answer_past_one_page_follows_next_records_url():
    adapter, fake = make(scenario())
    fake.batch_size = 1

    found = await adapter.accounts_named(["Globex", "Initech", "Acme Corp"])

    assert [a.name for a in found] == ["Acme Corp", "Globex", "Initech"]
    assert [r.url.path.startswith("/services/data/v62.0/query/01g") for r in fake.requests] == [False, True, True]


async def test_no_names_are_looked_up_without_a_request():
    adapter, fake = make(scenario())

    assert await adapter.accounts_named([]) == []
    assert await adapter.accounts_named(["  "]) == []
    assert fake.requests == []


async def test_a_refused_bulk_query_raises_the_adapters_connector_error():
    adapter, fake = make(scenario())
    fake.fail_next(json_response(403, [{"message": "API is not enabled for this Organization or Partner",
                                        "errorCode": "API_DISABLED_FOR_ORG"}]))  # fmt: skip

    with pytest.raises(AuthError, match="API_DISABLED_FOR_ORG"):
        await adapter.accounts_named(["Globex"])


async def test_open_deals_in_bulk_are_one_query_grouped_by_account_without_closed_ones_and_empty_for_none():
    adapter, fake = make(scenario())

    deals = await adapter.open_deals_of([GLOBEX, INITECH, ACME])

    assert {k: [(d.name, d.account_id, d.renewal) for d in v] for k, v in deals.items()} == {
        GLOBEX: [("Globex expansion", GLOBEX, False)],  # its closed-won renewal is left out
        INITECH: [],
        ACME: [("Acme Corp 2027 renewal", ACME, True)],
    }
    assert queries(fake) == [
        "SELECT Id, Name, Amount, StageName, CloseDate, Type, AccountId FROM Opportunity "
        f"WHERE AccountId IN ('{GLOBEX}', '{INITECH}', '{ACME}') AND IsClosed = false ORDER BY CloseDate, Name"
    ]
    for account_id in (GLOBEX, INITECH, ACME):
        assert deals[account_id] == await adapter.open_deals(account_id)


async def test_open_deals_in_bulk_are_keyed_exactly_as_asked_and_each_account_asked_once():
    adapter, fake = make(scenario())
    short = GLOBEX[:15]  # the same Account by its 15-character id

    deals = await adapter.open_deals_of([GLOBEX, short, "1001' OR IsClosed = true", GLOBEX])

    assert list(deals) == [GLOBEX, short, "1001' OR IsClosed = true"]
    assert [(d.name, d.account_id) for d in deals[short]] == [("Globex expansion", short)]
    assert [(d.name, d.account_id) for d in deals[GLOBEX]] == [("Globex expansion", GLOBEX)]
    assert deals["1001' OR IsClosed = true"] == []
    assert len(queries(fake)) == 1
    assert f"AccountId IN ('{GLOBEX}') AND" in queries(fake)[0]


async def test_open_deals_in_bulk_follow_next_records_url_until_done():
    adapter, fake = make(scenario())
    fake.batch_size = 1

    deals = await adapter.open_deals_of([GLOBEX, ACME])

    assert [d.name for d in deals[GLOBEX]] == ["Globex expansion"]
    assert [d.name for d in deals[ACME]] == ["Acme Corp 2027 renewal"]
    assert len(fake.requests) == 2


async def test_no_accounts_have_no_deals_without_a_request():
    adapter, fake = make(scenario())

    assert await adapter.open_deals_of([]) == {}
    assert await adapter.open_deals_of(["not an id"]) == {"not an id": []}
    assert fake.requests == []


async def test_a_used_up_allocation_in_bulk_is_rate_limited_not_bad_credentials():
    adapter, fake = make(scenario())
    fake.fail_next(*[fake.rate_limited(0) for _ in range(10)])

    with pytest.raises(RateLimitedError, match="REQUEST_LIMIT_EXCEEDED"):
        await adapter.open_deals_of([GLOBEX])


async def test_two_hundred_accounts_and_their_deals_cost_two_queries_not_four_hundred():
    adapter, fake = make(scenario())
    names = [f"Customer {i:03}" for i in range(200)]
    for i, name in enumerate(names):
        account = record_id("001", str(3000 + i))
        fake.add("Account", Id=account, Name=name, Website=f"customer{i:03}.example")
        opportunity = {"Name": f"{name} expansion", "Amount": 1000.0, "StageName": "Prospecting"}
        fake.add("Opportunity", Id=record_id("006", str(4000 + i)), CloseDate="2027-01-01", AccountId=account,
                 IsClosed=False, IsWon=False, **opportunity)  # fmt: skip

    accounts = await adapter.accounts_named(names)
    deals = await adapter.open_deals_of([a.id for a in accounts])

    assert len(accounts) == 200
    assert sum(len(d) for d in deals.values()) == 200
    assert len(fake.requests) == 2
