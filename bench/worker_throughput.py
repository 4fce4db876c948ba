"""One worker's delivery throughput on SQLite and on PostgreSQL, against a chat answering in 50 ms.

The chat is a loopback HTTP server (tests/server/loopback_chat.py) that holds every post 50 ms. The
baseline, measured in the same run, is the chat alone: the same number of posts through the same
adapter with the same concurrency as the worker (8 at a time), no ledger. The ratio worker/baseline says
how much of the chat's own rate the ledger's commits (outbox before the call, receipt and completion
after it) leave. Prints follow-ups per second and the ratio; never fails on timing.

    uv run python bench/worker_throughput.py [--followups 300]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio

from server.models import Escalation, Followup, Target, TimelineEvent
from server.store import Ledger
from server.store.postgres import PostgresLedger
from server.store.sqlite import SqliteLedger
from server.worker import Worker
from tests.server.loopback_chat import LoopbackChat, chat_server
from tests.server.store.conftest import postgres_url

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
DELAY = 0.05
PARALLEL = 8
CHANNELS: dict[Target, str] = {"engineering": "#eng-escalations"}


async def seed(ledger: Ledger, count: int) -> None:
    limiter = anyio.CapacityLimiter(8)

    async def one(n: int) -> None:
        async with limiter:
            eid = f"{n:032x}"
            case = Escalation(
                id=eid, created_at=NOW, updated_at=NOW, summary=f"case {n}", severity="high", targets=["engineering"]
            )
            await ledger.create(case, TimelineEvent(at=NOW, kind="created", detail="opened"))
            due = NOW - timedelta(minutes=5)
            plan = {"kind": "internal", "due_at": due, "latest_at": due, "cadence": "every 4 h"}
            await ledger.schedule(eid, [Followup.model_validate({**plan, "id": f"{eid}-f", "escalation_id": eid})])

    async with anyio.create_task_group() as group:
        for n in range(count):
            group.start_soon(one, n)


async def baseline(url: str, count: int) -> float:
    chat = LoopbackChat(url)
    limiter = anyio.CapacityLimiter(PARALLEL)

    async def post(n: int) -> None:
        async with limiter:
            await chat.post_message("#baseline", f"post {n}", idempotency_key=f"baseline-{n}")

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for n in range(count):
            group.start_soon(post, n)
    elapsed = time.perf_counter() - started
    await chat.aclose()
    return count / elapsed


async def worker_rate(ledger: Ledger, url: str, count: int) -> float:
    await seed(ledger, count)
    chat = LoopbackChat(url)
    worker = Worker(ledger, chat, CHANNELS, clock=lambda: NOW, parallel=PARALLEL, batch_size=2 * PARALLEL)
    started = time.perf_counter()
    tally = await worker.run_once()
    elapsed = time.perf_counter() - started
    await chat.aclose()
    if tally.reminders != count:
        raise SystemExit(f"the worker delivered {tally.reminders} of {count} follow-ups")
    return count / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description="Worker delivery throughput against a 50 ms chat.")
    parser.add_argument("--followups", type=int, default=300)
    args = parser.parse_args()
    count: int = args.followups
    base = os.environ.get("ESCALATION_TEST_POSTGRES_URL")
    with chat_server(delay=DELAY) as (url, _posts), tempfile.TemporaryDirectory() as scratch:
        chat_alone = await baseline(url, count)
        print(f"chat alone ({PARALLEL} at a time, {DELAY * 1000:.0f} ms each): {chat_alone:7.1f} posts/s")
        sqlite = SqliteLedger(Path(scratch) / "ledger.db")
        try:
            rate = await worker_rate(sqlite, url, count)
        finally:
            await sqlite.close()
        print(f"worker on sqlite:   {rate:7.1f} follow-ups/s   {rate / chat_alone:5.2f}x the chat alone")
        if base is None:
            print("worker on postgres: skipped (ESCALATION_TEST_POSTGRES_URL is not set)")
            return
        postgres = PostgresLedger(postgres_url(base), max_size=PARALLEL)
        try:
            rate = await worker_rate(postgres, url, count)
        finally:
            await postgres.drop_schema()
            await postgres.close()
        print(f"worker on postgres: {rate:7.1f} follow-ups/s   {rate / chat_alone:5.2f}x the chat alone")


if __name__ == "__main__":
    anyio.run(main)
