"""Reading the values CRMs keep as free text: hosts, amounts, dates, countries and time zones."""

from __future__ import annotations

import math
import re
import unicodedata
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cached_property
from types import MappingProxyType

from holidays.registry import COUNTRIES


def host_of(value: str | None) -> str | None:
    """A bare lower-case host from a domain or website value: `https://www.Globex.com/x` -> `globex.com`."""
    if not value:
        return None
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().lower())
    host = re.split(r"[/?#]", host, maxsplit=1)[0].rsplit("@", 1)[-1].split(":")[0].removeprefix("www.")
    return host or None


def amount_of(value: str | float | None, *, nonnegative: bool = False) -> float | None:
    """A number from a CRM currency value (`"80000.00"`); None when empty, not a number, or negative ARR."""
    if value is None:
        return None
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return None
    if not math.isfinite(number) or (nonnegative and number < 0):
        return None
    return number


def date_of(value: str | None) -> date | None:
    """A date from `2027-01-15`, an ISO datetime (its UTC date) or epoch milliseconds; None if unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC).date()
        if "T" in text:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).date()
        return date.fromisoformat(text[:10])
    except (ValueError, OverflowError, OSError):
        return None


def truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "yes", "y", "1"})


_COUNTRY_ALIASES = (  # common spellings the holiday registry does not carry
    ("usa", "US"),
    ("unitedstatesofamerica", "US"),
    ("america", "US"),
    ("greatbritain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("northernireland", "GB"),
    ("thenetherlands", "NL"),
    ("holland", "NL"),
    ("republicofkorea", "KR"),
    ("russianfederation", "RU"),
    ("czechrepublic", "CZ"),
    ("cotedivoire", "CI"),
    ("turkiye", "TR"),
)


def _country_key(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", ascii_text.lower())


class Places:
    """Country and time-zone lookups built once per adapter (the tables cost a few milliseconds)."""

    @cached_property
    def _countries(self) -> Mapping[str, str]:
        """Every spelling we accept (name, alpha-2, alpha-3) to its alpha-2 code, from the holiday calendars."""
        return _country_table()

    @cached_property
    def _zones(self) -> Mapping[str, str]:
        return MappingProxyType({zone.lower(): zone for zone in zoneinfo.available_timezones()})

    def country_code(self, value: str | None) -> str | None:
        """ISO 3166 alpha-2 for a CRM country value (`US`, `USA`, `United States`); None when not recognised.

        CRMs hold countries as free text; the server needs the code for public holidays.
        """
        if not value:
            return None
        return self._countries.get(_country_key(value))

    def iana_timezone(self, value: str | None) -> str | None:
        """The IANA zone for a CRM value (`America/New_York`, or HubSpot's slug `america_slash_new_york`).

        None when it names no zone: a wrong zone would put follow-ups outside the customer's business hours.
        """
        if not value:
            return None
        return self._zones.get(value.strip().lower().replace("_slash_", "/").replace("_hyphen_", "-"))


def _country_table() -> Mapping[str, str]:
    names: dict[str, str] = {}
    for key, entry in COUNTRIES.items():
        alpha2 = entry[1]
        names[_country_key(key)] = alpha2
        names[_country_key(entry[0])] = alpha2
        names[alpha2.lower()] = alpha2
        names[entry[2].lower()] = alpha2
        for alias in entry[3:]:  # e.g. `UK`, `Korea`; `Holidays…` entries are class names, not spellings
            if not alias.startswith("Holidays"):
                names[_country_key(alias)] = alpha2
    names.update(_COUNTRY_ALIASES)
    return MappingProxyType(names)
