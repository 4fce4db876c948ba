"""Step 7: the follow-up cadence a severity demands, as concrete due times.

Critical and high cadences run on the wall clock, nights and weekends included. The
medium cadence is in business time: hours count only inside the customer's business
hours, on working days that are not public holidays in the customer's country. One
business day is one full span of business hours (09:00 to 17:00 by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.models import FollowupPlan, Severity

if TYPE_CHECKING:
    import holidays

Kind = Literal["internal", "customer"]


@dataclass(frozen=True)
class Cadence:
    every: float  # hours; business days when `business`
    window: float
    business: bool
    label: str


CADENCES: dict[Severity, dict[Kind, Cadence]] = {
    "critical": {
        "internal": Cadence(2, 2, business=False, label="every 2 h"),
        "customer": Cadence(2, 4, business=False, label="every 2-4 h"),
    },
    "high": {
        "internal": Cadence(4, 4, business=False, label="every 4 h"),
        "customer": Cadence(4, 8, business=False, label="every 4-8 h"),
    },
    "medium": {
        "internal": Cadence(1, 1, business=True, label="every business day"),
        "customer": Cadence(1, 2, business=True, label="every 1-2 business days"),
    },
}


class CalendarError(ValueError):
    """A time zone or country the calendar cannot use."""


@dataclass(frozen=True)
class BusinessCalendar:
    """Business hours in one time zone, skipping weekends and one country's public holidays."""

    tz: ZoneInfo
    country: str | None = None
    opens: time = time(9)
    closes: time = time(17)
    _holidays: holidays.HolidayBase | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, timezone: str, country: str | None = None, *, opens: int = 9, closes: int = 17) -> BusinessCalendar:
        """The calendar for an IANA time zone and an ISO country code, or a CalendarError saying what to fix."""
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(
                f"unknown time zone {timezone!r}: use an IANA name such as 'America/New_York' or 'Asia/Seoul'"
            ) from exc
        table: holidays.HolidayBase | None = None
        if country is not None:
            import holidays  # on first use: its tables are a tenth of the cold start

            try:
                table = holidays.country_holidays(country.upper())
            except NotImplementedError as exc:
                raise CalendarError(
                    f"no public-holiday calendar for country {country!r}: use an ISO 3166 alpha-2 code such as "
                    "'US', 'DE', 'KR' or 'JP'"
                ) from exc
        if not 0 <= opens < closes <= 24:
            raise CalendarError(f"business hours {opens}-{closes} are not a span within one day")
        return cls(
            tz=tz,
            country=country.upper() if country else None,
            opens=time(opens),
            closes=time(closes) if closes < 24 else time.max,
            _holidays=table,
        )

    @property
    def day_hours(self) -> float:
        return (datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)).total_seconds() / 3600

    def holiday(self, day: date) -> str | None:
        """The public holiday on `day`, if any."""
        return None if self._holidays is None else self._holidays.get(day)

    def is_business_day(self, day: date) -> bool:
        weekend = self._holidays.weekend if self._holidays is not None else {5, 6}
        return day.weekday() not in weekend and self.holiday(day) is None

    def _at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.tz)

    def next_open(self, moment: datetime) -> datetime:
        """`moment` if business is open then, else the next opening."""
        local = moment.astimezone(self.tz)
        day = local.date()
        if self.is_business_day(day) and self._at(day, self.opens) <= local < self._at(day, self.closes):
            return local
        if self.is_business_day(day) and local < self._at(day, self.opens):
            return self._at(day, self.opens)
        day += timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return self._at(day, self.opens)

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of business time after `start`."""
        remaining = timedelta(hours=hours)
        moment = self.next_open(start)
        while True:
            closing = self._at(moment.date(), self.closes)
            available = closing - moment
            if remaining <= available:
                return moment + remaining
            remaining -= available
            moment = self.next_open(closing)


def plan(
    severity: Severity,
    start: datetime,
    calendar: BusinessCalendar,
    *,
    count: int = 3,
    customer_every_hours: float | None = None,
) -> list[FollowupPlan]:
    """The next `count` internal and customer follow-ups from `start`, in the calendar's time zone.

    `customer_every_hours` replaces the customer cadence where an SLA sets its own.
    """
    if start.tzinfo is None:
        raise CalendarError("start time needs a UTC offset, e.g. 2026-11-20T09:00:00Z")
    plans: list[FollowupPlan] = []
    for kind, cadence in CADENCES[severity].items():
        if kind == "customer" and customer_every_hours is not None:
            cadence = Cadence(
                customer_every_hours,
                customer_every_hours,
                business=False,
                label=f"every {customer_every_hours:g} h (per SLA)",
            )
        for k in range(1, count + 1):
            if cadence.business:
                span = calendar.day_hours
                due = calendar.add_business_hours(start, k * cadence.every * span)
                latest = calendar.add_business_hours(start, ((k - 1) * cadence.every + cadence.window) * span)
            else:
                utc = start.astimezone(UTC)
                due = (utc + timedelta(hours=k * cadence.every)).astimezone(calendar.tz)
                latest = (utc + timedelta(hours=(k - 1) * cadence.every + cadence.window)).astimezone(calendar.tz)
            plans.append(FollowupPlan(kind=kind, due_at=due, latest_at=latest, cadence=cadence.label))
    # Sort by instant: datetimes sharing a tzinfo compare by wall time, misordering the repeated DST hour.
    return sorted(plans, key=lambda p: (p.due_at.astimezone(UTC), p.kind))
