"""The ledger on PostgreSQL, for several servers and workers sharing one ledger (psycopg 3, async, pooled).

Same meaning as the SQLite ledger, method for method. A worker's claim is `FOR UPDATE SKIP LOCKED` on the
escalation rows plus a lease (`claim_until`) that outlives the transaction: a second worker skips rows
being claimed right now, and rows whose lease has not run out; a worker that died loses its claim when
the lease ends. `?schema=NAME` in the URL puts the ledger's tables in that schema (tests use one per run).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, LiteralString, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import psycopg
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from connectors.models import WriteReceipt
from server.models import (
    Claim,
    DueFollowup,
    Escalation,
    EscalationFilter,
    EscalationPage,
    EscalationRecord,
    Followup,
    OutboxEntry,
    TimelineEvent,
)
from server.store import NotFound
from server.store.common import (
    NEVER,
    clamp,
    customer_key,
    decode_cursor,
    encode_cursor,
    followup_of,
    is_open,
    migrate,
    summary_of,
)

R = TypeVar("R")
Conn = AsyncConnection[tuple[Any, ...]]

_OUTBOX_COLUMNS = "key, batch, escalation_id, kind, destination, payload, created_at, attempts, receipt, sent_at"


def split_url(url: str) -> tuple[str, str | None]:
    """The libpq URL without our `schema` parameter, and that schema."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


class PostgresLedger:
    """The shared ledger; opens its pool on first use, after migrating the schema."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        conninfo, schema = split_url(url)
        yoyo_url = "postgresql+psycopg" + conninfo.removeprefix("postgresql")
        if schema is not None:
            yoyo_url += ("&" if "?" in yoyo_url else "?") + urlencode({"schema": schema})
        if schema is not None:
            with psycopg.connect(conninfo, autocommit=True) as db:
                db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        migrate(yoyo_url, "postgres")
        options = {"options": f"-c search_path={schema}"} if schema else {}
        self._pool = AsyncConnectionPool(
            conninfo, min_size=min_size, max_size=max_size, kwargs=options, open=False, name="escalation-ledger"
        )
        self._opened = False
        self._opening = anyio.Lock()

    async def _run(self, fn: Callable[[Conn], Awaitable[R]]) -> R:
        if not self._opened:
            async with self._opening:
                if not self._opened:
                    await self._pool.open(wait=True)
                    self._opened = True
        async with self._pool.connection() as conn, conn.transaction():
            return await fn(conn)

    @staticmethod
    async def _event(db: Conn, escalation_id: str, event: TimelineEvent) -> None:
        await db.execute(
            "INSERT INTO timeline (escalation_id, at, kind, detail) VALUES (%s, %s, %s, %s)",
            (escalation_id, event.at, event.kind, event.detail),
        )

    @staticmethod
    async def _exists(db: Conn, escalation_id: str) -> None:
        cur = await db.execute("SELECT 1 FROM escalations WHERE id = %s", (escalation_id,))
        if await cur.fetchone() is None:
            raise NotFound(escalation_id)

    @staticmethod
    async def _index(db: Conn, escalation: Escalation) -> None:
        await db.execute(
            "UPDATE escalations SET status = %s, is_open = %s, customer_key = %s, severity = %s, owner = %s, "
            "team = %s WHERE id = %s",
            (
                escalation.status,
                is_open(escalation),
                customer_key(escalation),
                escalation.severity,
                escalation.owner,
                escalation.team,
                escalation.id,
            ),
        )
        await db.execute("DELETE FROM escalation_targets WHERE escalation_id = %s", (escalation.id,))
        for target in dict.fromkeys(escalation.targets):
            await db.execute(
                "INSERT INTO escalation_targets (escalation_id, target) VALUES (%s, %s)", (escalation.id, target)
            )

    @staticmethod
    async def _refresh_due(db: Conn, escalation_id: str) -> None:
        await db.execute(
            "UPDATE escalations SET "
            "next_due_at = coalesce((SELECT min(due_at) FROM followups WHERE escalation_id = %(id)s "
            "AND state = 'pending'), %(never)s), "
            "next_work_at = coalesce((SELECT min(due_at) FROM followups WHERE escalation_id = %(id)s "
            "AND state = 'pending' AND reminded_at IS NULL), %(never)s) WHERE id = %(id)s",
            {"id": escalation_id, "never": NEVER},
        )

    async def create(self, escalation: Escalation, event: TimelineEvent) -> None:
        async def write(db: Conn) -> None:
            await db.execute(
                "INSERT INTO escalations (id, created_at, updated_at, body, status, is_open) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    escalation.id,
                    escalation.created_at,
                    escalation.updated_at,
                    escalation.model_dump_json(),
                    escalation.status,
                    is_open(escalation),
                ),
            )
            await self._index(db, escalation)
            await self._event(db, escalation.id, event)

        await self._run(write)

    @classmethod
    async def _save(cls, db: Conn, escalation: Escalation) -> None:
        await cls._exists(db, escalation.id)
        await db.execute(
            "UPDATE escalations SET updated_at = %s, body = %s WHERE id = %s",
            (escalation.updated_at, escalation.model_dump_json(), escalation.id),
        )
        await cls._index(db, escalation)

    async def update(self, escalation: Escalation, *events: TimelineEvent) -> None:
        async def write(db: Conn) -> None:
            await self._save(db, escalation)
            for event in events:
                await self._event(db, escalation.id, event)

        await self._run(write)

    async def append(self, escalation_id: str, event: TimelineEvent) -> None:
        async def write(db: Conn) -> None:
            await self._exists(db, escalation_id)
            await self._event(db, escalation_id, event)

        await self._run(write)

    async def schedule(
        self,
        escalation_id: str,
        followups: list[Followup],
        *events: TimelineEvent,
        escalation: Escalation | None = None,
    ) -> None:
        async def write(db: Conn) -> None:
            await self._exists(db, escalation_id)
            if escalation is not None:
                await self._save(db, escalation)
            await db.execute(
                "UPDATE followups SET state = 'cancelled' WHERE escalation_id = %s AND state = 'pending'",
                (escalation_id,),
            )
            async with db.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO followups (id, escalation_id, kind, due_at, body, state) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    [(f.id, f.escalation_id, f.kind, f.due_at, f.model_dump_json(), f.state) for f in followups],
                )
            for event in events:
                await self._event(db, escalation_id, event)
            for touched in {escalation_id, *(f.escalation_id for f in followups)}:
                await self._refresh_due(db, touched)

        await self._run(write)

    async def get(self, escalation_id: str) -> EscalationRecord:
        async def read(db: Conn) -> EscalationRecord:
            row = await (await db.execute("SELECT body FROM escalations WHERE id = %s", (escalation_id,))).fetchone()
            if row is None:
                raise NotFound(escalation_id)
            timeline = await db.execute(
                "SELECT at, kind, detail FROM timeline WHERE escalation_id = %s ORDER BY seq", (escalation_id,)
            )
            events = [
                TimelineEvent.model_validate({"at": at, "kind": kind, "detail": detail})
                for at, kind, detail in await timeline.fetchall()
            ]
            rows = await db.execute(
                "SELECT body, state FROM followups WHERE escalation_id = %s ORDER BY due_at, kind", (escalation_id,)
            )
            followups = [followup_of(body, state) for body, state in await rows.fetchall()]
            return EscalationRecord.model_validate({**json.loads(row[0]), "timeline": events, "followups": followups})

        return await self._run(read)

    async def list_open(
        self, where: EscalationFilter, *, now: datetime, limit: int = 20, cursor: str | None = None
    ) -> EscalationPage:
        size = clamp(limit)
        clauses: list[sql.Composable] = []
        args: list[object] = []
        if where.status is None:
            clauses.append(sql.SQL("e.is_open"))
        else:
            clauses.append(sql.SQL("e.status = %s"))
            args.append(where.status)
        for column, value in (
            ("customer_key", where.customer.casefold() if where.customer else None),
            ("severity", where.severity),
        ):
            if value is not None:
                clauses.append(sql.SQL("e.{} = %s").format(sql.Identifier(column)))
                args.append(value)
        if where.owner is not None and where.team is not None:  # a caller sees its own and its team's
            clauses.append(sql.SQL("(e.owner = %s OR e.team = %s)"))
            args += [where.owner, where.team]
        elif where.owner is not None or where.team is not None:
            clauses.append(sql.SQL("e.owner = %s" if where.owner is not None else "e.team = %s"))
            args.append(where.owner if where.owner is not None else where.team)
        if where.target is not None:
            clauses.append(
                sql.SQL("EXISTS (SELECT 1 FROM escalation_targets t WHERE t.escalation_id = e.id AND t.target = %s)")
            )
            args.append(where.target)
        if cursor is not None:
            due, after = decode_cursor(cursor)
            clauses.append(sql.SQL("(e.next_due_at, e.id) > (%s, %s)"))
            args += [due, after]
        query = sql.SQL(
            "SELECT e.id, e.body, e.next_due_at FROM escalations e WHERE {} ORDER BY e.next_due_at, e.id LIMIT %s"
        ).format(sql.SQL(" AND ").join(clauses))

        async def read(db: Conn) -> EscalationPage:
            rows: list[tuple[str, str, datetime]] = await (await db.execute(query, [*args, size + 1])).fetchall()
            page = rows[:size]
            nexts = await _next_followups(db, [r[0] for r in page])
            items = [summary_of(Escalation.model_validate_json(body), nexts.get(eid), now) for eid, body, _ in page]
            last = page[-1] if page else None
            next_cursor = encode_cursor(last[2], last[0]) if len(rows) > size and last else None
            return EscalationPage(items=items, next_cursor=next_cursor)

        return await self._run(read)

    # the worker

    async def claim_due(self, worker: str, *, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
        async def claim(db: Conn) -> list[Claim]:
            held = await db.execute(
                "UPDATE escalations SET claimed_by = %(worker)s, claim_until = %(until)s WHERE id IN ("
                "SELECT id FROM escalations WHERE is_open AND next_work_at <= %(now)s "
                "AND (claim_until IS NULL OR claim_until < %(now)s) ORDER BY next_work_at LIMIT %(limit)s "
                "FOR UPDATE SKIP LOCKED) RETURNING id",
                {"worker": worker, "until": now + lease, "now": now, "limit": limit},
            )
            claims: list[Claim] = []
            for (escalation_id,) in sorted(await held.fetchall()):
                rows = await db.execute(
                    "SELECT body, state, batch FROM followups WHERE escalation_id = %s AND state = 'pending' "
                    "AND reminded_at IS NULL AND due_at <= %s ORDER BY due_at, id",
                    (escalation_id, now),
                )
                due = [
                    DueFollowup(followup=followup_of(body, state), batch=batch)
                    for body, state, batch in await rows.fetchall()
                ]
                claims.append(Claim(escalation_id=escalation_id, due=due))
            return claims

        return await self._run(claim)

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
        async def write(db: Conn) -> bool:
            for key, receipt in (receipts or {}).items():
                await _confirm(db, key, receipt, at)
            if release is not None:
                await _release(db, escalation_id, release)
            # FOR UPDATE: two workers completing the same follow-ups serialize here, and the second sees none left.
            still = await db.execute(
                "SELECT id FROM followups WHERE id = ANY(%s) AND state = 'pending' AND reminded_at IS NULL "
                "AND escalation_id = %s FOR UPDATE",
                (followup_ids, escalation_id),
            )
            if len(await still.fetchall()) != len(followup_ids):
                return False  # another worker delivered them first
            if reminded_only:
                await db.execute("UPDATE followups SET reminded_at = %s WHERE id = ANY(%s)", (at, followup_ids))
            else:
                await db.execute("UPDATE followups SET state = 'done' WHERE id = ANY(%s)", (followup_ids,))
            for event in events:
                await self._event(db, escalation_id, event)
            await self._refresh_due(db, escalation_id)
            return True

        return await self._run(write)

    async def release(self, escalation_id: str, worker: str) -> None:
        await self._run(lambda db: _release(db, escalation_id, worker))

    # the outbox

    async def enqueue(self, entries: list[OutboxEntry], followup_ids: list[str] | None = None) -> list[OutboxEntry]:
        async def write(db: Conn) -> list[OutboxEntry]:
            async with db.cursor() as cur:
                await cur.executemany(
                    f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    [_row(e) for e in entries],
                )
            batches = {e.batch for e in entries}
            if followup_ids:
                if len(batches) != 1 or None in batches:
                    raise ValueError("follow-ups are tied to exactly one batch: give every entry the same batch")
                await db.execute(
                    "UPDATE followups SET batch = %s WHERE id = ANY(%s) AND batch IS NULL",
                    (next(iter(batches)), followup_ids),
                )
            return await _select(db, "key = ANY(%s) ORDER BY key", [[e.key for e in entries]])

        return await self._run(write)

    async def batch(self, batch: str) -> list[OutboxEntry]:
        return await self._run(lambda db: _select(db, "batch = %s ORDER BY key", [batch]))

    async def unconfirmed(self, *, limit: int = 100) -> list[OutboxEntry]:
        return await self._run(lambda db: _select(db, "receipt IS NULL ORDER BY created_at, key LIMIT %s", [limit]))

    async def attempt(self, key: str) -> None:
        async def write(db: Conn) -> None:
            await db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE key = %s", (key,))

        await self._run(write)

    async def confirm(self, key: str, receipt: WriteReceipt, *, at: datetime) -> None:
        await self._run(lambda db: _confirm(db, key, receipt, at))

    async def check(self) -> list[str]:
        async def read(db: Conn) -> list[str]:
            problems: list[str] = []
            for rule, query in _INVARIANTS.items():
                rows = await (await db.execute(query, {"never": NEVER})).fetchall()
                problems += [f"{rule}: {row[0]}" for row in rows]
            return problems

        return await self._run(read)

    async def drop_schema(self) -> None:
        """Drop this ledger's schema with everything in it (tests and benches that made their own)."""

        async def drop(db: Conn) -> None:
            schema = await (await db.execute("SELECT current_schema()")).fetchone()
            if schema is None or schema[0] in (None, "public"):
                raise ValueError("refusing to drop the public schema: open the ledger with ?schema=NAME")
            await db.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema[0])))

        await self._run(drop)

    async def close(self) -> None:
        await self._pool.close()


async def _confirm(db: Conn, key: str, receipt: WriteReceipt, at: datetime) -> None:
    await db.execute(
        "UPDATE outbox SET receipt = %s, sent_at = %s WHERE key = %s AND receipt IS NULL",
        (receipt.model_dump_json(), at, key),
    )


async def _release(db: Conn, escalation_id: str, worker: str) -> None:
    await db.execute(
        "UPDATE escalations SET claimed_by = NULL, claim_until = NULL WHERE id = %s AND claimed_by = %s",
        (escalation_id, worker),
    )


_INVARIANTS: dict[str, LiteralString] = {
    "a delivered follow-up whose batch has an unconfirmed write": (
        "SELECT f.id FROM followups f JOIN outbox o ON o.batch = f.batch WHERE f.state = 'done' AND o.receipt IS NULL"
    ),
    "a follow-up tied to a batch with no writes": (
        "SELECT f.id FROM followups f WHERE f.batch IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.batch = f.batch)"
    ),
    "a write with a receipt but no send time, or the reverse": (
        "SELECT key FROM outbox WHERE (receipt IS NULL) <> (sent_at IS NULL)"
    ),
    "an escalation whose next due time disagrees with its follow-ups": (
        "SELECT e.id FROM escalations e WHERE e.next_due_at <> coalesce((SELECT min(f.due_at) FROM followups f "
        "WHERE f.escalation_id = e.id AND f.state = 'pending'), %(never)s)"
    ),
}


async def _next_followups(db: Conn, ids: list[str]) -> dict[str, Followup]:
    if not ids:
        return {}
    rows = await db.execute(
        "SELECT DISTINCT ON (escalation_id) escalation_id, body, state FROM followups "
        "WHERE escalation_id = ANY(%s) AND state = 'pending' ORDER BY escalation_id, due_at, id",
        (ids,),
    )
    return {eid: followup_of(body, state) for eid, body, state in await rows.fetchall()}


def _row(entry: OutboxEntry) -> tuple[object, ...]:
    return (
        entry.key,
        entry.batch,
        entry.escalation_id,
        entry.kind,
        entry.destination,
        json.dumps(entry.payload),
        entry.created_at,
        entry.attempts,
        entry.receipt.model_dump_json() if entry.receipt else None,
        entry.sent_at,
    )


async def _select(db: Conn, where: LiteralString, args: Sequence[object]) -> list[OutboxEntry]:
    rows = await (await db.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {where}", list(args))).fetchall()
    return [
        OutboxEntry.model_validate(
            {
                "key": key,
                "batch": batch,
                "escalation_id": escalation_id,
                "kind": kind,
                "destination": destination,
                "payload": json.loads(payload),
                "created_at": created_at,
                "attempts": attempts,
                "receipt": json.loads(receipt) if receipt else None,
                "sent_at": sent_at,
            }
        )
        for key, batch, escalation_id, kind, destination, payload, created_at, attempts, receipt, sent_at in rows
    ]
