"""Choose and open each category's adapter from the settings; an unknown choice fails loudly."""

from __future__ import annotations

from datetime import datetime

from connectors import Connectors
from connectors.local import LocalWorkspace
from server.settings import Settings


def open_connectors(settings: Settings, *, now: datetime) -> Connectors:
    """The adapters the settings choose; the local workspace is loaded once and shared."""
    chosen = {
        "support": settings.support,
        "crm": settings.crm,
        "chat": settings.chat,
        "tracker": settings.tracker,
        "knowledge": settings.knowledge,
    }
    local = LocalWorkspace.open(settings.workspace_path, now=now) if "local" in chosen.values() else None
    adapters = {category: local if choice == "local" else None for category, choice in chosen.items()}
    return Connectors(**adapters)  # pyright: ignore[reportArgumentType]
