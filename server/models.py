"""The domain's vocabulary: severities, targets, and what each step takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["critical", "high", "medium"]
Target = Literal["l2_support", "engineering", "product", "security", "leadership"]
Language = Literal["en", "ko", "ja"]
Tier = Literal["l1", "l2"]
Rating = Literal["severe", "significant", "minor", "unknown"]
Dimension = Literal["breadth", "depth", "duration", "revenue", "reputation", "contractual"]

SEVERITY_ORDER: dict[Severity, int] = {"medium": 0, "high": 1, "critical": 2}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# step 3: impact


class ImpactInput(Frozen):
    """What is known about the impact; `None` means unknown, never "no"."""

    customers_affected: int | None = Field(default=None, ge=0)
    trend: Literal["growing", "stable", "shrinking"] | None = None
    depth: Literal["blocked", "degraded", "inconvenienced"] | None = None
    started_at: datetime | None = None
    arr_at_risk: float | None = Field(default=None, ge=0)
    pending_deals: float | None = Field(default=None, ge=0)
    high_value_customers: int | None = Field(default=None, ge=0)
    reference_customer: bool | None = None
    public_exposure: bool | None = None
    sla_status: Literal["ok", "at_risk", "breached"] | None = None
    contractual_obligation: bool | None = None
    production_down: bool | None = None
    data_loss: bool | None = None
    security_breach: bool | None = None
    workaround: bool | None = None


class DimensionRating(Frozen):
    dimension: Dimension
    rating: Rating
    reason: str


class MissingInput(Frozen):
    field: str
    would_change: str = Field(description="What the answer becomes if this turns out to be true.")


class ImpactAssessment(Frozen):
    severity: Severity
    rule: str = Field(description="The rule that decided the severity.")
    reasons: list[str]
    respond: str = Field(description="How soon the receiving team must act.")
    dimensions: list[DimensionRating]
    summary: str
    missing: list[MissingInput]


# step 4: target


class Criterion(Frozen):
    group: Literal["technical", "complexity", "impact", "business", "time", "pattern", "security", "product"]
    signal: str
    reason: str


class SupportReason(Frozen):
    signal: str
    reason: str


class TargetNeeds(Frozen):
    target: Target
    why: str
    brief_needs: list[str] = Field(description="Brief fields this target cannot act without.")


class RoutingDecision(Frozen):
    escalate: bool
    decision: str
    bypasses_tiers: bool = Field(description="True for security: escalate now, whatever your tier.")
    targets: list[TargetNeeds]
    criteria: list[Criterion]
    handle_in_support: list[SupportReason]
    notes: list[str]


# step 7: follow-ups


class FollowupPlan(Frozen):
    kind: Literal["internal", "customer"]
    due_at: datetime
    latest_at: datetime = Field(description="End of the window the cadence allows.")
    cadence: str


class Followup(FollowupPlan):
    id: str
    escalation_id: str
    state: Literal["pending", "done", "cancelled"] = "pending"


# the ledger

EscalationStatus = Literal["draft", "ready", "de_escalated", "resolved"]
EventKind = Literal[
    "created",
    "brief_drafted",
    "followups_scheduled",
    "update",
    "severity_changed",
    "de_escalated",
    "resolved",
    "lesson",
]


class TimelineEvent(Frozen):
    at: datetime
    kind: EventKind
    detail: str


class Escalation(Frozen):
    id: str
    created_at: datetime
    updated_at: datetime
    summary: str
    customer: str | None
    severity: Severity
    targets: list[Target]
    status: EscalationStatus
    language: Language
    brief_markdown: str
    missing: list[str] = Field(description="Brief fields still missing for its targets.")


class EscalationRecord(Escalation):
    """An escalation with its audit trail and follow-ups, as the ledger returns it."""

    timeline: list[TimelineEvent]
    followups: list[Followup]
