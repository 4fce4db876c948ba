"""The domain's vocabulary: severities, targets, and what each step takes and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.models import WriteReceipt

Severity = Literal["critical", "high", "medium"]
Target = Literal["l2_support", "engineering", "product", "security", "leadership"]
Language = Literal["en", "ko", "ja"]
Tier = Literal["l1", "l2"]
Rating = Literal["severe", "significant", "minor", "unknown"]
Dimension = Literal["breadth", "depth", "duration", "revenue", "reputation", "contractual"]

SEVERITY_ORDER: dict[Severity, int] = {"medium": 0, "high": 1, "critical": 2}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# facts both the impact and the routing step use, given once


class CaseFlags(Frozen):
    """Facts severity and routing share; omit unknowns."""

    # A tool argument: "yes" or 1 for a boolean is refused with a plain error, never read as true.
    model_config = ConfigDict(frozen=True, strict=True)

    production_down: bool | None = None
    data_loss: bool | None = Field(default=None, description="Lost or at risk.")
    security: Literal["none", "concern", "breach"] | None = None
    workaround: bool | None = None
    sla_status: Literal["ok", "at_risk", "breached"] | None = None
    churn_threat: bool | None = None
    legal_risk: bool | None = Field(default=None, description="PR or legal.")
    executive_asking: bool | None = None
    deadline: str | None = Field(default=None, max_length=200)

    def merged(self, newer: CaseFlags) -> CaseFlags:
        """These flags with every value `newer` states laid over them."""
        return self.model_copy(update=newer.model_dump(exclude_none=True))


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
    brief_needs: list[str] = Field(description="draft_brief fields this target cannot act without.")


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
    customer: str | None = Field(default=None, description="Whose update, for a customer follow-up.")
    state: Literal["pending", "done", "cancelled"] = "pending"


# the case: what the steps found, carried from one step to the next


class AffectedAccount(Frozen):
    """One customer the case touches, as the CRM knows it."""

    name: str
    id: str | None = Field(default=None, description="The CRM's account id.")
    arr: float | None = None
    plan: str | None = None
    renewal_date: date | None = None
    reference_customer: bool = False
    high_value: bool = False
    timezone: str | None = None
    country: str | None = None
    owner: str | None = None


class CaseFacts(Frozen):
    """What `gather_context` found and later steps default to; every field may be empty."""

    issue: str
    customer: str | None = Field(default=None, description="The named customer, as the CRM spells it.")
    accounts: list[AffectedAccount] = Field(default_factory=list[AffectedAccount])
    segment: str | None = Field(default=None, description="A plan, or 'all', when breadth was given as a segment.")
    pending_deals: float | None = Field(default=None, description="USD in open non-renewal deals of the accounts.")
    started_at: datetime | None = None
    customers_reporting: int = 0
    trend: Literal["growing", "stable", "shrinking"] | None = None
    severity_rising: bool = False
    description: str | None = None
    tried: list[str] = Field(default_factory=list[str])
    evidence: list[str] = Field(default_factory=list[str])
    last_customer_update: str | None = None
    links: list[str] = Field(default_factory=list[str])
    tickets: list[str] = Field(default_factory=list[str])
    regressions: list[str] = Field(default_factory=list[str])
    open_issues: list[str] = Field(default_factory=list[str])
    workarounds: list[str] = Field(default_factory=list[str])


# the ledger

EscalationStatus = Literal["assessing", "draft", "ready", "handled_in_support", "de_escalated", "resolved"]
OPEN_STATUSES: tuple[EscalationStatus, ...] = ("assessing", "draft", "ready")
EventKind = Literal[
    "created",
    "context_gathered",
    "impact_assessed",
    "routed",
    "fact_overridden",
    "brief_drafted",
    "followups_scheduled",
    "followup_delivered",
    "customer_update_drafted",
    "update",
    "severity_changed",
    "handled_in_support",
    "de_escalated",
    "resolved",
    "lesson",
    "write_sent",
]


class TimelineEvent(Frozen):
    at: datetime
    kind: EventKind
    detail: str


class Escalation(Frozen):
    """A case from its first step: opened by gather_context (or the first step given no id)."""

    id: str
    created_at: datetime
    updated_at: datetime
    summary: str
    customer: str | None = None
    severity: Severity | None = None
    targets: list[Target] = Field(default_factory=list[Target])
    status: EscalationStatus = "assessing"
    language: Language = "en"
    brief_markdown: str | None = None
    missing: list[str] = Field(default_factory=list[str], description="Brief fields still missing for its targets.")
    facts: CaseFacts | None = None
    impact: ImpactAssessment | None = None
    impact_input: ImpactInput | None = None
    routing: RoutingDecision | None = None
    flags: CaseFlags = Field(default_factory=CaseFlags)
    brief: dict[str, object] | None = Field(default=None, description="The brief's inputs, to re-render it.")
    brief_given: dict[str, object] = Field(default_factory=dict[str, object], description="What the caller wrote.")
    owner: str | None = None
    team: str | None = None


class EscalationRecord(Escalation):
    """An escalation with its audit trail and follow-ups, as the ledger returns it."""

    timeline: list[TimelineEvent]
    followups: list[Followup]


# follow-through: the outbox, the worker's claims and the open-escalation list (server/store, server/worker)

OutboxKind = Literal["chat_message", "internal_note", "tracker_issue"]


class OutboxEntry(Frozen):
    """One outward write, committed before the vendor call; `receipt` is set once the vendor confirmed it."""

    key: str = Field(description="The idempotency key: the same write always has the same key.")
    batch: str | None = Field(default=None, description="The follow-up delivery this write belongs to, if any.")
    escalation_id: str | None = None
    kind: OutboxKind
    destination: str = Field(description="A channel, a ticket id or a tracker project.")
    payload: dict[str, str | list[str]]
    created_at: datetime
    attempts: int = Field(default=0, description="Vendor calls started; above 0 without a receipt means unconfirmed.")
    receipt: WriteReceipt | None = None
    sent_at: datetime | None = None


class DueFollowup(Frozen):
    """A follow-up a worker claimed, with the delivery it was already enqueued under (after a crash)."""

    followup: Followup
    batch: str | None = None


class Claim(Frozen):
    """An escalation whose due follow-ups one worker holds a lease on."""

    escalation_id: str
    due: list[DueFollowup]


class EscalationFilter(Frozen):
    """Which escalations `list_open` returns; `status` None means every open status.

    Given both, `owner` and `team` match either: a caller sees its own escalations and its team's.
    """

    status: EscalationStatus | None = None
    customer: str | None = Field(default=None, description="Compared case-insensitively.")
    severity: Severity | None = None
    target: Target | None = None
    owner: str | None = None
    team: str | None = None


class EscalationSummary(Frozen):
    """One line of the escalation list: the case and its next due (or overdue) follow-up."""

    id: str
    summary: str
    customer: str | None
    severity: Severity | None
    status: EscalationStatus
    targets: list[Target]
    owner: str | None
    team: str | None
    created_at: datetime
    updated_at: datetime
    next_followup: Followup | None
    overdue: bool


class EscalationPage(Frozen):
    items: list[EscalationSummary]
    next_cursor: str | None = None
