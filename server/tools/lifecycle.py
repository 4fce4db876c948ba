"""After the brief: record what happens to the escalation, to its resolution."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from server.models import EscalationStatus, Severity
from server.state import AppState
from server.tools.common import event, load_case, state_of


class UpdateResult(BaseModel):
    escalation_id: str
    status: EscalationStatus
    severity: Severity | None
    cancelled_followups: int


async def record_update(
    escalation_id: Annotated[str, Field(max_length=64)],
    kind: Annotated[
        Literal["update", "de_escalated", "resolved", "lesson"],
        Field(description="resolved and de_escalated cancel pending follow-ups."),
    ],
    note: Annotated[str, Field(min_length=3, max_length=4000, description="What happened or was learned.")],
    ctx: Context[AppState, Any],
) -> UpdateResult:
    """Add an update, de-escalation, resolution or lesson learned to an escalation's audit trail."""
    state = state_of(ctx)
    escalation = await load_case(state, escalation_id)
    if kind not in ("de_escalated", "resolved"):
        await state.ledger.append(escalation.id, event(state, kind, note))
        return UpdateResult(
            escalation_id=escalation.id,
            status=escalation.status,
            severity=escalation.severity,
            cancelled_followups=0,
        )
    before = await state.ledger.get(escalation.id)
    pending = sum(1 for f in before.followups if f.state == "pending")
    closed = escalation.model_copy(update={"status": kind, "updated_at": state.clock()})
    await state.ledger.schedule(
        escalation.id,
        [],
        event(state, kind, note),
        event(state, "followups_scheduled", f"{pending} pending follow-ups cancelled ({kind})"),
        escalation=closed,
    )
    return UpdateResult(
        escalation_id=escalation.id, status=kind, severity=escalation.severity, cancelled_followups=pending
    )
