"""Step 4: escalate or handle in support, and to whom.

The assistant reports what only it can judge as `Signal`s, and the facts shared with the impact
step once, as `CaseFlags`; `reasons_for` turns both (plus what the case found: high-value accounts,
a regression, rising severity) into the internal `Reason`s, each mapped to one criterion group of
the playbook. Any escalation criterion means escalate; with none, the handle-in-support reasons (or
the lack of any criterion) keep the case in support. Security bypasses the tier ladder. From L1,
engineering and product needs go through L2 first.
"""

from __future__ import annotations

from typing import Literal, get_args

from server.models import CaseFlags, Criterion, RoutingDecision, SupportReason, Target, TargetNeeds, Tier

# What the assistant judges; facts the impact step shares are CaseFlags, never signals.
Signal = Literal[
    "bug_confirmed",
    "infrastructure_issue",
    "beyond_support_diagnosis",
    "needs_access_support_lacks",
    "custom_implementation",
    "regression",
    "severity_increasing",
    "long_customer_wait",
    "support_not_progressing",
    "feature_gap",
    "design_decision_needed",
    "workflow_mismatch",
    "competing_customer_needs",
    "cross_functional_decision",
    "policy_exception_needed",
    "documented_fix",
    "configuration_issue",
    "needs_guidance",
    "known_limitation_with_alternative",
    "resolved_at_support_before",
]

# Every reason the rules know, the signals above and what the flags and the case turn into.
Reason = Literal[
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
    "security_concern",
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
SIGNALS: tuple[Reason, ...] = get_args(Reason)

Group = Literal["technical", "complexity", "impact", "business", "time", "pattern", "security", "product"]

CRITERIA: dict[Reason, tuple[Group, str]] = {
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
    "security_concern": ("security", "a security concern"),
    "cross_functional_decision": ("business", "a cross-functional decision is needed"),
    "policy_exception_needed": ("business", "an exception to policy is needed"),
    "pr_or_legal_risk": ("business", "PR or legal risk"),
}

SUPPORT_REASONS: dict[Reason, str] = {
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

_ENGINEERING: frozenset[Reason] = frozenset(
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
_PRODUCT: frozenset[Reason] = frozenset(
    {"feature_gap", "design_decision_needed", "workflow_mismatch", "competing_customer_needs"}
)
_SECURITY: frozenset[Reason] = frozenset(
    {"data_exposure", "unauthorized_access", "vulnerability_report", "compliance_concern", "security_concern"}
)
_LEADERSHIP: frozenset[Reason] = frozenset(
    {
        "executive_involvement_requested",
        "cross_functional_decision",
        "policy_exception_needed",
        "pr_or_legal_risk",
    }
)
PATTERN_CUSTOMERS = 3


_BUSINESS_PRESSURE: frozenset[Reason] = frozenset(
    {"churn_threat", "sla_breach_imminent", "sla_breached", "executive_involvement_requested"}
)


def reasons_for(
    signals: list[Signal],
    flags: CaseFlags,
    *,
    high_value_accounts: int = 0,
    regression: bool = False,
    severity_rising: bool = False,
    blocked: bool = False,
) -> list[Reason]:
    """The rules' reasons from the assistant's signals, the shared flags and what the case found.

    A high-value customer counts as at risk only when something is wrong for it (another escalation
    reason, or the customer is blocked), so a how-to question from a big account stays in support.
    """
    found: list[Reason] = list(signals)
    if flags.production_down:
        found.append("production_down")
    if flags.data_loss:
        found.append("data_integrity_risk")
    if flags.security in ("concern", "breach"):
        found.append("security_concern")
    if flags.workaround:
        found.append("known_workaround")
    if flags.sla_status == "at_risk":
        found.append("sla_breach_imminent")
    elif flags.sla_status == "breached":
        found.append("sla_breached")
    if flags.churn_threat:
        found.append("churn_threat")
    if flags.legal_risk:
        found.append("pr_or_legal_risk")
    if flags.executive_asking:
        found.append("executive_involvement_requested")
    if regression:
        found.append("regression")
    if severity_rising:
        found.append("severity_increasing")
    troubled = blocked or any(r in CRITERIA for r in found)
    if high_value_accounts and troubled:
        found.append("high_value_customer_at_risk")
    return list(dict.fromkeys(found))


def route(signals: list[Reason], *, customers_reporting: int = 1, current_tier: Tier = "l2") -> RoutingDecision:
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
    present: set[Reason], criteria: list[Criterion], customers: int, tier: Tier
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
    if "churn_threat" in present and (high_value or customers >= PATTERN_CUSTOMERS):
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
    targets = [TargetNeeds(target=t, why=chosen[t], brief_needs=list(BRIEF_NEEDS[t])) for t in order if t in chosen]
    return targets, notes
