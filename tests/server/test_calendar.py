"""The follow-up schedule as ICS: stable UIDs (re-import updates, never duplicates), and the CLI commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
import typer
from icalendar import Calendar
from typer.testing import CliRunner

from server.calendar_ics import calendar_ics
from server.models import Escalation, EscalationRecord, EscalationStatus, Followup, TimelineEvent
from server.store.sqlite import SqliteLedger
from server.worker_cli import parse_channels, register

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def record(*followups: Followup, eid: str = "e1") -> EscalationRecord:
    return EscalationRecord(
        id=eid,
        created_at=NOW,
        updated_at=NOW,
        summary="Checkout API 500s",
        severity="high",
        targets=["engineering"],
        timeline=[],
        followups=list(followups),
    )


def followup(fid: str, hours: int, kind: str = "internal", state: str = "pending", eid: str = "e1") -> Followup:
    at = NOW + timedelta(hours=hours)
    return Followup.model_validate(
        {
            "id": fid,
            "escalation_id": eid,
            "kind": kind,
            "due_at": at,
            "latest_at": at + timedelta(hours=4),
            "cadence": "every 4 h",
            "state": state,
        }
    )


def events(ics: bytes) -> dict[str, dict[str, str]]:
    parsed = Calendar.from_ical(ics)
    return {
        str(e["UID"]): {
            "status": str(e["STATUS"]),
            "start": e.decoded("DTSTART").isoformat(),
            "summary": str(e["SUMMARY"]),
        }
        for e in parsed.walk("VEVENT")  # pyright: ignore[reportUnknownMemberType]  # icalendar types walk() loosely
    }


def test_each_follow_up_is_one_event_with_a_uid_that_survives_rescheduling():
    before = events(calendar_ics([record(followup("f1", 4), followup("c1", 8, "customer"))]))
    after = events(
        calendar_ics([record(followup("f1", 4, state="cancelled"), followup("c1", 8, "customer"), followup("f2", 2))])
    )

    assert before == {
        "followup-f1@escalation-mcp": {
            "status": "CONFIRMED",
            "start": "2026-11-20T19:00:00+00:00",
            "summary": "Internal update due: Checkout API 500s",
        },
        "followup-c1@escalation-mcp": {
            "status": "CONFIRMED",
            "start": "2026-11-20T23:00:00+00:00",
            "summary": "Customer update due: Checkout API 500s",
        },
    }
    assert after["followup-f1@escalation-mcp"]["status"] == "CANCELLED"  # the calendar app removes it
    assert after["followup-c1@escalation-mcp"] == before["followup-c1@escalation-mcp"]
    assert set(after) == {*before, "followup-f2@escalation-mcp"}


def test_an_unchanged_schedule_exports_the_same_bytes():
    first = calendar_ics([record(followup("f1", 4))])

    assert calendar_ics([record(followup("f1", 4))]) == first
    assert b"escalation://escalations/e1" in first


def test_channels_come_from_a_json_mapping_of_targets():
    assert parse_channels('{"engineering": "#eng", "security": " #sec "}') == {
        "engineering": "#eng",
        "security": "#sec",
    }
    assert parse_channels(None) == {}
    with pytest.raises(ValueError, match="names 'eng', which is not a target"):
        parse_channels('{"eng": "#eng"}')
    with pytest.raises(ValueError, match="is not JSON"):
        parse_channels("engineering=#eng")


def test_the_calendar_command_exports_one_escalation_or_every_open_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ledger_path = tmp_path / "ledger.db"

    async def fill() -> None:
        ledger = SqliteLedger(ledger_path)
        statuses: list[tuple[str, EscalationStatus]] = [("open1", "ready"), ("open2", "draft"), ("closed", "resolved")]
        for eid, status in statuses:
            case = Escalation(id=eid, created_at=NOW, updated_at=NOW, summary=eid, status=status)
            await ledger.create(case, TimelineEvent(at=NOW, kind="created", detail="o"))
            await ledger.schedule(eid, [followup(f"{eid}-f", 4, eid=eid)])
        await ledger.close()

    anyio.run(fill)
    monkeypatch.setenv("ESCALATION_LEDGER_PATH", str(ledger_path))
    monkeypatch.delenv("ESCALATION_DATABASE_URL", raising=False)
    cli = typer.Typer()
    register(cli)
    runner = CliRunner()

    one = runner.invoke(cli, ["calendar", "open1"])
    every = runner.invoke(cli, ["calendar", "--all", "-o", str(tmp_path / "all.ics")])
    missing = runner.invoke(cli, ["calendar", "nope"])
    neither = runner.invoke(cli, ["calendar"])

    assert one.exit_code == 0, one.output
    assert set(events(one.stdout_bytes)) == {"followup-open1-f@escalation-mcp"}
    assert every.exit_code == 0, every.output
    assert set(events((tmp_path / "all.ics").read_bytes())) == {
        "followup-open1-f@escalation-mcp",
        "followup-open2-f@escalation-mcp",
    }
    assert (missing.exit_code, neither.exit_code) == (2, 2)
    assert "no escalation 'nope'" in missing.stderr
    assert "give one escalation id, or --all" in neither.stderr


def test_the_worker_command_once_delivers_what_is_due_and_reports_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ledger_path = tmp_path / "ledger.db"

    async def fill() -> None:
        ledger = SqliteLedger(ledger_path)
        case = Escalation(
            id="e1", created_at=NOW, updated_at=NOW, summary="e1", targets=["engineering"], status="ready"
        )
        await ledger.create(case, TimelineEvent(at=NOW, kind="created", detail="o"))
        await ledger.schedule("e1", [followup("e1-f", -1), followup("e1-c", -1, "customer")])
        await ledger.close()

    async def timeline() -> list[str]:
        ledger = SqliteLedger(ledger_path)
        try:
            return [e.kind for e in (await ledger.get("e1")).timeline]
        finally:
            await ledger.close()

    anyio.run(fill)
    monkeypatch.setenv("ESCALATION_LEDGER_PATH", str(ledger_path))
    monkeypatch.setenv("ESCALATION_CHANNELS", '{"engineering": "#eng-escalations"}')
    monkeypatch.delenv("ESCALATION_DATABASE_URL", raising=False)
    cli = typer.Typer()
    register(cli)

    done = CliRunner().invoke(cli, ["worker", "--once"])
    bad = CliRunner().invoke(cli, ["worker", "--once", "--channels", '{"eng": "#x"}'])

    assert done.exit_code == 0, done.output
    assert "delivered 1 reminders and 1 customer update drafts" in done.stdout
    assert sorted(anyio.run(timeline)[-2:]) == ["customer_update_drafted", "followup_delivered"]
    assert bad.exit_code == 2
    assert "not a target" in bad.stderr
