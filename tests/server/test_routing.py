"""Step 4: escalate or handle in support, and to which team."""

from __future__ import annotations

import pytest
from inline_snapshot import snapshot

from server.models import CaseFlags, Criterion, RoutingDecision, SupportReason, Target, TargetNeeds, Tier
from server.routing import BRIEF_NEEDS, Reason, reasons_for, route


def targets(decision: RoutingDecision) -> list[Target]:
    return [t.target for t in decision.targets]


@pytest.mark.parametrize(
    ("signals", "target"),
    [
        (["bug_confirmed"], "engineering"),
        (["infrastructure_issue"], "engineering"),
        (["beyond_support_diagnosis"], "engineering"),
        (["feature_gap"], "product"),
        (["design_decision_needed"], "product"),
        (["vulnerability_report"], "security"),
        (["compliance_concern"], "security"),
        (["executive_involvement_requested"], "leadership"),
        (["policy_exception_needed"], "leadership"),
        (["pr_or_legal_risk"], "leadership"),
    ],
)
def test_from_l2_each_kind_of_signal_reaches_its_team(signals: list[Reason], target: Target):
    decision = route(signals, current_tier="l2")

    assert decision.escalate is True
    assert targets(decision) == [target]
    assert decision.decision.startswith(f"Escalate to {target}")


def test_from_l1_an_engineering_need_goes_to_l2_support_first():
    decision = route(["bug_confirmed"], current_tier="l1")

    assert targets(decision) == ["l2_support"]
    assert decision.notes == ["From L1, engineering needs go to L2 first; L2 takes them on."]


def test_from_l1_a_business_concern_with_no_technical_owner_goes_to_l2_support():
    decision = route(["churn_threat"], current_tier="l1")

    assert decision.targets == [
        TargetNeeds(
            target="l2_support",
            why="needs deeper investigation than frontline support",
            brief_needs=["description", "tried", "customers_affected"],
        )
    ]


def test_from_l2_a_business_concern_with_no_technical_owner_goes_to_support_leadership():
    decision = route(["long_customer_wait"], current_tier="l2")

    assert targets(decision) == ["leadership"]
    assert decision.targets[0].why == "support leadership: time criteria with no technical owner"


@pytest.mark.parametrize(
    "signal", ["data_exposure", "unauthorized_access", "vulnerability_report", "compliance_concern"]
)
def test_a_security_signal_from_l1_goes_straight_to_security_bypassing_the_tiers(signal: Reason):
    decision = route([signal], current_tier="l1")

    assert decision.bypasses_tiers is True
    assert targets(decision) == ["security"]
    assert decision.decision == "Escalate to security now, bypassing the tiers"


def test_security_comes_first_even_alongside_other_targets():
    decision = route(["bug_confirmed", "unauthorized_access"], current_tier="l1")

    assert targets(decision) == ["security", "l2_support"]
    assert decision.bypasses_tiers is True


def test_a_churn_threat_over_a_missing_feature_from_a_high_value_customer_goes_to_product_and_leadership():
    decision = route(["churn_threat", "feature_gap", "high_value_customer_at_risk"])

    assert decision == snapshot(
        RoutingDecision(
            escalate=True,
            decision="Escalate to product, leadership",
            bypasses_tiers=False,
            targets=[
                TargetNeeds(
                    target="product",
                    why="a missing feature is causing customer pain",
                    brief_needs=["use_case", "workflow_impact", "request_frequency"],
                ),
                TargetNeeds(
                    target="leadership",
                    why="the customer threatens to churn",
                    brief_needs=["description", "revenue_at_risk", "tried", "needed", "deadline"],
                ),
            ],
            criteria=[
                Criterion(
                    group="business", signal="high_value_customer_at_risk", reason="a high-value customer is at risk"
                ),
                Criterion(group="business", signal="churn_threat", reason="the customer threatens to churn"),
                Criterion(group="product", signal="feature_gap", reason="a missing feature is causing customer pain"),
            ],
            handle_in_support=[],
            notes=[],
        )
    )


def test_a_churn_threat_without_a_high_value_customer_does_not_reach_leadership_with_a_feature_gap():
    assert targets(route(["churn_threat", "feature_gap"])) == ["product"]


def test_an_sla_breach_on_a_high_value_account_goes_to_leadership():
    decision = route(["sla_breached", "high_value_customer_at_risk"])

    assert targets(decision) == ["leadership"]
    assert decision.targets[0].why == "the SLA has been breached"


def test_three_customers_reporting_the_same_issue_is_a_pattern_for_engineering():
    decision = route([], customers_reporting=3)

    assert decision.criteria == [
        Criterion(group="impact", signal="multiple_customers", reason="3 customers affected"),
        Criterion(group="pattern", signal="three_or_more_customers", reason="the same issue reported by 3 customers"),
    ]
    assert targets(decision) == ["engineering"]
    assert decision.targets[0].why == "3 customers report it"


def test_two_customers_are_an_impact_criterion_but_not_yet_a_pattern():
    decision = route([], customers_reporting=2)

    assert [c.signal for c in decision.criteria] == ["multiple_customers"]
    assert targets(decision) == ["leadership"]


def test_a_regression_goes_to_engineering_as_a_pattern():
    decision = route(["regression"])

    assert decision.criteria == [
        Criterion(group="pattern", signal="regression", reason="an issue closed as fixed has come back")
    ]
    assert targets(decision) == ["engineering"]


def test_reasons_to_handle_in_support_without_any_criterion_keep_the_case_in_support():
    decision = route(["known_workaround", "configuration_issue"])

    assert decision.escalate is False
    assert decision.targets == []
    assert decision.handle_in_support == [
        SupportReason(signal="known_workaround", reason="a known workaround exists"),
        SupportReason(signal="configuration_issue", reason="a configuration or setup issue support can resolve"),
    ]
    assert decision.decision == (
        "Handle in support: a known workaround exists; a configuration or setup issue support can resolve"
    )
    assert decision.notes == []


def test_no_signals_at_all_stays_in_support_and_asks_for_a_reason():
    decision = route([])

    assert decision == RoutingDecision(
        escalate=False,
        decision="Handle in support: no escalation criterion matched",
        bypasses_tiers=False,
        targets=[],
        criteria=[],
        handle_in_support=[],
        notes=["Escalate only with a reason: report the signals that apply and route again."],
    )


def test_a_support_reason_alongside_a_criterion_escalates_and_notes_the_workaround():
    decision = route(["regression", "known_workaround"])

    assert decision.escalate is True
    assert decision.handle_in_support == [SupportReason(signal="known_workaround", reason="a known workaround exists")]
    assert decision.notes == [
        "Also true: a known workaround exists. Give it to the customer while the escalation runs."
    ]


@pytest.mark.parametrize(
    ("signals", "tier"),
    [
        (["bug_confirmed"], "l1"),
        (["bug_confirmed"], "l2"),
        (["feature_gap"], "l2"),
        (["data_exposure"], "l2"),
        (["pr_or_legal_risk"], "l2"),
    ],
)
def test_each_target_lists_what_its_brief_needs(signals: list[Reason], tier: Tier):
    decision = route(signals, current_tier=tier)

    for needs in decision.targets:
        assert needs.brief_needs == list(BRIEF_NEEDS[needs.target])


def test_engineering_cannot_act_without_repro_steps_environment_and_evidence_named_as_draft_brief_fields():
    [engineering] = route(["bug_confirmed"]).targets

    assert engineering.brief_needs == [
        "repro_steps",
        "expected",
        "actual",
        "environment",
        "evidence",
        "workflow_impact",
        "time_in_queue",
    ]


def test_security_cannot_act_without_observation_scope_containment_and_urgency():
    [security] = route(["data_exposure"]).targets

    assert security.brief_needs == ["observed", "potentially_affected", "containment", "urgency"]


def test_flags_given_once_become_the_reasons_both_steps_share():
    flags = CaseFlags(data_loss=True, security="concern", sla_status="breached", churn_threat=True, workaround=True)

    assert reasons_for(["feature_gap"], flags, high_value_accounts=1) == [
        "feature_gap",
        "data_integrity_risk",
        "security_concern",
        "known_workaround",
        "sla_breached",
        "churn_threat",
        "high_value_customer_at_risk",
    ]


def test_a_how_to_question_from_a_high_value_customer_stays_in_support():
    reasons = reasons_for(["needs_guidance"], CaseFlags(), high_value_accounts=1)

    assert reasons == ["needs_guidance"]
    assert route(reasons).escalate is False


def test_a_general_security_concern_goes_straight_to_security_from_l1():
    decision = route(reasons_for([], CaseFlags(security="concern")), current_tier="l1")

    assert targets(decision) == ["security"]
    assert decision.bypasses_tiers is True


def test_the_case_findings_add_the_pattern_reasons():
    assert reasons_for([], CaseFlags(), regression=True, severity_rising=True) == ["regression", "severity_increasing"]
