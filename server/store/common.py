"""What both ledgers share: migrations, the list cursor, and the "nothing pending" sort key."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.models import OPEN_STATUSES, Escalation, EscalationSummary, Followup
from server.store import InvalidCursor

MIGRATIONS = Path(__file__).parent / "migrations"
# "No follow-up pending": sorts after every real due time, so one index orders the list overdue-first.
NEVER = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
MAX_LIMIT = 200


def migrate(uri: str, backend: str) -> None:
    """Apply the migrations in `migrations/<backend>/` that `uri`'s database lacks, under yoyo's lock.

    yoyo-migrations: plain SQL files per backend, a lock so two processes starting together migrate once,
    and no ORM to pull in (alembic would bring SQLAlchemy for a dozen statements).
    """
    import logging

    import yoyo  # pyright: ignore[reportMissingTypeStubs]

    # yoyo logs every applied step at INFO; the server's log should not carry that noise.
    logger = logging.getLogger("yoyo")
    level = logger.level
    logger.setLevel(logging.WARNING)
    db: Any = yoyo.get_backend(uri)  # pyright: ignore[reportUnknownMemberType]
    if backend == "sqlite":
        # WAL with NORMAL: a migration survives a crash of the process without an fsync per yoyo commit
        # (power loss may undo the last steps, which then apply again); the ledger itself commits FULL.
        db.connection.execute("PRAGMA journal_mode=WAL")
        db.connection.execute("PRAGMA synchronous=NORMAL")
    try:
        with db.lock():
            migrations: Any = yoyo.read_migrations(str(MIGRATIONS / backend))  # pyright: ignore[reportUnknownMemberType]
            db.apply_migrations(db.to_apply(migrations))
    finally:
        db.connection.close()
        logger.setLevel(level)


def migration_ids(backend: str) -> frozenset[str]:
    """The ids yoyo gives the migrations in `migrations/<backend>/`: the file names without their suffix.

    Post-apply hooks are left out: yoyo runs them only after applying something.
    """
    return frozenset(
        path.name.removesuffix(path.suffix)
        for path in (MIGRATIONS / backend).iterdir()
        if path.is_file()
        and path.suffix in (".py", ".sql")
        and not path.name.endswith(".rollback.sql")
        and not path.name.startswith("post-apply")
    )


def sqlite_is_current(db: sqlite3.Connection) -> bool:
    """Whether the SQLite ledger behind `db` records every migration as applied, by reading yoyo's own table.

    Checked before `migrate` on every open: importing yoyo and having it lock, read and compare costs
    about 30 ms of each start, and the ledger is current on all but its first start after an upgrade.
    A new file (no table yet) is not current; anything missing goes through yoyo, under its lock.
    """
    try:
        applied = {str(row[0]) for row in db.execute("SELECT migration_id FROM _yoyo_migration")}
    except sqlite3.OperationalError:  # no such table (never migrated), or locked: yoyo decides, under its lock
        return False
    return migration_ids("sqlite") <= applied


def ts(moment: datetime) -> str:
    """A UTC timestamp as fixed-width text, so SQLite's text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def is_open(escalation: Escalation) -> bool:
    return escalation.status in OPEN_STATUSES


def customer_key(escalation: Escalation) -> str | None:
    return escalation.customer.casefold() if escalation.customer else None


def encode_cursor(due: datetime, escalation_id: str) -> str:
    raw = json.dumps([ts(due), escalation_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; InvalidCursor for anything `encode_cursor` did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, escalation_id = json.loads(raw)
        if not isinstance(due, str) or not isinstance(escalation_id, str):
            raise TypeError(cursor)
        return datetime.fromisoformat(due), escalation_id
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidCursor(
            "this cursor was not handed out by list_escalations: pass the next_cursor of the previous page, "
            "or none for the first page"
        ) from exc


def clamp(limit: int) -> int:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return min(limit, MAX_LIMIT)


def followup_of(body: str, state: str) -> Followup:
    """A stored follow-up; the state column is the truth (the body's copy is kept for older readers)."""
    return Followup.model_validate_json(body).model_copy(update={"state": state})


def summary_of(escalation: Escalation, next_followup: Followup | None, now: datetime) -> EscalationSummary:
    return EscalationSummary(
        id=escalation.id,
        summary=escalation.summary,
        customer=escalation.customer,
        severity=escalation.severity,
        status=escalation.status,
        targets=escalation.targets,
        owner=escalation.owner,
        team=escalation.team,
        created_at=escalation.created_at,
        updated_at=escalation.updated_at,
        next_followup=next_followup,
        overdue=next_followup is not None and next_followup.due_at <= now,
    )
