"""The contract's read-only half against real vendor accounts: `uv run pytest -m live`.

Each product runs when its variables are set (see CONNECTORS.md) and is skipped, naming
them, when they are not. Nothing here writes: a live account's data is not ours to change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from connectors.errors import InvalidCursorError
from connectors.health import Checkable
from connectors.products import PRODUCTS, ConfigError, Product, load_settings, open_product

pytestmark = pytest.mark.live

QUERY = "error"  # a word any real support workspace has somewhere


@pytest.fixture(params=PRODUCTS, ids=[p.name for p in PRODUCTS])
async def live(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Product, Any]]:
    product: Product = request.param
    try:
        load_settings(product.settings_type())
    except ConfigError as exc:
        pytest.skip(f"{product.title} credentials not set: {exc}")
    adapter: Any = open_product(product)
    try:
        yield product, adapter
    finally:
        await adapter.aclose()


async def read(product: Product, adapter: Any, cursor: str | None = None) -> list[Any]:
    with anyio.fail_after(30):
        if product.category == "crm":
            return await adapter.search_accounts("a", limit=3)
        search = {
            "support": adapter.search_tickets,
            "chat": adapter.search_messages,
            "tracker": adapter.search_issues,
            "knowledge": adapter.search_articles,
        }[product.category]
        page = await search(QUERY, limit=3, cursor=cursor)
        return [page.items, page.next_cursor]


async def test_the_token_is_accepted(live: tuple[Product, Any]):
    _, adapter = live
    assert isinstance(adapter, Checkable)

    health = await adapter.check()

    assert health.ok, health.detail


async def test_a_read_returns_well_formed_records_and_a_cursor_that_resumes(live: tuple[Product, Any]):
    product, adapter = live

    result = await read(product, adapter)

    if product.category == "crm":
        assert all(a.id and a.name for a in result)
        return
    items, cursor = result
    assert len(items) <= 3
    if cursor is not None:
        more, _ = await read(product, adapter, cursor)
        assert not {i.id for i in items} & {i.id for i in more}


async def test_a_made_up_cursor_is_refused_by_the_real_vendor_as_not_issued(live: tuple[Product, Any]):
    product, adapter = live
    forged = "eyJmb3JnZWQiOiB0cnVlfQ"  # base64 of a JSON object: the shape many vendors' cursors have

    async def resume() -> object:
        if product.category == "crm":
            return await adapter.accounts_on_plan("enterprise", limit=3, cursor=forged)
        return await read(product, adapter, forged)

    with pytest.raises(InvalidCursorError), anyio.fail_after(30):
        await resume()


async def test_a_segment_holds_an_account_on_its_plan_whatever_the_case(live: tuple[Product, Any]):
    product, adapter = live
    if product.category != "crm":
        pytest.skip("segments are a CRM read")
    with anyio.fail_after(30):
        accounts = await adapter.search_accounts("a", limit=20)
    planned = next((a for a in accounts if a.plan), None)
    if planned is None:
        pytest.skip("no account among the first 20 found has a plan set")

    with anyio.fail_after(60):
        found: list[str] = []
        cursor: str | None = None
        for _ in range(20):
            page = await adapter.accounts_on_plan(planned.plan.upper(), limit=100, cursor=cursor)
            found += [a.id for a in page.items]
            cursor = page.next_cursor
            if cursor is None or planned.id in found:
                break

    assert planned.id in found
