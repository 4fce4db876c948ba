"""Slack: a user token searches word by word, a bot token posts JSON, and errors come inside 200s."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.errors import AuthError, InvalidCursorError, NotFoundError, UpstreamError
from connectors.products import ConfigError, load_settings
from connectors.vendors.slack import MAX_COUNT, Slack, SlackSettings, plain, window
from tests.connectors.contract.conftest import scenario
from tests.connectors.fakes.base import FAST, json_response
from tests.connectors.fakes.slack import BOT_NAME, BOT_TOKEN, USER_NAME, FakeSlack, make, refused
from tests.connectors.scenario import TOKEN


@pytest.fixture
async def slack() -> AsyncIterator[tuple[Slack, FakeSlack]]:
    adapter, fake = make(scenario())
    yield adapter, fake
    await adapter.aclose()


async def test_a_search_sends_the_user_token_and_asks_slack_for_exactly_the_page_it_needs(
    slack: tuple[Slack, FakeSlack],
):
    adapter, fake = slack

    page = await adapter.search_messages("export", limit=2)

    request = fake.requests[0]
    assert request.method == "GET"
    assert request.url.path == "/api/search.messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert dict(request.url.params) == {"query": "export", "count": "2", "page": "1", "sort": "score"}
    assert len(page.items) == 2
    assert page.next_cursor == "2"


async def test_a_matched_message_keeps_its_channel_author_time_link_and_thread(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.messages[0]["thread_ts"] = "1700000000.000100"  # m1 as a reply in a thread

    page = await adapter.search_messages("Globex", limit=5)

    [message] = page.items
    assert message.channel == "support-escalations"
    assert message.author == "alice"
    assert message.text == "Globex says the CSV export times out again"
    assert message.posted_at == scenario().messages[0].posted_at
    assert message.url is not None
    assert message.url.startswith("https://acme.slack.com/archives/C")
    assert message.thread_id == "1700000000.000100"
    assert message.id == f"{fake.channels['support-escalations']}/{fake.messages[0]['ts']}"


async def test_a_sentence_is_searched_one_word_at_a_time_because_slack_ands_the_words(
    slack: tuple[Slack, FakeSlack],
):
    adapter, fake = slack

    page = await adapter.search_messages("Globex export spinner", limit=10)

    assert sorted(r.url.params["query"] for r in fake.requests) == ["export", "globex", "spinner"]
    assert all(r.url.params["count"] == str(MAX_COUNT) for r in fake.requests)
    texts = [m.text for m in page.items]
    # m1 (globex, export) and m4 (export, spinner) share two words; m2 only "export".
    assert set(texts[:2]) == {"Globex says the CSV export times out again", "Initech export spinner never finishes"}
    assert texts[2:] == ["Export workers are saturated since the deploy"]


async def test_a_sentence_search_resumes_from_its_cursor_without_gaps_or_repeats(slack: tuple[Slack, FakeSlack]):
    adapter, _ = slack
    whole = await adapter.search_messages("Globex export spinner lunch", limit=10)

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = await adapter.search_messages("Globex export spinner lunch", limit=1, cursor=cursor)
        seen += [m.id for m in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [m.id for m in whole.items]
    assert len(seen) == 4


async def test_only_the_first_four_key_words_are_searched_to_spare_the_tier_2_budget(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack

    await adapter.search_messages("globex export spinner timeout workers deploy", limit=5)

    assert sorted(r.url.params["query"] for r in fake.requests) == ["export", "globex", "spinner", "timeout"]


async def test_a_query_without_key_words_finds_nothing_and_costs_no_call(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack

    page = await adapter.search_messages("is it the", limit=5)

    assert page.items == []
    assert page.next_cursor is None
    assert fake.requests == []


@pytest.mark.parametrize(
    ("markup", "readable"),
    [
        ("<@U024BE7LH|ann> saw it in <#C024BE7LR|ops>", "@ann saw it in #ops"),
        ("<@U024BE7LH> please look", "@U024BE7LH please look"),
        ("<!here> export is down", "@here export is down"),
        ("<!subteam^SAZ94GDB8|@oncall> paged", "@oncall paged"),
        (
            "see <https://status.acme.example|the status page> or <https://acme.example>",
            "see the status page or https://acme.example",
        ),
        ("a &lt; b &amp;&amp; c &gt; d", "a < b && c > d"),
    ],
)
def test_slack_markup_reads_as_plain_text(markup: str, readable: str):
    assert plain(markup) == readable


async def test_search_results_come_back_as_plain_text(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.messages[1]["text"] = "<@U00000001|alice> export &amp; import workers are saturated"

    page = await adapter.search_messages("import", limit=5)

    assert [m.text for m in page.items] == ["@alice export & import workers are saturated"]


@pytest.mark.parametrize(
    ("offset", "size", "expected"),
    [
        (0, 2, (2, 1, 0)),  # the first page is asked for exactly
        (2, 20, (22, 1, 2)),  # a cursor inside page one: one bigger page, skipping what was seen
        (20, 10, (10, 3, 0)),  # aligned: page 3 of 10
        (250, 100, (100, 3, 50)),  # past what one page can hold: a partial page, the rest next time
    ],
)
def test_a_cursor_offset_is_served_from_one_slack_page(offset: int, size: int, expected: tuple[int, int, int]):
    count, page, skip = window(offset, size)

    assert (count, page, skip) == expected
    assert count <= MAX_COUNT
    assert (page - 1) * count + skip == offset


async def test_a_post_goes_out_as_json_with_the_bot_token_and_its_receipt_links_the_message(
    slack: tuple[Slack, FakeSlack],
):
    adapter, fake = slack

    receipt = await adapter.post_message("#support-escalations", "Escalating the Globex export", idempotency_key="k1")

    post = fake.requests[0]
    assert post.url.path == "/api/chat.postMessage"
    assert post.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert post.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(post.content) == {
        "channel": "support-escalations",
        "text": "Escalating the Globex export",
        "unfurl_links": False,
        "unfurl_media": False,
    }
    channel_id = fake.channels["support-escalations"]
    assert receipt.id.startswith(f"{channel_id}/")
    assert receipt.url is not None
    assert receipt.url.startswith(f"https://acme.slack.com/archives/{channel_id}/p")
    assert fake.messages[-1]["username"] == BOT_NAME


async def test_a_post_with_blocks_sends_them_with_the_text_as_fallback_and_no_unfurling(
    slack: tuple[Slack, FakeSlack],
):
    adapter, fake = slack
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "ESCALATION: Globex export", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Severity:* high"}},
    ]

    await adapter.post_message(
        "#support-escalations", "*ESCALATION: Globex export*", idempotency_key="kb", blocks=blocks
    )

    assert json.loads(fake.requests[0].content) == {
        "channel": "support-escalations",
        "text": "*ESCALATION: Globex export*",
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


async def test_a_post_accepts_a_channel_id_and_is_then_found_by_a_search(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack

    await adapter.post_message(
        fake.channels["eng-data"], "Regression suspected in the nightly exporter", idempotency_key="k2"
    )
    found = await adapter.search_messages("exporter regression", limit=5)

    assert [m.channel for m in found.items] == ["eng-data"]


async def test_without_a_bot_token_the_user_token_posts():
    fake = FakeSlack(scenario())
    adapter = Slack(SlackSettings(token=SecretStr(TOKEN)), policy=FAST, transport=fake.transport())

    await adapter.post_message("general", "hello", idempotency_key="k3")

    assert fake.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert fake.messages[-1]["username"] == USER_NAME
    await adapter.aclose()


async def test_a_post_is_not_retried_after_a_server_error_since_slack_has_no_idempotency_key(
    slack: tuple[Slack, FakeSlack],
):
    adapter, fake = slack
    before = len(fake.messages)
    fake.fail_next(fake.server_error())

    with pytest.raises(UpstreamError) as raised:
        await adapter.post_message("general", "hello", idempotency_key="k4")

    assert raised.value.status == 500
    assert len(fake.requests) == 1
    assert len(fake.messages) == before


async def test_a_post_that_failed_can_be_retried_with_the_same_key(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.fail_next(fake.server_error())
    with pytest.raises(UpstreamError):
        await adapter.post_message("general", "hello", idempotency_key="k5")

    receipt = await adapter.post_message("general", "hello", idempotency_key="k5")

    assert not receipt.duplicate
    assert [m["text"] for m in fake.messages].count("hello") == 1


async def test_a_lost_permalink_does_not_fail_a_message_that_was_posted(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.fail_next(json_response(200, {"ok": True, "channel": "C00000002", "ts": "1.000000"}))
    fake.fail_next(*[fake.server_error() for _ in range(4)])

    receipt = await adapter.post_message("general", "hello", idempotency_key="k6")

    assert receipt.id == "C00000002/1.000000"
    assert receipt.url is None


async def test_an_unknown_channel_is_not_found(slack: tuple[Slack, FakeSlack]):
    adapter, _ = slack

    with pytest.raises(NotFoundError, match="channel_not_found"):
        await adapter.post_message("no-such-channel", "hello", idempotency_key="k7")


async def test_a_rejected_bot_token_names_the_bot_token_variable(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.bot_token = "xoxb-revoked"

    with pytest.raises(AuthError) as raised:
        await adapter.post_message("general", "hello", idempotency_key="k8")

    assert "ESCALATION_SLACK_BOT_TOKEN" in str(raised.value)
    assert BOT_TOKEN not in str(raised.value)


async def test_a_bot_token_given_as_the_search_token_is_explained():
    fake = FakeSlack(scenario())
    settings = SlackSettings(token=SecretStr(BOT_TOKEN))
    adapter = Slack(settings, policy=FAST, transport=fake.transport())

    with pytest.raises(AuthError, match="user token") as raised:
        await adapter.search_messages("export")

    assert "ESCALATION_SLACK_TOKEN" in str(raised.value)
    await adapter.aclose()


async def test_a_missing_scope_names_the_scope_slack_asked_for(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.fail_next(refused("missing_scope", needed="search:read", provided="chat:write"))

    with pytest.raises(AuthError, match=r"missing_scope, needs search:read"):
        await adapter.search_messages("export")


async def test_ratelimited_inside_a_200_is_waited_out_like_a_429(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.fail_next(json_response(200, {"ok": False, "error": "ratelimited"}, {"retry-after": "0.01"}))

    page = await adapter.search_messages("export", limit=5)

    assert len(page.items) == 3
    assert len(fake.requests) == 2


async def test_a_429_pauses_every_word_of_a_sentence_search_then_succeeds(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.fail_next(fake.rate_limited(0.02))

    page = await adapter.search_messages("export spinner", limit=5)

    assert len(page.items) == 3
    assert len(fake.requests) == 3  # two words, one of them asked twice


async def test_the_health_check_names_the_searching_user_and_the_posting_bot(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack

    health = await adapter.check()

    assert health.ok
    assert health.detail == f"authenticated as {USER_NAME} (search) and {BOT_NAME} (posts) in Acme"
    assert [r.headers["authorization"] for r in fake.requests] == [f"Bearer {TOKEN}", f"Bearer {BOT_TOKEN}"]


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ESCALATION_SLACK_TOKEN", raising=False)

    with pytest.raises(ConfigError, match="ESCALATION_SLACK_TOKEN is not set"):
        load_settings(SlackSettings)


def test_settings_read_both_tokens_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_SLACK_TOKEN", "xoxp-1")
    monkeypatch.setenv("ESCALATION_SLACK_BOT_TOKEN", "xoxb-2")

    settings = load_settings(SlackSettings)

    assert isinstance(settings, SlackSettings)
    assert settings.token.get_secret_value() == "xoxp-1"
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == "xoxb-2"
    assert "xoxp-1" not in repr(settings)


def acme_workspace(fake: FakeSlack) -> None:
    """Six messages naming Acme (two of them also orders) and two more about orders only: 8 for "acme orders"."""
    texts = [f"acme status {i}" for i in range(4)] + ["acme orders stuck", "acme orders late"]
    texts += ["orders queue backed up", "orders export slow"]
    for i, text in enumerate(texts):
        fake.add_message("ops", text, f"{1_800_000_000 + i}.000100")


async def test_a_word_search_follows_slacks_own_smaller_pages_to_every_match(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    acme_workspace(fake)
    fake.page_cap = 3  # Slack serves 3 a page whatever the count asked

    page = await adapter.search_messages("acme", limit=10)

    assert len(page.items) == 6  # not 3 of 6
    assert len({m.id for m in page.items}) == 6
    assert not page.truncated


async def test_a_word_search_cut_at_the_limit_hands_back_a_cursor_that_resumes_on_slacks_pages(
    slack: tuple[Slack, FakeSlack],
):
    adapter, fake = slack
    acme_workspace(fake)
    fake.page_cap = 4

    first = await adapter.search_messages("acme", limit=5)
    rest = await adapter.search_messages("acme", limit=5, cursor=first.next_cursor)

    assert first.truncated
    assert len({m.id for m in first.items + rest.items}) == 6
    assert not rest.truncated


async def test_a_sentence_search_reaches_every_match_beyond_each_words_first_page(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    acme_workspace(fake)
    fake.page_cap = 2

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        page = await adapter.search_messages("acme orders", limit=3, cursor=cursor)
        seen += [m.id for m in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert len(seen) == 8  # not 4 of 8
    assert len(set(seen)) == 8
    whole = await adapter.search_messages("acme orders", limit=50)
    assert sorted(m.id for m in whole.items) == sorted(seen)


async def test_a_sentence_search_reaches_matches_past_slacks_largest_page_through_the_cursor(
    slack: tuple[Slack, FakeSlack],
):
    adapter, fake = slack
    for i in range(150):
        fake.add_message("ops", f"acme alert {i}", f"{1_800_000_000 + i}.000200")

    first = await adapter.search_messages("acme alert", limit=100)
    rest = await adapter.search_messages("acme alert", limit=100, cursor=first.next_cursor)
    whole = await adapter.search_messages("acme alert", limit=200)

    assert len(first.items) == 100  # every word's first page, then the cursor to their second pages
    assert first.next_cursor == "2.0"
    assert len({m.id for m in first.items + rest.items}) == 150
    assert rest.next_cursor is None
    assert len(whole.items) == 150  # one call with room for all follows the pages itself
    assert whole.next_cursor is None


async def test_one_failed_sentence_search_does_not_keep_a_recovered_slack_shut_out(slack: tuple[Slack, FakeSlack]):
    adapter, fake = slack
    fake.outage = True
    with pytest.raises(UpstreamError, match="HTTP 500"):
        await adapter.search_messages("Globex export spinner lunch", limit=5)

    fake.outage = False
    page = await adapter.search_messages("Globex export spinner lunch", limit=5)

    assert page.items


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.2.3", "0.5", "99.0", "1e3", " 5", "2.0"])
async def test_a_forged_cursor_is_refused_before_any_request(slack: tuple[Slack, FakeSlack], cursor: str):
    adapter, fake = slack
    query = "Globex export" if cursor != "2.0" else "export"  # a sentence's cursor on a single word

    with pytest.raises(InvalidCursorError, match="start again without a cursor"):
        await adapter.search_messages(query, limit=5, cursor=cursor)
    assert fake.requests == []
