"""A cursor a source never issued is refused with one clear error, by every vendor adapter of every port.

Made-up cursors come in every shape a caller (or a model) might produce: words, punctuation, a long
number, a dotted triple, and base64 of a JSON object, the way many vendors' own cursors look. None
may crash an adapter or reach the caller as anything but `InvalidCursorError`.

The local adapter (`connectors/local.py`) still raises ValueError for one; it joins these tests once
its `_cursor_offset` raises `InvalidCursorError("local")`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from connectors.errors import InvalidCursorError
from tests.connectors.contract.conftest import Subject

FORGED = ["forged", "!!!", "9" * 40, "1.2.3", "eyJmb3JnZWQiOiB0cnVlfQ", "../../admin"]

CALLS: dict[str, Callable[[Any, str], Awaitable[Any]]] = {
    "support": lambda a, c: a.search_tickets("export", limit=5, cursor=c),
    "crm": lambda a, c: a.accounts_on_plan("Enterprise", limit=5, cursor=c),
    "chat": lambda a, c: a.search_messages("export", limit=5, cursor=c),
    "tracker": lambda a, c: a.search_issues("export", limit=5, cursor=c),
    "knowledge": lambda a, c: a.search_articles("export", limit=5, cursor=c),
}


async def refused(subject: Subject, port: str, cursor: str) -> None:
    with pytest.raises(InvalidCursorError) as raised:
        await CALLS[port](subject.adapter, cursor)

    assert "start again without a cursor" in str(raised.value)
    assert raised.value.source == subject.name


@pytest.mark.parametrize("cursor", FORGED)
async def test_a_forged_ticket_cursor_is_refused_with_a_clear_message(support_vendor: Subject, cursor: str):
    await refused(support_vendor, "support", cursor)


@pytest.mark.parametrize("cursor", FORGED)
async def test_a_forged_segment_cursor_is_refused_with_a_clear_message(crm_vendor: Subject, cursor: str):
    await refused(crm_vendor, "crm", cursor)


@pytest.mark.parametrize("cursor", FORGED)
async def test_a_forged_message_cursor_is_refused_with_a_clear_message(chat_vendor: Subject, cursor: str):
    await refused(chat_vendor, "chat", cursor)


@pytest.mark.parametrize("cursor", FORGED)
async def test_a_forged_issue_cursor_is_refused_with_a_clear_message(tracker_vendor: Subject, cursor: str):
    await refused(tracker_vendor, "tracker", cursor)


@pytest.mark.parametrize("cursor", FORGED)
async def test_a_forged_article_cursor_is_refused_with_a_clear_message(knowledge_vendor: Subject, cursor: str):
    await refused(knowledge_vendor, "knowledge", cursor)
