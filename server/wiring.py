"""Choose and open each category's adapter from the settings; a bad choice fails before serving."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from connectors import Category, Connectors
from connectors.local import LocalWorkspace
from connectors.products import Adapter, ConfigError, Product, find_product, load_settings, open_product
from server.settings import Settings

if TYPE_CHECKING:
    import httpx  # imported by the vendor adapters that use it: about 50 ms (it loads rich and click) off every start


def choices(settings: Settings) -> dict[Category, str]:
    return {
        "support": settings.support,
        "crm": settings.crm,
        "chat": settings.chat,
        "tracker": settings.tracker,
        "knowledge": settings.knowledge,
    }


def vendor_products(settings: Settings) -> dict[Category, Product]:
    """The vendor product chosen for each category that has one; ConfigError when one is misconfigured."""
    chosen: dict[Category, Product] = {}
    problems: list[str] = []
    for category, choice in choices(settings).items():
        if choice in ("local", "none"):
            continue
        product = find_product(choice)
        try:
            load_settings(product.settings_type())
        except ConfigError as exc:
            problems.append(f"ESCALATION_{category.upper()}={choice} needs: {exc}")
        chosen[category] = product
    if problems:
        raise ConfigError("; ".join(problems) + " (see CONNECTORS.md)")
    return chosen


def open_connectors(
    settings: Settings, *, now: datetime, transport: httpx.AsyncBaseTransport | None = None
) -> Connectors:
    """The adapters the settings choose; the local workspace is loaded once and shared."""
    vendors = vendor_products(settings)
    picked = choices(settings)
    local = LocalWorkspace.open(settings.workspace_path, now=now) if "local" in picked.values() else None
    adapters: dict[Category, Adapter | None] = {}
    for category, choice in picked.items():
        if choice == "local":
            adapters[category] = local
        elif choice == "none":
            adapters[category] = None
        else:
            adapters[category] = open_product(vendors[category], transport=transport)
    return Connectors(**adapters)  # pyright: ignore[reportArgumentType]
