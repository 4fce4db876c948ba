"""The CRM contract, whatever the product behind it."""

from __future__ import annotations

from datetime import date

from connectors import CRM, BulkCRM
from tests.connectors.contract.conftest import Subject


async def test_the_adapter_serves_the_crm_port(crm: Subject):
    assert isinstance(crm.adapter, CRM)


async def test_an_account_is_found_by_its_exact_name_with_its_commercial_facts(crm: Subject):
    accounts = await crm.adapter.search_accounts("Globex", limit=5)

    globex = next(a for a in accounts if a.name == "Globex")
    assert globex.domain == "globex.com"
    assert globex.arr == 250_000
    assert globex.plan == "Enterprise"
    assert globex.renewal_date == date(2027, 1, 15)
    assert globex.country == "US"


async def test_an_account_is_found_by_a_prefix_of_its_name(crm: Subject):
    accounts = await crm.adapter.search_accounts("Acme", limit=5)

    assert [a.name for a in accounts] == ["Acme Corp"]


async def test_an_account_is_found_by_its_domain(crm: Subject):
    accounts = await crm.adapter.search_accounts("initech.io", limit=5)

    assert [a.name for a in accounts] == ["Initech"]


async def test_a_name_that_matches_nothing_finds_no_account(crm: Subject):
    assert await crm.adapter.search_accounts("Nonexistent Holdings", limit=5) == []


async def test_open_deals_leave_out_closed_ones(crm: Subject):
    [globex] = [a for a in await crm.adapter.search_accounts("Globex", limit=5) if a.name == "Globex"]

    deals = await crm.adapter.open_deals(globex.id)

    assert [(d.name, d.amount) for d in deals] == [("Globex expansion", 80_000)]
    assert deals[0].account_id == globex.id


async def test_an_account_without_deals_has_none_open(crm: Subject):
    [initech] = await crm.adapter.search_accounts("Initech", limit=5)

    assert await crm.adapter.open_deals(initech.id) == []


async def test_a_renewal_deal_is_marked_as_one(crm: Subject):
    [acme] = await crm.adapter.search_accounts("Acme", limit=5)

    deals = await crm.adapter.open_deals(acme.id)

    assert [(d.name, d.renewal) for d in deals] == [("Acme Corp 2027 renewal", True)]


async def test_a_new_business_deal_is_not_a_renewal(crm: Subject):
    [globex] = [a for a in await crm.adapter.search_accounts("Globex", limit=5) if a.name == "Globex"]

    [deal] = await crm.adapter.open_deals(globex.id)

    assert deal.renewal is False


async def test_a_segment_lists_every_account_on_the_plan_whatever_the_case(crm: Subject):
    page = await crm.adapter.accounts_on_plan("ENTERPRISE")

    assert sorted(a.name for a in page.items) == ["Acme Corp", "Globex"]
    assert not page.truncated
    assert {a.plan for a in page.items} == {"Enterprise"}


async def test_a_segment_pages_through_its_cursor_without_gaps_or_repeats(crm: Subject):
    first = await crm.adapter.accounts_on_plan("enterprise", limit=1)
    assert first.truncated
    assert first.next_cursor is not None

    second = await crm.adapter.accounts_on_plan("enterprise", limit=1, cursor=first.next_cursor)

    assert sorted(a.name for a in first.items + second.items) == ["Acme Corp", "Globex"]
    assert not second.truncated


async def test_a_plan_nobody_is_on_is_an_empty_segment(crm: Subject):
    page = await crm.adapter.accounts_on_plan("Platinum")

    assert page.items == []
    assert not page.truncated


async def test_a_plan_with_a_quote_is_matched_literally_and_finds_nothing(crm: Subject):
    page = await crm.adapter.accounts_on_plan("Growth' OR Name != '")

    assert page.items == []


async def test_the_adapter_also_looks_up_in_bulk(crm: Subject):
    assert isinstance(crm.adapter, BulkCRM)


async def test_accounts_are_named_in_bulk_by_exact_name_or_domain_in_any_case(crm: Subject):
    found = await crm.adapter.accounts_named(["GLOBEX", "INITECH.IO", "Acme", "Nonexistent Holdings", "globex"])

    assert sorted(a.name for a in found) == ["Globex", "Initech"]  # "Acme" is only a part of "Acme Corp"
    globex = next(a for a in found if a.name == "Globex")
    assert (globex.domain, globex.arr, globex.plan) == ("globex.com", 250_000, "Enterprise")


async def test_open_deals_in_bulk_are_what_each_account_has_one_at_a_time(crm: Subject):
    accounts = await crm.adapter.search_accounts("", limit=10)
    ids = [a.id for a in accounts]

    bulk = await crm.adapter.open_deals_of(ids)

    assert list(bulk) == ids
    for account_id in ids:
        assert bulk[account_id] == await crm.adapter.open_deals(account_id)
    assert sorted(d.name for deals in bulk.values() for d in deals) == ["Acme Corp 2027 renewal", "Globex expansion"]


async def test_nothing_asked_in_bulk_is_nothing_found(crm: Subject):
    assert await crm.adapter.accounts_named([]) == []
    assert await crm.adapter.open_deals_of([]) == {}
    assert crm.fake is None or crm.fake.requests == []
