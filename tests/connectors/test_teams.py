"""Microsoft Teams through Graph: Microsoft Search ORs the key words, hits become plain-text messages with
channel names, posts go to a channel as escaped HTML, and a delegated token's failures say what to do."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
import pytest
from pydantic import SecretStr

from connectors.errors import AuthError, NotFoundError, UpstreamError
from connectors.products import ConfigError, load_settings
from connectors.vendors.teams import PAGE_SIZE, Teams, TeamsSettings, as_html, channel_of_link, plain
from tests.connectors.contract.conftest import scenario
from tests.connectors.fakes.base import FAST, body_of, json_response
from tests.connectors.fakes.teams import (
    CLIENT_ID,
    LOGIN_HOST,
    ME,
    REFRESH_TOKEN,
    TEAM_ID,
    FakeTeams,
    graph_error,
    make,
    make_with_refresh_token,
)
from tests.connectors.scenario import ANCHOR, TOKEN


@pytest.fixture
async def teams() -> AsyncIterator[tuple[Teams, FakeTeams]]:
    adapter, fake = make(scenario())
    yield adapter, fake
    await adapter.aclose()


def searches(fake: FakeTeams) -> list[dict[str, object]]:
    return [body_of(r)["requests"][0] for r in fake.requests if r.url.path == "/v1.0/search/query"]


def jwt(**claims: object) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


async def test_a_search_posts_the_key_words_as_one_kql_or_query_with_the_bearer_token(
    teams: tuple[Teams, FakeTeams],
):
    adapter, fake = teams

    await adapter.search_messages("Is the Globex export spinner broken?", limit=2)

    request = fake.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/v1.0/search/query"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert body_of(request) == {
        "requests": [
            {
                "entityTypes": ["chatMessage"],
                "query": {"queryString": "globex OR export OR spinner OR broken"},
                "from": 0,
                "size": 2,
            }
        ]
    }


async def test_a_sentence_finds_every_message_sharing_any_of_its_key_words(teams: tuple[Teams, FakeTeams]):
    adapter, _ = teams

    page = await adapter.search_messages("Globex lunch", limit=10)

    # KQL would AND the bare words and find nothing; ORed, the Globex message and the lunch one match.
    assert {m.text for m in page.items} == {"Globex says the CSV export times out again", "Lunch order is in"}


async def test_a_hit_becomes_a_message_with_its_channel_name_author_time_link_and_stable_id(
    teams: tuple[Teams, FakeTeams],
):
    adapter, fake = teams

    page = await adapter.search_messages("Globex", limit=5)

    [message] = page.items
    stored = fake.messages[0]
    assert message.id == f"{fake.channels['support-escalations']}/{stored['id']}"
    assert message.channel == "support-escalations"
    assert message.author == "alice"
    assert message.text == "Globex says the CSV export times out again"
    assert message.posted_at == scenario().messages[0].posted_at
    assert message.url is not None
    assert message.url.startswith("https://teams.microsoft.com/l/message/19%3A")
    assert message.thread_id is None


async def test_channel_names_are_looked_up_once_and_remembered(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams

    await adapter.search_messages("export", limit=10)
    await adapter.search_messages("export spinner", limit=10)

    lookups = [r.url.path for r in fake.requests if "/channels/" in r.url.path]
    assert sorted(lookups) == sorted(
        f"/v1.0/teams/{TEAM_ID}/channels/{fake.channels[name]}" for name in ("eng-data", "support-escalations")
    )


async def test_without_channel_read_permission_the_channel_id_stands_in_and_is_not_asked_again(
    teams: tuple[Teams, FakeTeams],
):
    adapter, fake = teams
    fake.channel_reads_refused = True

    first = await adapter.search_messages("Globex", limit=5)
    second = await adapter.search_messages("Globex", limit=5)

    assert [m.channel for m in first.items + second.items] == [fake.channels["support-escalations"]] * 2
    assert sum("/channels/" in r.url.path for r in fake.requests) == 1


async def test_paging_asks_for_exactly_what_is_wanted_from_the_offset_and_follows_more_results_available(
    teams: tuple[Teams, FakeTeams],
):
    adapter, fake = teams

    first = await adapter.search_messages("export", limit=2)
    rest = await adapter.search_messages("export", limit=10, cursor=first.next_cursor)

    assert [(s["from"], s["size"]) for s in searches(fake)] == [(0, 2), (2, 10)]
    assert first.next_cursor == "2"
    assert rest.next_cursor is None
    assert len(first.items) + len(rest.items) == 3


async def test_a_large_limit_is_fetched_in_pages_of_at_most_25(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    for n in range(60):
        fake.add(f"export retry {n}", author="dave", created=ANCHOR - timedelta(days=3, minutes=n), channel="eng-data")

    page = await adapter.search_messages("export", limit=55)

    assert [(s["from"], s["size"]) for s in searches(fake)] == [(0, PAGE_SIZE), (25, PAGE_SIZE), (50, 5)]
    assert len(page.items) == 55
    assert len({m.id for m in page.items}) == 55
    assert page.next_cursor == "55"


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        (
            "...<c0>Export</c0> workers are <c0>saturated</c0> <ddd/> since the deploy",
            "...Export workers are saturated … since the deploy",
        ),
        (
            '<p>Hi <at id="0">Megan Bowen</at>,</p>'
            '<p>export &amp; import fail <emoji id="smile" alt="🙂" title="Smile"></emoji></p>',
            "Hi @Megan Bowen,\n\nexport & import fail 🙂",
        ),
        ("line one<br>line two<br/>a &lt; b", "line one\nline two\na < b"),
        ("<div><style>p {color: red}</style>kept</div>", "kept"),
    ],
)
def test_teams_html_and_search_summaries_read_as_plain_text(markup: str, text: str):
    assert plain(markup) == text


async def test_a_body_in_the_hit_is_read_in_full_instead_of_the_summary(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    fake.bodies_in_hits = True
    long = "Export " + "detail " * 60 + "end"
    fake.add(f"<p>{long}</p>", author="erin", created=ANCHOR, channel="eng-data", content_type="html")

    page = await adapter.search_messages("detail", limit=1)

    assert page.items[0].text == long


async def test_without_a_body_a_long_message_reads_as_its_elided_summary(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    fake.add("Export " + "detail " * 60 + "end", author="erin", created=ANCHOR, channel="eng-data")

    page = await adapter.search_messages("detail", limit=1)

    assert page.items[0].text.startswith("Export detail detail")
    assert page.items[0].text.endswith("…")


async def test_chat_matches_are_left_out_unless_chats_are_included(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    chat = "19:8ea0e38b-efb3-4757-924a-5f94061cf8c2_97f62344-57dc-409c-88ad-c4af14158ff5@unq.gbl.spaces"
    fake.chats[chat] = "Globex war room"
    fake.add("Globex export is down for them too", author="frank", created=ANCHOR, chat=chat)

    default = await adapter.search_messages("Globex", limit=10)
    with_chats = Teams(
        TeamsSettings(token=SecretStr(TOKEN), team_id=TEAM_ID, include_chats=True),
        policy=FAST,
        transport=fake.transport(),
    )
    everything = await with_chats.search_messages("Globex", limit=10)
    await with_chats.aclose()

    assert [m.channel for m in default.items] == ["support-escalations"]
    assert [m.channel for m in everything.items] == ["Globex war room", "support-escalations"]
    assert everything.items[0].id.startswith(f"{chat}/")


async def test_a_reply_names_the_thread_it_belongs_to(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    parent = fake.messages[0]
    reply = fake.add(
        "Globex confirmed the retry worked",
        author="bob",
        created=ANCHOR,
        channel="support-escalations",
        reply_to=parent["id"],
    )

    page = await adapter.search_messages("retry", limit=5)

    channel = fake.channels["support-escalations"]
    assert [(m.id, m.thread_id) for m in page.items] == [(f"{channel}/{reply['id']}", f"{channel}/{parent['id']}")]


async def test_a_query_without_key_words_finds_nothing_and_costs_no_call(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams

    page = await adapter.search_messages("is it the", limit=5)

    assert page.items == []
    assert page.next_cursor is None
    assert fake.requests == []


async def test_a_post_by_channel_name_is_resolved_in_the_team_and_sent_as_escaped_html(
    teams: tuple[Teams, FakeTeams],
):
    adapter, fake = teams

    receipt = await adapter.post_message(
        "#Support-Escalations", "Globex <b>export</b> & co\nsee ticket 101", idempotency_key="k1"
    )

    listing, post = fake.requests
    channel = fake.channels["support-escalations"]
    assert listing.url.path == f"/v1.0/teams/{TEAM_ID}/channels"
    assert post.method == "POST"
    assert post.url.path == f"/v1.0/teams/{TEAM_ID}/channels/{channel}/messages"
    assert body_of(post) == {
        "body": {"contentType": "html", "content": "Globex &lt;b&gt;export&lt;/b&gt; &amp; co<br>see ticket 101"}
    }
    assert receipt.id == f"{channel}/{fake.messages[-1]['id']}"
    assert receipt.url is not None
    assert receipt.url.startswith("https://teams.microsoft.com/l/message/")


async def test_a_post_with_html_sends_that_html_as_the_body_not_the_escaped_text(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    rendered = "<h2>ESCALATION: Globex export</h2>\n<p><strong>Severity:</strong> high &amp; rising</p>"

    await adapter.post_message(
        f"{TEAM_ID}/{fake.channels['eng-data']}", "## ESCALATION: Globex export", idempotency_key="kh", html=rendered
    )

    (post,) = fake.requests
    assert body_of(post) == {"body": {"contentType": "html", "content": rendered}}


async def test_a_posted_message_is_found_by_a_later_search_as_it_was_written(teams: tuple[Teams, FakeTeams]):
    adapter, _ = teams

    await adapter.post_message(
        "eng-data", "Regression suspected in the nightly exporter & scheduler", idempotency_key="k2"
    )
    found = await adapter.search_messages("exporter", limit=5)

    assert [(m.channel, m.author, m.text) for m in found.items] == [
        ("eng-data", "Escalation Desk", "Regression suspected in the nightly exporter & scheduler")
    ]


@pytest.mark.parametrize(
    "where",
    [
        "{team}/{channel}",
        "https://teams.microsoft.com/l/channel/{quoted}/eng-data?groupId={team}&tenantId=2432b57b",
        "{channel}",
    ],
)
async def test_a_post_to_a_channel_given_by_ids_or_link_needs_no_lookup(teams: tuple[Teams, FakeTeams], where: str):
    adapter, fake = teams
    channel = fake.channels["eng-data"]
    quoted = channel.replace(":", "%3a").replace("@", "%40")

    await adapter.post_message(where.format(team=TEAM_ID, channel=channel, quoted=quoted), "hi", idempotency_key="k")

    assert [r.url.path for r in fake.requests] == [f"/v1.0/teams/{TEAM_ID}/channels/{channel}/messages"]


def test_a_teams_channel_link_gives_its_team_and_channel():
    link = (
        "https://teams.microsoft.com/l/channel/19%3a4a95f7d8db4c4e7fae857bcebe0623e6%40thread.tacv2/General"
        "?groupId=fbe2bf47-16c8-47cf-b4a5-4b9b187c508b&tenantId=2432b57b-0abd-43db-aa7b-16eadd115d34"
    )

    assert channel_of_link(link) == (
        "fbe2bf47-16c8-47cf-b4a5-4b9b187c508b",
        "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2",
    )
    assert channel_of_link("https://teams.microsoft.com/l/chat/19%3aabc%40thread.v2/0") is None


def test_posted_text_is_escaped_line_by_line():
    assert as_html("a < b\r\n<at>x</at>") == "a &lt; b<br>&lt;at&gt;x&lt;/at&gt;"


async def test_a_post_without_a_channel_goes_to_the_configured_default(teams: tuple[Teams, FakeTeams]):
    _, fake = teams
    channel = fake.channels["support-escalations"]
    settings = TeamsSettings(token=SecretStr(TOKEN), team_id=TEAM_ID, channel_id=channel)
    adapter = Teams(settings, policy=FAST, transport=fake.transport())

    receipt = await adapter.post_message("", "Escalating Globex", idempotency_key="k3")

    assert receipt.id.startswith(f"{channel}/")
    assert fake.messages[-1]["channelId"] == channel
    await adapter.aclose()


async def test_a_channel_name_unknown_in_the_team_is_not_found(teams: tuple[Teams, FakeTeams]):
    adapter, _ = teams

    with pytest.raises(NotFoundError, match="no channel named 'war-room'"):
        await adapter.post_message("war-room", "hello", idempotency_key="k4")


async def test_a_channel_name_without_a_configured_team_says_which_variable_to_set(teams: tuple[Teams, FakeTeams]):
    _, fake = teams
    adapter = Teams(TeamsSettings(token=SecretStr(TOKEN)), policy=FAST, transport=fake.transport())

    with pytest.raises(NotFoundError, match="ESCALATION_TEAMS_TEAM_ID"):
        await adapter.post_message("eng-data", "hello", idempotency_key="k5")

    assert fake.requests == []
    await adapter.aclose()


async def test_a_post_is_not_retried_after_a_server_error_since_graph_has_no_idempotency_key(
    teams: tuple[Teams, FakeTeams],
):
    adapter, fake = teams
    before = len(fake.messages)
    fake.fail_next(fake.server_error())

    with pytest.raises(UpstreamError) as raised:
        await adapter.post_message(f"{TEAM_ID}/{fake.channels['eng-data']}", "hello", idempotency_key="k6")

    assert raised.value.status == 500
    assert len(fake.requests) == 1
    assert len(fake.messages) == before


async def test_a_post_that_failed_can_be_retried_with_the_same_key_and_lands_once(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    where = f"{TEAM_ID}/{fake.channels['eng-data']}"
    fake.fail_next(fake.server_error())
    with pytest.raises(UpstreamError):
        await adapter.post_message(where, "hello", idempotency_key="k7")

    first = await adapter.post_message(where, "hello", idempotency_key="k7")
    again = await adapter.post_message(where, "hello", idempotency_key="k7")

    assert not first.duplicate
    assert again.duplicate
    assert [m["content"] for m in fake.messages].count("hello") == 1


async def test_an_expired_token_says_to_fetch_a_new_one(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    fake.token = "a-newer-token"

    with pytest.raises(AuthError) as raised:
        await adapter.search_messages("export")

    assert "InvalidAuthenticationToken" in str(raised.value)
    assert "expire" in str(raised.value)
    assert "ESCALATION_TEAMS_TOKEN" in str(raised.value)
    assert TOKEN not in str(raised.value)


async def test_a_refused_search_names_the_permission_it_needs_and_what_graph_said(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    fake.fail_next(fake.forbidden("Access to ChatMessage in Graph API requires: Chat.Read, ChannelMessage.Read.All"))

    with pytest.raises(AuthError) as raised:
        await adapter.search_messages("export")

    detail = raised.value.detail
    assert detail == (
        "refused (Forbidden): ESCALATION_TEAMS_TOKEN needs ChannelMessage.Read.All (CONNECTORS.md); "
        "Graph said: Access to ChatMessage in Graph API requires: Chat.Read, ChannelMessage.Read.All"
    )


async def test_a_refused_post_names_channel_message_send(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    fake.fail_next(fake.forbidden())

    with pytest.raises(AuthError, match=r"ESCALATION_TEAMS_TOKEN needs ChannelMessage\.Send"):
        await adapter.post_message(f"{TEAM_ID}/{fake.channels['eng-data']}", "hello", idempotency_key="k8")


async def test_graph_throttling_is_waited_out_for_its_retry_after_then_the_search_succeeds(
    teams: tuple[Teams, FakeTeams],
):
    adapter, fake = teams
    fake.fail_next(fake.rate_limited(0.02))

    started = time.monotonic()
    page = await adapter.search_messages("export", limit=5)

    assert time.monotonic() - started >= 0.02
    assert len(page.items) == 3
    assert len(searches(fake)) == 2


async def test_a_service_unavailable_search_is_retried(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    fake.fail_next(graph_error(503, "serviceNotAvailable", "Try again later.", {"retry-after": "0"}))

    page = await adapter.search_messages("export", limit=5)

    assert len(page.items) == 3


async def test_an_empty_search_answer_is_an_empty_page(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams
    fake.fail_next(
        json_response(
            200,
            {"value": [{"searchTerms": ["zebra"], "hitsContainers": [{"total": 0, "moreResultsAvailable": False}]}]},
        )
    )

    page = await adapter.search_messages("zebra", limit=5)

    assert page.items == []
    assert page.next_cursor is None


async def test_the_health_check_names_the_signed_in_user(teams: tuple[Teams, FakeTeams]):
    adapter, fake = teams

    health = await adapter.check()

    assert health.ok
    assert health.detail == f"authenticated as {ME['displayName']} ({ME['userPrincipalName']})"
    assert fake.requests[0].url.path == "/v1.0/me"


async def test_the_health_check_reads_expiry_and_post_permission_from_a_jwt_token():
    token = jwt(scp="ChannelMessage.Read.All Chat.Read User.Read", exp=int(time.time()) + 45 * 60 + 20)
    adapter, _ = make(scenario(), token=token)

    health = await adapter.check()

    assert health.ok
    assert health.detail.endswith("; posting needs ChannelMessage.Send; the token expires in 45 min")
    assert token not in health.detail
    await adapter.aclose()


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"scp": "ChannelMessage.Send User.Read"}, "lacks ChannelMessage.Read.All"),
        ({"roles": ["ChannelMessage.Read.All"]}, "app-only token"),
    ],
)
async def test_the_health_check_fails_a_token_that_cannot_search(claims: dict[str, object], reason: str):
    adapter, _ = make(scenario(), token=jwt(**claims))

    health = await adapter.check()

    assert not health.ok
    assert reason in health.detail
    assert "ESCALATION_TEAMS_TOKEN" in health.detail
    await adapter.aclose()


async def test_a_national_cloud_base_url_is_used_as_given(teams: tuple[Teams, FakeTeams]):
    _, fake = teams
    settings = TeamsSettings(token=SecretStr(TOKEN), base_url="https://graph.microsoft.us/v1.0/")
    adapter = Teams(settings, policy=FAST, transport=fake.transport())

    await adapter.search_messages("export", limit=1)

    assert str(fake.requests[0].url) == "https://graph.microsoft.us/v1.0/search/query"
    await adapter.aclose()


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKEN", "TEAM_ID", "CHANNEL_ID", "INCLUDE_CHATS", "BASE_URL", "CLIENT_ID", "CLIENT_SECRET",
                 "REFRESH_TOKEN", "TENANT"):  # fmt: skip
        monkeypatch.delenv(f"ESCALATION_TEAMS_{name}", raising=False)


def test_a_missing_token_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)

    with pytest.raises(ConfigError, match="ESCALATION_TEAMS_TOKEN is not set"):
        load_settings(TeamsSettings)


def test_a_default_channel_without_its_team_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_TEAMS_TOKEN", "eyJ0")
    monkeypatch.setenv("ESCALATION_TEAMS_CHANNEL_ID", "19:abc@thread.tacv2")

    with pytest.raises(ConfigError, match="ESCALATION_TEAMS_CHANNEL_ID needs ESCALATION_TEAMS_TEAM_ID"):
        load_settings(TeamsSettings)


def test_settings_read_the_environment_and_keep_the_token_secret(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_TEAMS_TOKEN", "eyJ0-secret")
    monkeypatch.setenv("ESCALATION_TEAMS_TEAM_ID", TEAM_ID)
    monkeypatch.setenv("ESCALATION_TEAMS_INCLUDE_CHATS", "true")

    settings = load_settings(TeamsSettings)

    assert isinstance(settings, TeamsSettings)
    assert settings.token is not None
    assert settings.token.get_secret_value() == "eyJ0-secret"
    assert settings.team_id == TEAM_ID
    assert settings.include_chats
    assert "eyJ0-secret" not in repr(settings)


# -- renewed tokens (refresh token grant) ----------------------------------------------------------


@pytest.fixture
async def renewing() -> AsyncIterator[tuple[Teams, FakeTeams]]:
    adapter, fake = make_with_refresh_token(scenario())
    yield adapter, fake
    await adapter.aclose()


async def test_with_a_refresh_token_the_first_search_gets_a_graph_token_from_the_identity_platform(
    renewing: tuple[Teams, FakeTeams],
):
    adapter, fake = renewing

    page = await adapter.search_messages("export", limit=5)

    token_request, search = fake.requests[:2]
    assert (token_request.method, str(token_request.url)) == (
        "POST",
        f"https://{LOGIN_HOST}/acme.onmicrosoft.com/oauth2/v2.0/token",
    )
    assert fake.token_requests() == [
        {
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": REFRESH_TOKEN,
            "scope": "https://graph.microsoft.com/.default offline_access",
        }
    ]  # a public client (device code sign-in) sends no secret
    assert search.headers["authorization"] == f"Bearer {fake.token}"
    assert len(page.items) == 3


async def test_an_expired_access_token_is_renewed_and_the_search_resent(renewing: tuple[Teams, FakeTeams]):
    adapter, fake = renewing
    await adapter.search_messages("export", limit=5)
    fake.expire_token()

    page = await adapter.search_messages("export", limit=5)

    assert len(page.items) == 3
    assert fake.issued == 2
    assert [r.url.host for r in fake.requests if r.url.path.endswith(("/token", "/search/query"))] == [
        LOGIN_HOST,
        "graph.microsoft.com",
        "graph.microsoft.com",  # refused: InvalidAuthenticationToken
        LOGIN_HOST,
        "graph.microsoft.com",
    ]


async def test_the_refresh_token_microsoft_rotates_in_is_the_one_used_next(renewing: tuple[Teams, FakeTeams]):
    adapter, fake = renewing
    await adapter.search_messages("export", limit=5)
    fake.refresh_tokens.discard(REFRESH_TOKEN)  # only the rotated one works from now on
    fake.expire_token()

    await adapter.search_messages("export", limit=5)

    first, second = fake.token_requests()
    assert first["refresh_token"] == REFRESH_TOKEN
    assert second["refresh_token"] != REFRESH_TOKEN
    assert second["refresh_token"] in fake.refresh_tokens


async def test_a_token_past_its_expires_in_is_renewed_before_graph_refuses_it(renewing: tuple[Teams, FakeTeams]):
    adapter, fake = renewing
    fake.lifetime = 0  # every token is stale as soon as it arrives

    await adapter.search_messages("Globex", limit=5)

    # Each Graph call (the search, the channel's name) went out with a token got just before: none was refused.
    assert [r.url.host for r in fake.requests] == [LOGIN_HOST, "graph.microsoft.com"] * 2
    assert fake.issued == 2


async def test_concurrent_searches_renew_an_expired_token_once(renewing: tuple[Teams, FakeTeams]):
    adapter, fake = renewing
    await adapter.search_messages("export", limit=1)
    fake.expire_token()
    fake.token_delay = 0.02
    found: list[int] = []

    async def search() -> None:
        found.append(len((await adapter.search_messages("export", limit=5)).items))

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(search)

    assert found == [3] * 6
    assert fake.issued == 2


async def test_a_post_refused_for_an_expired_token_is_sent_again_once_and_lands_once(
    renewing: tuple[Teams, FakeTeams],
):
    adapter, fake = renewing
    await adapter.search_messages("export", limit=1)
    fake.expire_token()
    before = len(fake.messages)

    receipt = await adapter.post_message(f"{TEAM_ID}/{fake.channels['eng-data']}", "hello", idempotency_key="r1")

    assert len(fake.messages) == before + 1
    assert receipt.id.endswith(fake.messages[-1]["id"])
    assert sum(r.method == "POST" and r.url.path.endswith("/messages") for r in fake.requests) == 2


async def test_an_expired_refresh_token_is_an_auth_error_naming_the_variables_without_the_token():
    adapter, _ = make_with_refresh_token(scenario(), refresh_token="0.AXkAlong-gone")

    with pytest.raises(AuthError) as raised:
        await adapter.search_messages("export")
    await adapter.aclose()

    message = str(raised.value)
    assert "could not get an access token from login.microsoftonline.com (HTTP 400, invalid_grant: AADSTS700082" in (
        message
    )
    assert "ESCALATION_TEAMS_CLIENT_ID" in message
    assert "ESCALATION_TEAMS_REFRESH_TOKEN" in message
    assert "new sign-in" in message
    assert "0.AXkAlong-gone" not in message


async def test_a_confidential_app_sends_its_secret_and_a_wrong_one_is_refused_without_being_shown():
    adapter, fake = make_with_refresh_token(scenario(), client_secret="the-right-secret")
    fake.client_secret = "the-right-secret"
    wrong, fake_for_wrong = make_with_refresh_token(scenario(), client_secret="a-wrong-secret")
    fake_for_wrong.client_secret = "the-right-secret"

    await adapter.search_messages("export", limit=1)
    with pytest.raises(AuthError) as raised:
        await wrong.search_messages("export", limit=1)
    await adapter.aclose()
    await wrong.aclose()

    assert fake.token_requests()[0]["client_secret"] == "the-right-secret"
    assert "invalid_client: AADSTS7000215" in str(raised.value)
    assert "a-wrong-secret" not in str(raised.value)


async def test_a_token_refused_even_after_renewal_says_to_check_the_refresh_token(renewing: tuple[Teams, FakeTeams]):
    adapter, fake = renewing
    fake.tokens_refused = True

    with pytest.raises(AuthError, match="even after renewing it; check that ESCALATION_TEAMS_REFRESH_TOKEN"):
        await adapter.search_messages("export")


async def test_the_health_check_with_a_refresh_token_reads_the_renewed_token(renewing: tuple[Teams, FakeTeams]):
    adapter, fake = renewing

    health = await adapter.check()

    assert health.ok, health.detail
    assert health.detail == f"authenticated as {ME['displayName']} ({ME['userPrincipalName']}); tokens are renewed"
    assert fake.issued == 1


async def test_the_health_check_reports_a_revoked_refresh_token(renewing: tuple[Teams, FakeTeams]):
    adapter, fake = renewing
    fake.refresh_tokens.clear()

    health = await adapter.check()

    assert not health.ok
    assert health.detail.startswith("credentials refused: could not get an access token")
    assert REFRESH_TOKEN not in health.detail


def test_neither_a_token_nor_a_refresh_token_is_a_config_error_naming_both_ways(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)

    with pytest.raises(ConfigError) as raised:
        load_settings(TeamsSettings)

    assert str(raised.value) == (
        "ESCALATION_TEAMS_TOKEN is not set (or set ESCALATION_TEAMS_CLIENT_ID and ESCALATION_TEAMS_REFRESH_TOKEN "
        "to have tokens renewed)"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"CLIENT_ID": CLIENT_ID}, "ESCALATION_TEAMS_CLIENT_ID and ESCALATION_TEAMS_REFRESH_TOKEN go together"),
        ({"REFRESH_TOKEN": "0.AXk"}, "ESCALATION_TEAMS_CLIENT_ID and ESCALATION_TEAMS_REFRESH_TOKEN go together"),
        ({"CLIENT_SECRET": "x"}, "ESCALATION_TEAMS_CLIENT_SECRET needs ESCALATION_TEAMS_CLIENT_ID"),
        (
            {"CLIENT_ID": CLIENT_ID, "REFRESH_TOKEN": "0.AXk", "TENANT": "acme/../x"},
            "ESCALATION_TEAMS_TENANT is invalid",
        ),
    ],
)
def test_an_incomplete_refresh_setting_is_a_config_error_naming_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, given: dict[str, str], message: str
):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_TEAMS_TOKEN", "eyJ0")
    for name, value in given.items():
        monkeypatch.setenv(f"ESCALATION_TEAMS_{name}", value)

    with pytest.raises(ConfigError, match=message):
        load_settings(TeamsSettings)


def test_refresh_settings_alone_are_enough_and_keep_the_refresh_token_secret(monkeypatch: pytest.MonkeyPatch):
    _clear(monkeypatch)
    monkeypatch.setenv("ESCALATION_TEAMS_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ESCALATION_TEAMS_REFRESH_TOKEN", "0.AXk-secret")

    settings = load_settings(TeamsSettings)

    assert isinstance(settings, TeamsSettings)
    assert settings.token is None
    assert settings.tenant == "organizations"
    assert settings.refresh_token is not None
    assert settings.refresh_token.get_secret_value() == "0.AXk-secret"
    assert "0.AXk-secret" not in repr(settings)
