"""`escalation-mcp doctor`: is each configured connector usable right now, and how much headroom is left?

Every category is checked at once, each under `source_timeout`: its configuration (the
variables its product needs, or the workspace file for `local`), then a cheap authenticated
call. A category set to `none` is reported and never counts as broken.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import anyio
import httpx
from pydantic import BaseModel

from connectors import Category
from connectors.health import Checkable, Health
from connectors.local import LocalWorkspace
from connectors.products import Adapter, ConfigError, find_product, open_product
from connectors.workspace import WorkspaceError
from server.settings import Settings
from server.wiring import choices

Verdict = Literal["ok", "broken", "not_connected"]


class Diagnosis(BaseModel):
    category: Category
    product: str
    verdict: Verdict
    detail: str
    headroom: str | None = None
    elapsed_ms: int | None = None


async def diagnose(
    settings: Settings, *, now: datetime, transport: httpx.AsyncBaseTransport | None = None
) -> list[Diagnosis]:
    """One diagnosis per category, in the usual order."""
    picked = choices(settings)
    results: dict[Category, Diagnosis] = {}
    local: LocalWorkspace | None = None
    workspace_error: WorkspaceError | None = None
    if "local" in picked.values():
        try:
            local = LocalWorkspace.open(settings.workspace_path, now=now)
        except WorkspaceError as exc:  # every local category reports it, the others are still checked
            workspace_error = exc

    async def one(category: Category, choice: str) -> None:
        if choice == "none":
            results[category] = Diagnosis(
                category=category, product="none", verdict="not_connected", detail="not connected"
            )
            return
        adapter: Adapter | None = local
        try:
            if choice == "local" and workspace_error is not None:
                raise ConfigError(f"ESCALATION_WORKSPACE_PATH: {workspace_error}")
            if choice != "local":
                adapter = open_product(find_product(choice), transport=transport)
        except ConfigError as exc:
            results[category] = Diagnosis(
                category=category, product=choice, verdict="broken", detail=f"configuration: {exc}"
            )
            return
        assert adapter is not None
        try:
            health = await _check(adapter, settings.source_timeout)
        finally:
            if adapter is not local:
                await _close(adapter)
        results[category] = Diagnosis(
            category=category,
            product=choice,
            verdict="ok" if health.ok else "broken",
            detail=health.detail,
            headroom=health.headroom,
            elapsed_ms=health.elapsed_ms,
        )

    async with anyio.create_task_group() as group:
        for category, choice in picked.items():
            group.start_soon(one, category, choice)
    return [results[category] for category in picked]


async def _check(adapter: Adapter, seconds: float) -> Health:
    if not isinstance(adapter, Checkable):
        return Health(ok=True, detail="configured (this adapter has no health check)")
    with anyio.move_on_after(seconds) as scope:
        return await adapter.check()
    assert scope.cancelled_caught
    return Health(ok=False, detail=f"no answer within {seconds:g} s (ESCALATION_SOURCE_TIMEOUT)")


async def _close(adapter: Adapter) -> None:
    close = getattr(adapter, "aclose", None)
    if close is not None:
        await close()
