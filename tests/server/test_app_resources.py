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
            "timeline": [
                {"at": "2026-11-20T15:00:00Z", "kind": "created", "detail": "brief ready for engineering (high)"},
                {
                    "at": "2026-11-20T15:00:00Z",
                    "kind": "followups_scheduled",
                    "detail": "high cadence in America/New_York; next due 2026-11-20T14:00:00-05:00",
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
                    "state": "pending",
                },
                {
                    "kind": "internal",
                    "due_at": "2026-11-20T14:00:00-05:00",
                    "latest_at": "2026-11-20T14:00:00-05:00",
                    "cadence": "every 4 h",
                    "id": "<id>",
                    "escalation_id": "<id>",
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
