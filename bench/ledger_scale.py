"""`list_escalations` and `schedule` latency with 100,000 stored escalations, as a ratio to 100 stored.

Both ledgers (SQLite; PostgreSQL when ESCALATION_TEST_POSTGRES_URL is set) are filled in bulk with rows
exactly as the ledger writes them (a fifth resolved, a spread of customers, owners, targets and due times,
two follow-ups each), then timed through the ledger's own API: the first page of open escalations, a
filtered page (one customer), the next page through a cursor, and `schedule` (cancel two follow-ups,
store two, recompute the next due time). Prints medians and the ratio large/small per operation; the
target is at most 2x. Never fails on timing.

    uv run python bench/ledger_scale.py [--large 100000] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio

from server.models import Escalation, EscalationFilter, Followup, Target
from server.store import Ledger
from server.store.common import ts
from server.store.postgres import PostgresLedger
from server.store.sqlite import SqliteLedger
from tests.server.store.conftest import postgres_url

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
TARGET = 2.0
TARGETS: tuple[Target, ...] = ("engineering", "product", "security", "l2_support")


def rows(count: int) -> list[tuple[Escalation, list[Followup]]]:
    made: list[tuple[Escalation, list[Followup]]] = []
    # Forty cases a customer at every size, so a one-customer page is a full page at 100 and at 100,000.
    customers = max(1, count // 40)
    for n in range(count):
        eid = f"{n:032x}"
        escalation = Escalation(
            id=eid,
            created_at=NOW - timedelta(hours=n % 500),
            updated_at=NOW,
            summary=f"case {n}",
            customer=f"Customer {n % customers}",
            severity=("critical", "high", "medium")[n % 3],
            targets=[TARGETS[n % 4]],
            status="resolved" if n % 5 == 0 else "ready",
            owner=f"owner{n % 40}",
            team=f"team{n % 7}",
        )
        followups = [
            Followup.model_validate(
                {
                    "id": f"{eid}-{k}",
                    "escalation_id": eid,
                    "kind": kind,
                    "due_at": NOW + timedelta(minutes=(n * 37) % 10000 - 3000 + k * 120),
                    "latest_at": NOW + timedelta(minutes=(n * 37) % 10000 - 3000 + k * 120),
                    "cadence": "every 2 h",
                }
            )
            for k, kind in enumerate(("internal", "customer"))
        ]
        made.append((escalation, followups))
    return made


def _escalation_row(e: Escalation, fs: list[Followup]) -> tuple[object, ...]:
    due = min(f.due_at for f in fs)
    return (
        e.id,
        e.created_at,
        e.updated_at,
        e.model_dump_json(),
        e.status,
        e.status != "resolved",
        e.customer.casefold() if e.customer else None,
        e.severity,
        e.owner,
        e.team,
        due,
        due,
    )


COLUMNS = (
    "id, created_at, updated_at, body, status, is_open, customer_key, severity, owner, team, next_due_at, next_work_at"
)


def fill_sqlite(path: Path, data: list[tuple[Escalation, list[Followup]]]) -> None:
    import sqlite3

    SqliteLedger(path)._db.close()  # pyright: ignore[reportPrivateUsage]  # migrate
    db = sqlite3.connect(path)
    with db:

        def text(v: object) -> object:
            return ts(v) if isinstance(v, datetime) else v

        db.executemany(
            f"INSERT INTO escalations ({COLUMNS}) VALUES ({', '.join('?' * 12)})",
            [tuple(text(v) for v in _escalation_row(e, fs)) for e, fs in data],
        )
        db.executemany("INSERT INTO escalation_targets VALUES (?, ?)", [(e.id, t) for e, _ in data for t in e.targets])
        db.executemany(
            "INSERT INTO followups (id, escalation_id, kind, due_at, body, state) VALUES (?, ?, ?, ?, ?, 'pending')",
            [(f.id, f.escalation_id, f.kind, ts(f.due_at), f.model_dump_json()) for _, fs in data for f in fs],
        )
        db.executemany(
            "INSERT INTO timeline (escalation_id, at, kind, detail) VALUES (?, ?, 'created', 'opened')",
            [(e.id, e.created_at.isoformat()) for e, _ in data],
        )
    db.execute("ANALYZE")
    db.close()


async def fill_postgres(url: str, data: list[tuple[Escalation, list[Followup]]]) -> PostgresLedger:
    import psycopg

    from server.store.postgres import split_url

    ledger = PostgresLedger(url, max_size=2)
    conninfo, schema = split_url(url)
    async with await psycopg.AsyncConnection.connect(conninfo, options=f"-c search_path={schema}") as db:
        async with db.cursor() as cur:
            async with cur.copy(f"COPY escalations ({COLUMNS}) FROM STDIN") as copy:
                for e, fs in data:
                    await copy.write_row(_escalation_row(e, fs))
            async with cur.copy("COPY escalation_targets FROM STDIN") as copy:
                for e, _ in data:
                    for t in e.targets:
                        await copy.write_row((e.id, t))
            async with cur.copy("COPY followups (id, escalation_id, kind, due_at, body, state) FROM STDIN") as copy:
                for _, fs in data:
                    for f in fs:
                        await copy.write_row((f.id, f.escalation_id, f.kind, f.due_at, f.model_dump_json(), "pending"))
            async with cur.copy("COPY timeline (escalation_id, at, kind, detail) FROM STDIN") as copy:
                for e, _ in data:
                    await copy.write_row((e.id, e.created_at, "created", "opened"))
        await db.execute("ANALYZE")
        await db.commit()
    return ledger


async def median_ms(runs: int, op: Callable[[int], Awaitable[object]]) -> float:
    await op(0)  # warm caches and the pool
    times: list[float] = []
    for n in range(1, runs + 1):
        started = time.perf_counter()
        await op(n)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def measure(ledger: Ledger, count: int, runs: int) -> dict[str, float]:
    first = await ledger.list_open(EscalationFilter(), now=NOW, limit=20)
    assert first.next_cursor is not None
    cursor = first.next_cursor

    async def schedule(n: int) -> None:
        eid = f"{(n * 7919 + 1) % count:032x}"
        due = NOW + timedelta(hours=2 + n)
        plan = {"kind": "internal", "due_at": due, "latest_at": due, "cadence": "every 2 h", "escalation_id": eid}
        await ledger.schedule(eid, [Followup.model_validate({**plan, "id": f"{eid}-r{n}"})])

    return {
        "list first page": await median_ms(runs, lambda n: ledger.list_open(EscalationFilter(), now=NOW, limit=20)),
        "list one customer": await median_ms(
            runs,
            lambda n: ledger.list_open(
                EscalationFilter(customer=f"customer {n % max(1, count // 40)}"), now=NOW, limit=20
            ),
        ),
        "list one target": await median_ms(
            runs, lambda n: ledger.list_open(EscalationFilter(target="security"), now=NOW, limit=20)
        ),
        "list next page": await median_ms(
            runs, lambda n: ledger.list_open(EscalationFilter(), now=NOW, limit=20, cursor=cursor)
        ),
        "schedule": await median_ms(runs, schedule),
    }


def report(backend: str, small: dict[str, float], large: dict[str, float], count: int) -> None:
    print(f"\n{backend}: median ms with 100 vs {count:,} stored escalations (target <= {TARGET:.0f}x)")
    for name in small:
        ratio = large[name] / small[name] if small[name] else float("inf")
        flag = "" if ratio <= TARGET else "  <- above target"
        print(f"  {name:<24} {small[name]:8.2f} {large[name]:8.2f}   {ratio:5.2f}x{flag}")


async def main() -> None:
    parser = argparse.ArgumentParser(description="List and schedule latency at 100 vs 100,000 escalations.")
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    sizes = (100, args.large)
    data = {size: rows(size) for size in sizes}
    with tempfile.TemporaryDirectory() as scratch:
        results: dict[int, dict[str, float]] = {}
        for size in sizes:
            path = Path(scratch) / f"ledger-{size}.db"
            fill_sqlite(path, data[size])
            ledger = SqliteLedger(path)
            try:
                results[size] = await measure(ledger, size, args.runs)
            finally:
                await ledger.close()
        report("sqlite", results[sizes[0]], results[sizes[1]], sizes[1])
    base = os.environ.get("ESCALATION_TEST_POSTGRES_URL")
    if base is None:
        print("\npostgres: skipped (ESCALATION_TEST_POSTGRES_URL is not set)")
        return
    results = {}
    for size in sizes:
        ledger = await fill_postgres(postgres_url(base), data[size])
        try:
            results[size] = await measure(ledger, size, args.runs)
        finally:
            await ledger.drop_schema()
            await ledger.close()
    report("postgres", results[sizes[0]], results[sizes[1]], sizes[1])


if __name__ == "__main__":
    anyio.run(main)
