"""The stdio server as a desktop client starts it: a real subprocess, lines in, lines out."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.types import jsonrpc_message_adapter

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
COMMAND = [sys.executable, "-c", "from server.cli import main; main()"]  # what the console script runs
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def request(id: int, method: str, params: dict[str, Any] | None = None) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}})


async def exchange(
    tmp_path: Path, lines: list[str], *, answers: int, log_level: str = "WARNING"
) -> tuple[list[str], str]:
    """Start `escalation-mcp` over stdio, send `lines`, read `answers` stdout lines, close stdin; stdout and stderr.

    Stdin stays open until the answers are in, as a client keeps it: at end of input the server stops.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_")}
    env.update(ESCALATION_LEDGER_PATH=str(tmp_path / "ledger.db"), ESCALATION_LOG_LEVEL=log_level)
    out: list[str] = []
    err = bytearray()
    with anyio.fail_after(60):
        async with await anyio.open_process(
            [sys.executable, "-c", "from server.cli import main; main()"], env=env
        ) as proc:
            assert proc.stdin is not None
            assert proc.stdout is not None
            assert proc.stderr is not None
            stderr = proc.stderr

            async def drain_stderr() -> None:  # a full stderr pipe would stall the server at DEBUG
                async for chunk in stderr:
                    err.extend(chunk)

            async with anyio.create_task_group() as group:
                group.start_soon(drain_stderr)
                await proc.stdin.send(("\n".join(lines) + "\n").encode())
                pending = b""
                async for chunk in proc.stdout:
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    out.extend(line.decode() for line in complete)
                    if len(out) >= answers:
                        break
                await proc.stdin.aclose()
                async for chunk in proc.stdout:  # anything after the expected answers is a failure too
                    pending += chunk
                out.extend(line.decode() for line in pending.split(b"\n") if line)
            assert await proc.wait() == 0, err.decode()[-2000:]
    return out, err.decode()


async def test_a_malformed_line_gets_a_json_rpc_error_and_the_session_goes_on(tmp_path: Path):
    out, _ = await exchange(
        tmp_path,
        [
            json.dumps(INITIALIZE),
            json.dumps(INITIALIZED),
            "this is not json",
            '{"jsonrpc": "2.0", "id": 2, "method": "tools/list"',  # cut short
            "",
            '{"jsonrpc": "2.0", "id": 3}',  # JSON, but neither a request nor a response
            request(4, "ping"),
        ],
        answers=5,
    )
    answers = [json.loads(line) for line in out]
    assert answers[0]["id"] == 1
    assert "result" in answers[0]
    assert answers[1:] == [
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error: not JSON"}},
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error: not JSON"}},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "error": {
                "code": -32600,
                "message": "Invalid Request: not a JSON-RPC 2.0 request, notification or response",
            },
        },
        {"jsonrpc": "2.0", "id": 4, "result": {}},
    ]


@pytest.mark.parametrize("log_level", ["DEBUG", "ERROR"])
async def test_stdout_carries_only_protocol_messages_at_every_log_level(tmp_path: Path, log_level: str):
    out, err = await exchange(
        tmp_path,
        [
            json.dumps(INITIALIZE),
            json.dumps(INITIALIZED),
            request(2, "tools/list"),
            request(3, "tools/call", {"name": "gather_context", "arguments": {"issue": "API returning 500s"}}),
            request(4, "tools/call", {"name": "pick_tier", "arguments": {"signals": ["bug_confirmed"]}}),
            request(5, "tools/call", {"name": "pick_tier", "arguments": {"signals": ["no_such_signal"]}}),
            request(6, "resources/read", {"uri": "escalation://playbook"}),
        ],
        answers=6,
        log_level=log_level,
    )
    messages = [jsonrpc_message_adapter.validate_json(line) for line in out]  # raises on anything else
    assert sorted(str(getattr(m, "id", None)) for m in messages) == ["1", "2", "3", "4", "5", "6"]
    if log_level == "DEBUG":
        assert "DEBUG" in err  # the logs went somewhere: stderr
