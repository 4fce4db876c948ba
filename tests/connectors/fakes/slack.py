"""A fake Slack workspace serving the scenario's messages through the Web API methods the adapter calls.

Shapes follow the method reference pages (docs.slack.dev/reference/methods/...): every answer is
`{"ok": true, ...}` or HTTP 200 `{"ok": false, "error": "<code>"}`; search matches carry
`channel{id,name}`, `user`, `username`, `text`, `ts`, `permalink` with `paging`/`pagination`; a rate
limit is HTTP 429 with Retry-After and `{"ok": false, "error": "ratelimited"}`
(docs.slack.dev/apis/web-api/rate-limits). Search, like Slack's, ANDs the words of a query.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.vendors.slack import Slack, SlackSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, json_response
from tests.connectors.scenario import TOKEN

PORT = "chat"
BOT_TOKEN = "xoxb-fake-bot-0123456789abcdef"
TEAM = "Acme"
WORKSPACE_URL = "https://acme.slack.com"
BOT_NAME = "escalation-bot"
USER_NAME = "support-lead"


def ok(**fields: Any) -> httpx.Response:
    return json_response(200, {"ok": True, **fields})


def refused(error: str, **fields: Any) -> httpx.Response:
    """Slack's error answer: HTTP 200 with `ok: false` (docs.slack.dev/apis/web-api/#responses)."""
    return json_response(200, {"ok": False, "error": error, **fields})


def ts_of(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


class FakeSlack(FakeVendor):
    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        self.bot_token = BOT_TOKEN
        names = sorted({m.channel for m in workspace.messages} | {"general"})
        self.channels: dict[str, str] = {name: f"C{index:08d}" for index, name in enumerate(names, 1)}
        self.users: dict[str, str] = {}
        # Stored as Slack keeps them: channel id, ts, user id, username, text, thread_ts.
        self.messages: list[dict[str, Any]] = [
            self._stored(m.channel, ts_of(m.posted_at), m.author, m.text, m.thread_id) for m in workspace.messages
        ]
        self.page_cap = 100  # the largest page this workspace's search serves, whatever `count` asks for
        self.outage = False  # True: every method answers HTTP 500 until it is False again

    def add_message(self, channel: str, text: str, ts: str, author: str = "dave") -> None:
        self.channels.setdefault(channel, f"C{len(self.channels) + 1:08d}")
        self.messages.append(self._stored(channel, ts, author, text, None))

    def _stored(self, channel: str, ts: str, author: str, text: str, thread_ts: str | None) -> dict[str, Any]:
        user = self.users.setdefault(author, f"U{len(self.users) + 1:08d}")
        return {
            "channel": self.channels[channel],
            "ts": ts,
            "user": user,
            "username": author,
            "text": text,
            "thread_ts": thread_ts,
        }

    def bearer(self, request: httpx.Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header.removeprefix("Bearer ") if header.startswith("Bearer ") else None

    def authorized(self, request: httpx.Request) -> bool:
        # https://docs.slack.dev/authentication/tokens (tokens go in an Authorization: Bearer header)
        return self.bearer(request) in (self.token, self.bot_token)

    def unauthorized(self) -> httpx.Response:
        return refused("invalid_auth")

    def rate_limited(self, retry_after: float) -> httpx.Response:
        # https://docs.slack.dev/apis/web-api/rate-limits (429, Retry-After in seconds)
        return json_response(429, {"ok": False, "error": "ratelimited"}, {"retry-after": f"{retry_after:g}"})

    def server_error(self) -> httpx.Response:
        # Docs are silent on 5xx bodies; Slack's error envelope with its `internal_error` code.
        return json_response(500, {"ok": False, "error": "internal_error"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.outage:
            return self.server_error()
        method = request.url.path.rsplit("/", 1)[-1]
        if method == "search.messages" and request.method == "GET":
            return self._search(request)
        if method == "chat.postMessage" and request.method == "POST":
            return self._post(request)
        if method == "chat.getPermalink" and request.method == "GET":
            return self._permalink(request)
        if method == "auth.test" and request.method == "POST":
            return self._auth_test(request)
        return refused("unknown_method")

    def _channel_name(self, channel_id: str) -> str:
        return next(name for name, cid in self.channels.items() if cid == channel_id)

    def _permalink_of(self, message: dict[str, Any]) -> str:
        link = f"{WORKSPACE_URL}/archives/{message['channel']}/p{message['ts'].replace('.', '')}"
        if message["thread_ts"]:
            link += f"?thread_ts={message['thread_ts']}&cid={message['channel']}"
        return link

    # https://docs.slack.dev/reference/methods/search.messages
    def _search(self, request: httpx.Request) -> httpx.Response:
        if self.bearer(request) == self.bot_token:
            return refused("not_allowed_token_type")
        params = request.url.params
        query = params.get("query", "")
        if not query.strip():
            return refused("no_query")
        # The reference caps `count` at 100 and reports the page size it applied in `paging.count` and
        # `pagination.per_page`; `page_cap` lets a test make that smaller than what was asked for.
        count = min(int(params.get("count", "20")), 100, self.page_cap)
        page = int(params.get("page", "1"))
        words = [w.lower() for w in re.findall(r"\w+", query)]
        hits = [m for m in self.messages if all(w in m["text"].lower() for w in words)]
        hits.sort(key=lambda m: -float(m["ts"]))  # stands in for Slack's score order: opaque, but stable
        chunk = hits[(page - 1) * count : page * count]
        pages = max(1, math.ceil(len(hits) / count))
        matches = [
            {
                "channel": {
                    "id": m["channel"],
                    "is_private": False,
                    "is_mpim": False,
                    "name": self._channel_name(m["channel"]),
                },
                "iid": f"iid-{m['channel']}-{m['ts']}",
                "permalink": self._permalink_of(m),
                "team": "T00000001",
                "text": m["text"],
                "ts": m["ts"],
                "type": "message",
                "user": m["user"],
                "username": m["username"],
            }
            for m in chunk
        ]
        return ok(
            query=query,
            messages={
                "matches": matches,
                "pagination": {
                    "first": (page - 1) * count + 1,
                    "last": (page - 1) * count + len(chunk),
                    "page": page,
                    "page_count": pages,
                    "per_page": count,
                    "total_count": len(hits),
                },
                "paging": {"count": count, "page": page, "pages": pages, "total": len(hits)},
                "total": len(hits),
            },
        )

    # https://docs.slack.dev/reference/methods/chat.postMessage
    def _post(self, request: httpx.Request) -> httpx.Response:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return refused("invalid_form_data")
        body = json.loads(request.content)
        channel = str(body.get("channel", ""))
        text = str(body.get("text", ""))
        channel_id = channel if channel in self.channels.values() else self.channels.get(channel)
        if channel_id is None:
            return refused("channel_not_found")
        if not text:
            return refused("no_text")
        as_bot = self.bearer(request) == self.bot_token
        author = BOT_NAME if as_bot else USER_NAME
        latest = max((float(m["ts"]) for m in self.messages), default=datetime.now(UTC).timestamp())
        ts = f"{latest + 1:.6f}"
        message = self._stored(self._channel_name(channel_id), ts, author, text, None)
        self.messages.append(message)
        posted: dict[str, Any] = {"type": "message", "text": text, "ts": ts}
        posted |= (
            {"subtype": "bot_message", "bot_id": "B00000001", "username": BOT_NAME}
            if as_bot
            else {"user": message["user"]}
        )
        return ok(channel=channel_id, ts=ts, message=posted)

    # https://docs.slack.dev/reference/methods/chat.getPermalink
    def _permalink(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        message = next(
            (m for m in self.messages if m["channel"] == params.get("channel") and m["ts"] == params.get("message_ts")),
            None,
        )
        if message is None:
            return refused("message_not_found")
        return ok(channel=message["channel"], permalink=self._permalink_of(message))

    # https://docs.slack.dev/reference/methods/auth.test
    def _auth_test(self, request: httpx.Request) -> httpx.Response:
        who: dict[str, Any] = {"url": f"{WORKSPACE_URL}/", "team": TEAM, "team_id": "T00000001"}
        if self.bearer(request) == self.bot_token:
            return ok(**who, user=BOT_NAME, user_id="U0BOT0001", bot_id="B00000001", is_enterprise_install=False)
        return ok(**who, user=USER_NAME, user_id="U00000000", is_enterprise_install=False)


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[Slack, FakeSlack]:
    fake = FakeSlack(workspace, token=token)
    settings = SlackSettings(token=SecretStr(token), bot_token=SecretStr(BOT_TOKEN))
    adapter = Slack(settings, policy=FAST, transport=fake.transport())
    return adapter, fake
