"""Step 7: schedule_followup keeps the severity's cadence: internal on the team's clock, each customer on its own."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AwareDatetime, BaseModel, Field

from server import cadence
from server.models import OPEN_STATUSES, AffectedAccount, Escalation, Followup, Severity, TimelineEvent
from server.state import AppState
from server.tools.brief import rerender
from server.tools.common import event, load_case, new_id, resolve_accounts, state_of

# Far enough for any cadence; rejects year-9999 starts and the 1970 epoch alike.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_ZONES = 12


class ZoneSchedule(BaseModel):
    timezone: str
    country: str | None
    customers: list[str]


class Schedule(BaseModel):
    escalation_id: str
    severity: Severity
    team_timezone: str
    customer_zones: list[ZoneSchedule]
    followups: list[Followup] = Field(description="Pending follow-ups, soonest first, each in its own time zone.")


async def schedule_followup(
    escalation_id: Annotated[str, Field(max_length=64)],
    ctx: Context[AppState, Any],
    severity: Severity | None = None,
    timezone: Annotated[str | None, Field(max_length=64, description="IANA; else each customer's.")] = None,
    country: Annotated[str | None, Field(max_length=2, description="ISO, for holidays.")] = None,
    start: AwareDatetime | None = None,
    count: Annotated[int, Field(ge=1, le=10, strict=True)] = 3,
    customer_update_hours: Annotated[float | None, Field(gt=0, le=168, strict=True, description="Per the SLA.")] = None,
) -> Schedule:
    """Schedule follow-ups at the severity's cadence, replacing pending ones.

    Internal ones in the team's time zone; customer ones on each customer's business days.
    """
    state = state_of(ctx)
    escalation = await load_case(state, escalation_id)
    if escalation.status not in OPEN_STATUSES:
        raise ToolError(f"escalation {escalation_id} is {escalation.status}: its follow-ups have ended")
    level = severity or escalation.severity
    if level is None:
        raise ToolError("severity unknown: run assess_impact on the case first, or pass severity")
    begin = (start or state.clock()).replace(microsecond=0)
    if not EARLIEST <= begin <= LATEST:
        raise ToolError("start must be between 2000 and 2100, e.g. 2026-11-20T09:00:00Z")
    followups, zones = await replan(
        state,
        escalation,
        level,
        begin,
        count=count,
        timezone=timezone,
        country=country,
        customer_every_hours=customer_update_hours,
    )
    events: list[TimelineEvent] = []
    changed = None
    if level != escalation.severity:
        changed = rerender(state, escalation.model_copy(update={"severity": level, "updated_at": state.clock()}))
        events.append(event(state, "severity_changed", f"{escalation.severity} -> {level}: follow-up schedule"))
    first = followups[0].due_at.isoformat() if followups else "none"
    events.append(
        event(state, "followups_scheduled", f"{level} cadence; {len(zones)} customer zone(s); next due {first}")
    )
    await state.ledger.schedule(escalation.id, followups, *events, escalation=changed)
    return Schedule(
        escalation_id=escalation.id,
        severity=level,
        team_timezone=state.settings.team_timezone or state.settings.default_timezone,
        customer_zones=zones,
        followups=followups,
    )


async def replan(
    state: AppState,
    escalation: Escalation,
    level: Severity,
    begin: datetime,
    *,
    count: int = 3,
    timezone: str | None = None,
    country: str | None = None,
    customer_every_hours: float | None = None,
) -> tuple[list[Followup], list[ZoneSchedule]]:
    """The follow-ups severity `level` demands for `escalation` from `begin`: internal on the team's clock,
    customer ones on each customer's; soonest first."""
    settings = state.settings

    def calendar(zone: str, nation: str | None) -> cadence.BusinessCalendar:
        try:
            return cadence.BusinessCalendar.of(
                zone, nation, opens=settings.business_hours_start, closes=settings.business_hours_end
            )
        except cadence.CalendarError as exc:
            raise ToolError(str(exc)) from exc

    team = calendar(settings.team_timezone or settings.default_timezone, settings.default_country)
    followups = [
        Followup(id=new_id(), escalation_id=escalation.id, **p.model_dump())
        for p in cadence.plan(level, begin, team, count=count, customer_every_hours=customer_every_hours)
        if p.kind == "internal"
    ]
    accounts = list(escalation.facts.accounts) if escalation.facts else []
    if not accounts and escalation.customer:  # a brief drafted without a case still has its customer's clock
        with contextlib.suppress(ToolError):
            accounts = await resolve_accounts(state, [escalation.customer])
    zones = _zones(accounts, timezone, country, settings.default_timezone)
    for zone in zones:
        plans = cadence.plan(
            level, begin, calendar(zone.timezone, zone.country), count=count, customer_every_hours=customer_every_hours
        )
        who = ", ".join(zone.customers) or None
        followups += [
            Followup(id=new_id(), escalation_id=escalation.id, customer=who, **p.model_dump())
            for p in plans
            if p.kind == "customer"
        ]
    followups.sort(key=lambda f: (f.due_at.astimezone(UTC), f.kind))
    return followups, zones


def _zones(
    accounts: list[AffectedAccount], timezone: str | None, country: str | None, default: str
) -> list[ZoneSchedule]:
    """Customers grouped by (time zone, country); the caller's zone, if given, for all of them."""
    if timezone is not None or not accounts:
        return [ZoneSchedule(timezone=timezone or default, country=country, customers=[a.name for a in accounts])]
    groups: dict[tuple[str, str | None], list[str]] = {}
    for account in accounts:
        key = (account.timezone or default, country or account.country)
        groups.setdefault(key, []).append(account.name)
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    if len(ordered) > MAX_ZONES:  # a whole segment: the largest zones get their own cadence, the rest the default's
        rest = [n for _, names in ordered[MAX_ZONES - 1 :] for n in names]
        ordered = [*ordered[: MAX_ZONES - 1], ((default, country), rest)]
    return [ZoneSchedule(timezone=tz, country=nation, customers=names) for (tz, nation), names in ordered]
