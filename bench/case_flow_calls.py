"""How much plumbing an assistant does from a problem statement to a ready brief, over the playbook's four examples.

A scripted assistant (the demo's keyword judgement, plus what only the person knows: repro steps,
use case) runs each example through the in-memory client and counts its tool calls and the values it
copied from one tool's output into another call (anything equal to a value an earlier result held,
other than the escalation_id). Targets: at most 5 calls and 0 copied values per example; and the
whole tools/list answer within 12 KB, printed as a ratio to that budget and to a bare one-tool server.

    uv run python bench/case_flow_calls.py
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.server.mcpserver import MCPServer

from server.app import build_server
from server.demo import judge
from server.settings import Settings
from server.tools.gather import GatherResult

BUDGET = 12 * 1024
EXAMPLES: tuple[tuple[str, str | None], ...] = (
    ("API returning 500 errors intermittently", "Acme Corp"),
    ("Data export is missing rows", None),
    ("SSO login loop affecting all Enterprise customers", None),
    ("Customer threatening to churn over missing audit log feature", None),
)
# What only the person knows, typed in, never copied from a tool.
PERSON: dict[str, Any] = {
    "repro_steps": ["Start from a clean session", "Do the failing action with the customer's data"],
    "expected": "The action completes",
    "actual": "It fails as the tickets describe",
    "environment": "Production",
    "use_case": "Compliance evidence for the customer's audit",
    "request_frequency": "Asked by several enterprise accounts this year",
}


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():  # pyright: ignore[reportUnknownVariableType]
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:  # pyright: ignore[reportUnknownVariableType]
            yield from leaves(v)
    elif not isinstance(value, bool) and value is not None:
        yield value


class Assistant:
    """Calls tools and counts calls and copied values."""

    def __init__(self, client: Client, statement: str) -> None:
        self.client = client
        self.seen: set[str] = set()
        self.statement = statement.lower()
        self.calls = 0
        self.copied: list[str] = []

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        for key, value in arguments.items():
            if key == "escalation_id":
                continue
            for leaf in leaves(value):
                text = str(leaf)
                if len(text) >= 4 and text in self.seen and text.lower() not in self.statement:
                    self.copied.append(f"{tool}.{key}={text[:40]}")
        self.calls += 1
        result = await self.client.call_tool(tool, arguments)
        if result.is_error or result.structured_content is None:
            raise RuntimeError(f"{tool} failed: {result.content}")
        self.seen.update(str(v) for v in leaves(result.structured_content))
        return result.structured_content


async def example(client: Client, issue: str, customer: str | None) -> tuple[int, list[str], str]:
    me = Assistant(client, f"{issue} {customer or ''}")
    gathered = GatherResult.model_validate(
        await me.call("gather_context", {"issue": issue, **({"customer": customer} if customer else {})})
    )
    case_id = gathered.escalation_id
    signals, flags, depth = judge(issue, gathered)
    impact: dict[str, Any] = {"escalation_id": case_id, **({"flags": flags} if flags else {})}
    if depth:
        impact["depth"] = depth
    await me.call("assess_impact", impact)
    route = await me.call("pick_tier", {"escalation_id": case_id, "signals": signals})
    needs = {n for t in route["targets"] for n in t["brief_needs"]}
    fields = {k: v for k, v in PERSON.items() if k in needs}
    brief = await me.call("draft_brief", {"escalation_id": case_id, "fields": fields})
    await me.call("schedule_followup", {"escalation_id": case_id})
    return me.calls, me.copied, f"{brief['status']} (missing {', '.join(brief['missing']) or 'nothing'})"


async def tools_list_bytes(server: MCPServer[Any]) -> int:
    async with Client(server) as client:
        listed = await client.list_tools()
    return len(listed.model_dump_json(by_alias=True, exclude_none=True).encode())


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(ledger_path=Path(scratch) / "ledger.db")
        print("scripted assistant, problem statement to brief (targets: <= 5 calls, 0 copied values)")
        worst = 0
        async with Client(build_server(settings)) as client:
            for issue, customer in EXAMPLES:
                calls, copied, outcome = await example(client, issue, customer)
                worst = max(worst, len(copied))
                print(f"  {issue[:58]:<58} calls {calls}  copied {len(copied)}  brief {outcome}")
                for value in copied:
                    print(f"      copied {value}")
        ours = await tools_list_bytes(build_server(settings))
        bare = MCPServer("bare")

        @bare.tool()
        def echo(text: str) -> str:
            """Echo the text."""
            return text

        floor = await tools_list_bytes(bare)
        print(
            f"  tools/list {ours} bytes = {ours / BUDGET:.2f}x the 12 KB budget; {ours / floor:.1f}x a one-tool server"
        )


if __name__ == "__main__":
    anyio.run(main)
