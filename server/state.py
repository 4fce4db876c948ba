"""What every tool works over: the settings, the wired connectors, the ledger, the renderer and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors import Connectors
from server.brief import BriefRenderer
from server.settings import Settings
from server.store import Ledger

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppState:
    settings: Settings
    connectors: Connectors
    ledger: Ledger
    renderer: BriefRenderer
    clock: Clock = utc_now
