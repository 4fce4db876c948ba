"""The tracker contract, whatever the product behind it."""

from __future__ import annotations

from connectors import Tracker
from tests.connectors.contract.conftest import Subject
from tests.connectors.scenario import ISSUES

EXPORT = {i.title for i in ISSUES if i.id in {"ENG-1", "ENG-2"}}


async def test_the_adapter_serves_the_tracker_port(tracker: Subject):
    assert isinstance(tracker.adapter, Tracker)


async def test_a_search_finds_every_issue_sharing_the_query_word(tracker: Subject):
    page = await tracker.adapter.search_issues("export", limit=20)

    assert {i.title for i in page.items} == EXPORT


async def test_an_issue_closed_as_fixed_reads_as_a_possible_regression(tracker: Subject):
    page = await tracker.adapter.search_issues("export", limit=20)

    fixed = next(i for i in page.items if i.title == "CSV export times out on large workspaces")
    open_ = next(i for i in page.items if i.title == "Export spinner never finishes")
    assert fixed.closed_as_fixed
    assert fixed.resolved_at is not None
    assert not open_.closed_as_fixed
    assert open_.resolved_at is None
    assert fixed.kind == open_.kind == "bug"


async def test_a_limited_search_reports_a_cursor_that_resumes_without_gaps_or_repeats(tracker: Subject):
    first = await tracker.adapter.search_issues("export", limit=1)
    rest = await tracker.adapter.search_issues("export", limit=20, cursor=first.next_cursor)

    assert len(first.items) == 1
    assert first.next_cursor
    assert sorted(i.title for i in first.items + rest.items) == sorted(EXPORT)


async def test_a_created_issue_lands_once_per_idempotency_key_and_can_be_found(tracker: Subject):
    first = await tracker.adapter.create_issue(
        "Globex export regression", "Steps: export a large workspace.", labels=["escalation"], idempotency_key="i-1"
    )
    again = await tracker.adapter.create_issue(
        "Globex export regression", "Steps: export a large workspace.", labels=["escalation"], idempotency_key="i-1"
    )

    assert first.id
    assert not first.duplicate
    assert again.duplicate
    assert again.id == first.id
    found = await tracker.adapter.search_issues("regression", limit=20)
    assert [i.title for i in found.items].count("Globex export regression") == 1


async def test_a_feature_request_in_the_configured_project_lands_and_can_be_found(tracker: Subject):
    receipt = await tracker.adapter.create_issue(
        "Zyzzyva bulk export", "Wanted by 3 customers.", labels=["escalation"], idempotency_key="i-f", kind="feature"
    )

    found = await tracker.adapter.search_issues("zyzzyva", limit=5)
    assert receipt.id
    assert [i.title for i in found.items] == ["Zyzzyva bulk export"]
