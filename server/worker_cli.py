"""The `worker` and `calendar` commands; `register(cli)` adds them to the `escalation-mcp` CLI.

Until the settings carry them, the ledger URL and the channel mapping are read from their environment
variables here (ESCALATION_DATABASE_URL, ESCALATION_CHANNELS), with command-line options that override.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from server.models import EscalationFilter, Target

if TYPE_CHECKING:
    from server.store import Ledger

CHANNELS_HELP = 'JSON mapping of escalation target to chat channel, e.g. \'{"engineering": "#eng-escalations"}\''


def parse_channels(raw: str | None) -> dict[Target, str]:
    """The target -> channel mapping from its JSON text; a ValueError that says what to fix."""
    if raw is None or not raw.strip():
        return {}
    targets: tuple[str, ...] = get_args(Target)
    try:
        mapping: object = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"ESCALATION_CHANNELS is not JSON ({exc.msg}): {CHANNELS_HELP}") from None
    if not isinstance(mapping, dict):
        raise ValueError(f"ESCALATION_CHANNELS must be a JSON object: {CHANNELS_HELP}")
    channels: dict[Target, str] = {}
    for key, value in mapping.items():  # pyright: ignore[reportUnknownVariableType]
        if key not in targets:
            raise ValueError(f"ESCALATION_CHANNELS names {key!r}, which is not a target: use {', '.join(targets)}")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"ESCALATION_CHANNELS gives {key!r} no channel name")
        channels[key] = value.strip()  # pyright: ignore[reportArgumentType]  # checked against Target above
    return channels


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def worker(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now and exit (for cron).")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between checks for due follow-ups.")] = 30.0,
    database_url: Annotated[
        str | None,
        typer.Option(envvar="ESCALATION_DATABASE_URL", help="postgresql://... ledger [default: the SQLite file]."),
    ] = None,
    channels: Annotated[str | None, typer.Option(envvar="ESCALATION_CHANNELS", help=CHANNELS_HELP)] = None,
) -> None:
    """Deliver follow-ups as they fall due: reminders to the team's chat channel, customer update drafts."""
    import anyio

    from server.commands import _settings  # pyright: ignore[reportPrivateUsage]  # the CLI's one settings loader
    from server.startup import configure_logging, connectors_problem
    from server.store import open_ledger
    from server.wiring import open_connectors
    from server.worker import Worker

    try:
        mapping = parse_channels(channels)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    settings = _settings()
    configure_logging(settings)
    problem = connectors_problem(settings)
    if problem is not None:
        raise _fail(problem)

    async def main() -> int:
        ledger = open_ledger(database_url, settings.ledger_path)
        connectors = open_connectors(settings, now=datetime.now(UTC))
        try:
            if connectors.chat is None:
                typer.echo("note: no chat is connected; reminders are recorded on each escalation's timeline", err=True)
            elif not mapping:
                typer.echo("note: ESCALATION_CHANNELS is empty; reminders are recorded on the timeline", err=True)
            run = Worker(ledger, connectors.chat, mapping, clock=lambda: datetime.now(UTC))
            if not once:
                await run.run(poll=timedelta(seconds=poll))
            tally = await run.run_once()
            typer.echo(
                f"delivered {tally.reminders} reminders and {tally.customer_drafts} customer update drafts, "
                f"recorded {tally.noted_without_chat} without chat, finished {tally.recovered} after a restart, "
                f"{tally.failed} failed (retried after the lease)"
            )
            return 1 if tally.failed else 0
        finally:
            await connectors.aclose()
            await ledger.close()

    code = anyio.run(main)
    if code:
        raise typer.Exit(code)


def calendar(
    escalation_id: Annotated[str | None, typer.Argument(help="The escalation whose follow-ups to export.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every open escalation's follow-ups.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(envvar="ESCALATION_DATABASE_URL", help="postgresql://... ledger [default: the SQLite file]."),
    ] = None,
) -> None:
    """Export follow-ups as an ICS calendar; importing it again updates the events instead of duplicating them."""
    import anyio

    from server.calendar_ics import calendar_ics
    from server.commands import _settings  # pyright: ignore[reportPrivateUsage]  # the CLI's one settings loader
    from server.store import NotFound, open_ledger

    if (escalation_id is None) == (not every):
        raise _fail("give one escalation id, or --all for every open escalation")
    settings = _settings()

    async def main() -> bytes:
        ledger = open_ledger(database_url, settings.ledger_path)
        try:
            ids = [escalation_id] if escalation_id else await open_escalation_ids(ledger)
            return calendar_ics([await ledger.get(i) for i in ids])
        finally:
            await ledger.close()

    try:
        ics = anyio.run(main)
    except NotFound:
        raise _fail(f"no escalation {escalation_id!r} in the ledger") from None
    if output is None:
        sys.stdout.buffer.write(ics)
        sys.stdout.flush()
    else:
        output.write_bytes(ics)
        typer.echo(f"wrote {output}", err=True)


async def open_escalation_ids(ledger: Ledger) -> list[str]:
    """Every open escalation's id, paging through the list."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = await ledger.list_open(EscalationFilter(), now=datetime.now(UTC), limit=200, cursor=cursor)
        ids += [item.id for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids


def register(cli: typer.Typer) -> None:
    """Add `worker` and `calendar` to the CLI."""
    cli.command()(worker)
    cli.command()(calendar)
