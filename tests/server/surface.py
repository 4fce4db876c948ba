"""Shared fixtures and helpers for the MCP-surface tests: one server per test, on both protocol versions.

Test modules load this with `pytest_plugins = ["tests.server.surface"]` and open `connect()` in each test.
They import it before pytest sees it as a plugin, too late for assertion rewriting, so it opts out
(PYTEST_DONT_REWRITE) and its assertions carry their own messages.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent, TextResourceContents

from server.app import build_server
from server.settings import Settings

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
TOOLS = (
    "gather_context",
    "assess_impact",
    "pick_tier",
    "draft_brief",
    "schedule_followup",
    "list_escalations",
    "update_escalation",
    "draft_customer_update",
)
ISSUE = "API returning 500 errors intermittently"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")

# Everything an engineering brief needs, so it comes back ready.
ENGINEERING_FIELDS: dict[str, Any] = {
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
}
ENGINEERING_BRIEF: dict[str, Any] = {
    "summary": "Intermittent HTTP 500 on POST /v2/orders",
    "targets": ["engineering"],
    "severity": "high",
    "customer": "Acme Corp",
    "fields": ENGINEERING_FIELDS,
}


@dataclass
class Surface:
    """An in-memory client connected to a freshly built server, and the ledger file behind it."""

    client: Client
    ledger_path: Path

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The structured result of a call that must succeed."""
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None, result
        return result.structured_content

    async def fail(self, tool: str, arguments: dict[str, Any]) -> str:
        """The message of a call that must come back as a tool error."""
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error, result.structured_content
        return text_of(result)

    async def read(self, uri: str) -> str:
        """The text of a resource with exactly one text content."""
        result = await self.client.read_resource(uri)
        (content,) = result.contents
        assert isinstance(content, TextResourceContents), content
        return content.text

    async def escalation(self, escalation_id: str) -> dict[str, Any]:
        """A stored escalation, as the escalation resource shows it."""
        return cast(dict[str, Any], json.loads(await self.read(f"escalation://escalations/{escalation_id}")))

    async def new_escalation(self, **overrides: Any) -> str:
        """The id of a freshly drafted escalation (the complete engineering brief unless overridden)."""
        brief = await self.call("draft_brief", {**ENGINEERING_BRIEF, **overrides})
        return cast(str, brief["escalation_id"])

    def escalation_rows(self) -> int:
        """How many escalations the ledger file holds, read behind the server's back."""
        with closing(sqlite3.connect(f"{self.ledger_path.as_uri()}?mode=ro", uri=True)) as db:
            row: tuple[int] = db.execute("SELECT count(*) FROM escalations").fetchone()
        return row[0]


Connect = Callable[[], AbstractAsyncContextManager[Surface]]


def text_of(result: CallToolResult) -> str:
    """The text of a tool result's single text content."""
    (content,) = result.content
    assert isinstance(content, TextContent), content
    return content.text


def without_ids(value: Any) -> Any:
    """`value` with every random 128-bit hex id replaced by "<id>", for comparing whole objects."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in cast(dict[str, Any], value).items()}
    if isinstance(value, list):
        return [without_ids(v) for v in cast(list[Any], value)]
    if isinstance(value, str) and HEX_ID.match(value):
        return "<id>"
    return value


@pytest.fixture(params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
def protocol_mode(request: pytest.FixtureRequest) -> str:
    """How the client connects: stateless 2026-07-28 by default, or the 2025-11-25 handshake."""
    return cast(str, request.param)


@pytest.fixture
def connect(tmp_path: Path, protocol_mode: str, monkeypatch: pytest.MonkeyPatch) -> Connect:
    """Opens the server on the embedded demo workspace, a ledger in `tmp_path` and the clock stopped at NOW.

    Tests enter it themselves: the client's task groups must close in the task that opened them,
    which an async fixture's teardown is not.
    """
    for name in [n for n in os.environ if n.startswith("ESCALATION_")]:  # the defaults, whatever the shell says
        monkeypatch.delenv(name)

    @asynccontextmanager
    async def open_surface() -> AsyncGenerator[Surface]:
        ledger_path = tmp_path / "ledger.db"
        server = build_server(Settings(ledger_path=ledger_path), clock=lambda: NOW)
        # No response cache: tests read the same resource before and after a change.
        async with Client(server, mode=protocol_mode, cache=None) as client:
            yield Surface(client, ledger_path)

    return open_surface
