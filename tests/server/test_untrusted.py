"""Text written by outsiders loses what a reader cannot see and is capped in length."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.models import Comment, Ticket
from server.untrusted import clean, clean_record

AT = datetime(2026, 11, 19, 9, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "visible"),
    [
        ("Ig\u200bnore", "Ignore"),  # zero-width space
        ("a\u200c\u200d\u2060\ufeffb", "ab"),  # zero-width non-joiner, joiner, word joiner, BOM
        ("\u202e.tnegru\u202c ok", ".tnegru ok"),  # right-to-left override and pop
        ("\u2066isolate\u2069", "isolate"),  # bidi isolates
        ("tag\U000e0041\U000e0042\U000e007f", "tag"),  # Unicode tag characters
        ("bell\x07 null\x00 esc\x1b[31m del\x7f", "bell null esc[31m del"),  # control characters
        ("private\ue000use", "privateuse"),
    ],
)
def test_hidden_characters_are_removed(text: str, visible: str):
    assert clean(text) == visible


def test_newlines_and_tabs_are_kept():
    assert clean("line one\n\tindented\nline three") == "line one\n\tindented\nline three"


def test_visible_non_ascii_text_is_untouched():
    text = "Königsallee 27, Düsseldorf; 사업자등록번호; 請求書; Zoë Ångström"

    assert clean(text) == text


def test_text_over_the_limit_is_cut_with_a_visible_marker():
    assert clean("abcdefghij", limit=4) == "abcd… [+6 chars]"


def test_text_at_the_limit_is_not_cut():
    assert clean("abcd", limit=4) == "abcd"


def test_the_limit_counts_visible_characters_only():
    assert clean("ab\u200b\u200b\u200bcd", limit=4) == "abcd"


def test_clean_record_walks_nested_models_and_lists():
    ticket = Ticket(
        id="4816",
        subject="Invoice\u200b PDF",
        body="Please re-issue.\u202eetadpu\u202c",
        status="open",
        created_at=AT,
        tags=["billing\u200d", "pdf"],
        comments=[Comment(author="Petra\u2060 Lang", body="Thanks\U000e0041!", created_at=AT, public=True)],
    )

    cleaned = clean_record(ticket)

    assert cleaned == Ticket(
        id="4816",
        subject="Invoice PDF",
        body="Please re-issue.etadpu",
        status="open",
        created_at=AT,
        tags=["billing", "pdf"],
        comments=[Comment(author="Petra Lang", body="Thanks!", created_at=AT, public=True)],
    )


def test_clean_record_applies_the_limit_to_every_string_and_leaves_the_original_alone():
    ticket = Ticket(id="1", subject="short", body="x" * 20, status="open", created_at=AT)

    cleaned = clean_record(ticket, limit=10)

    assert (cleaned.subject, cleaned.body) == ("short", "xxxxxxxxxx… [+10 chars]")
    assert ticket.body == "x" * 20
