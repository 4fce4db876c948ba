"""What every vendor adapter does when its vendor misbehaves: the same answers, whatever the product."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from connectors.errors import AuthError, NotFoundError, UpstreamError
from connectors.health import Checkable
from tests.connectors.contract.conftest import VENDORS, Subject
from tests.connectors.scenario import TOKEN

PORT_OF = {name: port for port, names in VENDORS.items() for name in names}
READS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "support": lambda a: a.search_tickets("export", limit=5),
    "crm": lambda a: a.search_accounts("Globex", limit=5),
    "chat": lambda a: a.search_messages("export", limit=5),
    "tracker": lambda a: a.search_issues("export", limit=5),
    "knowledge": lambda a: a.search_articles("export", limit=5),
}


async def read(subject: Subject) -> Any:
    return await READS[PORT_OF[subject.name]](subject.adapter)


def found(result: Any) -> int:
    items: list[Any] = result.items if hasattr(result, "items") else result
    return len(items)


async def test_rejected_credentials_raise_an_auth_error_naming_the_variable_but_never_the_token(vendor: Subject):
    assert vendor.fake is not None
    vendor.fake.token = "a-different-token"

    with pytest.raises(AuthError) as raised:
        await read(vendor)

    assert TOKEN not in str(raised.value)
    assert f"ESCALATION_{vendor.name.upper()}_" in str(raised.value)


async def test_a_rate_limit_answer_is_waited_out_and_the_read_then_succeeds(vendor: Subject):
    assert vendor.fake is not None
    vendor.fake.fail_next(vendor.fake.rate_limited(0.05))

    result = await read(vendor)

    assert found(result) > 0
    assert vendor.fake.requests[0].url == vendor.fake.requests[1].url


async def test_server_errors_on_a_read_are_retried(vendor: Subject):
    assert vendor.fake is not None
    vendor.fake.fail_next(vendor.fake.server_error(), vendor.fake.server_error())

    assert found(await read(vendor)) > 0


async def test_a_lasting_server_error_surfaces_with_its_status_after_the_retries(vendor: Subject):
    assert vendor.fake is not None
    vendor.fake.fail_next(*[vendor.fake.server_error() for _ in range(10)])

    with pytest.raises(UpstreamError) as raised:
        await read(vendor)

    assert raised.value.status == 500
    assert len(vendor.fake.requests) == 4  # the first try and three retries


async def test_a_body_that_is_not_json_is_reported_as_such(vendor: Subject):
    assert vendor.fake is not None
    vendor.fake.fail_next(*[httpx.Response(200, text="<html>Bad gateway</html>") for _ in range(10)])

    with pytest.raises(UpstreamError, match="not JSON"):
        await read(vendor)


async def test_the_health_check_says_who_the_token_belongs_to(vendor: Subject):
    assert isinstance(vendor.adapter, Checkable)

    health = await vendor.adapter.check()

    assert health.ok, health.detail
    assert health.detail.startswith("authenticated as ")


async def test_the_health_check_reports_rejected_credentials_without_the_token(vendor: Subject):
    assert vendor.fake is not None
    assert isinstance(vendor.adapter, Checkable)
    vendor.fake.token = "a-different-token"

    health = await vendor.adapter.check()

    assert not health.ok
    assert "credentials refused" in health.detail
    assert TOKEN not in health.detail


async def test_a_404_on_the_search_itself_names_the_setting_that_builds_the_address(vendor: Subject):
    assert vendor.fake is not None
    # What a wrong subdomain, site or workspace gets: the vendor has no such API at that address.
    vendor.fake.fail_next(*[httpx.Response(404, text="Not Found")] * 3)

    with pytest.raises(NotFoundError) as raised:
        await read(vendor)

    message = str(raised.value)
    assert f"check ESCALATION_{vendor.name.upper()}_" in message
    assert "Error" not in message  # plain words, no class names
