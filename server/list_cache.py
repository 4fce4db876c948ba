"""tools/list answered from memory after its first answer on each protocol version.

The tool list is fixed once the server is built (write tools are registered or not by configuration,
never per caller), yet the SDK validates and dumps its 12 KB of schemas against the protocol's models
on every tools/list: under load that was the largest single cost of the server's request handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS


class ToolListCache:
    """Server middleware: the first wire answer to a plain tools/list per protocol version, reused.

    A paged request (one with a cursor) and a legacy connection that has not initialised go through
    the SDK as usual, so its pagination and its pre-initialisation gate still answer them.
    """

    def __init__(self) -> None:
        self._answers: dict[str, dict[str, Any]] = {}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/list" or ctx.request_id is None or not _plain(ctx.params) or not _open(ctx):
            return await call_next(ctx)
        answer = self._answers.get(ctx.protocol_version)
        if answer is None:
            result = await call_next(ctx)
            if isinstance(result, dict):  # the SDK's wire form: keep it as sent
                self._answers[ctx.protocol_version] = result
            return result
        # The runner copies the top level before sending; nothing below it is changed on the way out.
        return answer


def _plain(params: Mapping[str, Any] | None) -> bool:
    """No cursor or anything else that could change the answer (`_meta` only carries request options)."""
    return params is None or set(params) <= {"_meta"}


def _open(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether the connection is past its handshake: 2026-era connections need none."""
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS or ctx.session.client_params is not None
