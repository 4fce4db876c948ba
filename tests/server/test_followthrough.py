"""The lifecycle's domain: the customer update (nothing internal, ever), reminders, de-escalation, closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from inline_snapshot import snapshot

from server.followthrough import (
    DEESCALATION_REASONS,
    close_the_loop,
    customer_note,
    customer_timezone,
    deescalation_event,
    draft_customer_update,
    duration,
    local_time,
    loop_event,
    reminder_text,
)
from server.models import (
    AffectedAccount,
    CaseFacts,
    DimensionRating,
    Escalation,
    Followup,
    ImpactAssessment,
    Language,
    RoutingDecision,
    TimelineEvent,
)

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
LANGUAGES: list[Language] = ["en", "ko", "ja"]

# Strings planted in every internal field; none may reach the customer.
MARKERS = {
    "arr": "987654",
    "arr_formatted": "987,654",
    "pending_deals": "4455667",
    "internal_note": "MARKER-INTERNAL-NOTE",
    "owner": "MARKER-Owner-Jane",
    "account_owner": "MARKER-AccountOwner-Bob",
    "team": "MARKER-Team-Core",
    "brief": "MARKER-BRIEF",
    "impact": "MARKER-IMPACT",
    "routing": "MARKER-ROUTING",
    "evidence": "MARKER-EVIDENCE",
    "tried": "MARKER-TRIED",
    "ticket": "MARKER-TICKET",
    "description": "MARKER-DESCRIPTION",
}
SEVERITY_LABELS = ["critical", "Critical", "CRITICAL", "긴급", "緊急", "심각도", "重大度", "severity", "Severity"]


def secret_laden_case(**changes: object) -> Escalation:
    facts = CaseFacts(
        issue="Checkout API returns HTTP 500 on POST /v2/orders",
        customer="Acme Corp",
        accounts=[
            AffectedAccount(
                name="Acme Corp",
                arr=987654.0,
                owner=MARKERS["account_owner"],
                timezone="America/New_York",
                country="US",
            )
        ],
        pending_deals=4455667.0,
        started_at=datetime(2026, 11, 19, 13, 30, tzinfo=UTC),
        description=MARKERS["description"],
        tried=[MARKERS["tried"]],
        evidence=[MARKERS["evidence"]],
        tickets=[MARKERS["ticket"]],
        workarounds=["Retry the order with the same idempotency key after 30 seconds."],
    )
    impact = ImpactAssessment(
        severity="critical",
        rule=MARKERS["impact"],
        reasons=[MARKERS["impact"]],
        respond="within 1 h",
        dimensions=[DimensionRating(dimension="revenue", rating="severe", reason=MARKERS["impact"])],
        summary=MARKERS["impact"],
        missing=[],
    )
    routing = RoutingDecision(
        escalate=True,
        decision=MARKERS["routing"],
        bypasses_tiers=False,
        targets=[],
        criteria=[],
        handle_in_support=[],
        notes=[MARKERS["routing"]],
    )
    base = Escalation(
        id="e1",
        created_at=NOW - timedelta(days=1),
        updated_at=NOW,
        summary="Checkout API 500s for Acme Corp",
        customer="Acme Corp",
        severity="critical",
        targets=["engineering"],
        status="ready",
        brief_markdown=MARKERS["brief"],
        facts=facts,
        impact=impact,
        routing=routing,
        brief={"note": MARKERS["brief"]},
        owner=MARKERS["owner"],
        team=MARKERS["team"],
    )
    return base.model_copy(update=changes)


INTERNAL_TIMELINE = [
    TimelineEvent(at=NOW - timedelta(hours=20), kind="update", detail=MARKERS["internal_note"]),
    TimelineEvent(at=NOW - timedelta(hours=19), kind="severity_changed", detail=f"high -> critical {MARKERS['owner']}"),
    TimelineEvent(at=NOW - timedelta(hours=18), kind="write_sent", detail=f"chat: {MARKERS['internal_note']}"),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", ["assessing", "ready", "de_escalated", "resolved"])
def test_a_customer_update_carries_nothing_internal(language: Language, status: str):
    timeline = [*INTERNAL_TIMELINE, customer_note("We reproduced the error in our test environment.", at=NOW)]

    text = draft_customer_update(
        secret_laden_case(status=status), timeline, NOW + timedelta(hours=4), "America/New_York", language
    )

    leaked = [name for name, marker in MARKERS.items() if marker in text]
    leaked += [label for label in SEVERITY_LABELS if label in text]
    assert leaked == []
    assert "Checkout API returns HTTP 500" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_with_nothing_new_the_update_says_so_and_repeats_what_is_known(language: Language):
    text = draft_customer_update(
        secret_laden_case(), INTERNAL_TIMELINE, NOW + timedelta(hours=4), "Asia/Seoul", language
    )

    honest = {"en": "still investigating", "ko": "아직 조사 중", "ja": "引き続き調査中"}[language]
    assert honest in text
    assert "Retry the order with the same idempotency key" in text
    assert local_time(NOW + timedelta(hours=4), "Asia/Seoul", language) in text


def test_news_is_what_was_noted_for_the_customer_since_the_last_drafted_update():
    timeline = [
        customer_note("We found the faulty deploy.", at=NOW - timedelta(hours=3)),
        TimelineEvent(at=NOW - timedelta(hours=2), kind="customer_update_drafted", detail="(previous draft)"),
        customer_note("A fix is rolling out to all regions.", at=NOW - timedelta(hours=1)),
    ]

    text = draft_customer_update(secret_laden_case(), timeline, None, "UTC", "en")

    assert "A fix is rolling out to all regions." in text
    assert "faulty deploy" not in text
    assert "still investigating" not in text


def test_the_next_update_time_is_in_the_customers_time_zone_and_language():
    moment = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)

    assert [local_time(moment, "America/New_York", "en"), local_time(moment, "Asia/Seoul", "ko")] == snapshot(
        ["Friday 20 November 2026, 16:00 (America/New_York)", "2026년 11월 21일 (토) 06:00 (Asia/Seoul)"]
    )
    assert local_time(moment, "Asia/Tokyo", "ja") == snapshot("2026年11月21日(土) 06:00 (Asia/Tokyo)")


def test_the_customer_time_zone_comes_from_the_named_customers_account():
    assert customer_timezone(secret_laden_case()) == "America/New_York"
    assert customer_timezone(secret_laden_case(facts=None)) == "UTC"


def test_the_english_customer_update_reads_as_a_whole():
    timeline = [customer_note("We reproduced the error and found the cause.", at=NOW)]

    text = draft_customer_update(secret_laden_case(), timeline, NOW + timedelta(hours=4), "America/New_York", "en")

    assert text == snapshot("""\
Hello Acme Corp team,

This is an update on the issue you reported: Checkout API returns HTTP 500 on POST /v2/orders

**What is new**
- We reproduced the error and found the cause.

**What we know**
- The issue: Checkout API returns HTTP 500 on POST /v2/orders
- It started on Thursday 19 November 2026, 08:30 (America/New_York).
- A workaround that may help in the meantime: Retry the order with the same idempotency key after 30 seconds.

**What we are doing**
Our engineering team is working on it with our support team.

**Next update**
You will hear from us again by Friday 20 November 2026, 14:00 (America/New_York), even if there is nothing new by then.
""")


def followup(fid: str, hours: float, kind: str = "internal") -> Followup:
    at = NOW + timedelta(hours=hours)
    return Followup.model_validate(
        {"id": fid, "escalation_id": "e1", "kind": kind, "due_at": at, "latest_at": at, "cadence": "every 2 h"}
    )


def test_a_reminder_says_what_is_due_how_long_it_is_open_its_severity_last_update_next_due_and_the_brief():
    timeline = [
        TimelineEvent(at=NOW - timedelta(hours=3), kind="update", detail="Engineering found a bad deploy"),
        TimelineEvent(at=NOW - timedelta(hours=1), kind="followup_delivered", detail="Reminder posted"),
    ]

    text = reminder_text(
        secret_laden_case(), timeline, [followup("f1", -0.1)], now=NOW, next_due=NOW + timedelta(hours=2)
    )

    assert text == snapshot("""\
:bell: *Follow-up due:* Checkout API 500s for Acme Corp (Acme Corp)

An internal update was due at Fri 20 Nov 14:54 UTC.
- *Severity:* critical
- *Open for:* 1 d
- *Last update:* Fri 20 Nov 12:00 UTC: Engineering found a bad deploy
- *Next due:* Fri 20 Nov 17:00 UTC
- *Brief:* escalation://escalations/e1
""")


def test_one_reminder_covers_every_missed_follow_up_and_says_how_late_it_is():
    missed = [followup(f"f{n}", -72 + 2 * n) for n in range(36)]

    text = reminder_text(secret_laden_case(), [], missed, now=NOW, next_due=None)

    assert "36 internal updates fell due since Tue 17 Nov 15:00 UTC; this one reminder covers them all." in text
    assert "late by 3 d" in text
    assert "*Next due:* nothing scheduled" in text


def test_durations_read_the_way_people_say_them():
    spans = [timedelta(minutes=12), timedelta(hours=5, minutes=10), timedelta(hours=2), timedelta(days=3, hours=2)]

    assert [duration(s) for s in spans] == ["12 min", "5 h 10 min", "2 h", "3 d 2 h"]


def test_the_four_de_escalation_reasons_are_the_playbooks():
    assert list(DEESCALATION_REASONS) == ["support_resolvable", "workaround", "resolved_itself", "severity_lowered"]


def test_an_issue_that_resolved_itself_needs_its_root_cause():
    with pytest.raises(ValueError, match="root cause"):
        deescalation_event("resolved_itself", "errors stopped at 14:00", at=NOW)

    event = deescalation_event("resolved_itself", "errors stopped", at=NOW, root_cause="an upstream CDN incident")
    assert (event.kind, event.detail) == (
        "de_escalated",
        "The issue resolved itself (the root cause is recorded anyway). errors stopped Root cause: an upstream CDN "
        "incident",
    )


def test_the_close_the_loop_checklist_ticks_what_the_timeline_shows():
    timeline = [
        TimelineEvent(at=NOW, kind="write_sent", detail="chat: posted the resolution to #eng-escalations"),
        loop_event("confirm_customer", "customer confirmed orders go through", at=NOW + timedelta(minutes=5)),
        TimelineEvent(at=NOW + timedelta(minutes=9), kind="lesson", detail="canary deploys for the orders service"),
    ]

    checks = close_the_loop(timeline)

    assert [(c.item, c.done) for c in checks] == [
        ("notify_team", True),
        ("update_ticket", False),
        ("confirm_customer", True),
        ("document_lesson", True),
    ]
    assert checks[1].evidence is None
    assert checks[2].evidence == "2026-11-20T15:05:00+00:00 [confirm_customer] customer confirmed orders go through"
