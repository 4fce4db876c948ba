"""The ledger: escalations, their timeline (the audit trail), their follow-ups and the outbox.

`Ledger` is the port; `SqliteLedger` is the default and `PostgresLedger` (a `postgresql://` URL) lets
several servers and workers share one ledger. `open_ledger` picks one. Whatever a method reports as
saved has been committed durably before it returns. Both schemas migrate themselves on open
(yoyo-migrations, plain SQL per backend, under `server/store/migrations/`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from connectors.models import WriteReceipt
from server.models import (
    Claim,
    Escalation,
    EscalationFilter,
    EscalationPage,
    EscalationRecord,
    Followup,
    OutboxEntry,
    TimelineEvent,
)


class NotFound(LookupError):
    """No escalation with that id."""


class InvalidCursor(ValueError):
    """A list cursor this ledger did not hand out."""


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

    async def list_open(
        self, where: EscalationFilter, *, now: datetime, limit: int = 20, cursor: str | None = None
    ) -> EscalationPage:
        """Escalations matching `where` (open ones unless a status is given), soonest due follow-up first.

        Overdue ones come first, those with nothing pending last; `next_cursor` pages on. InvalidCursor
        for a cursor this ledger did not hand out.
        """
        ...

    # the worker

    async def claim_due(self, worker: str, *, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        """Lease up to `limit` escalations with follow-ups due by `now` to `worker`, with those follow-ups.

        An escalation is held by one worker at a time; a lease that ran out (its worker died) is taken over.
        """
        ...

    async def complete(
        self,
        escalation_id: str,
        followup_ids: list[str],
        *events: TimelineEvent,
        at: datetime,
        reminded_only: bool,
        receipts: Mapping[str, WriteReceipt] | None = None,
        release: str | None = None,
    ) -> bool:
        """Mark the follow-ups delivered (or, `reminded_only`, noted but still due) and append `events`.

        In the same transaction: store the outbox `receipts` (key -> receipt) and, given a worker name in
        `release`, give up that worker's lease. The follow-ups and events change only if every follow-up
        is still pending and not yet handled: False (receipts and release still applied) when another
        worker got there first.
        """
        ...

    async def release(self, escalation_id: str, worker: str) -> None:
        """Give up `worker`'s lease on the escalation."""
        ...

    # the outbox

    async def enqueue(self, entries: list[OutboxEntry], followup_ids: list[str] | None = None) -> list[OutboxEntry]:
        """Commit writes before they are sent, tying `followup_ids` to their batch; returns the stored entries.

        An entry whose key is already stored is kept as it is (the same write enqueued twice is one write).
        """
        ...

    async def batch(self, batch: str) -> list[OutboxEntry]:
        """The writes of one batch, in key order."""
        ...

    async def unconfirmed(self, *, limit: int = 100) -> list[OutboxEntry]:
        """Writes with no receipt yet, oldest first: what a restart must finish."""
        ...

    async def attempt(self, key: str) -> None:
        """Record, before the vendor call, that the call is starting (so a restart knows to look it up first)."""
        ...

    async def confirm(self, key: str, receipt: WriteReceipt, *, at: datetime) -> None:
        """Store the vendor's receipt for a write."""
        ...

    async def check(self) -> list[str]:
        """Integrity problems (storage and the ledger's own invariants); empty when all is well."""
        ...

    async def close(self) -> None: ...


def open_ledger(url: str | None, sqlite_path: Path) -> Ledger:
    """The ledger `url` names (`postgresql://...`), or the SQLite file at `sqlite_path` when there is no URL.

    Migrates the schema before returning. An unknown URL scheme is an error, never a silent fallback.
    """
    if url is None or not url.strip():
        from server.store.sqlite import SqliteLedger

        return SqliteLedger(sqlite_path)
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        from server.store.postgres import PostgresLedger

        return PostgresLedger(url)
    raise ValueError(
        f"ESCALATION_DATABASE_URL has the scheme {scheme!r}: use postgresql://user@host:5432/dbname, "
        "or leave it unset for the SQLite file"
    )
