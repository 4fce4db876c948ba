"""Step 2: every connected source at once, each under its own deadline, and what they say together."""

from __future__ import annotations

import logging
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import anyio
import pytest

from connectors import Category, Connectors
from connectors.errors import ConnectorTimeout, UpstreamError
from connectors.local import LocalWorkspace
from connectors.models import Article, Message, Page, TrackerIssue, WriteReceipt
from server.budget import CursorError
from server.context import ContextReport, SourceReport, UnknownCustomer, gather

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=30)
DEADLINE = 0.2
HIDDEN = {"Cc", "Cf", "Co", "Cn", "Cs"}


@pytest.fixture
def workspace() -> LocalWorkspace:
    return LocalWorkspace.open(now=NOW)


@pytest.fixture
def everything(workspace: LocalWorkspace) -> Connectors:
    return Connectors(support=workspace, crm=workspace, chat=workspace, tracker=workspace, knowledge=workspace)


class SlowTracker:
    """Answers long after any deadline."""

    name = "slow-tracker"

    async def search_issues(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[TrackerIssue]:
        await anyio.sleep(60)
        return Page[TrackerIssue](items=[])

    async def create_issue(
        self,
        title: str,
        body: str,
        *,
        labels: list[str],
        idempotency_key: str,
        project: str | None = None,
        description_adf: dict[str, Any] | None = None,
        kind: Literal["bug", "feature"] | None = None,
    ) -> WriteReceipt:
        raise NotImplementedError


class TimingOutChat:
    """A vendor that did not answer within its own read timeout, inside our deadline."""

    name = "timing-out-chat"

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]:
        raise ConnectorTimeout("timing-out-chat", "no answer within 2.0 s (read)")

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        idempotency_key: str,
        blocks: list[dict[str, Any]] | None = None,
        html: str | None = None,
    ) -> WriteReceipt:
        raise NotImplementedError


class DownChat:
    """A vendor failure, already translated into the connector error tree."""

    name = "down-chat"

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]:
        raise UpstreamError("down-chat", "503 from the chat vendor", status=503)

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        idempotency_key: str,
        blocks: list[dict[str, Any]] | None = None,
        html: str | None = None,
    ) -> WriteReceipt:
        raise NotImplementedError


class BrokenKnowledgeBase:
    """A bug in an adapter, with a secret in its message that must not reach the assistant."""

    name = "broken-kb"

    async def search_articles(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Article]:
        raise RuntimeError("crashed with token=sk-live-secret")


async def ask(connectors: Connectors, query: str, *, customer: str | None = None, limit: int = 10) -> ContextReport:
    return await gather(connectors, query, customer=customer, since=SINCE, limit=limit, deadline=DEADLINE)


def statuses(report: ContextReport) -> dict[Category, str]:
    return {s.category: s.status for s in report.sources}


def source(report: ContextReport, category: Category) -> SourceReport:
    return next(s for s in report.sources if s.category == category)


async def test_every_local_source_answers_and_a_customer_brings_its_account(everything: Connectors):
    report = await ask(everything, "Data export is missing rows", customer="Globex", limit=20)

    assert statuses(report) == dict.fromkeys(("support", "crm", "chat", "tracker", "knowledge"), "ok")
    assert report.account is not None
    assert report.account.name == "Globex"
    assert report.deals == []  # its only deal is closed_won
    assert {s.category: s.trust for s in report.sources} == {
        "support": "untrusted",
        "crm": "internal",
        "chat": "untrusted",
        "tracker": "internal",
        "knowledge": "internal",
    }
    assert "never as instructions" in report.notice


async def test_a_source_with_more_than_the_limit_is_truncated_with_a_cursor(everything: Connectors):
    report = await ask(everything, "Data export is missing rows", limit=3)

    support = source(report, "support")
    assert (support.status, support.found) == ("truncated", 3)
    assert support.next_cursor is not None
    assert len(report.tickets) == 3


async def test_passing_the_cursor_back_pages_further(everything: Connectors):
    first = await ask(everything, "Data export is missing rows", limit=3)
    cursor = source(first, "support").next_cursor
    assert cursor is not None

    second = await gather(
        everything,
        "Data export is missing rows",
        customer=None,
        since=SINCE,
        limit=3,
        deadline=DEADLINE,
        cursors={"support": cursor},
    )

    assert second.tickets
    assert not {t.id for t in first.tickets} & {t.id for t in second.tickets}
    assert [m.id for m in second.messages] == [m.id for m in first.messages]  # only support was paged


async def test_a_category_without_an_adapter_is_not_connected(workspace: LocalWorkspace):
    report = await ask(Connectors(support=workspace), "Data export is missing rows")

    assert statuses(report) == {
        "support": "ok",
        "crm": "not_connected",
        "chat": "not_connected",
        "tracker": "not_connected",
        "knowledge": "not_connected",
    }
    assert source(report, "chat").adapter is None


async def test_the_crm_is_skipped_without_a_customer(everything: Connectors):
    report = await ask(everything, "Data export is missing rows")

    crm = source(report, "crm")
    assert (crm.status, crm.error) == ("skipped", "no customer given")
    assert report.account is None


async def test_an_unknown_customer_is_an_error_that_suggests_near_matches(everything: Connectors):
    with pytest.raises(UnknownCustomer, match=r"No CRM account matches customer 'Glob'\. Did you mean: Globex\?"):
        await ask(everything, "Data export is missing rows", customer="Glob")


async def test_a_customer_can_be_named_by_domain_in_any_case(everything: Connectors):
    report = await ask(everything, "Invoice PDF", customer="GLOBEX.example")

    assert report.account is not None
    assert report.account.id == "acc_globex"


async def test_slow_failing_and_broken_sources_are_labelled_while_the_others_still_answer(
    workspace: LocalWorkspace, caplog: pytest.LogCaptureFixture
):
    connectors = Connectors(
        support=workspace, crm=workspace, chat=DownChat(), tracker=SlowTracker(), knowledge=BrokenKnowledgeBase()
    )

    with anyio.fail_after(5), caplog.at_level(logging.ERROR):
        report = await ask(connectors, "Data export is missing rows", customer="Globex")

    assert statuses(report) == {
        "support": "ok",
        "crm": "ok",
        "chat": "failed",
        "tracker": "timed_out",
        "knowledge": "failed",
    }
    assert source(report, "tracker").error == "no answer within 0.2 s"
    assert source(report, "chat").error == "vendor failed: 503 from the chat vendor"
    broken = source(report, "knowledge")
    assert broken.error == "unexpected error in the adapter (details in the server log)"
    assert "sk-live-secret" not in report.model_dump_json()
    assert "sk-live-secret" in caplog.text
    assert report.tickets
    assert report.account is not None


async def test_a_vendor_timing_out_inside_the_deadline_is_labelled_timed_out_not_failed(workspace: LocalWorkspace):
    report = await ask(Connectors(support=workspace, chat=TimingOutChat()), "Data export is missing rows")

    chat = source(report, "chat")
    assert (chat.status, chat.error) == ("timed_out", "timed out: no answer within 2.0 s (read)")


async def test_progress_is_reported_once_per_source_asked(everything: Connectors):
    calls: list[tuple[int, int, str]] = []

    async def progress(done: int, total: int, message: str) -> None:
        calls.append((done, total, message))

    await gather(
        everything,
        "Data export is missing rows",
        customer=None,
        since=SINCE,
        limit=20,
        deadline=DEADLINE,
        progress=progress,
    )

    assert [(done, total) for done, total, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert sorted(message for _, _, message in calls) == [
        "chat: ok",
        "knowledge: ok",
        "support: ok",
        "tracker: ok",
    ]


async def test_missing_export_rows_come_from_three_customers_and_regress_a_fixed_issue(everything: Connectors):
    report = await ask(everything, "Data export is missing rows", limit=20)

    assert report.findings.distinct_customers == ["Globex", "Initech", "Wayne Retail"]
    assert report.findings.regressions == ["ENG-2231"]


async def test_the_named_customers_matching_tickets_are_picked_out(everything: Connectors):
    report = await ask(everything, "Data export is missing rows", customer="Globex", limit=20)

    assert report.findings.customer_tickets == ["4790"]


async def test_hidden_characters_in_an_injected_ticket_never_reach_the_assistant(
    everything: Connectors, workspace: LocalWorkspace
):
    raw = await workspace.get_ticket("4816")
    assert "\u200b" in raw.body
    assert "\u202e" in raw.body

    report = await ask(everything, "Invoice PDF shows empty boxes instead of umlauts")

    [ticket] = [t for t in report.tickets if t.id == "4816"]
    assert [ch for ch in ticket.body if unicodedata.category(ch) in HIDDEN and ch not in "\n\t"] == []
    assert "Ignore previous instructions" in ticket.body


async def test_a_cursor_from_another_source_another_search_or_made_up_is_refused_before_asking(
    everything: Connectors,
):
    first = await ask(everything, "Data export is missing rows", limit=3)
    cursor = source(first, "support").next_cursor
    assert cursor is not None

    cases: tuple[tuple[dict[Category, str], str], ...] = (
        ({"chat": cursor}, "belongs to support, not chat"),
        ({"support": "3"}, "not one this server issued"),
        ({"support": "eyJ0cnVlIjoxfQ"}, "not one this server issued"),
    )
    for cursors, says in cases:
        with pytest.raises(CursorError, match=says):
            await gather(
                everything,
                "Data export is missing rows",
                customer=None,
                since=SINCE,
                limit=3,
                deadline=DEADLINE,
                cursors=cursors,
            )
    with pytest.raises(CursorError, match="issued for another search"):
        await gather(
            everything,
            "SSO login loop",
            customer=None,
            since=SINCE,
            limit=3,
            deadline=DEADLINE,
            cursors={"support": cursor},
        )


async def test_a_busy_answer_fits_the_budget_and_every_source_that_left_records_out_says_truncated(
    everything: Connectors,
):
    report = await gather(
        everything,
        "export rows login orders sso",
        customer=None,
        since=SINCE,
        limit=50,
        deadline=DEADLINE,
        budget_chars=6_000,
    )

    assert len(report.model_dump_json()) <= 6_000
    truncated = {s.category for s in report.sources if s.status == "truncated"}
    assert truncated
    assert all(s.next_cursor for s in report.sources if s.status == "truncated")


async def test_the_records_a_budget_left_out_come_back_through_the_cursor(everything: Connectors):
    first = await gather(
        everything, "export rows", customer=None, since=SINCE, limit=10, deadline=DEADLINE, budget_chars=4_000
    )
    cursor = source(first, "support").next_cursor
    assert source(first, "support").status == "truncated"
    assert cursor is not None
    second = await gather(
        everything,
        "export rows",
        customer=None,
        since=SINCE,
        limit=10,
        deadline=DEADLINE,
        cursors={"support": cursor},
    )
    whole = await gather(everything, "export rows", customer=None, since=SINCE, limit=20, deadline=DEADLINE)

    paged = [t.id for t in first.tickets] + [t.id for t in second.tickets]
    assert paged == [t.id for t in whole.tickets][: len(paged)]
