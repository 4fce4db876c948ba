"""Step 7: follow-up due times, on the wall clock for urgent cases and in business time for medium ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.cadence import BusinessCalendar, CalendarError, plan
from server.models import FollowupPlan, Severity

NEW_YORK = ZoneInfo("America/New_York")
SEOUL = ZoneInfo("Asia/Seoul")
US = BusinessCalendar.of("America/New_York", "US")
KR = BusinessCalendar.of("Asia/Seoul", "KR")


def due(plans: list[FollowupPlan], kind: str) -> list[datetime]:
    return [p.due_at for p in plans if p.kind == kind]


def latest(plans: list[FollowupPlan], kind: str) -> list[datetime]:
    return [p.latest_at for p in plans if p.kind == kind]


def hours_after(start: datetime, moments: list[datetime]) -> list[float]:
    # Subtract in UTC: datetimes sharing a ZoneInfo subtract by wall time.
    return [(m.astimezone(UTC) - start.astimezone(UTC)) / timedelta(hours=1) for m in moments]


@pytest.mark.parametrize(
    ("severity", "internal", "internal_label", "customer_latest", "customer_label"),
    [
        ("critical", [2, 4, 6], "every 2 h", [4, 6, 8], "every 2-4 h"),
        ("high", [4, 8, 12], "every 4 h", [8, 12, 16], "every 4-8 h"),
    ],
)
def test_urgent_cadences_run_on_the_wall_clock(
    severity: Severity,
    internal: list[float],
    internal_label: str,
    customer_latest: list[float],
    customer_label: str,
):
    start = datetime(2026, 11, 18, 10, 0, tzinfo=NEW_YORK)
    plans = plan(severity, start, US)

    assert hours_after(start, due(plans, "internal")) == internal
    assert hours_after(start, latest(plans, "internal")) == internal
    assert hours_after(start, due(plans, "customer")) == internal
    assert hours_after(start, latest(plans, "customer")) == customer_latest
    assert {p.cadence for p in plans if p.kind == "internal"} == {internal_label}
    assert {p.cadence for p in plans if p.kind == "customer"} == {customer_label}


def test_medium_cadence_is_one_business_day_internally_and_one_to_two_for_the_customer():
    start = datetime(2026, 11, 16, 10, 0, tzinfo=NEW_YORK)  # a Monday
    plans = plan("medium", start, US, count=2)

    at_ten = [datetime(2026, 11, day, 10, 0, tzinfo=NEW_YORK) for day in (17, 18, 19)]
    assert due(plans, "internal") == at_ten[:2]
    assert latest(plans, "internal") == at_ten[:2]
    assert due(plans, "customer") == at_ten[:2]
    assert latest(plans, "customer") == at_ten[1:]
    assert {p.cadence for p in plans} == {"every business day", "every 1-2 business days"}


@pytest.mark.parametrize("severity", ["critical", "high"])
def test_urgent_cadences_ignore_the_weekend(severity: Severity):
    friday_evening = datetime(2026, 11, 20, 22, 0, tzinfo=NEW_YORK)
    plans = plan(severity, friday_evening, US, count=12)

    internal = due(plans, "internal")
    assert internal[0].date() == date(2026, 11, 21)  # Saturday
    steps = hours_after(friday_evening, internal)
    assert steps == [steps[0] * k for k in range(1, 13)]


def test_medium_from_friday_afternoon_falls_due_on_monday():
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=NEW_YORK)

    [first, *_] = due(plan("medium", friday, US), "internal")

    assert first == datetime(2026, 11, 23, 15, 0, tzinfo=NEW_YORK)


def test_medium_skips_thanksgiving_in_the_us():
    wednesday = datetime(2026, 11, 25, 15, 0, tzinfo=NEW_YORK)
    plans = plan("medium", wednesday, US, count=1)

    assert US.holiday(date(2026, 11, 26)) == "Thanksgiving Day"
    assert due(plans, "internal") == [datetime(2026, 11, 27, 15, 0, tzinfo=NEW_YORK)]
    # Friday, then the weekend, then Monday.
    assert latest(plans, "customer") == [datetime(2026, 11, 30, 15, 0, tzinfo=NEW_YORK)]


def test_medium_skips_christmas_and_the_weekend_in_korea():
    christmas_eve = datetime(2026, 12, 24, 15, 0, tzinfo=SEOUL)

    assert KR.holiday(date(2026, 12, 25)) is not None
    assert due(plan("medium", christmas_eve, KR, count=1), "internal") == [datetime(2026, 12, 28, 15, 0, tzinfo=SEOUL)]


def test_a_country_code_is_accepted_in_lower_case():
    assert BusinessCalendar.of("Asia/Seoul", "kr").country == "KR"


def test_medium_started_on_a_saturday_counts_from_monday_morning():
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=NEW_YORK)

    [first, *_] = due(plan("medium", saturday, US), "internal")

    assert first == datetime(2026, 11, 23, 17, 0, tzinfo=NEW_YORK)


def test_medium_started_late_in_the_evening_counts_from_the_next_morning():
    late = datetime(2026, 11, 18, 22, 0, tzinfo=NEW_YORK)

    [first, *_] = due(plan("medium", late, US), "internal")

    assert first == datetime(2026, 11, 19, 17, 0, tzinfo=NEW_YORK)


def test_medium_given_in_utc_is_counted_in_the_calendars_business_hours():
    start = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)  # Friday 15:00 in New York

    [first, *_] = due(plan("medium", start, US), "internal")

    assert first == datetime(2026, 11, 23, 15, 0, tzinfo=NEW_YORK)
    assert first.utcoffset() == timedelta(hours=-5)


def test_wall_clock_cadences_keep_real_hours_across_the_end_of_daylight_saving():
    midnight = datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)  # EDT; clocks fall back at 02:00
    plans = plan("critical", midnight, US)

    internal = due(plans, "internal")
    assert hours_after(midnight, internal) == [2, 4, 6]
    assert [(m.hour, m.utcoffset()) for m in internal] == [
        (1, timedelta(hours=-5)),
        (3, timedelta(hours=-5)),
        (5, timedelta(hours=-5)),
    ]


def test_follow_ups_are_in_time_order_through_the_repeated_hour():
    midnight = datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)
    plans = plan("critical", midnight, US, customer_every_hours=1.5)

    instants = [p.due_at.astimezone(UTC) for p in plans]
    assert instants == sorted(instants)
    assert [p.kind for p in plans[:2]] == ["customer", "internal"]  # 01:30 EDT comes before 01:00 EST


def test_an_sla_customer_cadence_replaces_the_playbooks():
    start = datetime(2026, 11, 18, 10, 0, tzinfo=NEW_YORK)
    plans = plan("medium", start, US, customer_every_hours=3)

    assert hours_after(start, due(plans, "customer")) == [3, 6, 9]
    assert hours_after(start, latest(plans, "customer")) == [3, 6, 9]
    assert {p.cadence for p in plans if p.kind == "customer"} == {"every 3 h (per SLA)"}
    assert {p.cadence for p in plans if p.kind == "internal"} == {"every business day"}


def test_count_sets_how_many_of_each_kind_are_planned():
    plans = plan("high", datetime(2026, 11, 18, 10, 0, tzinfo=NEW_YORK), US, count=5)

    assert [len(due(plans, kind)) for kind in ("internal", "customer")] == [5, 5]


def test_a_start_without_a_utc_offset_is_rejected():
    with pytest.raises(CalendarError, match="needs a UTC offset"):
        plan("high", datetime(2026, 11, 18, 10, 0), US)


def test_an_unknown_time_zone_says_what_a_valid_one_looks_like():
    with pytest.raises(CalendarError, match=r"unknown time zone 'Mars/Olympus': use an IANA name such as"):
        BusinessCalendar.of("Mars/Olympus", "US")


def test_an_unknown_country_says_what_a_valid_code_looks_like():
    with pytest.raises(CalendarError, match=r"no public-holiday calendar for country 'XX': use an ISO 3166 alpha-2"):
        BusinessCalendar.of("America/New_York", "XX")


def test_business_hours_must_be_a_span_within_one_day():
    with pytest.raises(CalendarError, match="not a span within one day"):
        BusinessCalendar.of("America/New_York", "US", opens=17, closes=9)


def test_without_a_country_only_weekends_are_skipped():
    calendar = BusinessCalendar.of("America/New_York")
    wednesday = datetime(2026, 11, 25, 15, 0, tzinfo=NEW_YORK)

    [first, *_] = due(plan("medium", wednesday, calendar), "internal")

    assert first == datetime(2026, 11, 26, 15, 0, tzinfo=NEW_YORK)
