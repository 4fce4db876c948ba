"""The outbox: every outward write is committed before the vendor call and its receipt after it.

    entries = await enqueue(ledger, [write(...)])       # durable intent, keyed
    receipt = await deliver(ledger, entries[0], send)   # at most one vendor write per key

A crash between the two commits leaves an entry with `attempts > 0` and no receipt. On the next try
`deliver` first asks the vendor whether the write landed (`lookup`, where the vendor can answer), and
only then sends again, with the same idempotency key: vendors that dedupe on a key drop the repeat;
for the others the lookup is what prevents a second post (see CONNECTORS.md, "Delivery guarantees").
A crash before the vendor call leaves an entry with no receipt that is sent on the next try (after a
lookup, when it was enqueued as "sending now" with `attempts=1`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from connectors.models import WriteReceipt
from server.models import OutboxEntry, OutboxKind
from server.store import Ledger

log = logging.getLogger(__name__)

Send = Callable[[OutboxEntry], Awaitable[WriteReceipt]]
Lookup = Callable[[OutboxEntry], Awaitable[WriteReceipt | None]]
Checkpoint = Callable[[str], Awaitable[None]]


def write(
    key: str,
    kind: OutboxKind,
    destination: str,
    payload: dict[str, str | list[str]],
    *,
    at: datetime,
    escalation_id: str | None = None,
    batch: str | None = None,
    sending: bool = False,
) -> OutboxEntry:
    """A write to enqueue; `key` must be the same every time the same write is meant.

    `sending`: the caller sends it right after the enqueue commits, so it is stored as attempted
    (a restart then looks it up before sending) and `deliver(..., fresh=True)` needs no second commit.
    """
    return OutboxEntry(
        attempts=1 if sending else 0,
        key=key,
        kind=kind,
        destination=destination,
        payload=payload,
        created_at=at,
        escalation_id=escalation_id,
        batch=batch,
    )


async def enqueue(
    ledger: Ledger, entries: list[OutboxEntry], followup_ids: list[str] | None = None
) -> list[OutboxEntry]:
    """Commit the writes (and tie `followup_ids` to their batch) before anything is sent."""
    return await ledger.enqueue(entries, followup_ids)


async def _nothing(point: str) -> None:
    return None


async def deliver(
    ledger: Ledger,
    entry: OutboxEntry,
    send: Send,
    *,
    clock: Callable[[], datetime],
    lookup: Lookup | None = None,
    checkpoint: Checkpoint = _nothing,
    fresh: bool = False,
    confirm: bool = True,
) -> WriteReceipt:
    """Send one enqueued write unless it was already confirmed, and store the vendor's receipt.

    `fresh`: this process enqueued the entry with `attempts=1` a moment ago, so no earlier call can
    have landed: no lookup, no extra commit. `confirm=False` leaves storing the receipt to the caller
    (the worker stores it with the follow-ups it completes, in one transaction).
    """
    if entry.receipt is not None:
        return entry.receipt
    if not fresh:
        if entry.attempts > 0 and lookup is not None:
            # A previous try may have landed before its receipt was stored: ask before posting again.
            found = await lookup(entry)
            if found is not None:
                log.info("write %s had landed before a restart; not sending it again", entry.key)
                if confirm:
                    await ledger.confirm(entry.key, found, at=clock())
                return found
        await ledger.attempt(entry.key)
    receipt = await send(entry)
    await checkpoint("sent")
    if confirm:
        await ledger.confirm(entry.key, receipt, at=clock())
    return receipt
