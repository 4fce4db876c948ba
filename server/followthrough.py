"""Step 7's lifecycle: reminders, the customer update, de-escalation reasons and the close-the-loop checklist.

Plain functions over the case and its timeline; the tools and the worker call them. The customer update
is written for the customer: it never carries ARR, internal notes, internal people's names or the
severity label. Only timeline events made with `customer_note` reach it, and only the case's issue,
start time and known workarounds describe it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.models import Escalation, EventKind, Followup, Frozen, Language, TimelineEvent

if TYPE_CHECKING:
    from jinja2 import Environment

# A delivery this much after its due time says it is late; a worker's polling delay is not lateness.
LATE_AFTER = timedelta(minutes=15)
CUSTOMER_NOTE = "customer-visible: "
# The worker's own deliveries are not "the last update" a reminder reports.
_NOT_UPDATES: frozenset[EventKind] = frozenset({"followup_delivered", "customer_update_drafted", "followups_scheduled"})


# -- de-escalation -------------------------------------------------------------------------------------

DeescalationReason = Literal["support_resolvable", "workaround", "resolved_itself", "severity_lowered"]
DEESCALATION_REASONS: dict[DeescalationReason, str] = {
    "support_resolvable": "The root cause turned out to be something support can resolve.",
    "workaround": "A workaround unblocks the customer.",
    "resolved_itself": "The issue resolved itself (the root cause is recorded anyway).",
    "severity_lowered": "New facts lower the severity below what the escalation needed.",
}


def deescalation_event(
    reason: DeescalationReason, note: str, *, at: datetime, root_cause: str | None = None
) -> TimelineEvent:
    """The timeline event for de-escalating; an issue that resolved itself must still say its root cause."""
    if reason == "resolved_itself" and not (root_cause and root_cause.strip()):
        raise ValueError("an issue that resolved itself still needs its root cause recorded: pass root_cause")
    detail = f"{DEESCALATION_REASONS[reason]} {note.strip()}".strip()
    if root_cause:
        detail += f" Root cause: {root_cause.strip()}"
    return TimelineEvent(at=at, kind="de_escalated", detail=detail)


# -- close the loop ------------------------------------------------------------------------------------

LoopItem = Literal["notify_team", "update_ticket", "confirm_customer", "document_lesson"]
LOOP_ITEMS: dict[LoopItem, str] = {
    "notify_team": "Tell the team you escalated to",
    "update_ticket": "Update the ticket",
    "confirm_customer": "Confirm with the customer",
    "document_lesson": "Write down what was learned",
}
# write_sent events the write tools record, by what their detail starts with.
_WRITES_THAT_COUNT: dict[LoopItem, tuple[str, ...]] = {
    "notify_team": ("chat",),
    "update_ticket": ("support", "ticket", "internal_note"),
}


class LoopCheck(Frozen):
    item: LoopItem
    label: str
    done: bool
    evidence: str | None = None


def loop_event(item: LoopItem, detail: str, *, at: datetime) -> TimelineEvent:
    """The timeline event that ticks one checklist item (a lesson is recorded as a lesson)."""
    kind: EventKind = "lesson" if item == "document_lesson" else "update"
    return TimelineEvent(at=at, kind=kind, detail=f"[{item}] {detail.strip()}")


def close_the_loop(timeline: Sequence[TimelineEvent]) -> list[LoopCheck]:
    """The playbook's four closing steps, each done when the timeline shows it, with the event that shows it."""
    checks: list[LoopCheck] = []
    for item, label in LOOP_ITEMS.items():
        evidence = next((e for e in reversed(timeline) if _ticks(item, e)), None)
        checks.append(
            LoopCheck(
                item=item,
                label=label,
                done=evidence is not None,
                evidence=f"{evidence.at.isoformat()} {evidence.detail}" if evidence else None,
            )
        )
    return checks


def _ticks(item: LoopItem, event: TimelineEvent) -> bool:
    if event.detail.startswith(f"[{item}]"):
        return True
    if item == "document_lesson":
        return event.kind == "lesson"
    prefixes = _WRITES_THAT_COUNT.get(item, ())
    return event.kind == "write_sent" and event.detail.casefold().startswith(prefixes)


# -- wording shared by the renderings ------------------------------------------------------------------


def duration(span: timedelta) -> str:
    """A span the way people say it: '3 d 2 h', '5 h 10 min', '12 min'."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


_WEEKDAYS: dict[Language, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "ko": ("월", "화", "수", "목", "금", "토", "일"),
    "ja": ("月", "火", "水", "木", "金", "土", "日"),
}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def local_time(moment: datetime, tz: str, language: Language) -> str:
    """`moment` in the time zone `tz`, written for a reader of `language`, naming the zone."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}: use an IANA name such as 'America/New_York'") from exc
    t = moment.astimezone(zone)
    day = _WEEKDAYS[language][t.weekday()]
    clock = f"{t:%H:%M}"
    if language == "ko":
        return f"{t.year}년 {t.month}월 {t.day}일 ({day}) {clock} ({tz})"
    if language == "ja":
        return f"{t.year}年{t.month}月{t.day}日({day}) {clock} ({tz})"
    return f"{day} {t.day} {_MONTHS[t.month - 1]} {t.year}, {clock} ({tz})"


def last_update(timeline: Sequence[TimelineEvent]) -> TimelineEvent | None:
    """The newest event that is news about the case (not the worker's own deliveries)."""
    return next((e for e in reversed(timeline) if e.kind not in _NOT_UPDATES), None)


def customer_note(text: str, *, at: datetime) -> TimelineEvent:
    """A timeline event the next customer update may quote: progress worded for the customer."""
    return TimelineEvent(at=at, kind="update", detail=CUSTOMER_NOTE + text.strip())


class Templates:
    """The follow-through templates (package data in `prompts/followthrough/`, apart from the brief templates
    the server lists as resources), loaded on first use."""

    @cached_property
    def env(self) -> Environment:
        from jinja2 import Environment, PackageLoader, StrictUndefined

        return Environment(
            loader=PackageLoader("prompts", "followthrough"),
            undefined=StrictUndefined,
            autoescape=False,  # markdown, not HTML
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **values: object) -> str:
        return self.env.get_template(name).render(**values)


# -- the internal reminder -----------------------------------------------------------------------------


def reminder_text(
    escalation: Escalation,
    timeline: Sequence[TimelineEvent],
    due: Sequence[Followup],
    *,
    now: datetime,
    next_due: datetime | None,
    templates: Templates | None = None,
) -> str:
    """The chat reminder for follow-ups that fell due: one message however many of them did.

    Says what is due, how long the escalation has been open, its severity, the last update on its
    timeline, the next due time, how late this reminder is (when it is), and links the brief.
    """
    if not due:
        raise ValueError("a reminder needs at least one follow-up that is due")
    first = min(f.due_at for f in due)
    late = now - first
    update = last_update(timeline)
    return (templates or Templates()).render(
        "reminder.en.md.j2",
        e=escalation,
        kind=due[0].kind,
        count=len(due),
        first_due=_utc(first),
        late=duration(late) if late > LATE_AFTER else None,
        open_for=duration(now - escalation.created_at),
        last=update,
        last_at=_utc(update.at) if update else None,
        next_due=_utc(next_due) if next_due else None,
        link=f"escalation://escalations/{escalation.id}",
    )


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%a %d %b %H:%M} UTC"


# -- the customer update -------------------------------------------------------------------------------


def draft_customer_update(
    escalation: Escalation,
    timeline: Sequence[TimelineEvent],
    next_customer_due: datetime | None,
    tz: str,
    language: Language,
    *,
    templates: Templates | None = None,
) -> str:
    """A status update for the customer: what we know, what we are doing, when they hear from us next.

    News is what `customer_note` recorded since the last drafted update; with none, it says honestly
    that the investigation goes on and repeats what is known so far. Times are in the customer's `tz`.
    """
    drafted = [i for i, e in enumerate(timeline) if e.kind == "customer_update_drafted"]
    since = drafted[-1] + 1 if drafted else 0
    news = [e.detail.removeprefix(CUSTOMER_NOTE) for e in timeline[since:] if e.detail.startswith(CUSTOMER_NOTE)]
    facts = escalation.facts
    return (templates or Templates()).render(
        f"customer_update.{language}.md.j2",
        customer=escalation.customer,
        issue=facts.issue if facts else escalation.summary,
        started=local_time(facts.started_at, tz, language) if facts and facts.started_at else None,
        workarounds=facts.workarounds if facts else [],
        news=news,
        status=escalation.status,
        targets=escalation.targets,
        next_update=local_time(next_customer_due, tz, language) if next_customer_due else None,
    )


def customer_timezone(escalation: Escalation) -> str:
    """The named customer's time zone as the CRM knows it, else the first affected account's, else UTC."""
    accounts = escalation.facts.accounts if escalation.facts else []
    named = [a for a in accounts if escalation.customer and a.name.casefold() == escalation.customer.casefold()]
    for account in [*named, *accounts]:
        if account.timezone:
            return account.timezone
    return "UTC"
