"""Jira Cloud: JQL text search that a query cannot break, closed-as-fixed, ADF descriptions, writes sent once."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.errors import AuthError, UpstreamError
from connectors.products import ConfigError, load_settings
from connectors.vendors.jira import FIELDS, Jira, JiraSettings, adf, jql_string, label, search_jql
from tests.connectors.contract.conftest import scenario
from tests.connectors.fakes.base import FAST
from tests.connectors.fakes.jira import EMAIL, PROJECT, FakeJira, make
from tests.connectors.scenario import TOKEN


@pytest.fixture
async def jira() -> AsyncIterator[tuple[Jira, FakeJira]]:
    adapter, fake = make(scenario())
    yield adapter, fake
    await adapter.aclose()


async def test_a_search_sends_basic_auth_and_the_key_words_as_an_or_of_text_clauses(jira: tuple[Jira, FakeJira]):
    adapter, fake = jira

    page = await adapter.search_issues("Globex says the export spinner hangs", limit=5)

    request = fake.requests[0]
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {basic}"
    assert request.url.path == "/rest/api/3/search/jql"
    assert request.url.params["jql"] == (
        '(text ~ "globex" OR text ~ "says" OR text ~ "export" OR text ~ "spinner" OR text ~ "hangs")'
    )
    assert request.url.params["fields"] == FIELDS
    assert request.url.params["maxResults"] == "5"
    assert {i.id for i in page.items} == {"ENG-1", "ENG-2"}


async def test_quotes_and_operators_in_the_query_stay_inside_their_jql_strings(jira: tuple[Jira, FakeJira]):
    adapter, fake = jira

    page = await adapter.search_issues('export" OR project = SECRET OR text ~ "x\\', limit=5)

    jql = fake.requests[0].url.params["jql"]
    assert jql == '(text ~ "export" OR text ~ "project" OR text ~ "secret" OR text ~ "text")'
    assert {i.id for i in page.items} == {"ENG-1", "ENG-2"}


@pytest.mark.parametrize(
    ("value", "quoted"),
    [('say "hi"', '"say \\"hi\\""'), ("back\\slash", '"back\\\\slash"'), ('\\"', '"\\\\\\""')],
)
def test_a_jql_string_escapes_quotes_and_backslashes(value: str, quoted: str):
    assert jql_string(value) == quoted


def test_a_query_without_key_words_lists_the_project_most_recently_updated_first():
    assert search_jql("is it the", "ENG") == 'project = "ENG" ORDER BY updated DESC'


async def test_the_project_listing_is_a_bounded_query_jira_accepts(jira: tuple[Jira, FakeJira]):
    adapter, _ = jira

    page = await adapter.search_issues("", limit=10)

    assert [i.id for i in page.items] == ["ENG-2", "ENG-1", "ENG-3"]  # newest first


async def test_an_issue_maps_status_kind_resolution_dates_labels_and_its_browse_link(jira: tuple[Jira, FakeJira]):
    adapter, _ = jira

    page = await adapter.search_issues("dark mode", limit=5)

    [issue] = page.items
    assert issue.id == "ENG-3"
    assert issue.status == "Backlog"
    assert issue.kind == "feature"  # a Story
    assert issue.resolution is None
    assert not issue.closed_as_fixed
    assert issue.created_at == scenario().issues[2].created_at
    assert issue.url == "https://acme.atlassian.net/browse/ENG-3"


@pytest.mark.parametrize(
    ("category", "resolution", "fixed"),
    [
        ("done", "Fixed", True),
        ("done", "done", True),  # resolution names are compared without case
        ("done", None, True),  # team-managed projects close without a resolution
        ("done", "Won't Do", False),
        ("done", "Duplicate", False),
        ("indeterminate", "Fixed", False),  # reopened: still resolved, no longer done
    ],
)
async def test_closed_as_fixed_needs_the_done_category_and_a_fixing_resolution(
    jira: tuple[Jira, FakeJira], category: str, resolution: str | None, fixed: bool
):
    adapter, fake = jira
    fake.add("ENG-9", "Webhook retries stop", status="Closed", category=category, resolution=resolution, kind="Bug")

    [issue] = (await adapter.search_issues("webhook", limit=5)).items

    assert issue.closed_as_fixed is fixed
    assert issue.resolution == resolution
    assert (issue.resolved_at is not None) is (category == "done")
    assert issue.resolved_at is None or issue.resolved_at.tzinfo is not None


@pytest.mark.parametrize(
    ("issue_type", "kind"),
    [
        ("Bug", "bug"),
        ("Story", "feature"),
        ("Improvement", "feature"),
        ("Epic", "feature"),
        ("Task", "task"),
        ("Sub-task", "task"),
    ],
)
async def test_issue_types_map_to_kinds(jira: tuple[Jira, FakeJira], issue_type: str, kind: str):
    adapter, fake = jira
    fake.add("ENG-9", "Webhook retries stop", status="To Do", category="new", resolution=None, kind=issue_type)

    [issue] = (await adapter.search_issues("webhook", limit=5)).items

    assert issue.kind == kind


async def test_a_resolution_list_from_the_settings_replaces_the_default():
    fake = FakeJira(scenario())
    settings = JiraSettings(
        site="acme", email=EMAIL, token=SecretStr(TOKEN), project=PROJECT, fixed_resolutions="Resolved, Shipped"
    )
    adapter = Jira(settings, transport=fake.transport(), policy=FAST)
    fake.add("ENG-9", "Webhook retries stop", status="Closed", category="done", resolution="Shipped", kind="Bug")

    page = await adapter.search_issues("webhook OR csv", limit=5)

    assert {i.id: i.closed_as_fixed for i in page.items} == {"ENG-9": True, "ENG-1": False}  # ENG-1 is "Fixed"
    await adapter.aclose()


async def test_a_search_follows_the_next_page_token_jira_hands_back(jira: tuple[Jira, FakeJira]):
    adapter, fake = jira

    first = await adapter.search_issues("export", limit=1)
    rest = await adapter.search_issues("export", limit=5, cursor=first.next_cursor)

    assert first.next_cursor in fake.tokens
    assert fake.requests[1].url.params["nextPageToken"] == first.next_cursor
    assert rest.next_cursor is None
    assert len(first.items) + len(rest.items) == 2


async def test_a_created_issue_carries_the_project_type_adf_description_and_hyphenated_labels(
    jira: tuple[Jira, FakeJira],
):
    adapter, fake = jira

    receipt = await adapter.create_issue(
        "Globex export\nregression",
        "Steps:\nexport a large workspace\n\nSeen by 3 customers.",
        labels=["escalation", "customer impact", "escalation"],
        idempotency_key="i-1",
    )

    request = fake.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/rest/api/3/issue"
    fields: dict[str, Any] = json.loads(request.content)["fields"]
    assert fields["project"] == {"key": "ENG"}
    assert fields["issuetype"] == {"name": "Bug"}
    assert fields["summary"] == "Globex export regression"
    assert fields["labels"] == ["escalation", "customer-impact"]
    assert fields["description"] == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Steps:"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "export a large workspace"},
                ],
            },
            {"type": "paragraph", "content": [{"type": "text", "text": "Seen by 3 customers."}]},
        ],
    }
    assert receipt.id == "ENG-4"
    assert receipt.url == "https://acme.atlassian.net/browse/ENG-4"


async def test_a_given_project_rendered_description_and_feature_kind_are_what_jira_receives():
    fake = FakeJira(scenario())
    settings = JiraSettings(site="acme", email=EMAIL, token=SecretStr(TOKEN), project="OPS", feature_issue_type="Story")
    adapter = Jira(settings, transport=fake.transport(), policy=FAST)
    document: dict[str, Any] = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps to reproduce"}]},
            {
                "type": "orderedList",
                "attrs": {"order": 1},
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Export"}]}],
                    }
                ],
            },
        ],
    }

    receipt = await adapter.create_issue(
        "Bulk export",
        "## Steps to reproduce\n\n1. Export",
        labels=["escalation"],
        idempotency_key="i-adf",
        project=PROJECT,  # the configured OPS is not where this one goes
        description_adf=document,
        kind="feature",
    )

    fields: dict[str, Any] = json.loads(fake.requests[0].content)["fields"]
    assert fields["project"] == {"key": PROJECT}
    assert fields["issuetype"] == {"name": "Story"}
    assert fields["description"] == document
    assert receipt.id.startswith(f"{PROJECT}-")
    await adapter.aclose()


async def test_a_feature_is_filed_as_the_issue_type_when_no_feature_type_is_configured(jira: tuple[Jira, FakeJira]):
    adapter, fake = jira

    await adapter.create_issue("Bulk export", "Wanted.", labels=[], idempotency_key="i-f", kind="feature")

    assert json.loads(fake.requests[0].content)["fields"]["issuetype"] == {"name": "Bug"}


def test_an_empty_body_is_an_empty_adf_document_not_an_empty_text_node():
    assert adf("  \n\n ") == {"type": "doc", "version": 1, "content": []}


def test_a_label_never_carries_whitespace():
    assert label(" needs  triage\tnow ") == "needs-triage-now"


async def test_a_create_is_not_retried_after_a_server_error_since_jira_has_no_idempotency_key(
    jira: tuple[Jira, FakeJira],
):
    adapter, fake = jira
    before = len(fake.issues)
    fake.fail_next(fake.server_error())

    with pytest.raises(UpstreamError) as raised:
        await adapter.create_issue("Globex export regression", "Steps", labels=[], idempotency_key="i-2")

    assert raised.value.status == 500
    assert len(fake.requests) == 1
    assert len(fake.issues) == before


async def test_a_refused_create_reports_jiras_own_field_errors():
    fake = FakeJira(scenario())
    settings = JiraSettings(site="acme", email=EMAIL, token=SecretStr(TOKEN), project=PROJECT, issue_type="Incident")
    adapter = Jira(settings, transport=fake.transport(), policy=FAST)

    with pytest.raises(UpstreamError, match="issuetype: The issue type selected is invalid") as raised:
        await adapter.create_issue("Globex export regression", "Steps", labels=[], idempotency_key="i-3")

    assert raised.value.status == 400
    await adapter.aclose()


async def test_a_429_is_waited_out_and_the_rate_limit_headroom_reaches_the_doctor(jira: tuple[Jira, FakeJira]):
    adapter, fake = jira
    fake.fail_next(fake.rate_limited(0.01))

    page = await adapter.search_issues("export", limit=5)
    health = await adapter.check()

    assert len(page.items) == 2
    assert len(fake.requests) == 3
    assert health.ok
    assert health.detail == f"authenticated as Escalation Agent <{EMAIL}>"
    assert health.headroom == "98 of 100 left"


async def test_rejected_credentials_name_the_email_and_token_variables(jira: tuple[Jira, FakeJira]):
    adapter, fake = jira
    fake.token = "another-token"

    with pytest.raises(AuthError) as raised:
        await adapter.create_issue("t", "b", labels=[], idempotency_key="i-4")

    assert "ESCALATION_JIRA_EMAIL" in str(raised.value)
    assert "ESCALATION_JIRA_TOKEN" in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("site", ["acme", "acme.atlassian.net", "https://acme.atlassian.net/"])
async def test_a_site_may_be_a_name_a_host_or_a_url(site: str):
    fake = FakeJira(scenario())
    settings = JiraSettings(site=site, email=EMAIL, token=SecretStr(TOKEN), project=PROJECT)
    adapter = Jira(settings, transport=fake.transport(), policy=FAST)

    page = await adapter.search_issues("spinner", limit=5)

    assert str(fake.requests[0].url).startswith("https://acme.atlassian.net/rest/api/3/search/jql?")
    assert [i.url for i in page.items] == ["https://acme.atlassian.net/browse/ENG-2"]
    await adapter.aclose()


async def test_a_base_url_routes_the_api_while_links_still_point_at_the_site():
    fake = FakeJira(scenario())
    settings = JiraSettings(
        site="acme",
        email=EMAIL,
        token=SecretStr(TOKEN),
        project=PROJECT,
        base_url="https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789",
    )
    adapter = Jira(settings, transport=fake.transport(), policy=FAST)

    await adapter.check()

    assert (
        str(fake.requests[0].url)
        == "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789/rest/api/3/myself"
    )
    await adapter.aclose()


def test_neither_a_site_nor_a_base_url_is_a_config_error():
    with pytest.raises(ConfigError, match=r"ESCALATION_JIRA_SITE is not set \(or set ESCALATION_JIRA_BASE_URL\)"):
        load_settings(JiraSettings, email=EMAIL, token=SecretStr(TOKEN), project=PROJECT)


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    for field in ("SITE", "EMAIL", "TOKEN", "PROJECT"):
        monkeypatch.delenv(f"ESCALATION_JIRA_{field}", raising=False)
    monkeypatch.setenv("ESCALATION_JIRA_EMAIL", EMAIL)
    monkeypatch.setenv("ESCALATION_JIRA_PROJECT", PROJECT)

    with pytest.raises(ConfigError, match="ESCALATION_JIRA_TOKEN is not set"):
        load_settings(JiraSettings)
