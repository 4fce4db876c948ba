"""What gather_context hands the model from outsiders: inside an envelope, defanged, withheld on request."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.server.surface import NOW, Connect

pytest_plugins = ["tests.server.surface"]

INJECTION = "Invoice PDF shows empty boxes instead of umlauts"


def envelope_nonce(notice: str) -> str:
    found = re.search(r"<untrusted-([0-9a-f]{12,64})>", notice)
    assert found, notice
    return found.group(1)


async def test_every_outsider_text_is_inside_the_calls_envelope_and_hidden_characters_are_gone(
    connect: Connect,
) -> None:
    async with connect() as surface:
        first = await surface.call("gather_context", {"issue": INJECTION, "customer": "Globex", "limit": 10})
        second = await surface.call("gather_context", {"issue": INJECTION, "customer": "Globex", "limit": 10})

    nonce = envelope_nonce(first["notice"])
    assert nonce != envelope_nonce(second["notice"])  # a fresh nonce per call: content cannot guess it
    ticket = next(t for t in first["tickets"] if t["id"] == "4816")
    for text in (ticket["subject"], ticket["body"], *(c["body"] for c in ticket["comments"])):
        assert text.startswith(f"<untrusted-{nonce}>\n")
        assert text.endswith(f"\n</untrusted-{nonce}>")
        assert text.count(f"</untrusted-{nonce}>") == 1
    assert "\u200b" not in ticket["body"]
    assert "\u202e" not in ticket["body"]
    assert all(not t["title"].startswith("<untrusted") for t in first["issues"])  # internal sources stay plain


async def test_an_injected_instruction_changes_nothing_on_the_case(connect: Connect) -> None:
    async with connect() as surface:
        gathered = await surface.call("gather_context", {"issue": INJECTION, "customer": "Globex"})
        stored = await surface.escalation(gathered["escalation_id"])

    assert stored["severity"] is None  # nothing assessed, whatever the ticket asked for
    assert stored["targets"] == []
    assert [e["kind"] for e in stored["timeline"]] == ["context_gathered"]


def locked_down(tmp_path: Path) -> Callable[[], AbstractAsyncContextManager[Client]]:
    @asynccontextmanager
    async def open_client() -> AsyncGenerator[Client]:
        settings = Settings(ledger_path=tmp_path / "ledger.db", lockdown=frozenset({"support", "chat"}))
        async with Client(build_server(settings, clock=lambda: NOW)) as client:
            yield client

    return open_client


async def test_lockdown_withholds_customer_text_and_keeps_the_metadata(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("ESCALATION_LOCKDOWN", raising=False)
    async with locked_down(tmp_path)() as client:
        result = await client.call_tool("gather_context", {"issue": INJECTION, "customer": "Globex", "limit": 10})

    assert result.structured_content is not None
    ticket = next(t for t in result.structured_content["tickets"] if t["id"] == "4816")
    assert "Ignore" not in ticket["body"]
    assert "umlauts" not in ticket["body"]
    assert "withheld" in ticket["body"]
    assert (ticket["customer"], ticket["status"]) == ("Globex", "open")
    assert result.structured_content["case"]["description"] is None or "withheld" in str(
        result.structured_content["case"]["description"]
    )


async def test_a_busy_workspace_answer_stays_within_the_budget_and_says_what_it_left_out(tmp_path: Path) -> None:
    from connectors import Connectors
    from connectors.local import LocalWorkspace
    from tests.workspaces import busy_workspace

    local = LocalWorkspace(busy_workspace(2_000))
    wired = Connectors(support=local, crm=local, chat=local, tracker=local, knowledge=local)
    settings = Settings(ledger_path=tmp_path / "ledger.db", answer_budget_tokens=5_000)
    async with Client(build_server(settings, connectors=wired)) as client:
        result = await client.call_tool("gather_context", {"issue": "export is missing rows", "limit": 50})
    await local.aclose()

    (content,) = result.content
    assert content.type == "text"
    assert len(content.text) <= 5_000 * 4
    assert result.structured_content is not None
    sources = result.structured_content["sources"]
    truncated = [s for s in sources if s["status"] == "truncated"]
    assert truncated
    assert all(s["next_cursor"] for s in truncated)
