"""A generated corpus of private data and look-alikes in English, Korean and Japanese support text.

Each case is one sentence with one planted value: either something `redact` must replace (`kind`
set) or a look-alike it must leave alone (`kind` None): order numbers, dates, ticket ids, versions,
IP addresses, amounts, and identifiers whose check digit is wrong. Valid values are built with
their real check digits (Luhn, ISO 7064 for IBAN, the RRN and My Number weights) and phone numbers
are kept only when `phonenumbers` calls them valid, so the corpus says what is true, not what the
redactor happens to do. A fixed seed keeps it the same on every run.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.jp import in_ as my_number
from stdnum.kr import rrn

from server.redact import Kind


@dataclass(frozen=True)
class Case:
    text: str
    value: str  # the planted value, as it appears in `text`
    kind: Kind | None  # None: a look-alike that must stay
    language: str


TEMPLATES: dict[str, list[str]] = {
    "en": [
        "Customer wrote: please reach me at {v} about the failed sync.",
        "Details from the ticket: {v}. Escalating to L2.",
        "The admin pasted {v} into the chat, see thread.",
        "Per the call, the value was {v} and it did not change after retrying.",
    ],
    "ko": [
        "고객이 {v} 로 연락 달라고 했습니다.",
        "티켓 내용: {v} 확인 부탁드립니다.",
        "관리자가 채팅에 {v} 를 붙여넣었습니다.",
    ],
    "ja": [
        "お客様から{v}に連絡してほしいとのことです。",
        "チケットの内容：{v} をご確認ください。",
        "管理者がチャットに {v} を貼り付けました。",
    ],
}


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _group(number: str, sizes: list[int], sep: str) -> str:
    out: list[str] = []
    position = 0
    for size in sizes:
        out.append(number[position : position + size])
        position += size
    return sep.join(out)


def _card(rng: random.Random, *, valid: bool) -> str:
    prefix, length = rng.choice(
        [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16), ("3530", 16)]
    )
    body = prefix + _digits(rng, length - len(prefix) - 1)
    check = luhn.calc_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    number = body + check
    sizes = [4, 6, 5] if length == 15 else [4, 4, 4, 4]
    return rng.choice([number, _group(number, sizes, " "), _group(number, sizes, "-")])


def _iban(rng: random.Random, *, valid: bool) -> str:
    country, bban = rng.choice(
        [
            ("DE", _digits(rng, 18)),
            ("GB", "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + _digits(rng, 14)),
            ("FR", _digits(rng, 23)),
            ("NL", "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + _digits(rng, 10)),
        ]
    )
    check = iban.calc_check_digits(country + "00" + bban)
    if not valid:
        check = f"{(int(check) + rng.randint(1, 50)) % 100:02d}"
    number = country + check + bban
    return rng.choice([number, " ".join(number[i : i + 4] for i in range(0, len(number), 4))])


def _email(rng: random.Random) -> str:
    user = rng.choice(["jane.doe", "minji.kim", "tanaka.h", "ops+alerts", "j_smith42", "ko-eun"])
    domain = rng.choice(["example.com", "mail.example.co.kr", "example.co.jp", "customer-corp.io", "gmail.com"])
    return f"{user}@{domain}"


def _phone(rng: random.Random) -> str:
    while True:
        candidate = rng.choice(
            [
                lambda: (
                    f"({rng.choice(['212', '415', '646', '312', '617'])}) {rng.randint(201, 989)}-{_digits(rng, 4)}"
                ),
                lambda: f"+1 {rng.choice(['212', '415', '646'])}-{rng.randint(201, 989)}-{_digits(rng, 4)}",
                lambda: f"010-{_digits(rng, 4)}-{_digits(rng, 4)}",
                lambda: f"02-{rng.randint(200, 999)}-{_digits(rng, 4)}",
                lambda: f"+82 10-{_digits(rng, 4)}-{_digits(rng, 4)}",
                lambda: f"{rng.choice(['090', '080', '070'])}-{_digits(rng, 4)}-{_digits(rng, 4)}",
                lambda: f"03-{rng.randint(3000, 6999)}-{_digits(rng, 4)}",
                lambda: f"+81 90 {_digits(rng, 4)} {_digits(rng, 4)}",
                lambda: f"+44 20 7946 0{_digits(rng, 3)}",
                lambda: f"020 7946 0{_digits(rng, 3)}",
            ]
        )()
        regions = [None] if candidate.startswith("+") else ["US", "KR", "JP", "GB"]
        if any(_valid_in(candidate, region) for region in regions):
            return candidate


def _valid_in(candidate: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(candidate, region))
    except phonenumbers.NumberParseException:
        return False


def _ssn(rng: random.Random, *, valid: bool) -> str:
    if valid:
        area = rng.choice([rng.randint(1, 665), rng.randint(667, 899)])
        return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    area = rng.choice([0, 666, rng.randint(900, 999)])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _nino(rng: random.Random, *, valid: bool) -> str:
    first = "ABCEGHJKLMNOPRSTWXYZ"
    second = "ABCEGHJKLMNPRSTWXYZ"
    if valid:
        while (prefix := rng.choice(first) + rng.choice(second)) in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            pass
        suffix = rng.choice("ABCD")
    else:
        prefix = rng.choice(["GB", "BG", "QQ", "DA", "FY"])
        suffix = rng.choice("ABCD")
    digits = _digits(rng, 6)
    return rng.choice([f"{prefix}{digits}{suffix}", f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"])


def _rrn(rng: random.Random, *, valid: bool) -> str:
    year, month, day = rng.randint(0, 99), rng.randint(1, 12), rng.randint(1, 28)
    gender = rng.choice("1234") if year > 24 else rng.choice("34")
    gender = rng.choice("12") if year > 24 else gender
    body = f"{year:02d}{month:02d}{day:02d}{gender}{rng.randint(0, 96):02d}{_digits(rng, 3)}"
    check = rrn.calc_check_digit(body)
    if valid:
        number = body + check
        return rng.choice([number, f"{number[:6]}-{number[6:]}"])
    # Run together with a wrong check digit, or hyphenated with month 13.
    if rng.random() < 0.5:
        return body + str((int(check) + rng.randint(1, 9)) % 10)
    return f"{year:02d}13{day:02d}-{gender}{_digits(rng, 6)}"


def _my_number(rng: random.Random, *, valid: bool) -> str:
    body = _digits(rng, 11)
    check = my_number.calc_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    number = body + check
    return rng.choice([_group(number, [4, 4, 4], " "), _group(number, [4, 4, 4], "-"), f"マイナンバー: {number}"])


def _b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _secret(rng: random.Random) -> str:
    token = _alnum(rng, 40)
    return rng.choice(
        [
            f"sk_live_{_alnum(rng, 24)}",
            f"rk_test_{_alnum(rng, 24)}",
            f"ghp_{_alnum(rng, 36)}",
            f"github_pat_{_alnum(rng, 22)}_{_alnum(rng, 59)}",
            f"xoxb-{_digits(rng, 12)}-{_digits(rng, 13)}-{_alnum(rng, 24)}",
            f"AKIA{_alnum(rng, 16, string.ascii_uppercase + string.digits)}",
            f"AIza{_alnum(rng, 35)}",
            f"glpat-{_alnum(rng, 20)}",
            f"sk-proj-{_alnum(rng, 48)}",
            f"sk-ant-api03-{_alnum(rng, 60)}",
            f"lin_api_{_alnum(rng, 40)}",
            ".".join([_b64({"alg": "HS256", "typ": "JWT"}), _b64({"sub": _digits(rng, 8)}), _alnum(rng, 43)]),
            f"Authorization: Bearer {token}",
            f"password={_alnum(rng, 12)}!",
            f"PASSWORD: '{_alnum(rng, 10)}'",
            f'{{"user": "svc", "password": "{_alnum(rng, 14)}"}}',
            f'{{"api_key": "{_alnum(rng, 32)}"}}',
            f"postgres://app:{_alnum(rng, 16)}@db.internal:5432/prod",
            f"https://api.example.com/v1/export?format=csv&access_token={token}",
            f"client_secret={_alnum(rng, 32)}",
            f"비밀번호: {_alnum(rng, 10)}",
            f"パスワード：{_alnum(rng, 10)}",
        ]
    )


def _secret_value(text: str) -> str:
    """The part of a planted secret that must disappear (the key name may stay)."""
    for marker in ("Bearer ", "password=", "client_secret=", "access_token=", "비밀번호: ", "パスワード："):
        if marker in text:
            return text.split(marker, 1)[1]
    if text.startswith("PASSWORD: '"):
        return text[len("PASSWORD: '") : -1]
    if text.startswith("{"):
        return text.rsplit('"', 2)[-2]
    if text.startswith("postgres://"):
        return text.split(":", 2)[2].split("@")[0]
    return text


LOOKALIKES: list[str] = [
    "ORD-2026-114477",
    "order #48123",
    "주문번호 20261119-0042",
    "注文番号 A-2026-11-0042",
    "2026-11-19",
    "2026/11/19",
    "19.11.2026",
    "2026年11月19日",
    "11/19/2026 09:15",
    "2026-11-19T09:15:00Z",
    "v1.2.3",
    "version 2.14.0",
    "orders-svc r1184",
    "10.0.0.1",
    "192.168.1.254",
    "ZD-4812",
    "ENG-2398",
    "ticket 4812",
    "$240,000",
    "₩1,200,000",
    "¥120,000",
    "HTTP 500",
    "port 8080",
    "x86_64",
    "PR #1184",
    "94105",
    "〒100-0001",
    "06236",
    "SKU-4411-22",
    "3f2a9c1e-7b4d-4e8a-9c0f-2b6d8e1a4c77",
    "commit 9b1337e",
    "#ff0000",
    "1503435956.000247",
    "Bearer token",
    "the password reset link",
    "Basic plan",
    "tokens: 1,500",
    "icon@2x.png",
    "git@github.com:acme/app.git",
    "100,000 tickets",
    "74 orders a night",
    "+5%",
    "1 in 20",
    "1920x1080",
    "ISO 8601",
    "UTF-8",
    "2026-11-19 09:15:00",
    "ID 1234 5678",
    "申込番号 2026-1119-0042",
    "접수번호 2026-1119",
]


def _valid_and_invalid(
    make: Callable[..., str], kind: Kind, rng: random.Random, n: int
) -> list[tuple[str, Kind | None]]:
    out: list[tuple[str, Kind | None]] = [(make(rng, valid=True), kind) for _ in range(n)]
    out += [(make(rng, valid=False), None) for _ in range(n // 2)]
    return out


def corpus(seed: int = 20261119) -> list[Case]:
    """Several hundred cases, the same for the same seed."""
    rng = random.Random(seed)
    planted: list[tuple[str, Kind | None]] = []
    planted.extend([(_email(rng), "email") for _ in range(40)])
    planted.extend([(_phone(rng), "phone") for _ in range(60)])
    planted.extend(_valid_and_invalid(_card, "card", rng, 40))
    planted.extend(_valid_and_invalid(_iban, "iban", rng, 30))
    planted.extend(_valid_and_invalid(_ssn, "ssn", rng, 30))
    planted.extend(_valid_and_invalid(_nino, "nino", rng, 30))
    planted.extend(_valid_and_invalid(_rrn, "rrn", rng, 30))
    planted.extend(_valid_and_invalid(_my_number, "my_number", rng, 30))
    planted.extend([(_secret(rng), "secret") for _ in range(90)])
    planted.extend([(v, None) for v in LOOKALIKES for _ in range(2)])
    cases: list[Case] = []
    for value, kind in planted:
        language = rng.choice(list(TEMPLATES))
        text = rng.choice(TEMPLATES[language]).format(v=value)
        if kind == "my_number" and value.startswith("マイナンバー: "):
            value = value.removeprefix("マイナンバー: ")
        if kind == "secret":
            value = _secret_value(value)
        cases.append(Case(text=text, value=value, kind=kind, language=language))
    return cases


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    misses: list[Case]
    false_alarms: list[Case]

    @property
    def precision(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_negatives)


def score(cases: list[Case], redact_text: Callable[[str], str]) -> Score:
    """A planted value is caught when it no longer appears; a look-alike is a false alarm when it does not."""
    tp = fp = fn = 0
    misses: list[Case] = []
    alarms: list[Case] = []
    for case in cases:
        survived = case.value in redact_text(case.text)
        if case.kind is None:
            if not survived:
                fp += 1
                alarms.append(case)
        elif survived:
            fn += 1
            misses.append(case)
        else:
            tp += 1
    return Score(tp, fp, fn, misses, alarms)
