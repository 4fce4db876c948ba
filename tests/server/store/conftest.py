"""Ledgers for the suite: every test that takes `any_ledger` runs on SQLite and on the real PostgreSQL.

PostgreSQL comes from ESCALATION_TEST_POSTGRES_URL; each test gets a schema of its own (dropped after), so
parallel runs and tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.store import Ledger
from server.store.postgres import PostgresLedger
from server.store.sqlite import SqliteLedger

POSTGRES_URL = os.environ.get("ESCALATION_TEST_POSTGRES_URL")
NO_POSTGRES = "ESCALATION_TEST_POSTGRES_URL is not set: no PostgreSQL to test against (CI sets it)"


def postgres_url(base: str) -> str:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    return base + ("&" if "?" in base else "?") + f"schema={schema}"


@pytest.fixture(params=["sqlite", "postgres"])
async def any_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ledger]:
    if request.param == "sqlite":
        ledger = SqliteLedger(tmp_path / "ledger.db")
        yield ledger
        await ledger.close()
        return
    if POSTGRES_URL is None:
        pytest.skip(NO_POSTGRES)
    shared = PostgresLedger(postgres_url(POSTGRES_URL), max_size=4)
    try:
        yield shared
    finally:
        await shared.drop_schema()
        await shared.close()
