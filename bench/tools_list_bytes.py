"""Bytes of the tools/list result as sent on the wire, per tool and in total, against a 12 KB budget.

Every tool definition sits in the model's context window on every turn, so this is a cost the
user pays all the time. Measured through the in-memory `Client` on both protocol generations,
serialized as the wire carries it (compact JSON, aliases, no nulls); the bare one-tool server's
result is the floor.

    uv run python bench/tools_list_bytes.py
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import anyio
from _bare_server import build as build_bare
from mcp import Client
from mcp.client.client import ConnectMode
from mcp.server.mcpserver import MCPServer
from mcp.types import ListToolsResult, Tool

BUDGET = 12 * 1024
MODES: tuple[tuple[str, ConnectMode], ...] = (("2025-11-25 handshake", "legacy"), ("2026-07-28", "auto"))


def wire_bytes(value: ListToolsResult | Tool) -> int:
    return len(value.model_dump_json(by_alias=True, exclude_none=True).encode())


def part_bytes(value: Any) -> int:
    """Bytes of one field of a tool definition, as compact JSON (0 when absent)."""
    if value is None:
        return 0
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def list_tools(server: MCPServer[Any], mode: ConnectMode) -> ListToolsResult:
    async with Client(server, mode=mode) as client:
        return await client.list_tools()


def real_server(folder: str) -> MCPServer[Any]:
    # The lifespan opens a ledger: point it at a throwaway file before settings are read.
    os.environ["ESCALATION_LEDGER_PATH"] = os.path.join(folder, "ledger.db")
    from server.app import build_server

    return build_server()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-tools-list-") as folder:
        results = {mode: anyio.run(list_tools, real_server(folder), mode) for _, mode in MODES}
        floors = {mode: anyio.run(list_tools, build_bare(), mode) for _, mode in MODES}

    print("tools/list result on the wire (compact JSON, by alias, no nulls; JSON-RPC envelope not counted)")
    listed = results["legacy"]
    print(f"  {'tool':<20} {'total':>7} {'descr':>7} {'input':>7} {'output':>7} {'annot':>7}")
    for tool in sorted(listed.tools, key=wire_bytes, reverse=True):
        dumped = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
        print(
            f"  {tool.name:<20} {wire_bytes(tool):>7} {part_bytes(dumped.get('description')):>7}"
            f" {part_bytes(dumped.get('inputSchema')):>7} {part_bytes(dumped.get('outputSchema')):>7}"
            f" {part_bytes(dumped.get('annotations')):>7}"
        )
    for label, mode in MODES:
        total, floor = wire_bytes(results[mode]), wire_bytes(floors[mode])
        verdict = "within budget" if total <= BUDGET else "OVER budget"
        print(
            f"  {label:<22} {len(results[mode].tools)} tools, {total} bytes = {total / BUDGET:.0%} of {BUDGET}"
            f" ({verdict}); bare one-tool server {floor} bytes, ratio {total / floor:.1f}x"
        )


if __name__ == "__main__":
    main()
