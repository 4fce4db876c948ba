"""Step 3: six impact dimensions to a severity, with the rule that decided it.

Severity follows the playbook's shorthand:
- critical: production down, data at risk, a security breach, several high-value customers hit, or
  or so many customers blocked (`critical_customers`, a setting) that breadth alone makes it critical;
- high: major functionality broken (blocked, no workaround), a key customer blocked, the SLA at risk,
  or a problem spreading across customers;
- medium: everything else, typically a significant issue with a workaround.
Unknown inputs are `None`; each one that would raise the severity if it turned out true is reported,
so the assistant knows which question to ask next.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from server.models import (
    SEVERITY_ORDER,
    DimensionRating,
    ImpactAssessment,
    ImpactInput,
    MissingInput,
    Rating,
    Severity,
)

RESPOND: dict[Severity, str] = {
    "critical": "immediately",
    "high": "same day",
    "medium": "this week",
}


@dataclass(frozen=True)
class Rule:
    severity: Severity
    name: str
    reason: Callable[[ImpactInput], str | None]


def _spreading(i: ImpactInput) -> str | None:
    if (i.customers_affected or 0) >= 3 and i.trend == "growing":
        return f"{i.customers_affected} customers affected and growing"
    return None


CRITICAL_CUSTOMERS = 10  # default for `assess(critical_customers=...)`, the ESCALATION_CRITICAL_CUSTOMERS setting


def _widespread(threshold: int) -> Callable[[ImpactInput], str | None]:
    def reason(i: ImpactInput) -> str | None:
        n = i.customers_affected or 0
        blocked = i.depth == "blocked" and not i.workaround
        return f"{n} customers blocked (critical from {threshold})" if n >= threshold and blocked else None

    return reason


RULES: tuple[Rule, ...] = (
    Rule("critical", "production_down", lambda i: "production is down" if i.production_down else None),
    Rule("critical", "data_at_risk", lambda i: "customer data is lost or at risk" if i.data_loss else None),
    Rule("critical", "security_breach", lambda i: "a security breach" if i.security_breach else None),
    Rule(
        "critical",
        "several_high_value_customers",
        lambda i: (
            f"{i.high_value_customers} high-value customers affected" if (i.high_value_customers or 0) >= 2 else None
        ),
    ),
    Rule(
        "high",
        "key_customer_blocked",
        lambda i: (
            "a high-value customer is blocked"
            if (i.high_value_customers or 0) >= 1 and i.depth == "blocked" and not i.workaround
            else None
        ),
    ),
    Rule(
        "high",
        "major_functionality_broken",
        lambda i: (
            "customers are blocked and no workaround is known" if i.depth == "blocked" and not i.workaround else None
        ),
    ),
    Rule(
        "high",
        "sla_at_risk",
        lambda i: (
            f"the SLA is {'breached' if i.sla_status == 'breached' else 'at risk'}"
            if i.sla_status in ("at_risk", "breached")
            else None
        ),
    ),
    Rule("high", "spreading", _spreading),
)

# The worst value of each unknown input, to find which unknowns could raise the severity.
_WORST: dict[str, object] = {
    "production_down": True,
    "data_loss": True,
    "security_breach": True,
    "high_value_customers": 2,
    "depth": "blocked",
    "sla_status": "at_risk",
    "trend": "growing",
    "customers_affected": 3,
    "workaround": False,
}


def _rules(critical_customers: int) -> tuple[Rule, ...]:
    return (*RULES[:4], Rule("critical", "widespread", _widespread(critical_customers)), *RULES[4:])


def decide(impact: ImpactInput, *, critical_customers: int = CRITICAL_CUSTOMERS) -> tuple[Severity, str, list[str]]:
    """The severity, the first rule that set it, and every rule that matched."""
    matched = [(rule, reason) for rule in _rules(critical_customers) if (reason := rule.reason(impact)) is not None]
    if not matched:
        reason = "a workaround exists" if impact.workaround else "no critical or high rule matched"
        return "medium", "default_medium", [reason]
    severities: list[Severity] = [rule.severity for rule, _ in matched]
    severity: Severity = max(severities, key=lambda s: SEVERITY_ORDER[s])
    deciding = next(rule for rule, _ in matched if rule.severity == severity)
    return severity, deciding.name, [reason for _, reason in matched]


def assess(
    impact: ImpactInput,
    *,
    now: datetime,
    high_value_arr: float,
    critical_customers: int = CRITICAL_CUSTOMERS,
    plausible: Collection[str] | None = None,
) -> ImpactAssessment:
    """Rate each dimension and decide the severity of `impact` as of `now`.

    `plausible` limits the unknowns worth asking about to those that could be true of this case
    (a how-to question is not asked whether production is down); None considers them all.
    """
    severity, rule, reasons = decide(impact, critical_customers=critical_customers)
    missing: list[MissingInput] = []
    for field, worst in _WORST.items():
        if getattr(impact, field) is not None or (plausible is not None and field not in plausible):
            continue
        what_if, what_if_rule, _ = decide(
            impact.model_copy(update={field: worst}), critical_customers=critical_customers
        )
        if SEVERITY_ORDER[what_if] > SEVERITY_ORDER[severity]:
            missing.append(MissingInput(field=field, would_change=f"{what_if} ({what_if_rule}) if {field}={worst}"))
    dimensions = [
        _breadth(impact),
        _depth(impact),
        _duration(impact, now),
        _revenue(impact, high_value_arr),
        _reputation(impact),
        _contractual(impact),
    ]
    summary = "; ".join(d.reason for d in dimensions if d.rating != "unknown") or "nothing quantified yet"
    return ImpactAssessment(
        severity=severity,
        rule=rule,
        reasons=reasons,
        respond=RESPOND[severity],
        dimensions=dimensions,
        summary=summary,
        missing=missing,
    )


def money(amount: float) -> str:
    return f"${amount:,.0f}"


def _breadth(i: ImpactInput) -> DimensionRating:
    n = i.customers_affected
    if n is None:
        return DimensionRating(dimension="breadth", rating="unknown", reason="number of customers affected unknown")
    trend = f", {i.trend}" if i.trend else ""
    rating: Rating = "severe" if n >= 10 or (n >= 3 and i.trend == "growing") else "significant" if n >= 2 else "minor"
    return DimensionRating(dimension="breadth", rating=rating, reason=f"{n} customer{'s' * (n != 1)} affected{trend}")


def _depth(i: ImpactInput) -> DimensionRating:
    if i.depth is None:
        return DimensionRating(dimension="depth", rating="unknown", reason="blocked or inconvenienced unknown")
    ratings: dict[str, Rating] = {"blocked": "severe", "degraded": "significant", "inconvenienced": "minor"}
    rating = ratings[i.depth]
    if i.workaround and rating == "severe":
        rating = "significant"
    suffix = " (workaround available)" if i.workaround else ""
    return DimensionRating(dimension="depth", rating=rating, reason=f"{i.depth}{suffix}")


def _duration(i: ImpactInput, now: datetime) -> DimensionRating:
    if i.started_at is None:
        return DimensionRating(dimension="duration", rating="unknown", reason="start time unknown")
    hours = max((now - i.started_at).total_seconds() / 3600, 0)
    rating: Rating = "severe" if hours >= 72 else "significant" if hours >= 24 else "minor"
    days, rest = divmod(int(hours), 24)
    span = f"{days} d {rest} h" if days else f"{rest} h"
    return DimensionRating(dimension="duration", rating=rating, reason=f"ongoing for {span}")


def _revenue(i: ImpactInput, high_value_arr: float) -> DimensionRating:
    if i.arr_at_risk is None and i.pending_deals is None:
        return DimensionRating(dimension="revenue", rating="unknown", reason="ARR at risk unknown")
    arr, deals = i.arr_at_risk or 0.0, i.pending_deals or 0.0
    total = arr + deals
    rating: Rating = (
        "severe" if total >= 2 * high_value_arr else "significant" if total >= high_value_arr / 2 else "minor"
    )
    parts = [f"{money(arr)} ARR at risk"]
    if deals:
        parts.append(f"{money(deals)} in pending deals")
    return DimensionRating(dimension="revenue", rating=rating, reason=" plus ".join(parts))


def _reputation(i: ImpactInput) -> DimensionRating:
    if i.reference_customer is None and i.public_exposure is None:
        return DimensionRating(dimension="reputation", rating="unknown", reason="public exposure unknown")
    flags = [
        text
        for on, text in (
            (i.reference_customer, "reference customer"),
            (i.public_exposure, "could become public"),
        )
        if on
    ]
    rating: Rating = "severe" if len(flags) == 2 else "significant" if flags else "minor"
    return DimensionRating(dimension="reputation", rating=rating, reason=", ".join(flags) or "low public exposure")


def _contractual(i: ImpactInput) -> DimensionRating:
    if i.sla_status is None and i.contractual_obligation is None:
        return DimensionRating(dimension="contractual", rating="unknown", reason="SLA status unknown")
    if i.sla_status == "breached":
        return DimensionRating(dimension="contractual", rating="severe", reason="SLA breached")
    if i.sla_status == "at_risk" or i.contractual_obligation:
        reason = "SLA at risk" if i.sla_status == "at_risk" else "contractual obligation in play"
        return DimensionRating(dimension="contractual", rating="significant", reason=reason)
    return DimensionRating(dimension="contractual", rating="minor", reason="within SLA")
