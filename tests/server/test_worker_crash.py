"""Worker processes SIGKILLed at each checkpoint: afterwards nothing is lost and nothing was posted twice.

The small version of `bench/crash_worker.py` (which CI runs with over 100 kills)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from server.store.postgres import PostgresLedger
from tests.server.crash_harness import POINTS, run
from tests.server.store.conftest import NO_POSTGRES, POSTGRES_URL, postgres_url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_workers_killed_at_every_checkpoint_lose_nothing_and_post_nothing_twice(backend: str, tmp_path: Path):
    if backend == "postgres" and POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    url = postgres_url(POSTGRES_URL) if backend == "postgres" and POSTGRES_URL else None

    try:
        result = run(kills=6, escalations=8, ledger_url=url, sqlite_path=tmp_path / "ledger.db")
    finally:
        if url is not None:
            anyio.run(drop_schema, url)

    assert result.ok, result.summary()
    assert [result.kills[p] for p in POINTS] == [2, 2, 2]
    assert (result.posts, result.distinct_keys) == (16, 16)


async def drop_schema(url: str) -> None:
    ledger = PostgresLedger(url, max_size=1)
    await ledger.drop_schema()
    await ledger.close()
