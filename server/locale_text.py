"""Numbers, money, dates, durations and lists as a native reader of each brief language writes them (Babel).

Babel is imported on first use: it is a few tenths of the cold start, and a session that renders
nothing never pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Literal

from server.models import Language

Unit = Literal["day", "hour", "minute"]
_LOCALE: dict[Language, str] = {"en": "en_US", "ko": "ko_KR", "ja": "ja_JP"}


def money(amount: float, language: Language) -> str:
    """Whole US dollars: "$310,000", "US$310,000" in Korean, "$310,000" in Japanese."""
    from babel.numbers import format_currency

    return format_currency(round(amount), "USD", locale=_LOCALE[language], format="¤#,##0", currency_digits=False)


def count(n: int, language: Language) -> str:
    from babel.numbers import format_decimal

    return format_decimal(n, locale=_LOCALE[language])


def day(moment: date | datetime, language: Language) -> str:
    """A calendar date: "November 20, 2026", "2026년 11월 20일", "2026年11月20日"."""
    from babel.dates import format_date

    return format_date(moment, "long", locale=_LOCALE[language])


def duration(span: timedelta, language: Language) -> str:
    """Days and hours: "1 day 19 hours", "1일 19시간", "1日19時間"; under an hour, minutes."""
    from babel.dates import format_timedelta

    seconds = max(int(span.total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    whole: list[tuple[int, Unit]] = (
        [(days, "day"), (hours, "hour")] if days or hours else [(max(rest // 60, 1), "minute")]
    )
    parts: list[str] = []
    for n, unit in whole:
        if n:
            span_of = timedelta(**{f"{unit}s": n})
            parts.append(format_timedelta(span_of, granularity=unit, threshold=1, locale=_LOCALE[language]))
    joined = " ".join(parts)
    if language == "ja":
        joined = re.sub(r"(\d) (?=\D)", r"\1", joined).replace(" ", "")
    return joined


def items(values: Sequence[str], language: Language) -> str:
    """A list in running text: "a, b, and c", "a, b 및 c", "a、b、c"."""
    from babel.lists import format_list

    return format_list(list(values), locale=_LOCALE[language]) if values else ""


SLA_STATUS: dict[Language, dict[str, str]] = {
    "en": {"ok": "within SLA", "at_risk": "at risk of breach", "breached": "breached"},
    "ko": {"ok": "SLA 준수 중", "at_risk": "SLA 위반 임박", "breached": "SLA 위반"},
    "ja": {"ok": "SLA内", "at_risk": "SLA違反のおそれ", "breached": "SLA違反"},
}
