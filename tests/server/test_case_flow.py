"""One case from problem to brief: each step stores what it found, later steps default to it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import Client

from connectors import BulkCRM, Connectors
from connectors.local import LocalWorkspace
from connectors.models import Account, Deal, Page, Ticket, WriteReceipt
from server.app import build_server
from server.settings import Settings
from tests.server.surface import ISSUE, NOW, Connect

pytest_plugins = ["tests.server.surface"]

# What only the person knows about the Acme 500s; everything else must come from the case.
REPRO: dict[str, Any] = {
    "repro_steps": ["POST a valid order to /v2/orders 200 times from the customer's payload", "Count the 500s"],
    "expected": "201 Created for every valid order",
    "actual": "About 1 in 20 return 500 internal_error",
    "environment": "Production, api.relay.example, v2 API",
}
ENTERPRISE = {"Acme Corp": 240_000, "Globex": 180_000, "Hooli": 420_000, "Umbrella Health": 310_000}


async def run_case(connect: Connect) -> tuple[dict[str, Any], ...]:
    async with connect() as surface:
        gathered = await surface.call("gather_context", {"issue": ISSUE, "customer": "Acme Corp"})
        case_id = gathered["escalation_id"]
        impact = await surface.call("assess_impact", {"escalation_id": case_id, "depth": "blocked"})
        route = await surface.call("pick_tier", {"escalation_id": case_id, "signals": ["bug_confirmed"]})
        brief = await surface.call("draft_brief", {"escalation_id": case_id, "fields": REPRO})
        schedule = await surface.call("schedule_followup", {"escalation_id": case_id})
        stored = await surface.escalation(case_id)
    return gathered, impact, route, brief, schedule, stored


async def test_five_calls_with_only_the_id_and_the_repro_reach_a_ready_brief_filled_from_the_case(
    connect: Connect,
) -> None:
    gathered, impact, route, brief, schedule, stored = await run_case(connect)

    case = gathered["case"]
    assert [a["name"] for a in case["accounts"]] == ["Acme Corp"]
    assert case["accounts"][0]["high_value"] is True
    assert (impact["severity"], impact["rule"]) == ("high", "key_customer_blocked")
    assert [t["target"] for t in route["targets"]] == ["engineering"]
    assert (brief["status"], brief["missing"]) == ("ready", [])
    assert {"customers_affected", "revenue_at_risk", "time_in_queue", "links", "evidence", "tried"} <= set(
        brief["from_case"]
    )
    markdown = brief["markdown"]
    assert "**Severity:** High" in markdown
    assert "**Target team:** Engineering" in markdown
    assert "1 account: Acme Corp" in markdown
    assert "$240,000 ARR, plus $90,000 in open deals" in markdown
    assert "https://support.relay.example/tickets/4812" in markdown
    assert '"request_id":"req_8c1f2e7a94d3"' in markdown  # the customer's error body, whole
    assert schedule["severity"] == "high"
    assert stored["status"] == "ready"
    assert [e["kind"] for e in stored["timeline"]] == [
        "context_gathered",
        "impact_assessed",
        "severity_changed",
        "routed",
        "brief_drafted",
        "followups_scheduled",
    ] or [e["kind"] for e in stored["timeline"]] == [
        "context_gathered",
        "impact_assessed",
        "routed",
        "brief_drafted",
        "followups_scheduled",
    ]


async def test_the_last_update_to_the_customer_is_the_teams_last_public_reply(connect: Connect) -> None:
    *_, stored = await run_case(connect)

    update = stored["facts"]["last_customer_update"]
    assert "Priya Natarajan" in update
    assert "Idempotency-Key" in update
    assert "Dana Whitfield" not in update  # the customer's own words are not an update to her


async def test_a_fact_the_caller_overrides_is_recorded_on_the_timeline(connect: Connect) -> None:
    async with connect() as surface:
        gathered = await surface.call("gather_context", {"issue": ISSUE, "customer": "Acme Corp"})
        case_id = gathered["escalation_id"]
        await surface.call("assess_impact", {"escalation_id": case_id, "flags": {"sla_status": "at_risk"}})
        await surface.call(
            "assess_impact",
            {"escalation_id": case_id, "customers": ["Acme Corp", "Hooli"], "flags": {"sla_status": "breached"}},
        )
        stored = await surface.escalation(case_id)

    overrides = [e["detail"] for e in stored["timeline"] if e["kind"] == "fact_overridden"]
    assert "accounts: 1 from context -> 2 given" in overrides
    assert any("sla_status" in o and "breached" in o for o in overrides)
    assert stored["flags"]["sla_status"] == "breached"


async def test_flags_given_to_the_impact_step_route_without_being_given_again(connect: Connect) -> None:
    async with connect() as surface:
        gathered = await surface.call(
            "gather_context", {"issue": "Customer threatening to churn over missing audit log feature"}
        )
        case_id = gathered["escalation_id"]
        await surface.call("assess_impact", {"escalation_id": case_id, "flags": {"churn_threat": True}})
        route = await surface.call("pick_tier", {"escalation_id": case_id, "signals": ["feature_gap"]})

    assert gathered["case"]["customer"] == "Umbrella Health"  # found from the context, none was named
    assert [a["name"] for a in gathered["case"]["accounts"]] == ["Umbrella Health"]
    assert [t["target"] for t in route["targets"]] == ["product", "leadership"]


async def test_a_case_kept_in_support_is_closed_as_handled_in_support_with_its_reasons(connect: Connect) -> None:
    async with connect() as surface:
        gathered = await surface.call(
            "gather_context", {"issue": "Constant 429 Too Many Requests", "customer": "Stark Logistics"}
        )
        case_id = gathered["escalation_id"]
        route = await surface.call("pick_tier", {"escalation_id": case_id, "signals": ["configuration_issue"]})
        stored = await surface.escalation(case_id)
        refused = await surface.fail("schedule_followup", {"escalation_id": case_id, "severity": "medium"})

    assert route["escalate"] is False
    assert stored["status"] == "handled_in_support"
    assert stored["timeline"][-1]["kind"] == "handled_in_support"
    assert "configuration" in stored["timeline"][-1]["detail"]
    assert "handled_in_support" in refused


async def test_changing_the_severity_re_renders_the_stored_brief(connect: Connect) -> None:
    async with connect() as surface:
        gathered = await surface.call("gather_context", {"issue": ISSUE, "customer": "Acme Corp"})
        case_id = gathered["escalation_id"]
        await surface.call("assess_impact", {"escalation_id": case_id, "depth": "blocked"})
        await surface.call("pick_tier", {"escalation_id": case_id, "signals": ["bug_confirmed"]})
        await surface.call("draft_brief", {"escalation_id": case_id, "fields": REPRO})
        after = await surface.call("assess_impact", {"escalation_id": case_id, "flags": {"production_down": True}})
        stored = await surface.escalation(case_id)

    assert after["severity"] == "critical"
    assert stored["severity"] == "critical"
    assert "**Severity:** Critical" in stored["brief_markdown"]
    assert any(e["kind"] == "severity_changed" and "high -> critical" in e["detail"] for e in stored["timeline"])


async def test_all_enterprise_customers_resolve_to_every_enterprise_account_and_make_it_critical(
    connect: Connect,
) -> None:
    async with connect() as surface:
        impact = await surface.call("assess_impact", {"segment": "all Enterprise customers", "depth": "blocked"})

    assert sorted(impact["customers"]) == sorted(ENTERPRISE)
    assert impact["severity"] == "critical"
    revenue = next(d for d in impact["dimensions"] if d["dimension"] == "revenue")
    assert revenue["reason"].startswith(f"${sum(ENTERPRISE.values()):,} ARR at risk")


async def test_a_renewal_deal_is_not_counted_on_top_of_the_arr_it_renews(connect: Connect) -> None:
    async with connect() as surface:
        impact = await surface.call("assess_impact", {"customers": ["Umbrella Health"]})

    revenue = next(d for d in impact["dimensions"] if d["dimension"] == "revenue")
    assert revenue["reason"] == "$310,000 ARR at risk"  # its open 2027 renewal deal renews that ARR


async def test_a_list_naming_an_unknown_customer_is_refused_with_suggestions_and_changes_nothing(
    connect: Connect,
) -> None:
    async with connect() as surface:
        gathered = await surface.call("gather_context", {"issue": ISSUE, "customer": "Acme Corp"})
        case_id = gathered["escalation_id"]
        before = await surface.escalation(case_id)
        message = await surface.fail("assess_impact", {"escalation_id": case_id, "customers": ["Acme Corp", "Globx"]})
        after = await surface.escalation(case_id)

    assert "'Globx'" in message
    assert "Globex" in message
    assert "Nothing was changed" in message
    assert after == before


async def test_every_step_still_works_without_an_escalation_id(connect: Connect) -> None:
    async with connect() as surface:
        impact = await surface.call("assess_impact", {"customers": ["Acme Corp"], "depth": "blocked"})
        route = await surface.call("pick_tier", {"signals": ["bug_confirmed"], "customers": ["Acme Corp"]})

    assert (impact["severity"], impact["escalation_id"]) == ("high", None)
    assert [c["signal"] for c in route["criteria"]] == ["bug_confirmed", "high_value_customer_at_risk"]


async def test_a_how_to_question_is_not_asked_whether_production_is_down(connect: Connect) -> None:
    async with connect() as surface:
        gathered = await surface.call(
            "gather_context", {"issue": "Difference between Starter and Growth plans", "customer": "Stark Logistics"}
        )
        impact = await surface.call("assess_impact", {"escalation_id": gathered["escalation_id"]})

    assert {"production_down", "security_breach"}.isdisjoint(m["field"] for m in impact["missing"])


async def test_korean_brief_from_the_case_formats_money_and_time_natively(connect: Connect) -> None:
    async with connect() as surface:
        gathered = await surface.call("gather_context", {"issue": ISSUE, "customer": "Acme Corp"})
        case_id = gathered["escalation_id"]
        await surface.call("assess_impact", {"escalation_id": case_id, "depth": "blocked"})
        await surface.call("pick_tier", {"escalation_id": case_id, "signals": ["bug_confirmed"]})
        ko = await surface.call("draft_brief", {"escalation_id": case_id, "language": "ko"})
        ja = await surface.call("draft_brief", {"escalation_id": case_id, "language": "ja"})

    assert "US$240,000" in ko["markdown"]
    assert "1일" in ko["markdown"] or "시간" in ko["markdown"]
    assert ko["markdown"].startswith("> **초안: 아직 전달할 수 없습니다.** 빠진 항목: 재현 절차(repro_steps)")
    assert "業務停止" in ja["markdown"]
    assert "、" in ja["markdown"].splitlines()[0]


class _SearchWithoutConversations:
    """The demo workspace's tickets as a vendor's search API returns them: without their comments."""

    name = "vendor-like"

    def __init__(self, workspace: LocalWorkspace) -> None:
        self._workspace = workspace

    async def search_tickets(
        self,
        query: str,
        *,
        customer: str | None = None,
        since: datetime | None = None,
        limit: int = 10,
        cursor: str | None = None,
    ) -> Page[Ticket]:
        page = await self._workspace.search_tickets(query, customer=customer, since=since, limit=limit, cursor=cursor)
        return page.model_copy(update={"items": [t.model_copy(update={"comments": []}) for t in page.items]})

    async def get_ticket(self, ticket_id: str) -> Ticket:
        return await self._workspace.get_ticket(ticket_id)

    async def add_internal_note(self, ticket_id: str, body: str, *, idempotency_key: str) -> WriteReceipt:
        return await self._workspace.add_internal_note(ticket_id, body, idempotency_key=idempotency_key)


async def test_what_was_tried_and_said_come_from_the_conversation_when_a_search_returns_tickets_without_it(
    tmp_path: Path,
) -> None:
    workspace = LocalWorkspace.open(now=NOW)
    connectors = Connectors(
        support=_SearchWithoutConversations(workspace), crm=workspace, tracker=workspace, knowledge=workspace
    )
    server = build_server(Settings(ledger_path=tmp_path / "ledger.db"), connectors=connectors, clock=lambda: NOW)
    try:
        async with Client(server) as client:
            result = await client.call_tool("gather_context", {"issue": ISSUE, "customer": "Acme Corp"})
    finally:
        workspace.close()

    assert not result.is_error, result.content
    facts = cast(dict[str, Any], result.structured_content)["case"]
    assert "Priya Natarajan" in facts["last_customer_update"]
    assert facts["tried"], "the team's internal notes name what it tried"


class _OneAtATimeCRM:
    """The demo workspace's CRM without the bulk look-ups, as the vendor CRMs answer."""

    name = "one-at-a-time"

    def __init__(self, workspace: LocalWorkspace) -> None:
        self._workspace = workspace

    async def search_accounts(self, query: str, *, limit: int = 10) -> list[Account]:
        return await self._workspace.search_accounts(query, limit=limit)

    async def accounts_on_plan(self, plan: str, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        return await self._workspace.accounts_on_plan(plan, limit=limit, cursor=cursor)

    async def open_deals(self, account_id: str) -> list[Deal]:
        return await self._workspace.open_deals(account_id)


@pytest.mark.parametrize(
    ("issue", "customer"),
    [
        (ISSUE, "Acme Corp"),
        ("Data export is missing rows", None),
        ("SSO login loop affecting all Enterprise customers", None),
    ],
)
async def test_a_crm_that_looks_up_in_bulk_opens_the_same_case_as_one_looked_up_one_account_at_a_time(
    tmp_path: Path, issue: str, customer: str | None
) -> None:
    workspace = LocalWorkspace.open(now=NOW)
    cases: list[dict[str, Any]] = []
    try:
        for crm in (workspace, _OneAtATimeCRM(workspace)):
            connectors = Connectors(support=workspace, crm=crm, tracker=workspace, knowledge=workspace)
            settings = Settings(ledger_path=tmp_path / f"{crm.name}.db")
            async with Client(build_server(settings, connectors=connectors, clock=lambda: NOW)) as client:
                arguments = {"issue": issue, **({"customer": customer} if customer else {})}
                result = await client.call_tool("gather_context", arguments)
            assert not result.is_error, result.content
            cases.append(cast(dict[str, Any], result.structured_content)["case"])
    finally:
        workspace.close()

    bulk, one_by_one = cases
    assert isinstance(workspace, BulkCRM)
    assert not isinstance(_OneAtATimeCRM(workspace), BulkCRM)
    assert len(bulk["accounts"]) >= 1
    assert bulk["accounts"] == one_by_one["accounts"]
    assert bulk["pending_deals"] == one_by_one["pending_deals"]
