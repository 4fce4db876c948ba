"""SIGKILL the worker (a real subprocess) at chosen points, many times over one ledger, then audit it.

The harness seeds escalations with overdue internal and customer follow-ups, runs a loopback chat server
that stores every post (duplicates included, `tests/server/loopback_chat.py`), and starts worker
processes one after another. Each worker stops at every checkpoint (after the claim, after the outbox
commit and before the HTTP call, after the call and before the receipt) and waits for a word on stdin;
the harness either lets it go on or SIGKILLs it right there. Each new worker's clock runs one lease
further ahead, so it takes over its dead predecessor's claims at once instead of waiting out the lease.
After the last kill a worker runs to the end, and the audit checks: the ledger's integrity check passes,
no follow-up is lost (every overdue one is done), none is delivered twice (one post per key and channel,
one reminder and one customer draft per escalation).

    result = run(kills=105, escalations=300, ledger_url=None, sqlite_path=tmp / "ledger.db")
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import anyio

from server.followthrough import Templates
from server.models import Escalation, Followup, Target, TimelineEvent
from server.store import Ledger, open_ledger
from tests.server.loopback_chat import chat_server

POINTS = ("claimed", "enqueued", "sent")
LEASE = timedelta(seconds=30)
CHANNELS: dict[Target, str] = {"engineering": "#eng-escalations", "security": "#sec-incidents"}


@dataclass
class Result:
    kills: Counter[str] = field(default_factory=Counter[str])
    workers: int = 0
    posts: int = 0
    distinct_keys: int = 0
    duplicates: list[str] = field(default_factory=list[str])
    lost: list[str] = field(default_factory=list[str])
    problems: list[str] = field(default_factory=list[str])
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.lost or self.problems)

    def summary(self) -> str:
        kills = ", ".join(f"{p}: {self.kills[p]}" for p in POINTS)
        return (
            f"{sum(self.kills.values())} kills ({kills}) over {self.workers} worker processes in {self.seconds:.1f} s; "
            f"{self.posts} posts for {self.distinct_keys} keys; {len(self.duplicates)} delivered twice, "
            f"{len(self.lost)} lost, {len(self.problems)} integrity problems"
        )


def _case(eid: str, now: datetime) -> Escalation:
    return Escalation(
        id=eid,
        created_at=now - timedelta(days=2),
        updated_at=now,
        summary=f"Checkout 500s ({eid})",
        customer="Acme Corp",
        severity="critical",
        targets=["engineering", "security"],
        status="ready",
    )


def _followup(fid: str, eid: str, due: datetime, kind: str) -> Followup:
    return Followup.model_validate(
        {"id": fid, "escalation_id": eid, "kind": kind, "due_at": due, "latest_at": due, "cadence": "every 2 h"}
    )


async def seed(ledger: Ledger, escalations: int, now: datetime) -> None:
    """Each escalation: two overdue internal follow-ups, one overdue customer one, one a month away."""

    async def one(n: int) -> None:
        eid = f"esc{n:04d}"
        await ledger.create(_case(eid, now), TimelineEvent(at=now - timedelta(days=2), kind="created", detail="o"))
        await ledger.schedule(
            eid,
            [
                _followup(f"{eid}-i1", eid, now - timedelta(hours=3), "internal"),
                _followup(f"{eid}-i2", eid, now - timedelta(hours=1), "internal"),
                _followup(f"{eid}-c1", eid, now - timedelta(hours=2), "customer"),
                _followup(f"{eid}-later", eid, now + timedelta(days=30), "internal"),
            ],
        )

    limiter = anyio.CapacityLimiter(8)

    async def limited(n: int) -> None:
        async with limiter:
            await one(n)

    async with anyio.create_task_group() as group:
        for n in range(escalations):
            group.start_soon(limited, n)


async def audit(ledger: Ledger, escalations: int, by_key: Counter[str], result: Result) -> None:
    result.posts = sum(by_key.values())
    result.distinct_keys = len(by_key)
    result.duplicates = sorted(key for key, n in by_key.items() if n > 1)
    result.problems = await ledger.check()
    for n in range(escalations):
        record = await ledger.get(f"esc{n:04d}")
        for f in record.followups:
            if f.id.endswith("-later"):
                if f.state != "pending":
                    result.problems.append(f"{f.id} is {f.state} but is not due for a month")
            elif f.state != "done":
                result.lost.append(f.id)
        kinds = Counter(e.kind for e in record.timeline)
        if kinds["followup_delivered"] > 1 or kinds["customer_update_drafted"] > 1:
            result.duplicates.append(f"{record.id}: {dict(kinds)}")
        batch = f"reminder:{record.id}-i1"
        for channel in CHANNELS.values():
            if by_key.get(f"{batch}@{channel}", 0) == 0 and f"{record.id}-i1" not in result.lost:
                result.lost.append(f"{batch}@{channel} (never posted)")
    expected = escalations * len(CHANNELS)
    if result.distinct_keys != expected:
        result.problems.append(f"{result.distinct_keys} keys posted, expected {expected}")


def _serve_chat(conn: Connection) -> None:
    """The chat server's own process: hands back its URL, then its post counts when asked."""
    with chat_server() as (url, posts):
        conn.send(url)
        while conn.recv() == "stats":
            conn.send(posts.by_key())


def _worker(
    conn: Connection, ledger_url: str | None, sqlite_path: Path, chat_url: str, skew: float, templates: Templates
) -> None:
    """One worker process: every checkpoint tells the harness where it is and waits for its word."""
    from server.worker import Worker
    from tests.server.loopback_chat import LoopbackChat

    async def checkpoint(point: str) -> None:
        conn.send(point)
        conn.recv()  # blocking on purpose: the worker is frozen exactly here until the harness answers

    async def main() -> None:
        ledger = open_ledger(ledger_url, sqlite_path)
        chat = LoopbackChat(chat_url)
        try:
            worker = Worker(
                ledger,
                chat,
                CHANNELS,
                clock=lambda: datetime.now(UTC) + timedelta(seconds=skew),
                lease=LEASE,
                batch_size=1,
                parallel=1,
                checkpoint=checkpoint,
                templates=templates,
            )
            await worker.run_once()
        finally:
            await chat.aclose()
            await ledger.close()

    anyio.run(main)
    conn.send("done")


def run(*, kills: int, escalations: int, ledger_url: str | None, sqlite_path: Path, seed_value: int = 7) -> Result:
    """Seed, kill workers `kills` times at the checkpoints (cycling through them), finish, audit.

    Workers are forked from this process (after it imported everything, and while it runs no thread),
    so a worker starts in milliseconds and a hundred kills take seconds, not minutes.
    """
    for module in ("server.worker", "tests.server.loopback_chat", "yoyo", "httpx"):
        importlib.import_module(module)  # once here, inherited by every forked worker
    templates = Templates()
    for name in ("reminder.en.md.j2", "customer_update.en.md.j2"):
        templates.env.get_template(name)  # compiled once here too

    forks = multiprocessing.get_context("fork")
    rng = random.Random(seed_value)
    result = Result()
    started = time.monotonic()
    now = datetime.now(UTC)

    async def prepare() -> None:
        ledger = open_ledger(ledger_url, sqlite_path)
        try:
            await seed(ledger, escalations, now)
        finally:
            await ledger.close()

    anyio.run(prepare)
    here, there = forks.Pipe()
    server = forks.Process(target=_serve_chat, args=(there,), daemon=True)
    _no_threads()
    server.start()
    chat_url: str = here.recv()
    try:
        while True:
            killing = sum(result.kills.values()) < kills
            point = POINTS[sum(result.kills.values()) % len(POINTS)]
            nth = rng.randint(1, 3)  # kill the 1st..3rd time the worker reaches that point
            skew = result.workers * (LEASE.total_seconds() + 1)
            mine, theirs = forks.Pipe()
            _no_threads()
            worker = forks.Process(target=_worker, args=(theirs, ledger_url, sqlite_path, chat_url, skew, templates))
            worker.start()
            result.workers += 1
            seen = 0
            killed = False
            while mine.poll(120):
                try:
                    reached: str = mine.recv()
                except EOFError:
                    break
                if reached == "done":
                    break
                seen += reached == point
                if killing and reached == point and seen == nth:
                    assert worker.pid is not None
                    os.kill(worker.pid, signal.SIGKILL)
                    result.kills[point] += 1
                    killed = True
                    break
                mine.send("go")
            worker.join(timeout=60)
            mine.close()
            theirs.close()
            if not killed and worker.exitcode != 0:
                raise RuntimeError(f"a worker exited with {worker.exitcode} without being killed")
            if not killed:
                break  # a worker ran to the end: nothing due is left (more kills need more escalations)
        here.send("stats")
        by_key: Counter[str] = here.recv()
    finally:
        here.send("stop")
        server.join(timeout=10)

    async def check() -> None:
        ledger = open_ledger(ledger_url, sqlite_path)
        try:
            await audit(ledger, escalations, by_key, result)
        finally:
            await ledger.close()

    anyio.run(check)
    result.seconds = time.monotonic() - started
    return result


def _no_threads() -> None:
    """Forking with a thread running can deadlock the child on a lock that thread held: wait them out."""
    deadline = time.monotonic() + 10
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    if threading.active_count() > 1:
        raise RuntimeError(f"cannot fork workers safely; threads running: {threading.enumerate()}")
