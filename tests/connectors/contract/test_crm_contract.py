"""The CRM contract, whatever the product behind it."""

from __future__ import annotations

from datetime import date

from connectors import CRM
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
