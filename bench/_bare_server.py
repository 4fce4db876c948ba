"""A bare MCPServer with one tool: the baseline every bench measures the real server against.

Run as a script it serves MCP over stdio; the benches also import `build` to talk to it in memory.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer


def build() -> MCPServer[Any]:
    """A server with one tool and nothing else."""
    server: MCPServer[Any] = MCPServer("bare")

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    return server


if __name__ == "__main__":
    build().run("stdio")
