"""Private data and secrets are replaced by markers before anything leaves the server; look-alikes,
wrong check digits and allowed terms stay as written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.redact import Redacted, redact
from tests.server.corpora.pii import Case, corpus, score

CORPUS = corpus()


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Mail jane.doe@example.com today", "Mail [email] today"),
        ("お客様からtanaka.h@example.co.jpに連絡", "お客様から[email]に連絡"),
        ("Call (415) 555-2671 or +44 20 7946 0958", "Call [phone] or [phone]"),
        ("고객 연락처 010-1234-5678 입니다", "고객 연락처 [phone] 입니다"),
        ("携帯090-1234-5678まで", "携帯[phone]まで"),
        ("card 4111 1111 1111 1111 and 378282246310005", "card [card] and [card]"),
        ("IBAN DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432", "IBAN [iban] or [iban]"),
        ("SSN 123-45-6789, or ssn: 123456789", "SSN [ssn], or ssn: [ssn]"),
        ("NINO AB 12 34 56 C", "NINO [nino]"),
        ("주민등록번호 900101-1234567", "주민등록번호 [rrn]"),
        ("RRN 9710139019902", "RRN [rrn]"),
        ("マイナンバー 6214 9832 0257", "マイナンバー [my-number]"),
        ("マイナンバー: 621498320257", "マイナンバー: [my-number]"),
    ],
)
def test_personal_data_is_replaced_by_its_marker(text: str, redacted: str):
    assert redact(text).text == redacted


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "key [secret]"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [secret]"),
        ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack [secret]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [secret]"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt [secret]",
        ),
        ("Authorization: Bearer abcdef1234567890xyz", "Authorization: Bearer [secret]"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "Authorization: Basic [secret]"),
        ("password=hunter2 and PASSWORD: 'p@ss'", "password=[secret] and PASSWORD: '[secret]'"),
        ('{"user": "svc", "password": "p\\"w d"}', '{"user": "svc", "password": "[secret]"}'),
        ("비밀번호: qwerty123 / パスワード：abc12345", "비밀번호: [secret] / パスワード：[secret]"),
        ("postgres://admin:hunter2@db.internal/app", "postgres://admin:[secret]@db.internal/app"),
        (
            "https://x.io/cb?code=abc123&state=ok&access_token=zzz",
            "https://x.io/cb?code=[secret]&state=ok&access_token=[secret]",
        ),
        (
            "hook https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
            "hook https://hooks.slack.com/services/[secret]",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----",
            "[secret]",
        ),
    ],
)
def test_secrets_are_replaced_and_the_name_they_were_given_stays(text: str, redacted: str):
    assert redact(text).text == redacted


@pytest.mark.parametrize(
    "text",
    [
        "order ORD-2026-114477 placed 2026-11-19 09:15:00, ticket ZD-4812, ENG-2398",
        "version 2.14.0 (v1.2.3), orders-svc r1184, host 192.168.1.254 port 8080",
        "amounts $240,000, ₩1,200,000, ¥120,000; 100,000 tickets; 1 in 20; 1920x1080",
        "invalid card 4111 1111 1111 1112, invalid IBAN DE89 3704 0044 0532 0130 01",
        "SSN-shaped but invalid: 666-12-3456, 000-12-3456, 912-34-5678",
        "NINO-shaped but invalid: GB123456A, QQ123456C",
        "My Number with a wrong check digit: 6214 9832 0258",
        "a Bearer token, the password reset link, the Basic plan, tokens: 1,500",
        "icon@2x.png and git@github.com:acme/app.git",
        "2026年11月19日 09:15, 〒100-0001, 注文番号 A-2026-11-0042, 접수번호 2026-1119",
        "uuid 3f2a9c1e-7b4d-4e8a-9c0f-2b6d8e1a4c77, commit 9b1337e, ts 1503435956.000247",
    ],
)
def test_look_alikes_stay(text: str):
    assert redact(text) == Redacted(text)


def test_counts_are_given_per_kind():
    result = redact("jane@example.com, bob@example.com, 4111 1111 1111 1111, password=x1")

    assert result.counts == {"card": 1, "email": 2, "secret": 1}
    assert result.total == 4


def test_allowed_terms_stay_even_when_they_look_private():
    text = "Write to support@acme.com or call +1 800-555-0199 about Acme Corp"

    result = redact(text, allow=["support@acme.com", "+1 800-555-0199", "Acme Corp"])

    assert result == Redacted(text)


def test_an_address_at_an_allowed_domain_keeps_the_domain():
    assert redact("from jane@acme.com and bob@other.com", allow=["acme.com"]).text == (
        "from [email]@acme.com and [email]"
    )


def test_an_allowed_word_inside_a_secret_does_not_save_the_secret():
    assert redact("sk_live_AcmeAcmeAcme12345678", allow=["Acme"]).text == "[secret]"


def test_a_secret_that_contains_digits_is_one_secret_not_a_phone_number():
    assert redact("password=4155552671").counts == {"secret": 1}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CORPUS), st.sampled_from(CORPUS))
def test_redacting_twice_finds_nothing_new(a: Case, b: Case):
    once = redact(f"{a.text}\n{b.text}")

    assert redact(once.text) == Redacted(once.text)


def test_the_pii_corpus_is_several_hundred_cases_in_three_languages():
    assert len(CORPUS) >= 500
    assert {c.language for c in CORPUS} == {"en", "ko", "ja"}
    assert sum(c.kind is None for c in CORPUS) >= 150  # look-alikes and wrong check digits


def test_precision_and_recall_on_the_corpus_stay_above_the_floor():
    # The floor is below today's 1.00/1.00 on purpose: the corpus grows with every miss found in
    # the field, and a new hard case may be lost for a release; 0.95 still means at most one
    # planted value in twenty slips through, and anything lower is a regression worth a look.
    result = score(CORPUS, lambda text: redact(text).text)

    assert result.precision >= 0.95, result.false_alarms[:5]
    assert result.recall >= 0.95, result.misses[:5]
