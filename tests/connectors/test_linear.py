"""Linear: what the adapter sends, how it reads Linear's answers, and how it survives Linear's limits."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import anyio
import httpx
import pytest

from connectors import products
from connectors.errors import AuthError, NotFoundError, RateLimitedError, UpstreamError
from connectors.models import TrackerIssue
from connectors.products import ConfigError
from connectors.vendors.linear import PAGE_SIZE, Linear, LinearSettings, issue_id_for
from tests.connectors.contract.conftest import scenario
from tests.connectors.fakes.base import FAST, json_response
from tests.connectors.fakes.linear import TEAM_ID, TEAM_KEY, FakeLinear, make
from tests.connectors.loopback import Delegate, serve
from tests.connectors.scenario import TOKEN, ago


def graphql(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def sent(fake: FakeLinear, root: str) -> list[dict[str, Any]]:
    """The GraphQL payloads the adapter sent whose operation starts with `root`."""
    bodies = [graphql(r) for r in fake.requests]
    return [b for b in bodies if b["query"].partition("{")[2].strip().startswith(root)]


def rate_limit_body() -> dict[str, Any]:
    return {"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}


@pytest.fixture
async def linear() -> Any:
    adapter, fake = make(scenario())
    yield adapter, fake
    await adapter.aclose()


async def test_a_personal_api_key_is_sent_bare_to_the_graphql_endpoint(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear

    await adapter.search_issues("export")

    request = fake.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.linear.app/graphql"
    assert request.headers["authorization"] == TOKEN
    assert request.headers["content-type"] == "application/json"


async def test_an_oauth_token_is_sent_as_a_bearer_token():
    adapter, fake = make(scenario(), oauth=True)

    page = await adapter.search_issues("export")

    assert fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert page.items
    await adapter.aclose()


async def test_a_search_sends_each_keyword_as_a_title_or_description_branch(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear

    await adapter.search_issues("The CSV export times out for Globex", limit=5)

    variables = sent(fake, "issues")[0]["variables"]
    branches = variables["filter"]["or"]
    words = ["csv", "export", "times", "out", "globex"]  # "The" and "for" carry no meaning
    assert branches == [{field: {"containsIgnoreCase": w}} for w in words for field in ("title", "description")]
    assert variables["first"] == 5
    assert variables["after"] is None


async def test_an_empty_query_sends_no_filter_and_pages_at_linears_default_size(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear

    page = await adapter.search_issues("", limit=100)

    variables = sent(fake, "issues")[0]["variables"]
    assert variables["filter"] is None
    assert variables["first"] == PAGE_SIZE
    assert len(page.items) == 3


async def test_the_cursor_handed_back_is_linears_end_cursor(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear

    first = await adapter.search_issues("export", limit=1)
    await adapter.search_issues("export", limit=1, cursor=first.next_cursor)

    assert first.next_cursor == fake.issues[0].id
    assert sent(fake, "issues")[1]["variables"]["after"] == first.next_cursor


async def test_a_completed_issue_is_closed_as_fixed_but_a_canceled_one_is_not():
    workspace = scenario()
    canceled = TrackerIssue(
        id="ENG-9", title="Export to PDF", status="Canceled", kind="feature", resolved_at=ago(days=3)
    )
    adapter, _ = make(workspace.model_copy(update={"issues": [*workspace.issues, canceled]}))

    page = await adapter.search_issues("export", limit=20)

    issues = {i.id: i for i in page.items}
    assert issues["ENG-1"].closed_as_fixed
    assert issues["ENG-1"].resolution == "Done"
    assert issues["ENG-1"].status == "Done"
    assert not issues["ENG-9"].closed_as_fixed
    assert issues["ENG-9"].resolution == "Canceled"
    assert issues["ENG-9"].resolved_at is not None
    assert issues["ENG-2"].resolution is None
    assert issues["ENG-1"].url == "https://linear.app/acme/issue/ENG-1/csv-export-times-out-on-large-workspaces"
    assert all(i.created_at is not None and i.created_at.tzinfo is not None for i in page.items)
    await adapter.aclose()


async def test_the_kind_comes_from_a_bug_or_feature_label_and_is_a_task_otherwise():
    workspace = scenario()
    chore = TrackerIssue(id="ENG-8", title="Rotate export signing keys", status="Todo", kind="task")
    adapter, _ = make(workspace.model_copy(update={"issues": [*workspace.issues, chore]}))

    page = await adapter.search_issues("", limit=20)

    kinds = {i.id: i.kind for i in page.items}
    assert kinds == {"ENG-1": "bug", "ENG-2": "bug", "ENG-3": "feature", "ENG-8": "task"}
    assert next(i for i in page.items if i.id == "ENG-2").labels == ["Bug", "export", "ui"]
    await adapter.aclose()


async def test_linears_rate_limit_answer_an_http_400_is_waited_out_until_its_reset(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear
    fake.fail_next(fake.rate_limited(0.3))

    started = time.monotonic()
    page = await adapter.search_issues("export")

    assert time.monotonic() - started >= 0.25
    assert page.items
    assert len(fake.requests) == 2


async def test_the_wait_follows_whichever_budget_ran_out(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear
    now_ms = time.time() * 1000
    fake.fail_next(
        json_response(
            400,
            rate_limit_body(),
            {
                "x-ratelimit-requests-remaining": "2400",
                "x-ratelimit-requests-reset": str(round(now_ms + 3_600_000)),
                "x-ratelimit-complexity-remaining": "0",
                "x-ratelimit-complexity-reset": str(round(now_ms + 100)),
            },
        )
    )

    page = await adapter.search_issues("export")  # an hour's wait would not be retried

    assert page.items


async def test_a_rate_limit_resetting_beyond_the_policy_surfaces_with_its_wait(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear
    fake.fail_next(fake.rate_limited(600))

    with pytest.raises(RateLimitedError) as raised:
        await adapter.search_issues("export")

    assert raised.value.retry_after is not None
    assert 590 < raised.value.retry_after <= 601
    assert "Rate limit exceeded" in str(raised.value)
    assert len(fake.requests) == 1


async def test_an_authentication_error_in_a_400_body_is_an_auth_error_naming_the_variable(
    linear: tuple[Linear, FakeLinear],
):
    adapter, fake = linear
    body = {"errors": [{"message": "Authentication required", "extensions": {"code": "AUTHENTICATION_ERROR"}}]}
    fake.fail_next(json_response(400, body))

    with pytest.raises(AuthError, match="ESCALATION_LINEAR_TOKEN"):
        await adapter.search_issues("export")


async def test_other_graphql_errors_carry_linears_message_and_are_not_retried(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear
    body = {
        "errors": [
            {
                "message": "Argument Validation Error",
                "extensions": {"code": "INVALID_INPUT", "userPresentableMessage": "first must be positive"},
            }
        ]
    }
    fake.fail_next(json_response(400, body))

    with pytest.raises(UpstreamError, match="first must be positive"):
        await adapter.search_issues("export")

    assert len(fake.requests) == 1


async def test_graphql_errors_inside_a_200_are_raised_as_well(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear
    fake.fail_next(json_response(200, {"data": None, **rate_limit_body()}), fake.rate_limited(0.01))

    page = await adapter.search_issues("export")

    assert page.items
    assert len(fake.requests) == 3


async def test_a_created_issue_gets_the_id_its_idempotency_key_names_and_the_teams_labels(
    linear: tuple[Linear, FakeLinear],
):
    adapter, fake = linear

    receipt = await adapter.create_issue(
        "Globex export regression", "Steps.", labels=["EXPORT", "escalation", "no-such-label"], idempotency_key="k-1"
    )

    create = sent(fake, "issueCreate")[0]["variables"]["input"]
    assert create["id"] == issue_id_for("k-1")
    assert uuid.UUID(create["id"]).version == 4
    assert create["teamId"] == TEAM_ID
    assert create["description"] == "Steps."
    export_label = next(label.id for label in fake.labels if label.name == "export")
    assert create["labelIds"] == [export_label]  # "Escalation" belongs to another team; the unknown one is skipped
    assert receipt.id == "ENG-4"
    assert receipt.url == "https://linear.app/acme/issue/ENG-4/globex-export-regression"
    assert not receipt.duplicate


def test_the_issue_id_is_stable_for_a_key_and_differs_between_keys():
    assert issue_id_for("k-1") == issue_id_for("k-1")
    assert issue_id_for("k-1") != issue_id_for("k-2")


async def test_a_key_replayed_after_a_restart_finds_the_issue_linear_already_holds():
    adapter, fake = make(scenario())
    first = await adapter.create_issue("Export regression", "Body", labels=[], idempotency_key="k-restart")
    await adapter.aclose()
    restarted = Linear(
        LinearSettings(token=TOKEN, team="ENG"),  # pyright: ignore[reportArgumentType]
        policy=FAST,
        transport=fake.transport(),
    )

    again = await restarted.create_issue("Export regression", "Body", labels=[], idempotency_key="k-restart")

    assert again.duplicate
    assert again.id == first.id
    assert [i.title for i in fake.issues].count("Export regression") == 1
    await restarted.aclose()


async def test_a_create_whose_answer_was_lost_is_retried_and_answered_with_the_issue_it_made():
    fake = FakeLinear(scenario())
    inner = fake.transport()
    lost: list[str] = []

    async def lose_first_create_answer(request: httpx.Request) -> httpx.Response:
        response = await inner.handle_async_request(request)
        if b"issueCreate" in request.content and not lost:
            lost.append("once")
            raise httpx.ReadTimeout("the answer never came", request=request)
        return response

    adapter = Linear(
        LinearSettings(token=TOKEN, team="ENG"),  # pyright: ignore[reportArgumentType]
        policy=FAST,
        transport=httpx.MockTransport(lose_first_create_answer),
    )

    receipt = await adapter.create_issue("Export regression", "Body", labels=[], idempotency_key="k-lost")

    creates = sent(fake, "issueCreate")
    assert len(creates) == 2
    assert creates[0]["variables"]["input"]["id"] == creates[1]["variables"]["input"]["id"]
    assert receipt.id == "ENG-4"
    assert [i.title for i in fake.issues].count("Export regression") == 1
    await adapter.aclose()


async def test_a_create_answered_500_is_retried_with_the_same_issue_id(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear
    await adapter.create_issue("Warm-up", "", labels=[], idempotency_key="k-warm")  # resolves the team
    fake.fail_next(fake.server_error())

    receipt = await adapter.create_issue("Export regression", "", labels=[], idempotency_key="k-500")

    creates = sent(fake, "issueCreate")[1:]
    assert len(creates) == 2
    assert creates[0]["variables"]["input"]["id"] == creates[1]["variables"]["input"]["id"]
    assert not receipt.duplicate
    assert [i.title for i in fake.issues].count("Export regression") == 1


async def test_the_team_key_is_looked_up_once(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear

    await adapter.create_issue("One", "", labels=[], idempotency_key="k-a")
    await adapter.create_issue("Two", "", labels=[], idempotency_key="k-b")

    assert len(sent(fake, "teams")) == 1
    assert sent(fake, "teams")[0]["variables"] == {"key": "ENG"}


async def test_a_team_given_by_id_is_used_without_a_lookup():
    fake = FakeLinear(scenario())
    adapter = Linear(
        LinearSettings(token=TOKEN, team=TEAM_ID),  # pyright: ignore[reportArgumentType]
        policy=FAST,
        transport=fake.transport(),
    )

    await adapter.create_issue("One", "", labels=[], idempotency_key="k-id")

    assert not sent(fake, "teams")
    assert sent(fake, "issueCreate")[0]["variables"]["input"]["teamId"] == TEAM_ID
    await adapter.aclose()


async def test_a_given_project_is_the_team_the_issue_is_created_in():
    fake = FakeLinear(scenario())
    adapter = Linear(
        LinearSettings(token=TOKEN, team="OPS"),  # pyright: ignore[reportArgumentType]
        policy=FAST,
        transport=fake.transport(),
    )

    await adapter.create_issue(
        "One", "## Steps\n\n1. Export", labels=[], idempotency_key="k-proj", project=TEAM_KEY, kind="bug"
    )

    assert sent(fake, "teams")[0]["variables"] == {"key": TEAM_KEY}
    create = sent(fake, "issueCreate")[0]["variables"]["input"]
    assert (create["teamId"], create["description"]) == (TEAM_ID, "## Steps\n\n1. Export")
    await adapter.aclose()


async def test_an_unknown_project_team_is_not_found_naming_the_projects_variable(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear

    with pytest.raises(NotFoundError, match="ESCALATION_TRACKER_PROJECTS"):
        await adapter.create_issue("One", "", labels=[], idempotency_key="k-p", project="NOPE")

    assert not sent(fake, "issueCreate")


async def test_an_unknown_team_key_is_not_found_naming_the_variable():
    fake = FakeLinear(scenario())
    adapter = Linear(
        LinearSettings(token=TOKEN, team="OPS"),  # pyright: ignore[reportArgumentType]
        policy=FAST,
        transport=fake.transport(),
    )

    with pytest.raises(NotFoundError, match="ESCALATION_LINEAR_TEAM"):
        await adapter.create_issue("One", "", labels=[], idempotency_key="k-team")

    assert not sent(fake, "issueCreate")
    await adapter.aclose()


async def test_the_health_check_names_the_viewer_and_the_request_budget_left(linear: tuple[Linear, FakeLinear]):
    adapter, fake = linear

    health = await adapter.check()

    assert health.detail == "authenticated as Ada Ops <ada@acme.test>"
    assert health.headroom == "2499 of 2500 left"  # this request spent one
    assert "viewer" in graphql(fake.requests[0])["query"]


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESCALATION_LINEAR_TOKEN", raising=False)
    monkeypatch.setenv("ESCALATION_LINEAR_TEAM", "ENG")

    with pytest.raises(ConfigError, match="ESCALATION_LINEAR_TOKEN is not set"):
        products.load_settings(LinearSettings)


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_LINEAR_TOKEN", "lin_api_x")
    monkeypatch.setenv("ESCALATION_LINEAR_TEAM", "ENG")
    monkeypatch.setenv("ESCALATION_LINEAR_TOKEN_TYPE", "oauth")

    settings = products.load_settings(LinearSettings)

    assert isinstance(settings, LinearSettings)
    assert settings.token.get_secret_value() == "lin_api_x"
    assert settings.token_type == "oauth"
    assert settings.base_url is None


async def test_a_rate_limit_over_a_real_socket_is_waited_out():
    fake = FakeLinear(scenario())
    fake.fail_next(fake.rate_limited(0.05))
    async with serve(Delegate(fake, origin="https://api.linear.app")) as upstream:
        adapter = Linear(
            LinearSettings(token=TOKEN, team="ENG", base_url=upstream.url),  # pyright: ignore[reportArgumentType]
            policy=FAST,
        )
        with anyio.fail_after(5):
            page = await adapter.search_issues("export")
        await adapter.aclose()

    assert {i.id for i in page.items} == {"ENG-1", "ENG-2"}
    assert upstream.hits["/graphql"] == 2
