"""After the brief: find open work, record what happens to an escalation, and tell the customer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from server import followthrough
from server.caller import caller
from server.models import (
    OPEN_STATUSES,
    EscalationFilter,
    EscalationStatus,
    EscalationSummary,
    Language,
    Severity,
    Target,
    TimelineEvent,
)
from server.state import AppState
from server.store import InvalidCursor
from server.tools.brief import rerender
from server.tools.common import case_of, event, load_record, state_of
from server.tools.schedule import replan

Action = Literal["update", "severity", "de_escalate", "resolve", "lesson"]


class EscalationList(BaseModel):
    escalations: list[EscalationSummary] = Field(description="Overdue first, then by next due follow-up.")
    next_cursor: str | None = None


class UpdateResult(BaseModel):
    escalation_id: str
    status: EscalationStatus
    severity: Severity | None
    cancelled_followups: int
    checklist: list[followthrough.LoopCheck] = Field(description="Closing the loop, once it ends.")


class CustomerUpdate(BaseModel):
    escalation_id: str
    language: Language
    text: str = Field(description="For the customer: nothing internal. Review, then send it yourself.")


async def list_escalations(
    ctx: Context[AppState, Any],
    status: EscalationStatus | None = None,
    customer: Annotated[str | None, Field(max_length=200)] = None,
    severity: Severity | None = None,
    target: Target | None = None,
    limit: Annotated[int, Field(ge=1, le=100, strict=True)] = 20,
    cursor: Annotated[str | None, Field(max_length=200)] = None,
) -> EscalationList:
    """Open escalations (or those of one status), each with its next due follow-up; overdue first."""
    state = state_of(ctx)
    who = caller()
    where = EscalationFilter(
        status=status,
        customer=customer,
        severity=severity,
        target=target,
        owner=who.subject if who else None,
        team=who.team if who else None,
    )
    try:
        page = await state.ledger.list_open(where, now=state.clock(), limit=limit, cursor=cursor)
    except InvalidCursor:
        raise ToolError("cursor is not one list_escalations returned; call again without it") from None
    return EscalationList(escalations=page.items, next_cursor=page.next_cursor)


async def update_escalation(
    escalation_id: Annotated[str, Field(max_length=64)],
    action: Annotated[Action, Field(description="de_escalate and resolve cancel pending follow-ups.")],
    note: Annotated[str, Field(min_length=3, max_length=4000, description="What happened, or why.")],
    ctx: Context[AppState, Any],
    severity: Annotated[Severity | None, Field(description="For action severity.")] = None,
    reason: followthrough.DeescalationReason | None = None,
    root_cause: Annotated[str | None, Field(max_length=2000)] = None,
    customer_visible: Annotated[
        bool, Field(strict=True, description="The next customer update may quote the note.")
    ] = False,
) -> UpdateResult:
    """Record an update, change severity, de-escalate, resolve, or add a lesson; ending returns the checklist."""
    state = state_of(ctx)
    record = await load_record(state, escalation_id)
    escalation = case_of(record)
    now = state.clock()
    if escalation.status not in OPEN_STATUSES and action in ("severity", "de_escalate", "resolve"):
        raise ToolError(f"escalation {escalation_id} is {escalation.status} already; record an update or lesson")
    pending = sum(1 for f in record.followups if f.state == "pending")
    events: list[TimelineEvent] = []
    if action in ("update", "lesson"):
        kind: Literal["update", "lesson"] = action
        events.append(followthrough.customer_note(note, at=now) if customer_visible else event(state, kind, note))
        await state.ledger.append(escalation.id, events[0])
        return _result(escalation.id, escalation.status, escalation.severity, 0, record.timeline + events, ended=False)
    if action == "severity":
        if severity is None or severity == escalation.severity:
            raise ToolError("action severity needs a severity different from the current one")
        changed = rerender(state, escalation.model_copy(update={"severity": severity, "updated_at": now}))
        events.append(event(state, "severity_changed", f"{escalation.severity} -> {severity}: {note}"))
        # The cadence restarts from now at the new severity: the old follow-ups are replaced.
        followups, _ = await replan(state, changed, severity, now)
        events.append(event(state, "followups_scheduled", f"{severity} cadence from now; {len(followups)} due"))
        await state.ledger.schedule(escalation.id, followups, *events, escalation=changed)
        return _result(escalation.id, changed.status, severity, pending, record.timeline + events, ended=False)
    try:
        if action == "de_escalate":
            if reason is None:
                raise ToolError("de_escalate needs a reason: " + ", ".join(followthrough.DEESCALATION_REASONS))
            closing = followthrough.deescalation_event(reason, note, at=now, root_cause=root_cause)
            status: EscalationStatus = "de_escalated"
        else:
            detail = note + (f" Root cause: {root_cause}" if root_cause else "")
            closing = TimelineEvent(at=now, kind="resolved", detail=detail)
            status = "resolved"
    except ValueError as exc:
        raise ToolError(str(exc)) from exc
    closed = escalation.model_copy(update={"status": status, "updated_at": now})
    events = [closing, event(state, "followups_scheduled", f"{pending} pending follow-ups cancelled ({status})")]
    await state.ledger.schedule(escalation.id, [], *events, escalation=closed)
    return _result(escalation.id, status, escalation.severity, pending, record.timeline + events, ended=True)


async def draft_customer_update(
    escalation_id: Annotated[str, Field(max_length=64)],
    ctx: Context[AppState, Any],
    language: Language | None = None,
) -> CustomerUpdate:
    """Draft a status update for the customer, in its language, with nothing internal; not sent."""
    state = state_of(ctx)
    record = await load_record(state, escalation_id)
    tongue: Language = language or record.language
    zone = followthrough.customer_timezone(record)
    due = [f.due_at for f in record.followups if f.kind == "customer" and f.state == "pending"]
    text = followthrough.draft_customer_update(record, record.timeline, min(due, default=None), zone, tongue)
    await state.ledger.append(record.id, event(state, "customer_update_drafted", f"{tongue} draft for the customer"))
    return CustomerUpdate(escalation_id=record.id, language=tongue, text=text)


def _result(
    escalation_id: str,
    status: EscalationStatus,
    severity: Severity | None,
    cancelled: int,
    timeline: list[TimelineEvent],
    *,
    ended: bool,
) -> UpdateResult:
    return UpdateResult(
        escalation_id=escalation_id,
        status=status,
        severity=severity,
        cancelled_followups=cancelled if ended else 0,
        checklist=followthrough.close_the_loop(timeline) if ended else [],
    )
