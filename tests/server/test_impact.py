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
        (
            {"depth": "blocked", "workaround": False},
            "major_functionality_broken",
            "customers are blocked and no workaround is known",
        ),
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
    assert result.reasons == ["a high-value customer is blocked", "customers are blocked and no workaround is known"]


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

    assert result == snapshot(
        ImpactAssessment(
            severity="high",
            rule="key_customer_blocked",
            reasons=[
                "a high-value customer is blocked",
                "customers are blocked and no workaround is known",
                "the SLA is at risk",
            ],
            respond="same day",
            dimensions=[
                DimensionRating(dimension="breadth", rating="minor", reason="1 customer affected, stable"),
                DimensionRating(dimension="depth", rating="severe", reason="blocked"),
                DimensionRating(dimension="duration", rating="minor", reason="ongoing for 20 h"),
                DimensionRating(
                    dimension="revenue", rating="severe", reason="$240,000 ARR at risk plus $90,000 in pending deals"
                ),
                DimensionRating(dimension="reputation", rating="significant", reason="reference customer"),
                DimensionRating(dimension="contractual", rating="significant", reason="SLA at risk"),
            ],
            summary=(
                "1 customer affected, stable; blocked; ongoing for 20 h; "
                "$240,000 ARR at risk plus $90,000 in pending deals; reference customer; SLA at risk"
            ),
            missing=[],
        )
    )


@pytest.mark.parametrize(
    ("known", "rating", "reason"),
    [
        ({}, "unknown", "number of customers affected unknown"),
        ({"customers_affected": 1}, "minor", "1 customer affected"),
        ({"customers_affected": 2}, "significant", "2 customers affected"),
        ({"customers_affected": 3, "trend": "stable"}, "significant", "3 customers affected, stable"),
        ({"customers_affected": 3, "trend": "growing"}, "severe", "3 customers affected, growing"),
        ({"customers_affected": 9}, "significant", "9 customers affected"),
        ({"customers_affected": 10}, "severe", "10 customers affected"),
    ],
)
def test_breadth_grows_with_the_number_of_customers_and_their_trend(
    known: dict[str, object], rating: Rating, reason: str
):
    assert dimension(assessed(**known), "breadth") == (rating, reason)


@pytest.mark.parametrize(
    ("known", "rating", "reason"),
    [
        ({}, "unknown", "blocked or inconvenienced unknown"),
        ({"depth": "blocked"}, "severe", "blocked"),
        ({"depth": "blocked", "workaround": True}, "significant", "blocked (workaround available)"),
        ({"depth": "degraded"}, "significant", "degraded"),
        ({"depth": "degraded", "workaround": True}, "significant", "degraded (workaround available)"),
        ({"depth": "inconvenienced"}, "minor", "inconvenienced"),
    ],
)
def test_depth_is_severe_only_when_blocked_without_a_workaround(known: dict[str, object], rating: Rating, reason: str):
    assert dimension(assessed(**known), "depth") == (rating, reason)


@pytest.mark.parametrize(
    ("ago", "rating", "reason"),
    [
        (timedelta(hours=23, minutes=59), "minor", "ongoing for 23 h"),
        (timedelta(hours=24), "significant", "ongoing for 1 d 0 h"),
        (timedelta(hours=71, minutes=59), "significant", "ongoing for 2 d 23 h"),
        (timedelta(hours=72), "severe", "ongoing for 3 d 0 h"),
        (-timedelta(hours=2), "minor", "ongoing for 0 h"),
    ],
)
def test_duration_counts_from_the_start_to_now(ago: timedelta, rating: Rating, reason: str):
    assert dimension(assessed(started_at=NOW - ago), "duration") == (rating, reason)


def test_duration_is_unknown_without_a_start_time():
    assert dimension(assessed(), "duration") == ("unknown", "start time unknown")


@pytest.mark.parametrize(
    ("known", "rating", "reason"),
    [
        ({}, "unknown", "ARR at risk unknown"),
        ({"arr_at_risk": 49_999}, "minor", "$49,999 ARR at risk"),
        ({"arr_at_risk": 50_000}, "significant", "$50,000 ARR at risk"),
        ({"arr_at_risk": 199_999}, "significant", "$199,999 ARR at risk"),
        ({"arr_at_risk": 200_000}, "severe", "$200,000 ARR at risk"),
        (
            {"arr_at_risk": 150_000, "pending_deals": 50_000},
            "severe",
            "$150,000 ARR at risk plus $50,000 in pending deals",
        ),
        ({"pending_deals": 60_000}, "significant", "$0 ARR at risk plus $60,000 in pending deals"),
    ],
)
def test_revenue_adds_pending_deals_to_arr_against_the_high_value_threshold(
    known: dict[str, object], rating: Rating, reason: str
):
    assert dimension(assessed(**known), "revenue") == (rating, reason)


@pytest.mark.parametrize(
    ("known", "rating", "reason"),
    [
        ({}, "unknown", "public exposure unknown"),
        ({"reference_customer": True, "public_exposure": True}, "severe", "reference customer, could become public"),
        ({"reference_customer": True}, "significant", "reference customer"),
        ({"public_exposure": True}, "significant", "could become public"),
        ({"reference_customer": False, "public_exposure": False}, "minor", "low public exposure"),
        ({"reference_customer": False}, "minor", "low public exposure"),
    ],
)
def test_reputation_counts_reference_status_and_public_exposure(known: dict[str, object], rating: Rating, reason: str):
    assert dimension(assessed(**known), "reputation") == (rating, reason)


@pytest.mark.parametrize(
    ("known", "rating", "reason"),
    [
        ({}, "unknown", "SLA status unknown"),
        ({"sla_status": "breached"}, "severe", "SLA breached"),
        ({"sla_status": "at_risk"}, "significant", "SLA at risk"),
        ({"sla_status": "ok", "contractual_obligation": True}, "significant", "contractual obligation in play"),
        ({"contractual_obligation": True}, "significant", "contractual obligation in play"),
        ({"sla_status": "ok"}, "minor", "within SLA"),
        ({"contractual_obligation": False}, "minor", "within SLA"),
    ],
)
def test_contractual_follows_the_sla_and_obligations(known: dict[str, object], rating: Rating, reason: str):
    assert dimension(assessed(**known), "contractual") == (rating, reason)


def test_the_summary_joins_the_known_dimensions_only():
    assert assessed().summary == "nothing quantified yet"
    assert assessed(customers_affected=2, sla_status="ok").summary == "2 customers affected; within SLA"


def test_with_nothing_known_missing_lists_every_single_answer_that_would_raise_the_severity():
    assert assessed().missing == snapshot(
        [
            MissingInput(field="production_down", would_change="critical (production_down) if production_down=True"),
            MissingInput(field="data_loss", would_change="critical (data_at_risk) if data_loss=True"),
            MissingInput(field="security_breach", would_change="critical (security_breach) if security_breach=True"),
            MissingInput(
                field="high_value_customers",
                would_change="critical (several_high_value_customers) if high_value_customers=2",
            ),
            MissingInput(field="depth", would_change="high (major_functionality_broken) if depth=blocked"),
            MissingInput(field="sla_status", would_change="high (sla_at_risk) if sla_status=at_risk"),
        ]
    )


def test_a_high_case_only_asks_what_would_make_it_critical():
    assert [m.field for m in assessed(sla_status="at_risk").missing] == [
        "production_down",
        "data_loss",
        "security_breach",
        "high_value_customers",
    ]


def test_a_growing_trend_makes_the_customer_count_worth_asking_for():
    missing = assessed(trend="growing").missing

    assert MissingInput(field="customers_affected", would_change="high (spreading) if customers_affected=3") in missing


def test_answers_already_given_are_never_listed_as_missing():
    result = assessed(
        production_down=False, data_loss=False, security_breach=False, high_value_customers=0, depth="degraded"
    )

    assert [m.field for m in result.missing] == ["sla_status"]


def test_a_key_customer_makes_depth_worth_asking_for():
    missing = assessed(high_value_customers=1).missing

    assert MissingInput(field="depth", would_change="high (key_customer_blocked) if depth=blocked") in missing


def test_dimensions_come_in_the_playbook_order():
    names = [d.dimension for d in assessed().dimensions]

    assert names == ["breadth", "depth", "duration", "revenue", "reputation", "contractual"]


def test_breadth_alone_makes_it_critical_when_many_customers_are_blocked():
    result = assess(
        ImpactInput(customers_affected=12, depth="blocked"), now=NOW, high_value_arr=100_000, critical_customers=10
    )

    assert (result.severity, result.rule) == ("critical", "widespread")


def test_only_plausible_unknowns_are_asked_about():
    result = assess(ImpactInput(), now=NOW, high_value_arr=100_000, plausible={"depth", "customers_affected"})

    assert [m.field for m in result.missing] == ["depth"]
