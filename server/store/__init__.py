"""The ledger: escalations, their timeline (the audit trail) and their follow-ups.

`Ledger` is the port; `SqliteLedger` is the default. Whatever a method reports as
saved has been committed durably before it returns.
"""

from __future__ import annotations

from typing import Protocol

from server.models import Escalation, EscalationRecord, Followup, TimelineEvent


class NotFound(LookupError):
    """No escalation with that id."""


class Ledger(Protocol):
    async def create(self, escalation: Escalation, event: TimelineEvent) -> None:
        """Store a new escalation with its first timeline event."""
        ...

    async def update(self, escalation: Escalation, *events: TimelineEvent) -> None:
        """Replace an escalation's fields and append `events`, atomically; NotFound if it does not exist."""
        ...

    async def get(self, escalation_id: str) -> EscalationRecord:
        """The escalation with its timeline and follow-ups; NotFound if it does not exist."""
        ...

    async def append(self, escalation_id: str, event: TimelineEvent) -> None:
        """Add one event to an escalation's timeline; NotFound if it does not exist."""
        ...

    async def schedule(
        self,
        escalation_id: str,
        followups: list[Followup],
        *events: TimelineEvent,
        escalation: Escalation | None = None,
    ) -> None:
        """Cancel pending follow-ups, store `followups` and `events`, and save `escalation` if given, atomically."""
        ...

    async def close(self) -> None: ...
