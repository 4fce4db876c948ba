"""Private data out of everything that leaves the server: a chat post, a tracker issue, a note.

`redact(text, allow=...)` replaces what identifies a person or opens a door with a marker such as
`[email]` or `[secret]` and counts what it replaced per kind. What it looks for:

- email addresses; phone numbers that `phonenumbers` calls valid in international form or in one of
  the national regions (US, KR, JP, GB by default);
- card numbers (13 to 19 digits with a known issuer prefix and a valid Luhn digit); IBANs (ISO 13616
  check digits, via `python-stdnum`);
- national identifiers: US SSN (no check digit, so only written as 3-2-4 or after "SSN"), UK NINO
  (HMRC's prefix rules), Korean RRN (birth date and gender digit; the check digit only when the 13
  digits are run together, because numbers issued since October 2020 end in a random digit) and
  Japanese My Number (check digit; run-together digits only next to a keyword);
- secrets: well-known key prefixes (Stripe, GitHub, Slack, AWS, Google, GitLab, OpenAI, Anthropic,
  npm, PyPI, SendGrid, Shopify, Linear, Atlassian, HubSpot, Hugging Face), JWTs, `Bearer` and
  `Basic` credentials, private key blocks, `password=...` and friends (also as JSON members), the
  password in a URL's userinfo and secret-named query parameters.

Look-alikes stay: order numbers, dates, ticket ids, version numbers, IP addresses and numbers whose
check digit is wrong. Anything inside an allowed term (the customer's name, its domain, configured
terms) stays too, and an email address at an allowed domain keeps its domain (`[email]@acme.com`).

Detection is a handful of bounded regular expressions plus checksum and number-plan validation of
each candidate, so the cost is linear in the text's length. Markers are never matched again:
redacting twice gives the same text and counts nothing new.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.jp import in_ as my_number
from stdnum.kr import rrn
from stdnum.us import ssn

Kind = Literal["email", "phone", "card", "iban", "ssn", "nino", "rrn", "my_number", "secret"]

MARKERS: Mapping[Kind, str] = {
    "email": "[email]",
    "phone": "[phone]",
    "card": "[card]",
    "iban": "[iban]",
    "ssn": "[ssn]",
    "nino": "[nino]",
    "rrn": "[rrn]",
    "my_number": "[my-number]",
    "secret": "[secret]",
}
# National numbering plans tried, in order, for a phone number written without a country code.
PHONE_REGIONS: tuple[str, ...] = ("US", "KR", "JP", "GB")


@dataclass(frozen=True, slots=True)
class Redacted:
    """The text with private data replaced by markers, and how many of each kind were replaced."""

    text: str
    counts: Mapping[Kind, int] = field(default_factory=dict[Kind, int])

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class _Hit:
    """A span a detector claims; `kind` None claims a look-alike (an IBAN with a wrong check digit)
    so that no later detector reads part of it as something else (its last digits as a phone)."""

    start: int
    end: int
    kind: Kind | None
    replacement: str


def _ascii(pattern: str, *, first: str | None = None) -> re.Pattern[str]:
    """`pattern` with ASCII word boundaries; `first` is the set of characters a match can start with.

    ASCII because Korean and Japanese letters count as \\w in Unicode mode, and in those languages
    a number or an address sits right against the next word with no space. `first` because a
    pattern that opens with a look-behind is tried at every position; opening with a character set
    lets the engine skip ahead to candidates (six times faster on mixed text).
    """
    return re.compile(f"(?=[{first}]){pattern}" if first else pattern, re.ASCII)


_MARKER_VALUE = re.compile("|".join(re.escape(m) for m in MARKERS.values()))

# --- secrets -------------------------------------------------------------------------------------

_PRIVATE_KEY = _ascii(
    r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----[^-]{0,20000}-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----"
)
_KEY_PREFIXES = _ascii(
    r"(?<![\w-])(?:"
    r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,247}"  # Stripe secret and restricted keys
    r"|whsec_[0-9A-Za-z]{20,100}"  # Stripe webhook signing secret
    r"|gh[pousr]_[A-Za-z0-9]{30,251}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,251}"
    r"|xox[abposre]-[A-Za-z0-9-]{10,250}"  # Slack bot, user, app-level tokens
    r"|xapp-\d-[A-Za-z0-9-]{10,250}"
    r"|(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|glpat-[A-Za-z0-9_-]{20,100}"  # GitLab
    r"|sk-(?:proj-|ant-(?:api\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_-]{20,250}"  # OpenAI, Anthropic
    r"|npm_[A-Za-z0-9]{36}"
    r"|pypi-[A-Za-z0-9_-]{50,250}"
    r"|SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"  # SendGrid
    r"|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"  # Shopify
    r"|lin_(?:api|oauth)_[A-Za-z0-9]{32,64}"  # Linear
    r"|ATATT[A-Za-z0-9_=-]{20,250}"  # Atlassian API tokens
    r"|pat-(?:na|eu)\d-[a-f0-9-]{36}"  # HubSpot private app tokens
    r"|hf_[A-Za-z0-9]{30,64}"  # Hugging Face
    r")(?![\w-])",
    first="srwgxAnpSlh",
)
_JWT = _ascii(
    r"(?<![\w-])eyJ[A-Za-z0-9_-]{4,2000}\.eyJ[A-Za-z0-9_-]{4,8000}\.[A-Za-z0-9_-]{0,2000}(?![\w-])", first="e"
)
_SLACK_WEBHOOK = _ascii(r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9/_-]{10,200})")
# A bearer token has a digit or is long: "Bearer token" and "Bearer authentication" are prose.
_BEARER = _ascii(
    r"\bBearer\s+((?=[A-Za-z0-9._~+/=-]{0,500}\d)[A-Za-z0-9._~+/=-]{12,500}|[A-Za-z0-9._~+/=-]{24,500})", first="B"
)
_BASIC = _ascii(r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?Basic\s+([A-Za-z0-9+/]{8,500}={0,2})", first="aA")
_SECRET_NAMES = (
    r"pass(?:word|wd|phrase)?|pwd|secret|client[_-]?secret|api[_-]?key|apikey|x-api-key|access[_-]?key"
    r"|secret[_-]?(?:access[_-]?)?key|aws_secret_access_key|private[_-]?key"
    r"|(?:access|refresh|auth|api|session|bearer|id)[_-]?token|token"
    r"|비밀번호|암호|패스워드|パスワード|暗証番号"
)
# `password=x`, `password: x`, `"password": "x"`, `PASSWORD='x'`; the value ends at whitespace or a
# separator unless quoted. The name must not be the tail of a longer word ("tokens:", "passwords").
_KEY_VALUE = _ascii(
    r"(?<![\w-])([\"']?)(?i:" + _SECRET_NAMES + r")\1(?![\w-])[ \t]{0,3}(?:[:=]|は|\uff1a)[ \t]{0,3}"
    r"(\"(?:[^\"\\\n]|\\.){1,500}\"|'[^'\n]{1,500}'|[^\s\"',;&<>]{1,500})",
    first="\"'pPsScCaAxXtTrRiIbB비암패パ暗",
)
_QUERY_SECRET = _ascii(
    r"[?&#](?i:access_token|refresh_token|id_token|token|api_key|apikey|key|sig|signature|password|pwd|secret"
    r"|client_secret|code|auth|x-amz-signature|x-amz-credential|x-goog-signature)=([^&#\s\"'<>]{1,2000})"
)
_URL_USERINFO = _ascii(r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s/:@\"'<>]{1,256}:([^\s/@\"'<>]{1,256})@", first="A-Za-z")

# --- contact details -----------------------------------------------------------------------------

_EMAIL = _ascii(
    r"(?<![\w.%+-])([A-Za-z0-9._%+-]{1,64})@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24})"
    r"(?![\w-]|\.[A-Za-z0-9])",
    first="A-Za-z0-9._%+-",
)
# `icon@2x.png` and `git@github.com:org/repo` are not addresses of a person.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "pdf"})
_PHONE = _ascii(
    r"(?<![\w+/.@#$€£¥₩-])"
    r"(\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]\d{1,5}){0,4}"  # international
    r"|\+\d{8,15}"
    r"|\(\d{1,4}\)[ .-]?\d{1,5}(?:[ .-]\d{1,5}){1,4}"  # (415) 555-2671
    r"|\d{1,5}(?:[ .-]\d{1,5}){1,4})"  # 010-1234-5678, 020 7946 0958
    r"(?![\w/@%-]|[.,:]\d)",
    first="+(0-9",
)
# A date leads (`2026-11-19 09`), or the whole candidate is one (`19.11.2026`).
_DATE_LIKE = _ascii(r"\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}(?!\d)|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")
_IP_LIKE = _ascii(r"\d{1,3}(?:\.\d{1,3}){3}")

# --- financial and national identifiers ----------------------------------------------------------

_CARD = _ascii(r"(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)", first="0-9")
# Issuer prefixes of the major networks: Visa, Mastercard, Amex, Discover, JCB, UnionPay, Diners.
_CARD_ISSUER = _ascii(
    r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6011|64[4-9]|65|35(?:2[89]|[3-8]\d)|62|3(?:0[0-5]|[689])"
)
_IBAN = _ascii(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![\w-])", first="A-Z")
_SSN = _ascii(r"(?<![\w-])(?<!\d )(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-]|[ -]\d)", first="0-9")
_SSN_NAMED = _ascii(r"(?i:\bssn|social security(?: number| no\.?)?)\W{0,5}(\d{9})(?!\d)", first="sS")
_NINO = _ascii(
    r"(?<![\w-])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])",
    first="A-Z",
)
_RRN = _ascii(r"(?<![\d-])(\d{6})(-?)(\d{7})(?![\d-])", first="0-9")
_MY_NUMBER = _ascii(r"(?<![\d-])(?<!\d )(\d{4})([ -]?)(\d{4})\2(\d{4})(?![\d-]|[ -]\d)", first="0-9")
_MY_NUMBER_WORD = _ascii(r"(?i:マイナンバー|個人番号|my ?number|kojin ?bang[oō])")


def _hits_secrets(text: str) -> Iterator[_Hit]:
    secret = MARKERS["secret"]
    for pattern in (_PRIVATE_KEY, _KEY_PREFIXES, _JWT):
        for m in pattern.finditer(text):
            yield _Hit(m.start(), m.end(), "secret", secret)
    for pattern in (_SLACK_WEBHOOK, _BEARER, _BASIC, _QUERY_SECRET, _URL_USERINFO):
        for m in pattern.finditer(text):
            if not _MARKER_VALUE.fullmatch(m.group(1)):
                yield _Hit(m.start(1), m.end(1), "secret", secret)
    for m in _KEY_VALUE.finditer(text):
        value, start, end = m.group(2), m.start(2), m.end(2)
        if value[0] in "\"'":  # keep the quotes so JSON stays JSON
            value, start, end = value[1:-1], start + 1, end - 1
        if not _MARKER_VALUE.fullmatch(value):
            yield _Hit(start, end, "secret", secret)


def _hits_emails(text: str) -> Iterator[_Hit]:
    for m in _EMAIL.finditer(text):
        local, domain = m.group(1), m.group(2)
        if domain.rsplit(".", 1)[-1].lower() in _FILE_SUFFIXES or (text.startswith(":", m.end()) and local == "git"):
            continue
        yield _Hit(m.start(), m.end(), "email", MARKERS["email"])


def _hits_cards(text: str) -> Iterator[_Hit]:
    for m in _CARD.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _CARD_ISSUER.match(digits) and luhn.is_valid(digits):
            yield _Hit(m.start(), m.end(), "card", MARKERS["card"])
        elif len(digits) >= 15:
            yield _Hit(m.start(), m.end(), None, m.group())


def _hits_ibans(text: str) -> Iterator[_Hit]:
    for m in _IBAN.finditer(text):
        valid = stdnum_iban.is_valid(m.group(), check_country=False)
        yield _Hit(m.start(), m.end(), "iban" if valid else None, MARKERS["iban"] if valid else m.group())


def _hits_national_ids(text: str) -> Iterator[_Hit]:
    for m in _SSN.finditer(text):
        if ssn.is_valid(m.group(1) + m.group(3) + m.group(4)):
            yield _Hit(m.start(), m.end(), "ssn", MARKERS["ssn"])
        elif m.group(2) == "-" and m.group(1)[0] != "0":  # no phone plan writes 3-2-4 without a trunk 0
            yield _Hit(m.start(), m.end(), None, m.group())
    for m in _SSN_NAMED.finditer(text):
        if ssn.is_valid(m.group(1)):
            yield _Hit(m.start(1), m.end(1), "ssn", MARKERS["ssn"])
    for m in _NINO.finditer(text):
        yield _Hit(m.start(), m.end(), "nino", MARKERS["nino"])
    for m in _RRN.finditer(text):
        number = m.group(1) + m.group(3)
        if _valid_rrn(number, hyphenated=bool(m.group(2))):
            yield _Hit(m.start(), m.end(), "rrn", MARKERS["rrn"])
    for m in _MY_NUMBER.finditer(text):
        number = m.group(1) + m.group(3) + m.group(4)
        named = _MY_NUMBER_WORD.search(text, max(0, m.start() - 24), m.start()) is not None
        if (m.group(2) or named) and my_number.is_valid(number):
            yield _Hit(m.start(), m.end(), "my_number", MARKERS["my_number"])


def _valid_rrn(number: str, *, hyphenated: bool) -> bool:
    if not hyphenated:
        return rrn.is_valid(number)
    if number[6] not in "12345678":  # born 1900-2099, citizens and registered foreigners
        return False
    try:
        rrn.get_birth_date(number)
    except ValueError:  # stdnum's InvalidComponent is a ValueError
        return False
    return True


def _hits_phones(text: str) -> Iterator[_Hit]:
    checked: dict[str, bool] = {}  # tables repeat numbers; asking phonenumbers is the costly part
    for m in _PHONE.finditer(text):
        candidate = m.group(1)
        digits = "".join(ch for ch in candidate if ch.isdigit())
        if not _plausible_phone(candidate, digits) or _DATE_LIKE.match(candidate) or _IP_LIKE.fullmatch(candidate):
            continue
        valid = checked.get(candidate)
        if valid is None:
            valid = checked[candidate] = _valid_phone(candidate)
        if valid:
            yield _Hit(m.start(1), m.end(1), "phone", MARKERS["phone"])


def _plausible_phone(candidate: str, digits: str) -> bool:
    """Cheap shape check before `phonenumbers`: international, or national in one of `PHONE_REGIONS`
    (KR, JP and GB numbers start with the trunk 0; US ones with an area code 2-9, maybe after 1)."""
    if not 7 <= len(digits) <= 15:
        return False
    if candidate.startswith("+") or digits.startswith("0"):
        return True
    return (len(digits) == 10 and digits[0] in "23456789") or (len(digits) == 11 and digits[:1] == "1")


def _valid_phone(candidate: str) -> bool:
    regions: Sequence[str | None] = (None,) if candidate.startswith("+") else PHONE_REGIONS
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


# Earlier detectors win an overlap: a secret containing digits is one secret, not a phone number.
_DETECTORS: tuple[Callable[[str], Iterator[_Hit]], ...] = (
    _hits_secrets,
    _hits_emails,
    _hits_ibans,  # before cards: an IBAN's digits can look like a card number with a wrong check digit
    _hits_cards,
    _hits_national_ids,
    _hits_phones,
)


def _allowed_spans(text: str, allow: Collection[str]) -> list[tuple[int, int]]:
    terms = sorted({t for t in allow if t.strip()}, key=len, reverse=True)
    if not terms:
        return []
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    return [(m.start(), m.end()) for m in pattern.finditer(text)]


def redact(text: str, *, allow: Collection[str] = ()) -> Redacted:
    """`text` with private data replaced by markers like `[email]`, and the count of each kind.

    What lies wholly inside an occurrence of an `allow` term (case-insensitive) stays as written;
    an email address whose domain is allowed keeps the domain.
    """
    allowed = _allowed_spans(text, allow)
    allowed_domains = {t.lower().lstrip("@") for t in allow if "." in t and "@" not in t.lstrip("@")}
    taken_starts: list[int] = []
    taken: list[_Hit] = []
    for detector in _DETECTORS:
        for hit in detector(text):
            if any(a <= hit.start and hit.end <= b for a, b in allowed):
                continue
            i = bisect.bisect_left(taken_starts, hit.start)
            if (i > 0 and taken[i - 1].end > hit.start) or (i < len(taken) and taken[i].start < hit.end):
                continue
            if hit.kind == "email":
                domain = text[hit.start : hit.end].rsplit("@", 1)[1]
                if domain.lower() in allowed_domains:
                    hit = _Hit(hit.start, hit.end, "email", f"{MARKERS['email']}@{domain}")
            taken_starts.insert(i, hit.start)
            taken.insert(i, hit)
    taken = [hit for hit in taken if hit.kind is not None]
    if not taken:
        return Redacted(text)
    out: list[str] = []
    position = 0
    for hit in taken:
        out.append(text[position : hit.start])
        out.append(hit.replacement)
        position = hit.end
    out.append(text[position:])
    counts: Counter[Kind] = Counter(hit.kind for hit in taken if hit.kind is not None)
    return Redacted("".join(out), dict(sorted(counts.items())))
