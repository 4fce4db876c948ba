"""Resources, the customer-escalation prompt and completion through the in-memory client, on both protocol versions."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from inline_snapshot import snapshot
from mcp import MCPError
from mcp.types import (
    INVALID_PARAMS,
    PromptReference,
    ResourceTemplateReference,
    TextContent,
    TextResourceContents,
)

from tests.server.surface import TOOLS, Connect, without_ids

pytest_plugins = ["tests.server.surface"]

PROMPT = PromptReference(type="ref/prompt", name="customer-escalation")
TEMPLATE = ResourceTemplateReference(type="ref/resource", uri="escalation://templates/{name}")


async def test_resources_list_offers_the_playbook_and_the_connectors(connect: Connect) -> None:
    async with connect() as surface:
        listed = (await surface.client.list_resources()).resources

    assert [(r.uri, r.name, r.mime_type) for r in listed] == snapshot(
        [
            ("escalation://playbook", "playbook", "text/markdown"),
            ("escalation://connectors", "connectors", "application/json"),
        ]
    )


async def test_resource_templates_offer_brief_templates_and_stored_escalations(connect: Connect) -> None:
    async with connect() as surface:
        listed = (await surface.client.list_resource_templates()).resource_templates

    assert [(t.uri_template, t.name, t.mime_type) for t in listed] == snapshot(
        [
            ("escalation://templates/{name}", "template", "text/plain"),
            ("escalation://escalations/{escalation_id}", "escalation", "application/json"),
            ("escalation://escalations/{escalation_id}/calendar.ics", "calendar", "text/calendar"),
        ]
    )


async def test_the_playbook_reads_as_the_packaged_markdown(connect: Connect) -> None:
    async with connect() as surface:
        result = await surface.client.read_resource("escalation://playbook")

    (content,) = result.contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "text/markdown"
    assert content.text == resources.files("prompts").joinpath("playbook.md").read_text("utf-8")


async def test_a_brief_template_reads_as_its_jinja_source(connect: Connect) -> None:
    async with connect() as surface:
        text = await surface.read("escalation://templates/brief.en.md.j2")

    assert text == resources.files("prompts").joinpath("templates/brief.en.md.j2").read_text("utf-8")


async def test_an_unknown_template_is_not_found_and_the_error_names_the_available_ones(connect: Connect) -> None:
    async with connect() as surface:
        with pytest.raises(MCPError) as raised:
            await surface.client.read_resource("escalation://templates/brief.fr.md.j2")

    assert raised.value.code == INVALID_PARAMS  # not found, not an internal error (SEP-2164)
    assert raised.value.message == snapshot(
        "no template 'brief.fr.md.j2'; available: brief.en.md.j2, brief.ja.md.j2, brief.ko.md.j2"
    )


async def test_a_stored_escalation_reads_as_json_with_its_timeline_and_followups(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="high")
        await surface.call("schedule_followup", {"escalation_id": escalation_id, "count": 1})
        record = await surface.escalation(escalation_id)

    assert record["id"] == escalation_id
    assert record["brief_markdown"].startswith("## ESCALATION: Intermittent HTTP 500 on POST /v2/orders\n")
    assert without_ids({k: v for k, v in record.items() if k != "brief_markdown"}) == snapshot(
        {
            "id": "<id>",
            "created_at": "2026-11-20T15:00:00Z",
            "updated_at": "2026-11-20T15:00:00Z",
            "summary": "Intermittent HTTP 500 on POST /v2/orders",
            "customer": "Acme Corp",
            "severity": "high",
            "targets": ["engineering"],
            "status": "ready",
            "language": "en",
            "missing": [],
            "facts": None,
            "impact": None,
            "impact_input": None,
            "routing": None,
            "flags": {
                "production_down": None,
                "data_loss": None,
                "security": None,
                "workaround": None,
                "sla_status": None,
                "churn_threat": None,
                "legal_risk": None,
                "executive_asking": None,
                "deadline": None,
            },
            "brief": {
                "summary": "Intermittent HTTP 500 on POST /v2/orders",
                "targets": ["engineering"],
                "severity": "high",
                "customer": "Acme Corp",
                "reported_by": None,
                "customers_affected": "Acme Corp (1 of 1 reporting)",
                "workflow_impact": "Nightly order sync aborts; about 38k orders a night are not pushed",
                "revenue_at_risk": None,
                "time_in_queue": "2 days",
                "sla_status": None,
                "description": "About 1 in 20 calls to POST /v2/orders returns 500 with internal_error since Tuesday.",
                "tried": [],
                "repro_steps": ["POST a valid order to /v2/orders 100 times", "Count the 500 responses"],
                "expected": "201 Created for every valid order",
                "actual": "About 5% return 500 internal_error",
                "environment": "Production, api.relay.example, v2 API",
                "frequency": None,
                "ruled_out": [],
                "evidence": ["req_8c1f2e7a94d3: 500 internal_error"],
                "use_case": None,
                "request_frequency": None,
                "competitive_pressure": None,
                "observed": None,
                "potentially_affected": None,
                "containment": None,
                "urgency": None,
                "last_customer_update": None,
                "customer_expectation": None,
                "escalation_risk": None,
                "needed": ["investigate the 500s on /v2/orders"],
                "deadline": "before tonight's order sync at 22:00 ET",
                "links": [],
            },
            "brief_given": {
                "customers_affected": "Acme Corp (1 of 1 reporting)",
                "workflow_impact": "Nightly order sync aborts; about 38k orders a night are not pushed",
                "time_in_queue": "2 days",
                "description": "About 1 in 20 calls to POST /v2/orders returns 500 with internal_error since Tuesday.",
                "repro_steps": ["POST a valid order to /v2/orders 100 times", "Count the 500 responses"],
                "expected": "201 Created for every valid order",
                "actual": "About 5% return 500 internal_error",
                "environment": "Production, api.relay.example, v2 API",
                "evidence": ["req_8c1f2e7a94d3: 500 internal_error"],
                "needed": ["investigate the 500s on /v2/orders"],
                "deadline": "before tonight's order sync at 22:00 ET",
            },
            "owner": None,
            "team": None,
            "timeline": [
                {"at": "2026-11-20T15:00:00Z", "kind": "brief_drafted", "detail": "brief ready for engineering (high)"},
                {
                    "at": "2026-11-20T15:00:00Z",
                    "kind": "followups_scheduled",
                    "detail": "high cadence; 1 customer zone(s); next due 2026-11-20T14:00:00-05:00",
                },
            ],
            "followups": [
                {
                    "kind": "customer",
                    "due_at": "2026-11-20T14:00:00-05:00",
                    "latest_at": "2026-11-20T18:00:00-05:00",
                    "cadence": "every 4-8 h",
                    "id": "<id>",
                    "escalation_id": "<id>",
                    "customer": "Acme Corp",
                    "state": "pending",
                },
                {
                    "kind": "internal",
                    "due_at": "2026-11-20T19:00:00Z",
                    "latest_at": "2026-11-20T19:00:00Z",
                    "cadence": "every 4 h",
                    "id": "<id>",
                    "escalation_id": "<id>",
                    "customer": None,
                    "state": "pending",
                },
            ],
        }
    )


async def test_an_unknown_escalation_is_not_found(connect: Connect) -> None:
    async with connect() as surface:
        with pytest.raises(MCPError) as raised:
            await surface.client.read_resource(f"escalation://escalations/{'0' * 32}")

    assert raised.value.code == INVALID_PARAMS
    assert raised.value.message == snapshot("no escalation with id '00000000000000000000000000000000'")


async def test_the_connectors_resource_says_every_category_is_connected_to_the_local_workspace(
    connect: Connect,
) -> None:
    async with connect() as surface:
        wired = json.loads(await surface.read("escalation://connectors"))

    assert wired == snapshot(
        {
            "support": {"connected": True, "adapter": "local"},
            "crm": {"connected": True, "adapter": "local"},
            "chat": {"connected": True, "adapter": "local"},
            "tracker": {"connected": True, "adapter": "local"},
            "knowledge": {"connected": True, "adapter": "local"},
        }
    )


# prompt


async def test_the_customer_escalation_prompt_takes_an_issue_and_an_optional_customer(connect: Connect) -> None:
    async with connect() as surface:
        (prompt,) = (await surface.client.list_prompts()).prompts

    arguments = [(a.name, a.required) for a in prompt.arguments or []]
    assert (prompt.name, prompt.title, arguments) == snapshot(
        ("customer-escalation", "Customer escalation", [("issue_summary", True), ("customer", False)])
    )


async def test_the_prompt_renders_the_issue_and_customer_and_names_every_tool(connect: Connect) -> None:
    async with connect() as surface:
        result = await surface.client.get_prompt(
            "customer-escalation", {"issue_summary": "API returning 500 errors intermittently", "customer": "Acme Corp"}
        )

    (message,) = result.messages
    assert message.role == "user"
    assert isinstance(message.content, TextContent)
    lines = message.content.text.splitlines()
    assert lines[:2] == snapshot(
        [
            "Escalate this customer-support issue properly: API returning 500 errors intermittently",
            "Customer: Acme Corp",
        ]
    )
    assert [tool for tool in TOOLS if f"`{tool}`" not in message.content.text] == []


async def test_the_prompt_without_a_customer_names_none(connect: Connect) -> None:
    async with connect() as surface:
        result = await surface.client.get_prompt("customer-escalation", {"issue_summary": "CSV export missing rows"})

    (message,) = result.messages
    assert isinstance(message.content, TextContent)
    assert message.content.text.startswith("Escalate this customer-support issue properly: CSV export missing rows\n\n")
    assert "Customer:" not in message.content.text
    assert "and the customer" not in message.content.text


# completion


async def test_completing_the_customer_argument_offers_crm_accounts_by_prefix(connect: Connect) -> None:
    async with connect() as surface:
        result = await surface.client.complete(PROMPT, {"name": "customer", "value": "Ac"})

    assert result.completion.values == ["Acme Corp"]


async def test_completing_a_template_name_offers_the_packaged_templates(connect: Connect) -> None:
    async with connect() as surface:
        every = await surface.client.complete(TEMPLATE, {"name": "name", "value": ""})
        korean = await surface.client.complete(TEMPLATE, {"name": "name", "value": "brief.k"})

    assert every.completion.values == snapshot(["brief.en.md.j2", "brief.ja.md.j2", "brief.ko.md.j2"])
    assert korean.completion.values == ["brief.ko.md.j2"]
