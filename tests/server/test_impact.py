"""Step 3: the six impact dimensions, the severity rules and the questions still worth asking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from inline_snapshot import snapshot

from server.impact import assess
from server.models import Dimension, DimensionRating, ImpactAssessment, ImpactInput, MissingInput, Rating

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
HIGH_VALUE_ARR = 100_000


def assessed(**known: object) -> ImpactAssessment:
    return assess(ImpactInput.model_validate(known), now=NOW, high_value_arr=HIGH_VALUE_ARR)


def dimension(assessment: ImpactAssessment, name: Dimension) -> tuple[Rating, str]:
    rated = next(d for d in assessment.dimensions if d.dimension == name)
    return rated.rating, rated.reason


@pytest.mark.parametrize(
    ("known", "rule"),
    [
        ({"production_down": True}, "production_down"),
        ({"data_loss": True}, "data_at_risk"),
        ({"security_breach": True}, "security_breach"),
        ({"high_value_customers": 2}, "several_high_value_customers"),
    ],
)
def test_each_critical_rule_makes_the_case_critical_and_leaves_nothing_to_ask(known: dict[str, object], rule: str):
    result = assessed(**known)

    assert (result.severity, result.rule, result.respond) == ("critical", rule, "immediately")
    assert result.missing == []


@pytest.mark.parametrize(
    ("known", "rule", "reason"),
    [
        (
            {"high_value_customers": 1, "depth": "blocked", "workaround": False},
            "key_customer_blocked",
            "a high-value customer is blocked",
        ),
        ({"depth": "blocked", "workaround": False}, "major_functionality_broken", "customers are blocked with no workaround"),
        ({"sla_status": "at_risk"}, "sla_at_risk", "the SLA is at risk"),
        ({"sla_status": "breached"}, "sla_at_risk", "the SLA is breached"),
        ({"customers_affected": 3, "trend": "growing"}, "spreading", "3 customers affected and growing"),
    ],
)
def test_each_high_rule_makes_the_case_high_and_names_itself(known: dict[str, object], rule: str, reason: str):
    result = assessed(**known)

    assert (result.severity, result.rule, result.respond) == ("high", rule, "same day")
    assert result.reasons[0] == reason


def test_a_blocked_key_customer_reports_every_matching_rule_but_is_decided_by_the_first():
    result = assessed(high_value_customers=1, depth="blocked", workaround=False)

    assert result.rule == "key_customer_blocked"
    assert result.reasons == ["a high-value customer is blocked", "customers are blocked with no workaround"]


def test_a_critical_rule_outranks_high_rules_listed_before_it_in_the_reasons():
    result = assessed(sla_status="breached", data_loss=True)

    assert (result.severity, result.rule) == ("critical", "data_at_risk")
    assert result.reasons == ["customer data is lost or at risk", "the SLA is breached"]


@pytest.mark.parametrize(
    "known",
    [
        {"high_value_customers": 1},
        {"customers_affected": 2, "trend": "growing"},
        {"customers_affected": 30, "trend": "stable"},
        {"sla_status": "ok"},
    ],
)
def test_just_below_a_threshold_the_case_stays_medium(known: dict[str, object]):
    assert assessed(**known).severity == "medium"


def test_a_blocked_customer_with_a_workaround_is_medium_because_of_the_workaround():
    result = assessed(depth="blocked", workaround=True)

    assert (result.severity, result.rule, result.respond) == ("medium", "default_medium", "this week")
    assert result.reasons == ["a workaround exists"]


def test_without_a_workaround_or_any_matching_rule_the_default_is_medium():
    result = assessed(depth="degraded", workaround=False)

    assert (result.severity, result.rule) == ("medium", "default_medium")
    assert result.reasons == ["no critical or high rule matched"]


def test_a_whole_assessment_rates_all_six_dimensions():
    result = assessed(
        customers_affected=1,
        trend="stable",
        depth="blocked",
        started_at=NOW - timedelta(hours=20, minutes=10),
        arr_at_risk=240_000,
        pending_deals=90_000,
        high_value_customers=1,
        reference_customer=True,
        public_exposure=False,
        sla_status="at_risk",
        contractual_obligation=True,
        production_down=False,
        data_loss=False,
        security_breach=False,
        workaround=False,
    )

    assert result == snapshot()
