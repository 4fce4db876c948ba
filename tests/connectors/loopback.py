"""A fake upstream on a real loopback socket, for the faults a MockTransport cannot show.

`serve()` runs uvicorn on 127.0.0.1 with a port the OS picks, inside the caller's event loop,
and yields a `Loopback` whose `mode` says how it answers (healthy, slow, hanging, rate
limited, failing, garbage, or a vendor fake's answer). `refused()` yields the URL of a port
nothing listens on. Every request is counted per path, so a test can tell "failed fast
without calling" from "called and failed". `serve_all` runs several at once, and
`vendor_fakes` / `vendor_adapters` wire the real Zendesk, HubSpot, Slack, Jira and Notion
adapters to them through their settings' `base_url`.

    async with serve(Slow(0.2, then=Delegate(fake))) as upstream:
        adapter = Zendesk(ZendeskSettings(..., base_url=upstream.url), policy=FAST)

Enter it in the test body, not in a pytest-asyncio fixture: such a fixture sets up and tears
down in two different tasks, and the task group running uvicorn must exit in the task that
entered it.
"""

from __future__ import annotations

import json
import socket
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import anyio
import httpx
import uvicorn
from pydantic import SecretStr

from connectors import Category, Connectors
from connectors.http.upstream import Policy
from connectors.vendors.hubspot import HubSpot, HubSpotSettings
from connectors.vendors.jira import Jira, JiraSettings
from connectors.vendors.notion import Notion, NotionSettings
from connectors.vendors.slack import Slack, SlackSettings
from connectors.vendors.zendesk import Zendesk, ZendeskSettings
from connectors.workspace import Workspace
from tests.connectors.fakes import hubspot, jira, notion, slack, zendesk
from tests.connectors.fakes.base import FAST, FakeVendor
from tests.connectors.scenario import TOKEN

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Healthy:
    """200 with a small JSON body (`{"ok": true, "path": ...}` unless given)."""

    body: Any = None


@dataclass(frozen=True)
class Slow:
    """Wait `seconds`, then answer as `then` does."""

    seconds: float
    then: Mode = field(default_factory=Healthy)


@dataclass(frozen=True)
class Hang:
    """Never answer (until the loopback shuts down)."""


@dataclass(frozen=True)
class RateLimited:
    """429 with this Retry-After header value: seconds (`"2"`) or an HTTP date (see `http_date`)."""

    retry_after: str
    body: Any = None


@dataclass(frozen=True)
class Fails:
    """An error status with a JSON body (`{"error": "internal error"}` unless given)."""

    status: int = 500
    body: Any = None


@dataclass(frozen=True)
class Garbage:
    """200 with an HTML page: what a captive portal or a misrouted proxy sends."""


@dataclass(frozen=True)
class WithHeaders:
    """200 with a JSON body and these extra headers (rate-limit headroom and the like)."""

    headers: dict[str, str]


@dataclass(frozen=True)
class Delegate:
    """Whatever the vendor fake answers; `origin` replaces scheme, host and port so the fake sees its own host."""

    fake: FakeVendor
    origin: str | None = None


Mode = Healthy | Slow | Hang | RateLimited | Fails | Garbage | WithHeaders | Delegate


def http_date(seconds_from_now: float) -> str:
    """An HTTP date (RFC 9110 IMF-fixdate) that many seconds from now, as Retry-After may carry."""
    return formatdate(time.time() + seconds_from_now, usegmt=True)


@dataclass
class Loopback:
    """The running fake upstream. Set `mode` at any time; `answer_next` queues one-off answers first."""

    mode: Mode = field(default_factory=Healthy)
    url: str = ""
    hits: Counter[str] = field(default_factory=Counter[str])  # requests received, per path
    seen: list[httpx.Request] = field(default_factory=list[httpx.Request])
    arrivals: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # per path, anyio clock
    _queued: deque[Mode] = field(default_factory=deque[Mode])
    _released: anyio.Event = field(default_factory=anyio.Event)
    _arrived: anyio.Event = field(default_factory=anyio.Event)  # replaced after each request

    def answer_next(self, *modes: Mode) -> None:
        """Answer the next requests as these modes say, in order, then as `mode` again."""
        self._queued.extend(modes)

    async def requested(self, path: str, count: int = 1) -> None:
        """Return once `path` has received `count` requests."""
        while self.hits[path] < count:
            await self._arrived.wait()

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; nothing else is expected
            return
        request = await _request_of(scope, receive)
        self.hits[request.url.path] += 1
        self.seen.append(request)
        self.arrivals[request.url.path].append(anyio.current_time())
        self._arrived.set()
        self._arrived = anyio.Event()
        mode = self._queued.popleft() if self._queued else self.mode
        status, headers, content = await self._answer(mode, request)
        await send({"type": "http.response.start", "status": status, "headers": _raw(headers, content)})
        await send({"type": "http.response.body", "body": content})

    async def _answer(self, mode: Mode, request: httpx.Request) -> tuple[int, Headers, bytes]:
        json_type = [("content-type", "application/json")]
        match mode:
            case Healthy(body=body):
                return 200, json_type, _json(body if body is not None else {"ok": True, "path": request.url.path})
            case Slow(seconds=seconds, then=then):
                with anyio.move_on_after(seconds):  # cut short when the loopback shuts down
                    await self._released.wait()
                return await self._answer(then, request)
            case Hang():
                await self._released.wait()
                return 503, json_type, _json({"error": "shutting down"})
            case RateLimited(retry_after=retry_after, body=body):
                headers = [*json_type, ("retry-after", retry_after)]
                return 429, headers, _json(body if body is not None else {"error": "rate limited"})
            case Fails(status=status, body=body):
                return status, json_type, _json(body if body is not None else {"error": "internal error"})
            case Garbage():
                return 200, [("content-type", "text/html")], b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            case WithHeaders(headers=extra):
                return 200, [*json_type, *extra.items()], _json({"ok": True})
            case Delegate(fake=fake, origin=origin):
                if origin is not None:
                    base = httpx.URL(origin)
                    request.url = request.url.copy_with(scheme=base.scheme, host=base.host, port=base.port)
                response = fake._serve(request)  # pyright: ignore[reportPrivateUsage]
                await response.aread()
                kept = [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS]
                return response.status_code, kept, response.content

    def release(self) -> None:
        """Let every hanging or slow request answer now (done on shutdown, so none is left open)."""
        self._released.set()


_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def _raw(headers: Headers, content: bytes) -> list[tuple[bytes, bytes]]:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return [*raw, (b"content-length", str(len(content)).encode())]


async def _request_of(scope: Scope, receive: Receive) -> httpx.Request:
    """The ASGI request as an httpx.Request, body read in full, as the vendor fakes expect."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    host, port = scope["server"] or ("127.0.0.1", 80)
    target: bytes = scope.get("raw_path") or scope["path"].encode()
    if scope["query_string"]:
        target += b"?" + scope["query_string"]
    url = httpx.URL(f"{scope['scheme']}://{host}:{port}").copy_with(raw_path=target)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
    return httpx.Request(scope["method"], url, headers=headers, content=body)


@asynccontextmanager
async def serve(mode: Mode | None = None) -> AsyncGenerator[Loopback]:
    """A `Loopback` listening on 127.0.0.1 at a port the OS picked, until the block ends."""
    async with serve_all(mode or Healthy()) as (loopback,):
        yield loopback


@asynccontextmanager
async def serve_all(*modes: Mode) -> AsyncGenerator[tuple[Loopback, ...]]:
    """One `Loopback` per mode, each on its own port; started and stopped together (stopping takes ~0.2 s)."""
    loopbacks = tuple(Loopback(mode=mode) for mode in modes)
    servers = [uvicorn.Server(_config(loopback)) for loopback in loopbacks]
    stopped = [anyio.Event() for _ in servers]

    async def run(server: uvicorn.Server, done: anyio.Event) -> None:
        try:
            await server.serve()
        finally:
            done.set()

    async with anyio.create_task_group() as group:
        for server, done in zip(servers, stopped, strict=True):
            group.start_soon(run, server, done)
        try:
            with anyio.fail_after(10):
                while not all(server.started for server in servers):  # noqa: ASYNC110 - uvicorn has no event for it
                    await anyio.sleep(0.005)
            for loopback, server in zip(loopbacks, servers, strict=True):
                host, port = server.servers[0].sockets[0].getsockname()[:2]
                loopback.url = f"http://{host}:{port}"
            yield loopbacks
        finally:
            # Shut down in full even when the block failed or was cancelled: the task group would
            # otherwise cancel uvicorn before it closes its listening socket.
            for loopback, server in zip(loopbacks, servers, strict=True):
                loopback.release()
                server.should_exit = True
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                for done in stopped:
                    await done.wait()


def _config(app: Loopback) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        http="h11",
        ws="none",
        lifespan="off",
        log_level="warning",
        log_config=None,  # leave the test's logging configuration alone
        access_log=False,
        timeout_graceful_shutdown=2,
    )


@asynccontextmanager
async def refused() -> AsyncGenerator[str]:
    """The URL of a loopback port nothing listens on: connecting is refused at once.

    The port stays bound (never listening) until the block ends, so nothing else can take it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        host, port = sock.getsockname()[:2]
        yield f"http://{host}:{port}"


# -- five real vendor adapters, each pointed at its own loopback ---------------------------------

VENDORS: tuple[tuple[Category, str], ...] = (
    ("support", "zendesk"),
    ("crm", "hubspot"),
    ("chat", "slack"),
    ("tracker", "jira"),
    ("knowledge", "notion"),
)


def vendor_fakes(workspace: Workspace) -> dict[Category, FakeVendor]:
    """The vendor fakes serving `workspace`, one per category, all accepting `TOKEN`."""
    return {
        "support": zendesk.FakeZendesk(workspace),
        "crm": hubspot.FakeHubSpot(workspace),
        "chat": slack.FakeSlack(workspace),
        "tracker": jira.FakeJira(workspace),
        "knowledge": notion.FakeNotion(workspace),
    }


def vendor_adapters(urls: Mapping[Category, str], *, policy: Policy | None = FAST) -> Connectors:
    """Zendesk, HubSpot, Slack, Jira and Notion built as in production, except `base_url` and `policy`.

    `policy=None` keeps each vendor's own policy (its documented pacing); FAST suits tests.
    """
    token = SecretStr(TOKEN)
    return Connectors(
        support=Zendesk(
            ZendeskSettings(token=token, email=zendesk.EMAIL, subdomain=zendesk.SUBDOMAIN, base_url=urls["support"]),
            policy=policy,
        ),
        crm=HubSpot(HubSpotSettings(token=token, base_url=urls["crm"]), policy=policy),
        chat=Slack(
            SlackSettings(token=token, bot_token=SecretStr(slack.BOT_TOKEN), base_url=f"{urls['chat']}/api"),
            policy=policy,
        ),
        tracker=Jira(
            JiraSettings(site="acme", email=jira.EMAIL, token=token, project=jira.PROJECT, base_url=urls["tracker"]),
            policy=policy,
        ),
        knowledge=Notion(NotionSettings(token=token, base_url=urls["knowledge"]), policy=policy),
    )
