"""Step 4: escalate or handle in support, and to whom.

The assistant reports what it knows as signals; each maps to one criterion group of the
playbook. Any escalation criterion means escalate; with none, the handle-in-support
reasons (or the lack of any criterion) keep the case in support. Security signals
bypass the tier ladder. From L1, engineering and product needs go through L2 first.
"""

from __future__ import annotations

from typing import Literal, get_args

from server.models import Criterion, RoutingDecision, SupportReason, Target, TargetNeeds, Tier

Signal = Literal[
    # technical
    "bug_confirmed",
    "code_fix_needed",
    "infrastructure_issue",
    "data_corruption",
    # complexity
    "beyond_support_diagnosis",
    "needs_access_support_lacks",
    "custom_implementation",
    # impact
    "production_down",
    "data_integrity_risk",
    # business
    "high_value_customer_at_risk",
    "sla_breach_imminent",
    "sla_breached",
    "executive_involvement_requested",
    "churn_threat",
    # time
    "open_beyond_sla",
    "long_customer_wait",
    "support_not_progressing",
    # pattern
    "regression",
    "severity_increasing",
    # product
    "feature_gap",
    "design_decision_needed",
    "workflow_mismatch",
    "competing_customer_needs",
    # security
    "data_exposure",
    "unauthorized_access",
    "vulnerability_report",
    "compliance_concern",
    # leadership
    "cross_functional_decision",
    "policy_exception_needed",
    "pr_or_legal_risk",
    # handle in support
    "documented_fix",
    "known_workaround",
    "configuration_issue",
    "needs_guidance",
    "known_limitation_with_alternative",
    "resolved_at_support_before",
]
SIGNALS: tuple[Signal, ...] = get_args(Signal)

Group = Literal["technical", "complexity", "impact", "business", "time", "pattern", "security", "product"]

CRITERIA: dict[Signal, tuple[Group, str]] = {
    "bug_confirmed": ("technical", "a confirmed bug needs a code fix"),
    "code_fix_needed": ("technical", "only a code change resolves it"),
    "infrastructure_issue": ("technical", "infrastructure needs investigating"),
    "data_corruption": ("technical", "data is corrupted or lost"),
    "beyond_support_diagnosis": ("complexity", "beyond what support can diagnose"),
    "needs_access_support_lacks": ("complexity", "needs access support does not have"),
    "custom_implementation": ("complexity", "involves a custom implementation"),
    "production_down": ("impact", "a production system is down"),
    "data_integrity_risk": ("impact", "data integrity is at risk"),
    "high_value_customer_at_risk": ("business", "a high-value customer is at risk"),
    "sla_breach_imminent": ("business", "an SLA breach is imminent"),
    "sla_breached": ("business", "the SLA has been breached"),
    "executive_involvement_requested": ("business", "the customer asks for executive involvement"),
    "churn_threat": ("business", "the customer threatens to churn"),
    "open_beyond_sla": ("time", "open beyond its SLA"),
    "long_customer_wait": ("time", "the customer has waited unreasonably long"),
    "support_not_progressing": ("time", "normal support channels are not progressing"),
    "regression": ("pattern", "an issue closed as fixed has come back"),
    "severity_increasing": ("pattern", "severity is increasing over time"),
    "feature_gap": ("product", "a missing feature is causing customer pain"),
    "design_decision_needed": ("product", "a design decision is needed"),
    "workflow_mismatch": ("product", "the workflow does not match what customers expect"),
    "competing_customer_needs": ("product", "competing customer needs must be prioritized"),
    "data_exposure": ("security", "data may be exposed"),
    "unauthorized_access": ("security", "unauthorized access"),
    "vulnerability_report": ("security", "a vulnerability was reported"),
    "compliance_concern": ("security", "a compliance concern"),
    "cross_functional_decision": ("business", "a cross-functional decision is needed"),
    "policy_exception_needed": ("business", "an exception to policy is needed"),
    "pr_or_legal_risk": ("business", "PR or legal risk"),
}

SUPPORT_REASONS: dict[Signal, str] = {
    "documented_fix": "a documented fix exists",
    "known_workaround": "a known workaround exists",
    "configuration_issue": "a configuration or setup issue support can resolve",
    "needs_guidance": "the customer needs guidance or training, not a fix",
    "known_limitation_with_alternative": "a known limitation with a documented alternative",
    "resolved_at_support_before": "similar tickets were resolved at the support level",
}

# What each target cannot act without; keys are draft_brief fields.
BRIEF_NEEDS: dict[Target, dict[str, str]] = {
    "l2_support": {
        "description": "ticket summary",
        "tried": "steps already tried",
        "customers_affected": "customer context",
    },
    "engineering": {
        "repro_steps": "reproduction steps",
        "expected": "expected result",
        "actual": "actual result",
        "environment": "environment",
        "evidence": "logs or error messages",
        "workflow_impact": "business impact",
        "time_in_queue": "customer timeline",
    },
    "product": {
        "use_case": "customer use case",
        "workflow_impact": "business impact",
        "request_frequency": "how often it is asked for",
    },
    "security": {
        "observed": "what was observed",
        "potentially_affected": "who or what may be affected",
        "containment": "containment taken",
        "urgency": "urgency assessment",
    },
    "leadership": {
        "description": "business context",
        "revenue_at_risk": "revenue at risk",
        "tried": "what was tried",
        "needed": "decision or action needed",
        "deadline": "deadline",
    },
}

_ENGINEERING: frozenset[Signal] = frozenset(
    {
        "bug_confirmed",
        "code_fix_needed",
        "infrastructure_issue",
        "data_corruption",
        "production_down",
        "data_integrity_risk",
        "regression",
        "beyond_support_diagnosis",
        "needs_access_support_lacks",
        "custom_implementation",
    }
)
_PRODUCT: frozenset[Signal] = frozenset(
    {"feature_gap", "design_decision_needed", "workflow_mismatch", "competing_customer_needs"}
)
_SECURITY: frozenset[Signal] = frozenset(
    {"data_exposure", "unauthorized_access", "vulnerability_report", "compliance_concern"}
)
_LEADERSHIP: frozenset[Signal] = frozenset(
    {
        "executive_involvement_requested",
        "cross_functional_decision",
        "policy_exception_needed",
        "pr_or_legal_risk",
    }
)
PATTERN_CUSTOMERS = 3


def route(signals: list[Signal], *, customers_reporting: int = 1, current_tier: Tier = "l2") -> RoutingDecision:
    """Decide whether and where to escalate from the case's signals."""
    present = set(signals)
    criteria = [
        Criterion(group=CRITERIA[s][0], signal=s, reason=CRITERIA[s][1])
        for s in SIGNALS
        if s in CRITERIA and s in present
    ]
    if customers_reporting >= 2:
        criteria.append(
            Criterion(
                group="impact",
                signal="multiple_customers",
                reason=f"{customers_reporting} customers affected",
            )
        )
    if customers_reporting >= PATTERN_CUSTOMERS:
        criteria.append(
            Criterion(
                group="pattern",
                signal="three_or_more_customers",
                reason=f"the same issue reported by {customers_reporting} customers",
            )
        )
    support = [
        SupportReason(signal=s, reason=SUPPORT_REASONS[s]) for s in SIGNALS if s in SUPPORT_REASONS and s in present
    ]

    if not criteria:
        decision = (
            "Handle in support: " + "; ".join(r.reason for r in support)
            if support
            else "Handle in support: no escalation criterion matched"
        )
        notes = [] if support else ["Escalate only with a reason: report the signals that apply and route again."]
        return RoutingDecision(
            escalate=False,
            decision=decision,
            bypasses_tiers=False,
            targets=[],
            criteria=[],
            handle_in_support=support,
            notes=notes,
        )

    targets, notes = _targets(present, criteria, customers_reporting, current_tier)
    if support:
        notes.append(
            "Also true: "
            + "; ".join(r.reason for r in support)
            + ". Give it to the customer while the escalation runs."
        )
    security = any(t.target == "security" for t in targets)
    names = ", ".join(t.target for t in targets)
    return RoutingDecision(
        escalate=True,
        decision=f"Escalate to {names}" + (" now, bypassing the tiers" if security else ""),
        bypasses_tiers=security,
        targets=targets,
        criteria=criteria,
        handle_in_support=support,
        notes=notes,
    )


def _targets(
    present: set[Signal], criteria: list[Criterion], customers: int, tier: Tier
) -> tuple[list[TargetNeeds], list[str]]:
    chosen: dict[Target, str] = {}
    notes: list[str] = []
    if sec := sorted(present & _SECURITY):
        chosen["security"] = "security signals: " + ", ".join(sec)
    eng = sorted(present & _ENGINEERING)
    if eng or customers >= PATTERN_CUSTOMERS:
        chosen["engineering"] = ", ".join([CRITERIA[s][1] for s in eng] or [f"{customers} customers report it"])
    if prod := sorted(present & _PRODUCT):
        chosen["product"] = ", ".join(CRITERIA[s][1] for s in prod)
    high_value = "high_value_customer_at_risk" in present
    lead = sorted(present & _LEADERSHIP)
    if "churn_threat" in present and high_value:
        lead.insert(0, "churn_threat")
    if "sla_breached" in present and high_value:
        lead.append("sla_breached")
    if lead:
        chosen["leadership"] = ", ".join(CRITERIA[s][1] for s in lead)
    if not chosen:
        # Only business, time or impact criteria: the people who own the customer relationship.
        groups = {c.group for c in criteria}
        if tier == "l1":
            chosen["l2_support"] = "needs deeper investigation than frontline support"
        else:
            chosen["leadership"] = (
                "support leadership: " + ", ".join(sorted(groups)) + " criteria with no technical owner"
            )
    if tier == "l1":
        ladder: tuple[Target, ...] = ("engineering", "product")
        via: list[Target] = [t for t in ladder if t in chosen]
        for t in via:
            del chosen[t]
        if via:
            chosen.setdefault("l2_support", "first step of the ladder")
            notes.append(f"From L1, {' and '.join(via)} needs go to L2 first; L2 takes them on.")
    order: tuple[Target, ...] = ("security", "l2_support", "engineering", "product", "leadership")
    targets = [
        TargetNeeds(target=t, why=chosen[t], brief_needs=list(BRIEF_NEEDS[t].values())) for t in order if t in chosen
    ]
    return targets, notes
