"""Crash safety: SIGKILL worker processes over 100 times at the delivery checkpoints, then audit the ledger.

Kills cycle through the three checkpoints (after the claim; after the outbox commit, before the HTTP
call; after the call, before the receipt), each at the 1st to 3rd time a worker reaches it, against a
loopback chat server that stores every post, duplicates included. Afterwards the ledger's integrity
check must pass, every overdue follow-up must be delivered, and no key may have been posted twice.
Prints the counts; exits 1 on any violation (never on timing). See tests/server/crash_harness.py.

    uv run python bench/crash_worker.py [--kills 105] [--escalations 300] [--backend sqlite|postgres|both]

PostgreSQL comes from ESCALATION_TEST_POSTGRES_URL (a fresh schema, dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import anyio

from server.store.postgres import PostgresLedger
from tests.server.crash_harness import run
from tests.server.store.conftest import postgres_url


def main() -> int:
    parser = argparse.ArgumentParser(description="SIGKILL worker processes at the delivery checkpoints.")
    parser.add_argument("--kills", type=int, default=105)
    parser.add_argument("--escalations", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    base = os.environ.get("ESCALATION_TEST_POSTGRES_URL")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        if backend == "postgres" and base is None:
            print("postgres: skipped (ESCALATION_TEST_POSTGRES_URL is not set)")
            continue
        url = postgres_url(base) if backend == "postgres" and base else None
        with tempfile.TemporaryDirectory() as scratch:
            try:
                result = run(
                    kills=args.kills, escalations=args.escalations, ledger_url=url, sqlite_path=Path(scratch) / "l.db"
                )
            finally:
                if url is not None:
                    anyio.run(_drop, url)
        print(f"{backend}: {result.summary()}")
        for name, items in (
            ("delivered twice", result.duplicates),
            ("lost", result.lost),
            ("problems", result.problems),
        ):
            for item in items[:10]:
                print(f"  {name}: {item}")
        if sum(result.kills.values()) < args.kills:
            print(f"  only {sum(result.kills.values())} kills before the work ran out: give more --escalations")
            failed = True
        failed |= not result.ok
    return 1 if failed else 0


async def _drop(url: str) -> None:
    ledger = PostgresLedger(url, max_size=1)
    await ledger.drop_schema()
    await ledger.close()


if __name__ == "__main__":
    sys.exit(main())
