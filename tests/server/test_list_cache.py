"""tools/list is answered from memory after its first answer, exactly as the SDK answers it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp import Client

from server.app import build_server
from server.list_cache import ToolListCache
from server.settings import Settings
from tests.server.test_stdio import INITIALIZE, INITIALIZED, exchange, request

pytest_plugins = ["tests.server.surface"]


async def listed(tmp_path: Path, mode: str, *, cached: bool, writes: bool = False) -> list[list[dict[str, Any]]]:
    """Three tools/list answers in a row, as dumped on the wire."""
    server = build_server(Settings(ledger_path=tmp_path / f"{mode}-{cached}.db", writes=writes))
    if not cached:
        server.middleware[:] = [m for m in server.middleware if not isinstance(m, ToolListCache)]
    answers: list[list[dict[str, Any]]] = []
    async with Client(server, mode=mode, cache=None) as client:
        for _ in range(3):
            tools = (await client.list_tools()).tools
            answers.append([t.model_dump(by_alias=True, exclude_none=True) for t in tools])
    return answers


async def test_repeated_tools_lists_answer_what_the_sdk_answers_on_both_protocol_versions(
    tmp_path: Path, protocol_mode: str
) -> None:
    first, second, third = await listed(tmp_path, protocol_mode, cached=True)
    uncached, *_ = await listed(tmp_path, protocol_mode, cached=False)

    assert first == second == third == uncached
    assert len(first) == 8


async def test_a_server_with_write_tools_lists_them_every_time(tmp_path: Path, protocol_mode: str) -> None:
    answers = await listed(tmp_path, protocol_mode, cached=True, writes=True)

    assert all({"post_brief", "add_internal_note", "file_tracker_issue"} <= {t["name"] for t in a} for a in answers)


async def test_tools_list_before_the_handshake_is_still_refused_over_stdio(tmp_path: Path) -> None:
    handshake = [json.dumps({**INITIALIZE, "id": 2}), json.dumps(INITIALIZED)]
    lines = [request(1, "tools/list"), *handshake, request(3, "tools/list"), request(4, "tools/list")]

    out, _ = await exchange(tmp_path, lines, answers=4)

    answers = {a["id"]: a for a in map(json.loads, out)}
    assert answers[1]["error"]["code"] == -32602
    assert answers[3]["result"]["tools"] == answers[4]["result"]["tools"]
    assert len(answers[3]["result"]["tools"]) == 8
