"""What `escalation-mcp doctor` learns from one connector: can we reach it, as whom, with what headroom."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel

from connectors.errors import ConnectorError

if TYPE_CHECKING:  # the local adapter imports this module and must not pay for the HTTP stack
    from connectors.http.upstream import Upstream


class Health(BaseModel):
    ok: bool
    detail: str  # "authenticated as …" or what went wrong
    headroom: str | None = None  # the vendor's rate-limit budget left, when it says
    elapsed_ms: int | None = None


@runtime_checkable
class Checkable(Protocol):
    async def check(self) -> Health: ...


async def probe(api: Upstream, whoami: Callable[[], Awaitable[str]]) -> Health:
    """Call the vendor's cheapest authenticated endpoint; `whoami` returns who the token belongs to."""
    started = time.perf_counter()
    try:
        who = await whoami()
    except ConnectorError as exc:
        return Health(ok=False, detail=f"{exc.kind}: {exc.detail}", elapsed_ms=_ms(started))
    headroom = str(api.headroom) if api.headroom is not None else None
    return Health(ok=True, detail=f"authenticated as {who}", headroom=headroom, elapsed_ms=_ms(started))


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
