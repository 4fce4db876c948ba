"""MCP over stdio, answering a malformed line with a JSON-RPC error instead of silence.

The SDK's stdio transport already keeps stdout for protocol messages (while serving, fd 1 points at
stderr for everything else) but drops a line it cannot parse with a debug log, so a client that
sent it waits forever. Here such a line gets -32700 (not JSON) or -32600 (JSON, but not a JSON-RPC
message, answered with its id when it has one); blank lines are ignored.
"""

from __future__ import annotations

from typing import Any, cast

import anyio
from anyio.abc import ObjectReceiveStream
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError


def run_stdio(server: MCPServer[Any]) -> None:
    """Serve `server` over this process's stdin and stdout until stdin closes."""
    anyio.run(serve_stdio, server)


async def serve_stdio(server: MCPServer[Any]) -> None:
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]  # MCPServer.run_stdio_async does the same; it has no hook for bad lines
    async with stdio_server() as (read_stream, write_stream):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def relay() -> None:
            async with send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        answer = error_for(item)
                        if answer is not None:
                            await write_stream.send(SessionMessage(answer))
                        continue
                    await send.send(item)

        async with anyio.create_task_group() as group:
            group.start_soon(relay)
            await lowlevel.run(
                cast(ObjectReceiveStream[SessionMessage | Exception], receive),
                write_stream,
                lowlevel.create_initialization_options(),
            )
            group.cancel_scope.cancel()


def error_for(exc: Exception) -> JSONRPCError | None:
    """The JSON-RPC error answering the line the transport could not read, or None for a blank line."""
    errors = exc.errors(include_url=False) if isinstance(exc, ValidationError) else []
    if errors and errors[0]["type"] == "json_invalid":
        line = errors[0].get("input")
        if isinstance(line, str) and not line.strip():
            return None
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error: not JSON"))
    request_id: str | int | None = None
    for error in errors:
        received = error.get("input")
        if isinstance(received, dict):
            candidate = cast(dict[str, Any], received).get("id")
            if isinstance(candidate, str | int) and not isinstance(candidate, bool):
                request_id = candidate
                break
    message = "Invalid Request: not a JSON-RPC 2.0 request, notification or response"
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=INVALID_REQUEST, message=message))
