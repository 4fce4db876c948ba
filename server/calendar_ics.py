"""The follow-up schedule as an ICS calendar (icalendar), for the agent's own calendar app.

Every follow-up is one event whose UID is derived from the follow-up's id, so importing the file again
updates events instead of duplicating them; a cancelled follow-up is exported as a cancelled event,
which calendar apps remove. DTSTAMP is the escalation's last change, so an unchanged schedule exports
byte for byte the same file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from server.models import EscalationRecord, Followup

if TYPE_CHECKING:
    from icalendar import Component

PRODID = "-//escalation-mcp//follow-ups//EN"
UID_DOMAIN = "escalation-mcp"
_EVENT_LENGTH = timedelta(minutes=15)


def _add(component: Component, name: str, value: object) -> None:
    # icalendar types `value` loosely (it accepts any Python value it can encode); one narrow ignore here.
    component.add(name, value)  # pyright: ignore[reportUnknownMemberType]


def followup_uid(followup: Followup) -> str:
    """The event's UID: the same follow-up always maps to the same calendar event."""
    return f"followup-{followup.id}@{UID_DOMAIN}"


def calendar_ics(records: Sequence[EscalationRecord], *, name: str = "Escalation follow-ups") -> bytes:
    """One calendar holding the follow-ups of `records` (done ones included, marked so)."""
    from icalendar import Alarm, Calendar, Event

    calendar = Calendar()
    _add(calendar, "prodid", PRODID)
    _add(calendar, "version", "2.0")
    _add(calendar, "calscale", "GREGORIAN")
    _add(calendar, "x-wr-calname", name)
    for record in records:
        for followup in record.followups:
            event = Event()
            _add(event, "uid", followup_uid(followup))
            _add(event, "dtstamp", record.updated_at)
            _add(event, "dtstart", followup.due_at)
            _add(event, "dtend", followup.due_at + _EVENT_LENGTH)
            who = "customer update" if followup.kind == "customer" else "internal update"
            _add(event, "summary", f"{who.capitalize()} due: {record.summary}")
            lines = [
                f"Severity: {record.severity or 'not assessed'}",
                f"Cadence: {followup.cadence}",
                f"Window ends: {followup.latest_at.isoformat()}",
                f"Brief: escalation://escalations/{record.id}",
            ]
            _add(event, "description", "\n".join(lines))
            _add(event, "url", f"escalation://escalations/{record.id}")
            _add(event, "categories", ["escalation", followup.kind])
            _add(
                event, "status", {"pending": "CONFIRMED", "done": "CONFIRMED", "cancelled": "CANCELLED"}[followup.state]
            )
            if followup.state == "pending":
                alarm = Alarm()
                _add(alarm, "action", "DISPLAY")
                _add(alarm, "description", f"{who.capitalize()} due: {record.summary}")
                _add(alarm, "trigger", timedelta(minutes=-10))
                event.add_component(alarm)
            calendar.add_component(event)
    return calendar.to_ical()
