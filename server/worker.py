"""The worker: delivers follow-ups when they fall due, exactly once, through the outbox.

An internal follow-up becomes a reminder posted to the chat channel of each of the escalation's targets
(`channels`, target -> channel); a customer follow-up becomes a drafted customer update stored on the
escalation's timeline for the agent (the worker never writes to the customer). With no chat connected,
or no channel for any target, the reminder is recorded on the timeline and the follow-up stays due.

Follow-ups of one escalation and kind that fell due together (say, during an outage) become ONE
reminder that says how late it is. A worker holds a lease on the escalations it works on; if it dies,
another takes over when the lease runs out and finishes the same outbox entries, so nothing is posted
twice or lost (see `server.store.outbox`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import anyio

from connectors import Chat
from connectors.errors import ConnectorError
from connectors.models import WriteReceipt
from server.followthrough import (
    Templates,
    customer_timezone,
    draft_customer_update,
    duration,
    reminder_text,
)
from server.models import Claim, DueFollowup, EscalationRecord, Followup, OutboxEntry, Target, TimelineEvent
from server.store import Ledger
from server.store.outbox import Checkpoint, Lookup, deliver, write

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@runtime_checkable
class ChatLookup(Protocol):
    """A chat that can tell whether a message with this idempotency key was already posted."""

    async def find_message(self, channel: str, idempotency_key: str) -> WriteReceipt | None: ...


async def _nothing(point: str) -> None:
    return None


def worker_name() -> str:
    """A name unique to this process, for the lease columns and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Tally:
    """What one pass did."""

    reminders: int = 0
    customer_drafts: int = 0
    noted_without_chat: int = 0
    recovered: int = 0
    failed: int = 0
    lost_races: int = 0

    @property
    def handled(self) -> int:
        return self.reminders + self.customer_drafts + self.noted_without_chat + self.recovered


@dataclass
class Worker:
    """Delivers due follow-ups from `ledger`; `chat` None means no chat is connected."""

    ledger: Ledger
    chat: Chat | None
    channels: Mapping[Target, str]
    clock: Clock
    name: str = field(default_factory=worker_name)
    lease: timedelta = timedelta(minutes=5)
    batch_size: int = 20
    parallel: int = 8
    checkpoint: Checkpoint = _nothing
    templates: Templates = field(default_factory=Templates)

    async def run_once(self) -> Tally:
        """Deliver everything due now, then return (what `escalation-mcp worker --once` does)."""
        tally = Tally()
        while True:
            claims = await self.ledger.claim_due(self.name, now=self.clock(), lease=self.lease, limit=self.batch_size)
            if not claims:
                return tally
            await self.checkpoint("claimed")
            before = (tally.handled, tally.failed, tally.lost_races)
            limiter = anyio.CapacityLimiter(self.parallel)
            async with anyio.create_task_group() as group:
                for claim in claims:
                    group.start_soon(self._limited, limiter, claim, tally)
            if (tally.handled, tally.failed, tally.lost_races) == before:
                return tally  # claims that held nothing to do: stop rather than claim them again

    async def _limited(self, limiter: anyio.CapacityLimiter, claim: Claim, tally: Tally) -> None:
        async with limiter:
            await self._escalation(claim, tally)

    async def run(self, *, poll: timedelta = timedelta(seconds=30)) -> None:
        """Deliver follow-ups as they fall due until cancelled (`worker`, or beside `serve --worker`)."""
        log.info("worker %s started; polling every %s", self.name, poll)
        while True:
            try:
                tally = await self.run_once()
                if tally.handled or tally.failed:
                    log.info("worker %s: %s", self.name, tally)
            except Exception:  # the ledger may be briefly unreachable; the next poll tries again
                log.exception("worker %s: a pass failed; retrying after the poll interval", self.name)
            await anyio.sleep(poll.total_seconds())

    async def _escalation(self, claim: Claim, tally: Tally) -> None:
        try:
            record = await self.ledger.get(claim.escalation_id)
            batched: dict[str, list[DueFollowup]] = {}
            fresh: dict[str, list[Followup]] = {}
            for due in claim.due:
                if due.batch is not None:
                    batched.setdefault(due.batch, []).append(due)
                else:
                    fresh.setdefault(due.followup.kind, []).append(due.followup)
            steps = [(batch, [d.followup for d in items]) for batch, items in batched.items()]
            steps += [(None, followups) for followups in fresh.values()]
            for n, (batch, followups) in enumerate(steps):
                # The last step gives the lease back in its own transaction; an empty claim releases below.
                release = self.name if n == len(steps) - 1 else None
                if batch is not None:
                    await self._finish(record, batch, followups, tally, release)
                elif followups[0].kind == "customer":
                    await self._customer(record, followups, tally, release)
                else:
                    await self._reminder(record, followups, tally, release)
            if not steps:
                await self.ledger.release(claim.escalation_id, self.name)
        except ConnectorError as exc:
            # Keep the lease: the next try waits for it to run out, which is the back-off.
            tally.failed += 1
            log.warning("follow-up delivery for %s failed, will retry after the lease: %s", claim.escalation_id, exc)

    async def _complete(
        self,
        record: EscalationRecord,
        followups: Sequence[Followup],
        event: TimelineEvent,
        tally: Tally,
        release: str | None,
        *,
        reminded_only: bool = False,
        receipts: Mapping[str, WriteReceipt] | None = None,
    ) -> bool:
        done = await self.ledger.complete(
            record.id,
            [f.id for f in followups],
            event,
            at=self.clock(),
            reminded_only=reminded_only,
            receipts=receipts,
            release=release,
        )
        if not done:
            tally.lost_races += 1
        return done

    def _next_due(self, record: EscalationRecord, now: datetime, kind: str | None = None) -> datetime | None:
        later = [
            f.due_at
            for f in record.followups
            if f.state == "pending" and f.due_at > now and (kind is None or f.kind == kind)
        ]
        return min(later, default=None)

    def _late(self, followups: Sequence[Followup], now: datetime) -> str:
        late = now - min(f.due_at for f in followups)
        return f", late by {duration(late)}" if late > timedelta(minutes=15) else ""

    async def _reminder(
        self, record: EscalationRecord, followups: list[Followup], tally: Tally, release: str | None
    ) -> None:
        now = self.clock()
        text = reminder_text(
            record, record.timeline, followups, now=now, next_due=self._next_due(record, now), templates=self.templates
        )
        channels = list(dict.fromkeys(self.channels[t] for t in record.targets if t in self.channels))
        count = f"{len(followups)} internal follow-up{'s' if len(followups) > 1 else ''}"
        if self.chat is None or not channels:
            why = "no chat is connected" if self.chat is None else "no channel is configured for its targets"
            event = TimelineEvent(
                at=now,
                kind="followup_delivered",
                detail=f"Reminder for {count} recorded here ({why}; still due){self._late(followups, now)}:\n{text}",
            )
            if await self._complete(record, followups, event, tally, release, reminded_only=True):
                tally.noted_without_chat += 1
            return
        # The first follow-up's id names the delivery: a restart finds the same batch and the same keys.
        batch = f"reminder:{followups[0].id}"
        entries = [
            write(
                f"{batch}@{channel}",
                "chat_message",
                channel,
                {"text": text},
                at=now,
                escalation_id=record.id,
                batch=batch,
                sending=True,
            )
            for channel in channels
        ]
        stored = await self.ledger.enqueue(entries, [f.id for f in followups])
        await self.checkpoint("enqueued")
        # `stored` may be entries an earlier, dead worker enqueued under the same keys: not fresh then.
        receipts = await self._send_all(stored, fresh=stored == entries)
        event = TimelineEvent(
            at=self.clock(),
            kind="followup_delivered",
            detail=f"Reminder for {count} posted to {', '.join(channels)}{self._late(followups, now)}",
        )
        if await self._complete(record, followups, event, tally, release, receipts=receipts):
            tally.reminders += 1

    async def _finish(
        self, record: EscalationRecord, batch: str, followups: list[Followup], tally: Tally, release: str | None
    ) -> None:
        """Finish a delivery a worker enqueued and did not see through (it died, or its lease ran out)."""
        entries = await self.ledger.batch(batch)
        receipts = await self._send_all(entries, fresh=False)
        event = TimelineEvent(
            at=self.clock(),
            kind="followup_delivered",
            detail=f"Reminder posted to {', '.join(e.destination for e in entries)} (finished after a restart)",
        )
        if await self._complete(record, followups, event, tally, release, receipts=receipts):
            tally.recovered += 1

    async def _send_all(self, entries: list[OutboxEntry], *, fresh: bool) -> dict[str, WriteReceipt]:
        """Send each write (one after another: a channel's order matters more than speed); the receipts by key."""
        chat = self.chat
        if chat is None:
            raise ConnectorError("chat", "a chat write was enqueued but no chat is connected now")

        async def send(entry: OutboxEntry) -> WriteReceipt:
            return await chat.post_message(entry.destination, str(entry.payload["text"]), idempotency_key=entry.key)

        lookup: Lookup | None = None
        if isinstance(chat, ChatLookup):
            finder = chat

            async def find(entry: OutboxEntry) -> WriteReceipt | None:
                return await finder.find_message(entry.destination, entry.key)

            lookup = find
        receipts: dict[str, WriteReceipt] = {}
        for entry in entries:
            receipts[entry.key] = await deliver(
                self.ledger,
                entry,
                send,
                clock=self.clock,
                lookup=lookup,
                checkpoint=self.checkpoint,
                fresh=fresh,
                confirm=False,
            )
        return receipts

    async def _customer(
        self, record: EscalationRecord, followups: list[Followup], tally: Tally, release: str | None
    ) -> None:
        now = self.clock()
        draft = draft_customer_update(
            record,
            record.timeline,
            self._next_due(record, now, "customer"),
            customer_timezone(record),
            record.language,
            templates=self.templates,
        )
        late = self._late(followups, now)
        # The draft itself is for the customer; lateness is for the agent, on a line of its own above it.
        header = f"(drafted{late.removeprefix(',')}; it was due {followups[0].due_at.isoformat()})\n\n" if late else ""
        event = TimelineEvent(at=now, kind="customer_update_drafted", detail=header + draft)
        if await self._complete(record, followups, event, tally, release):
            tally.customer_drafts += 1
